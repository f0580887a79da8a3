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

"""A fresh machine missing a system tool gets one line naming what to install."""

from __future__ import annotations

import os
from pathlib import Path
import shutil
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[2]


def _bin_dir_with(tmp_path: Path, tools) -> Path:
    bindir = tmp_path / 'bin'
    bindir.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        if found:
            (bindir / tool).symlink_to(found)
    return bindir


def test_missing_cmake_is_one_clear_line(tmp_path):
    py311 = sys.executable  # the venv's interpreter is a 3.11
    bindir = _bin_dir_with(tmp_path, ['make', 'cc', 'c++'])
    env = {'PATH': str(bindir), 'HOME': str(tmp_path), 'JETSON_INFER_VENV': str(tmp_path / 'v')}
    out = subprocess.run([py311, '-S', str(ROOT / 'ros_env' / 'setup_env.py')], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip() == 'setup_env: error: `cmake` not found: apt-get install cmake'
    assert 'Traceback' not in out.stdout + out.stderr
    assert not (tmp_path / 'v').exists()


def test_missing_compiler_is_one_clear_line(tmp_path):
    bindir = _bin_dir_with(tmp_path, ['make', 'cmake'])
    env = {'PATH': str(bindir), 'HOME': str(tmp_path), 'JETSON_INFER_VENV': str(tmp_path / 'v')}
    out = subprocess.run([sys.executable, '-S', str(ROOT / 'ros_env' / 'setup_env.py')], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip() == 'setup_env: error: `cc` not found: apt-get install gcc'


def test_missing_python311_is_one_clear_line(tmp_path):
    env = dict(os.environ)
    out = subprocess.run(['make', '-s', '-C', str(ROOT), 'env', 'PYTHON311='], env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert 'python3.11 not found: apt-get install python3.11' in out.stderr
    assert len([ln for ln in out.stderr.splitlines() if 'error' in ln.lower()]) <= 2
