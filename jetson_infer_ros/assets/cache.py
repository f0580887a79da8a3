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
The cache rules every prepared asset follows, kept in one place so they cannot drift.

Models, tool environments and data are slow to make and large, so they live outside the
repository under one root, in folders named by what produced them. A folder appears
whole or not at all: it is built beside its final name and renamed into place, so a run
killed half way leaves only a temporary folder that the next run sweeps away. A lock
file keeps two processes from building the same thing at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pathlib
import shutil
import subprocess
import tempfile
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Union

CACHE_ENV = 'JETSON_INFER_CACHE'
"""Environment variable that moves the cache root (tests point it at a temp folder)."""

_TMP_MARK = '.tmp-'
_LOCK_SUFFIX = '.lock'

# Lines that say nothing about progress and would drown the rest: pip on some machines
# warns once per package about a configured local index that lacks it, and TensorFlow
# announces its logging and oneDNN set-up on import, twice.
_NOISE = ('is ignored: it is neither a file nor a directory',
          'All log messages before absl::InitializeLog() is called',
          'oneDNN custom operations are on')

Log = Callable[[str], None]


class AssetError(RuntimeError):
    """A step that prepares an asset failed; the message is one line naming the step."""


def cache_root() -> pathlib.Path:
    """Return the cache root: ``$JETSON_INFER_CACHE`` or ``~/.cache/jetson_infer_ros``."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return pathlib.Path(override).expanduser()
    return pathlib.Path.home() / '.cache' / 'jetson_infer_ros'


def digest(*parts: Union[bytes, str], length: int = 12) -> str:
    """Hash the parts in order (length-prefixed, so ``('ab', 'c') != ('a', 'bc')``)."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode('utf-8') if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, 'little'))
        h.update(data)
    return h.hexdigest()[:length]


def file_sha256(path: Union[str, pathlib.Path]) -> str:
    """Return the full sha256 hex digest of a file, read in chunks (models: tens of MB)."""
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


@contextlib.contextmanager
def locked(final: pathlib.Path) -> Iterator[None]:
    """Hold an exclusive lock for building ``final`` (released when the block ends)."""
    final.parent.mkdir(parents=True, exist_ok=True)
    lock_path = final.parent / (final.name + _LOCK_SUFFIX)
    with open(lock_path, 'a') as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def sweep_stale(final: pathlib.Path) -> List[pathlib.Path]:
    """
    Remove temporary folders that interrupted builds of ``final`` left behind.

    Call it only while holding :func:`locked` for ``final``: then no live build owns them.
    """
    removed = []
    if final.parent.is_dir():
        for p in final.parent.glob('.' + final.name + _TMP_MARK + '*'):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


@contextlib.contextmanager
def building(final: pathlib.Path) -> Iterator[pathlib.Path]:
    """
    Yield an empty folder to build into; on success it becomes ``final`` in one rename.

    On an exception the folder is removed and ``final`` is left as it was. If another
    process published ``final`` meanwhile, that copy is kept and this one is dropped.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix='.' + final.name + _TMP_MARK, dir=final.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        os.rename(tmp, final)
    except OSError:
        if not final.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def clean_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    """
    Return this process's environment without what would leak into another Python.

    A tool environment must not see the runtime venv's ``PYTHONPATH``/``VIRTUAL_ENV`` or
    the ROS wheels' bootstrap guard, or it would import the wrong packages.
    """
    env = {k: v for k, v in os.environ.items()
           if k not in ('PYTHONPATH', 'PYTHONHOME', 'VIRTUAL_ENV', '__PYVENV_LAUNCHER__')
           and not k.startswith('_ROS_WHEELS')}
    env['PYTHONUNBUFFERED'] = '1'
    env['PIP_PROGRESS_BAR'] = 'off'
    env.update(extra or {})
    return env


def run_logged(cmd: Sequence[str], what: str, log: Log, *,
               cwd: Optional[pathlib.Path] = None, env: Optional[Dict[str, str]] = None,
               prefix: str = '    ') -> None:
    """
    Run ``cmd``, passing its output to ``log`` line by line as it comes.

    Raises :class:`AssetError` naming ``what`` (and the last line of output) if the
    command is missing or exits non-zero, so the caller shows one clear line.
    """
    cmd = [str(c) for c in cmd]
    try:
        proc = subprocess.Popen(cmd, cwd=str(cwd) if cwd else None, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, errors='replace',
                                bufsize=1)
    except FileNotFoundError:
        raise AssetError('%s failed: command not found: %s' % (what, cmd[0])) from None
    last = ''
    assert proc.stdout is not None
    with proc.stdout:
        for line in proc.stdout:
            line = line.rstrip()
            if not line or any(n in line for n in _NOISE):
                continue
            last = line
            log(prefix + line)
    rc = proc.wait()
    if rc != 0:
        raise AssetError('%s failed (exit %d): %s' % (what, rc, last or 'no output'))


def run_captured(cmd: Sequence[str], what: str, *,
                 cwd: Optional[pathlib.Path] = None,
                 env: Optional[Dict[str, str]] = None) -> str:
    """Run ``cmd`` quietly and return its stdout; on failure raise a one-line AssetError."""
    cmd = [str(c) for c in cmd]
    try:
        done = subprocess.run(cmd, cwd=str(cwd) if cwd else None, env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, errors='replace')
    except FileNotFoundError:
        raise AssetError('%s failed: command not found: %s' % (what, cmd[0])) from None
    if done.returncode != 0:
        raise AssetError('%s failed (exit %d): %s'
                         % (what, done.returncode, _telling_line(done.stderr)))
    return done.stdout


def _telling_line(stderr: str) -> str:
    """
    Pick the line of an error output that says what went wrong.

    Tools end with boilerplate (npm: where its debug log went), so the first line that
    calls itself an error wins, e.g. npm's ``No matching version`` or apt's ``E: ...``.
    """
    lines = [ln.strip() for ln in stderr.splitlines()
             if ln.strip() and 'complete log of this run' not in ln
             and not ln.lstrip().lower().startswith(('npm error code', 'npm warn'))]
    for line in lines:
        low = line.lower()
        if low.startswith(('e:', 'error')) or ' error ' in ' %s ' % low:
            return line
    return lines[-1] if lines else 'no output'


def dir_size(path: pathlib.Path) -> int:
    """Return the bytes used by the files under ``path`` (links not followed)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total
