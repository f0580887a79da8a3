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
Remove the Fast DDS shared-memory files of the processes we SIGKILL, and nobody else's.

A Fast DDS participant that exits on SIGINT removes its own files; one that is SIGKILLed
leaves them in /dev/shm (about 550 KB each). Tests, the demo and the benchmarks kill
children that do not stop within their grace period, so they clean up after those, and
only those:

- Ownership is read from the process itself just before it is killed. A participant
  holds the ``<name>_el`` lock file of each segment and port it created open (flock),
  so the files it owns are exactly the families of the ``*_el`` files among its open
  descriptors: ``<name>``, ``<name>_el`` (and any other ``<name>_*``) and
  ``sem.<name>_mutex``. Files it merely maps, such as a camera's segment it reads
  frames from, are not its own.
- A family is removed only once no live process holds any of its files open (a
  discovery port is shared by every participant of a domain, and each of them holds
  its lock). A family still held stays claimed, and a later :func:`remove_claimed`
  retries it. Mappings alone do not keep a family: every participant of the domain maps
  the others' segments to read their discovery traffic, and a reader's mapping of a
  dead owner's segment stays valid after the unlink. That is the rule Fast DDS's own
  zombie clean-up applies (a segment whose lock nobody holds is stale).

Never scanning /dev/shm for "files that appeared meanwhile" is the point: a lock file is
never mapped, so that scan removed the locks of live participants started by anyone
else, and Fast DDS's own zombie clean-up in the next participant then unlinked their
segments (seen: another node's services timed out after a test run's clean-up).
"""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
from typing import Iterable, List, Set

SHM = Path('/dev/shm')
PREFIXES = ('fastrtps_', 'fastdds_')
_LOCK_SUFFIX = '_el'

_claimed: Set[str] = set()     # family names owned by processes this process killed


def owned_families(pid: int) -> Set[str]:
    """Family names of the Fast DDS files that process ``pid`` owns (holds the lock of)."""
    families: Set[str] = set()
    fd_dir = Path('/proc') / str(pid) / 'fd'
    try:
        entries = list(fd_dir.iterdir())
    except OSError:
        return families
    for entry in entries:
        try:
            target = Path(os.readlink(str(entry)))
        except OSError:
            continue
        name = target.name
        if target.parent == SHM and name.startswith(PREFIXES) and name.endswith(_LOCK_SUFFIX):
            families.add(name[:-len(_LOCK_SUFFIX)])
    return families


def claim(pid: int) -> Set[str]:
    """Record what ``pid`` owns; call it right before killing ``pid``."""
    families = owned_families(pid)
    _claimed.update(families)
    return families


def kill(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """SIGKILL ``proc``, reap it, and remove the shared-memory files it owned."""
    if proc.poll() is None:
        claim(proc.pid)
        proc.kill()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return              # not reaped: its files may still be in use, keep them claimed
    remove_claimed()


def family_files(family: str) -> List[Path]:
    """Return the files of one family that exist now."""
    try:
        names = os.listdir(str(SHM))
    except OSError:
        return []
    return [SHM / n for n in names
            if n == family or n.startswith(family + '_') or n == f'sem.{family}_mutex']


def files_held_open() -> Set[str]:
    """Every /dev/shm path some live process holds an open descriptor to."""
    held: Set[str] = set()
    for proc in Path('/proc').iterdir():
        if not proc.name.isdigit():
            continue
        try:
            entries = list((proc / 'fd').iterdir())
        except OSError:
            continue
        for entry in entries:
            try:
                target = os.readlink(str(entry))
            except OSError:
                continue
            if target.startswith('/dev/shm/'):
                held.add(target)
    return held


def remove_claimed() -> int:
    """Remove claimed families no live process holds; return how many files went."""
    if not _claimed:
        return 0
    in_use = files_held_open()
    removed = 0
    for family in sorted(_claimed):
        files = family_files(family)
        if any(str(f) in in_use for f in files):
            continue
        for path in files:
            try:
                path.unlink()
                removed += 1
            except OSError:
                pass
        _claimed.discard(family)
    return removed


def claimed() -> Iterable[str]:
    """Return the families still waiting for removal (a live process held their files)."""
    return sorted(_claimed)
