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
mypy over the TensorRT backend against tensorrt-stubs: the only check its calls get here.

TensorRT itself cannot be installed on any machine this project has; TensorRT-RTX runs
the builder in CI (test_trt_real_builds.py), but the runner and TensorRT-only branches
(weak typing, calibrators, DLA) only get this: type-checking against the 10.13 stubs
catches misspelt methods, wrong argument order and wrong types. The stubs are installed
in ``<venv>/stubs`` (ros_env/setup_env.py), never in site-packages, where their bare
``tensorrt/`` folder would shadow a real TensorRT. Two things stand in the way, both
handled here without weakening the check:

- tensorrt-stubs has no ``py.typed``, so mypy would refuse it as "installed but
  untyped" anyway; a copy is put on MYPYPATH.
- the 10.13.0.35.1 stubs contain a few lines Python cannot parse (parameters named
  ``in``; a required parameter after defaults in ``add_scale_nd``). The copy renames
  ``in`` to ``in_`` and gives the stray parameter a default; no signature we use is
  touched, and errors *inside* the stubs are silenced (``ignore_errors``) as they would
  be for any installed package.
"""

from __future__ import annotations

import ast
import importlib.metadata
from pathlib import Path
import re
import shutil
import subprocess
import sys
import sysconfig

import pytest

ROOT = Path(__file__).resolve().parents[3]
STUBS_VERSION = '10.13.0.35.1'
STUBS_DIR = Path(sys.prefix) / 'stubs'


def _fix_def_line(line: str) -> str:
    match = re.match(r'^(\s*def \w+\()(.*)(\)\s*->.*)$', line)
    if not match:
        return line
    seen_default, params = False, []
    for param in match.group(2).split(', '):
        if param.startswith('in: '):
            param = 'in_' + param[2:]
        if '=' in param:
            seen_default = True
        elif seen_default and not param.startswith('*') and param != '/':
            param += ' = ...'
        params.append(param)
    return match.group(1) + ', '.join(params) + match.group(3)


def parseable_copy(src: Path, dst: Path) -> int:
    """Copy a .pyi file, repairing only the lines Python refuses to parse; returns count."""
    lines = src.read_text().split('\n')
    fixed = 0
    for _ in range(100):
        try:
            ast.parse('\n'.join(lines))
            break
        except SyntaxError as exc:
            index = (exc.lineno or 1) - 1
            repaired = _fix_def_line(lines[index])
            assert repaired != lines[index], f'cannot repair {src}:{exc.lineno}: {exc.msg}'
            lines[index] = repaired
            fixed += 1
    dst.write_text('\n'.join(lines))
    return fixed


def test_tensorrt_stubs_pinned_version_is_installed_outside_the_import_path():
    found = [d.version for d in importlib.metadata.distributions(path=[str(STUBS_DIR)])
             if d.metadata['Name'] == 'tensorrt-stubs']
    assert found == [STUBS_VERSION]
    site = Path(sysconfig.get_paths()['purelib'])
    assert not (site / 'tensorrt').exists(), 'stubs in site-packages shadow TensorRT'
    code = 'import importlib.util; print(importlib.util.find_spec("tensorrt"))'
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == 'None'


@pytest.mark.linter
@pytest.mark.mypy
def test_mypy_tensorrt_backend(tmp_path):
    stubs = tmp_path / 'stubs'
    for package in ('tensorrt', 'tensorrt_bindings'):
        assert (STUBS_DIR / package).is_dir(), f'tensorrt-stubs=={STUBS_VERSION} not installed'
        shutil.copytree(STUBS_DIR / package, stubs / package)
    repaired = sum(parseable_copy(p, p) for p in stubs.rglob('*.pyi'))
    assert repaired <= 10  # a newer stubs release with more damage needs a look
    # the project's mypy settings, plus where the stubs copy is
    base = (ROOT / 'test' / 'lint' / 'mypy.ini').read_text()
    config = tmp_path / 'mypy.ini'
    config.write_text(base.replace('[mypy]\n', f'[mypy]\nmypy_path = {stubs}\n', 1)
                      + '\n[mypy-tensorrt_bindings,tensorrt_bindings.*,tensorrt]\n'
                      'ignore_errors = True\n')
    targets = [ROOT / 'jetson_infer_ros' / 'backends' / 'tensorrt',
               ROOT / 'jetson_infer_ros' / 'cuda', ROOT / 'jetson_infer_ros' / 'gpu']
    proc = subprocess.run(
        [sys.executable, '-m', 'mypy', '--config-file', str(config), '--no-incremental']
        + [str(t) for t in targets], cwd=str(ROOT), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'Success' in proc.stdout


@pytest.mark.linter
@pytest.mark.mypy
def test_mypy_really_checks_tensorrt_calls(tmp_path):
    """The same setup rejects a misspelt TensorRT call, so a clean run means something."""
    stubs = tmp_path / 'stubs'
    for package in ('tensorrt', 'tensorrt_bindings'):
        shutil.copytree(STUBS_DIR / package, stubs / package)
    for p in stubs.rglob('*.pyi'):
        parseable_copy(p, p)
    probe = tmp_path / 'probe.py'
    probe.write_text('import tensorrt as trt\n'
                     'builder = trt.Builder(trt.Logger())\n'
                     'builder.create_netwrk(0)\n')
    config = tmp_path / 'mypy.ini'
    config.write_text(f'[mypy]\nmypy_path = {stubs}\n'
                      '[mypy-tensorrt_bindings,tensorrt_bindings.*,tensorrt]\n'
                      'ignore_errors = True\n')
    proc = subprocess.run([sys.executable, '-m', 'mypy', '--config-file', str(config),
                           '--no-incremental', str(probe)], capture_output=True, text=True)
    assert proc.returncode == 1
    assert '"Builder" has no attribute "create_netwrk"' in proc.stdout
