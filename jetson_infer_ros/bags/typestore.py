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
Message definitions and Python classes by type name, for writing and publishing bags.

rosbags knows the standard messages of each ROS 2 distro; anything else (vision_msgs, a user's
own types) is read from the ``.msg`` files its package installs
(``share/<pkg>/msg/<Type>.msg``), so a bag the recorder writes carries the full
definition and the RIHS01 hash that ``ros2 bag`` and other readers check. Publishing a
bag's bytes needs the generated Python class as well (rclpy creates publishers from
it), imported from ``<pkg>.msg``; a type that is not installed is a clear BagError.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
import threading
from typing import Any, Iterator, Set, Tuple

from jetson_infer_ros.bags import BagError

_LOCK = threading.RLock()
_STORE: Any = None

IMAGE = 'sensor_msgs/msg/Image'
COMPRESSED_IMAGE = 'sensor_msgs/msg/CompressedImage'
CLOCK = 'rosgraph_msgs/msg/Clock'


def normalize(msgtype: str) -> str:
    """Spell a type as ``pkg/msg/Type`` (``pkg/Type`` is accepted, as ROS 1 wrote it)."""
    parts = str(msgtype).strip().split('/')
    if len(parts) == 2:
        parts = [parts[0], 'msg', parts[1]]
    if len(parts) != 3 or not all(parts) or parts[1] != 'msg':
        raise BagError(f'not a message type name: {msgtype!r} (expected pkg/msg/Type)')
    return '/'.join(parts)


def distro_store() -> Any:
    """
    Return the rosbags store of the ROS 2 distro this process runs (``ROS_DISTRO``).

    Kilted where ROS_DISTRO is unset or names a distro rosbags does not know.

    A bag records each type's definition and RIHS01 hash; they must be those of the
    distro whose nodes read the bag (Jazzy and Kilted have different type sets).
    """
    from rosbags.typesys import Stores
    distro = os.environ.get('ROS_DISTRO', '').strip().upper()
    return getattr(Stores, f'ROS2_{distro}', Stores.ROS2_KILTED) if distro else \
        Stores.ROS2_KILTED


def typestore() -> Any:
    """Return the process-wide rosbags typestore: this distro's types plus registered ones."""
    global _STORE
    with _LOCK:
        if _STORE is None:
            from rosbags.typesys import get_typestore
            _STORE = get_typestore(distro_store())
        return _STORE


def ensure_type(msgtype: str) -> str:
    """Make ``msgtype`` (and what it uses) known to the typestore; return its full name."""
    name = normalize(msgtype)
    with _LOCK:
        _register(typestore(), name, set())
    return name


def definition(msgtype: str) -> Tuple[str, str]:
    """Return the concatenated ``ros2msg`` definition and RIHS01 hash of a type."""
    name = ensure_type(msgtype)
    store = typestore()
    msgdef, _ = store.generate_msgdef(name, ros_version=2)
    return msgdef, store.hash_rihs01(name)


def message_class(msgtype: str) -> Any:
    """Return the generated Python class of a type (what rclpy publishers are made from)."""
    name = normalize(msgtype)
    pkg, _, cls = name.split('/')
    try:
        module = importlib.import_module(f'{pkg}.msg')
    except ImportError:
        raise BagError(f'message type {name} is not available to Python: no module '
                       f'{pkg}.msg (install the {pkg} package or source its workspace)'
                       ) from None
    found = getattr(module, cls, None)
    if found is None:
        raise BagError(f'message type {name} is not available to Python: {pkg}.msg has no '
                       f'{cls} (a different version of {pkg}?)')
    return found


def _register(store: Any, name: str, seen: Set[str]) -> None:
    if name in store.fielddefs or name in seen:
        return
    seen.add(name)
    from rosbags.typesys import get_types_from_msg
    types = get_types_from_msg(_msg_text(name), name)
    for _field, desc in types[name][1]:
        for dep in _type_names(desc):
            _register(store, dep, seen)
    store.register(types)


def _type_names(desc: Any) -> Iterator[str]:
    from rosbags.typesys.base import Nodetype
    kind, arg = desc
    if kind == Nodetype.NAME:
        yield arg
    elif kind in (Nodetype.ARRAY, Nodetype.SEQUENCE):
        yield from _type_names(arg[0])


def _msg_text(name: str) -> str:
    pkg, _, cls = name.split('/')
    try:
        from ament_index_python.packages import get_package_share_directory
        share = Path(get_package_share_directory(pkg))
    except Exception:  # noqa: B902 - PackageNotFoundError, or no ament index at all
        raise BagError(f'message type {name} is unknown: package {pkg} is not installed '
                       '(no ament share directory)') from None
    path = share / 'msg' / f'{cls}.msg'
    try:
        return path.read_text()
    except OSError:
        raise BagError(f'message type {name} is unknown: {path} does not exist') from None
