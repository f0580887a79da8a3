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
What more than one `jetson-infer` subcommand prints, written once so they stay alike.

``models`` and ``bags`` both prepare named things into the cache and report where they
are; a script reading one's output can read the other's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping


def print_paths(paths: Mapping[str, Path], as_json: bool) -> None:
    """Print what was prepared: ``name: path`` lines, or with ``--json`` one JSON object."""
    if as_json:
        print(json.dumps({k: str(v) for k, v in paths.items()}, indent=2))
    else:
        for name, path in paths.items():
            print(f'{name}: {path}')
