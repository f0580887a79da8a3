# Copyright 2026 The jetson_infer_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Fixtures for the regression tests: the bags, and the user-facing ``regression`` fixture."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetson_infer_ros.regression import regression  # noqa: F401 - the fixture, as users get it

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / 'test' / 'golden'


@pytest.fixture(scope='session')
def bag():
    """Return a function from a standard bag's name to its folder (made once, cached)."""
    from jetson_infer_ros.bags.make_bags import prepare_bag
    return lambda name: prepare_bag(name, log=lambda _m: None)
