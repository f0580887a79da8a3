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
Throwaway Python environments for the one-off tools that make the default models.

Exporting and converting models needs torch, TensorFlow and tf2onnx: gigabytes the
node never imports. They go into their own virtual environments, one per pinned
requirement file, cached under ``<cache>/toolenv/<name>-<key>/`` where the key hashes
the requirement file and the tool interpreter's version. Delete the folder to reclaim
the space; the next ``jetson-infer models`` on a cold cache builds it again.

The environment is built in a temporary folder and renamed into place. The venv's own
``python`` is a symlink to the base interpreter, so it keeps working after the rename;
console scripts in ``bin/`` do not (their shebangs name the temporary path), which is
why tools are always run as ``<venv>/bin/python script.py``.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
from typing import List, Sequence

from jetson_infer_ros.assets import cache

TOOL_PYTHON_ENV = 'JETSON_INFER_TOOL_PYTHON'
"""Environment variable naming the interpreter for tool envs (default ``python3.11``)."""

DEFAULT_TOOL_PYTHON = 'python3.11'

_HERE = pathlib.Path(__file__).resolve().parent


def requirements_file(name: str) -> pathlib.Path:
    """Return the pinned requirement file ``assets/requirements/<name>.txt``."""
    path = _HERE / 'requirements' / (name + '.txt')
    if not path.is_file():
        raise cache.AssetError('no requirement file for tool env %r at %s' % (name, path))
    return path


def tool_python() -> str:
    """Return the absolute path of the interpreter that tool envs are made from."""
    wanted = os.environ.get(TOOL_PYTHON_ENV, DEFAULT_TOOL_PYTHON)
    found = shutil.which(wanted)
    if not found:
        raise cache.AssetError(
            'tool env interpreter %r not found on PATH (install it or set %s)'
            % (wanted, TOOL_PYTHON_ENV))
    return found


def python_version(python: str) -> str:
    """Return ``implementation-X.Y.Z`` of an interpreter (it names the env's ABI)."""
    out = cache.run_captured(
        [python, '-c', 'import sys; print(sys.implementation.name, '
                       '".".join(map(str, sys.version_info[:3])))'],
        'asking %s for its version' % python, env=cache.clean_env())
    return '-'.join(out.split())


def env_key(requirements: bytes, version: str) -> str:
    """Return the cache key of a tool env: requirement file bytes + interpreter version."""
    return cache.digest(requirements, version)


def toolenv_dir(name: str, key: str) -> pathlib.Path:
    """Return where the tool env ``name`` with ``key`` lives."""
    return cache.cache_root() / 'toolenv' / ('%s-%s' % (name, key))


def venv_python(env_dir: pathlib.Path) -> pathlib.Path:
    """Return the interpreter inside a tool env."""
    return env_dir / 'bin' / 'python'


def ensure_toolenv(name: str, log: cache.Log = print) -> pathlib.Path:
    """
    Return the Python of tool env ``name``, creating it on first use.

    Raises :class:`~jetson_infer_ros.assets.cache.AssetError` with one line naming the
    step that failed (no interpreter, no network, a pin that no index serves).
    """
    req = requirements_file(name)
    python = tool_python()
    version = python_version(python)
    final = toolenv_dir(name, env_key(req.read_bytes(), version))
    if venv_python(final).exists():
        return venv_python(final)
    with cache.locked(final):
        if venv_python(final).exists():
            return venv_python(final)
        cache.sweep_stale(final)
        log('[toolenv] creating %s (%s, %s) at %s' % (name, req.name, version, final))
        env = cache.clean_env()
        with cache.building(final) as tmp:
            cache.run_logged([python, '-m', 'venv', str(tmp)],
                             'creating the %s venv' % name, log, env=env)
            cache.run_logged([str(venv_python(tmp)), '-m', 'pip', 'install', '--no-input',
                              '--progress-bar', 'off', '--disable-pip-version-check',
                              '-r', str(req)],
                             'installing %s into the tool env' % req.name, log, env=env)
            (tmp / 'toolenv.json').write_text(json.dumps({
                'name': name, 'python': version, 'interpreter': python,
                'requirements': req.read_text().splitlines(),
            }, indent=2) + '\n')
        log('[toolenv] %s ready (%.0f MB)' % (name, cache.dir_size(final) / 1e6))
    return venv_python(final)


def run_tool(name: str, script: pathlib.Path, args: Sequence[str],
             log: cache.Log = print) -> None:
    """Run ``script`` with ``args`` inside tool env ``name``, streaming its output."""
    python = ensure_toolenv(name, log)
    cmd: List[str] = [str(python), str(script)] + [str(a) for a in args]
    env = cache.clean_env({'TF_CPP_MIN_LOG_LEVEL': '2'})
    cache.run_logged(cmd, 'running %s in tool env %s' % (script.name, name), log, env=env)
