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
The isolation every ROS 2 process started by tests, CI, the demo or a benchmark gets.

DDS discovery must never leave the machine, and parallel runs must not see each other:
every such process runs with ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST (ROS_LOCALHOST_ONLY
for Humble) and a random ROS_DOMAIN_ID in 1..101, set before rclpy is imported. Camera
sized samples need the large shared-memory Fast DDS profile shipped in config/.
"""

from __future__ import annotations

import os
from pathlib import Path
import random
from typing import Dict, MutableMapping, Optional, Tuple

PROFILE_NAME = 'fastdds_large_data.xml'
NODE_PROFILE_NAME = 'fastdds_node.xml'    # the inference node: it sends only small samples
# Fast DDS 3.x (Kilted) reads only the first, 2.x (Jazzy's 2.14, Humble's 2.6) only the
# second (read from the libraries: libfastdds.so.3 / libfastrtps.so.2.14.5); a Jazzy
# process given only the first ran on Fast DDS defaults and lost 106 of 142 640x480
# frames. Kilted's rmw_fastrtps warns on every participant given the second, so a
# profile is set under the name this install's Fast DDS reads (both where that is
# unknown), and one set under either name counts as set.
PROFILE_VARS = ('FASTDDS_DEFAULT_PROFILES_FILE', 'FASTRTPS_DEFAULT_PROFILES_FILE')
_FAST_DDS_2_DISTROS = ('humble', 'iron', 'jazzy')


def profile_vars(env: Optional[MutableMapping[str, str]] = None) -> Tuple[str, ...]:
    """
    Return the profile variable names the Fast DDS that rclpy will load reads.

    The installed Fast DDS distribution decides (``ros-fastdds`` 3.x wheels on Kilted,
    ``ros-fastrtps`` 2.x on Jazzy); a sourced ROS install has no wheel metadata, and
    its ROS_DISTRO decides. Neither known: both names.
    """
    from importlib import metadata
    for dist, names in (('ros-fastdds', PROFILE_VARS[:1]),
                        ('ros-fastrtps', PROFILE_VARS[1:])):
        try:
            metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        return names
    distro = (os.environ if env is None else env).get('ROS_DISTRO', '').strip().lower()
    if distro in _FAST_DDS_2_DISTROS:
        return PROFILE_VARS[1:]
    if distro:
        return PROFILE_VARS[:1]
    return PROFILE_VARS


def profile_in(env: MutableMapping[str, str]) -> Optional[str]:
    """Return the Fast DDS profile file ``env`` gives, under either distro's name."""
    for name in PROFILE_VARS:
        if env.get(name):
            return env[name]
    return None


def set_profile(env: MutableMapping[str, str], path: Optional[str]) -> None:
    """Give ``env`` the profile ``path`` under the name Fast DDS reads (None: defaults)."""
    for name in PROFILE_VARS:
        env.pop(name, None)
    if path is not None:
        for name in profile_vars(env):
            env[name] = str(path)


def profile_path(name: str = PROFILE_NAME) -> Optional[Path]:
    """Locate a shipped Fast DDS profile: source tree first, else the ament share dir."""
    here = Path(__file__).resolve().parent.parent / 'config' / name
    if here.exists():
        return here
    try:
        from ament_index_python.packages import get_package_share_directory
        shared = Path(get_package_share_directory('jetson_infer_ros')) / 'config' / name
    except Exception:  # noqa: B902 - no ament index: no profile to offer
        return None
    return shared if shared.exists() else None


def for_inference_node(env: MutableMapping[str, str]) -> Dict[str, str]:
    """
    Return a copy of ``env`` for an inference node process, as the launch file starts it.

    Where ``env`` carries the shipped large-data profile (what cameras need), the node gets
    the shipped node profile instead: its segment holds only what it sends, so 16 MB of
    resident memory would buy nothing (config/fastdds_node.xml). Any other profile, or
    none, is left as it is.
    """
    out = dict(env)
    current = profile_in(out)
    large, node = profile_path(), profile_path(NODE_PROFILE_NAME)
    if current and large is not None and node is not None and \
            Path(current).resolve() == large.resolve():
        set_profile(out, str(node))
    return out


def isolated_env(base: Optional[MutableMapping[str, str]] = None,
                 domain_id: Optional[int] = None,
                 large_data_profile: bool = True) -> Dict[str, str]:
    """
    Return a copy of ``base`` (default os.environ) with the test/demo isolation applied.

    An existing profile (either of PROFILE_VARS) is kept: a user's own profile wins.
    """
    env = dict(os.environ if base is None else base)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    if _is_humble():
        env['ROS_LOCALHOST_ONLY'] = '1'
    env['ROS_DOMAIN_ID'] = str(domain_id if domain_id is not None else random_domain_id())
    env.setdefault('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp')
    if large_data_profile and profile_in(env) is None:
        path = profile_path()
        if path is not None:
            set_profile(env, str(path))
    return env


def apply_to_this_process(domain_id: Optional[int] = None) -> Dict[str, str]:
    """Isolate the current process; must run before rclpy is imported."""
    env = isolated_env(domain_id=domain_id)
    os.environ.update(env)
    return env


_HELD: Dict[int, int] = {}   # domain id -> fd of its held lock (lives with the process)


def release_domain_id(domain: int) -> None:
    """Give back a domain taken by random_domain_id() (its processes have ended)."""
    fd = _HELD.pop(domain, None)
    if fd is not None:
        os.close(fd)


def random_domain_id() -> int:
    """
    Pick a random domain in 1..101 that no other test/demo/bench run here holds.

    Concurrent runs on one machine that land on the same domain see each other's nodes
    (same names, same topics) and were seen to stall reliable streams. Each run takes a
    lock file per domain and keeps it while the process lives; children inherit the
    domain through the environment. Falls back to a plain random pick when no lock
    directory is usable.
    """
    import fcntl
    import tempfile
    rng = random.SystemRandom()
    ids = list(range(1, 102))
    rng.shuffle(ids)
    lock_dir = Path(tempfile.gettempdir()) / 'jetson_infer_ros_domains'
    try:
        lock_dir.mkdir(exist_ok=True)
    except OSError:
        return ids[0]
    for domain in ids:
        try:
            fd = os.open(str(lock_dir / f'{domain}.lock'), os.O_CREAT | os.O_RDWR, 0o666)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _HELD[domain] = fd
        return domain
    return ids[0]


def _is_humble() -> bool:
    return os.environ.get('ROS_DISTRO', '') in ('humble', 'iron')
