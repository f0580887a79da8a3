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
mypy over the package.

The TensorRT backend is checked on its own against (repaired) tensorrt-stubs by
test/backends/trt_backend/test_mypy_tensorrt.py: the stubs as published do not parse.
"""

from pathlib import Path
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.linter
@pytest.mark.mypy
def test_mypy():
    proc = subprocess.run(
        [sys.executable, '-m', 'mypy', '--config-file', str(ROOT / 'test' / 'lint' / 'mypy.ini'),
         '--exclude', 'jetson_infer_ros/backends/tensorrt/', str(ROOT / 'jetson_infer_ros'),
         str(ROOT / 'tools')],
        cwd=str(ROOT), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
