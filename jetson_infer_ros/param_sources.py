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
Where the node's parameters came from, said out loud.

ROS applies a params file silently or not at all: a file keyed ``jetson_infer:`` does
nothing to a node launched as ``/robot1/jetson_infer``, and the node then runs on its
defaults without a word (the classification model, when the file asked for detection).
So the node says, at start-up, which given params files have no entry for it, and at
configure, which parameters were overridden (by files or ``-p``) and which overrides
name no parameter of it.
"""

from __future__ import annotations

from typing import Callable, Collection, Iterable, List, Sequence, Tuple

from jetson_infer_ros.config import applies_to, read_entries, WILDCARD


def params_files(argv: Sequence[str]) -> List[str]:
    """Return the params files in ROS arguments (``--params-file F``, old ``__params:=F``)."""
    files: List[str] = []
    in_ros_args = False
    args = list(argv)
    for i, arg in enumerate(args):
        if arg == '--ros-args':
            in_ros_args = True
        elif arg == '--':
            in_ros_args = False
        elif in_ros_args and arg == '--params-file' and i + 1 < len(args):
            files.append(args[i + 1])
        elif arg.startswith('__params:='):
            files.append(arg.split(':=', 1)[1])
    return files


def unmatched_files(files: Iterable[str], node_fqn: str) -> List[Tuple[str, List[str]]]:
    """Return the files with no entry that applies to ``node_fqn``, with their keys."""
    out = []
    for path in files:
        try:
            keys = list(read_entries(path))
        except ValueError:
            continue          # rcl itself refuses such a file, loudly, before we get here
        if not any(applies_to(k, node_fqn) for k in keys):
            out.append((path, keys))
    return out


def unmatched_warning(path: str, keys: Sequence[str], node_fqn: str) -> str:
    entries = ', '.join(f'{k}:' for k in keys)
    return (f'params file {path} has no entry for {node_fqn} (its entries: {entries}), so '
            f'none of its parameters apply: key it `{WILDCARD}:` (any namespace and node '
            f'name) or `{node_fqn}:`')


def overrides_report(node_fqn: str, overridden: Iterable[str], table: Collection[str],
                     is_parameter: Callable[[str], bool]) -> str:
    """
    Say in one line which parameters the overrides set, and which set nothing.

    ``table`` names the node's own parameters (counted, "12 of 43"); ``is_parameter``
    also knows rclpy's (use_sim_time), which are listed but not counted.
    """
    names = sorted(overridden)
    own = [n for n in names if n in table]
    used = own + [n for n in names if n not in table and is_parameter(n)]
    unknown = [n for n in names if not is_parameter(n)]
    if used:
        text = (f'parameter overrides for {node_fqn}: {", ".join(used)} ({len(own)} of '
                f'{len(table)} parameters; the others are at their defaults)')
    else:
        text = (f'parameter overrides for {node_fqn}: none, every parameter is at its '
                f'default (a params file applies only under `{WILDCARD}:` or `{node_fqn}:`)')
    if unknown:
        text += f'; not parameters of this node, ignored: {", ".join(unknown)}'
    return text
