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

"""
Fixtures for the asset tests: a private cache, and the real prepared cache.

Tests of the cache rules run against a temporary ``JETSON_INFER_CACHE``. Tests of the
real models and pictures use the user's prepared cache through the session fixtures of
test/conftest.py (``real_data``, ``prepared_model``), which fail, never skip, when it is
missing, with the command that prepares it (``make test`` runs it first).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jetson_infer_ros.assets import cache

TEST_DATA = Path(__file__).resolve().parent.parent / 'data'


@pytest.fixture
def tmp_cache(tmp_path, monkeypatch):
    """Point the cache root at an empty temporary folder for one test."""
    root = tmp_path / 'cache'
    monkeypatch.setenv(cache.CACHE_ENV, str(root))
    return root


@pytest.fixture(scope='session')
def efficientnet(prepared_model):
    """Return (model.onnx path, meta) of the prepared EfficientNet-Lite0."""
    return prepared_model('efficientnet_lite0')


@pytest.fixture(scope='session')
def nanodet(prepared_model):
    """Return (model.onnx path, meta) of the prepared NanoDet."""
    return prepared_model('nanodet')


@pytest.fixture(scope='session')
def classification_expected():
    """Return the hand-checked photos and the ImageNet classes each may be given."""
    return json.loads((TEST_DATA / 'classification_expected.json').read_text())


@pytest.fixture(scope='session')
def vtest_gt():
    """Return the hand-drawn boxes of vtest.avi frames."""
    return json.loads((TEST_DATA / 'vtest_gt.json').read_text())
