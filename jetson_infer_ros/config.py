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
Load a ROS parameters YAML into a validated configuration, the same way everywhere.

The node gets its parameters from ROS; `jetson-infer predict`, `evaluate`, `calibrate`
and `bench` read the very same YAML files through load_config(), so a config that works
in one works in all. render_yaml() writes the canonical, fully commented form of a config
(every parameter, its description and allowed values), which is how config/*.yaml are
kept in step with the parameter table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

from jetson_infer_ros import params as P

DEFAULT_NODE_NAME = 'jetson_infer'
# The key of the shipped params files: any namespace, any node name (launch's namespace:=,
# node_name:=, -r __ns:=/__node:=); a file keyed by a node name applies to that name only.
WILDCARD = '/**'


class InferConfig(dict):
    """Validated parameter values; attribute access for readability (cfg.score_threshold)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def replace(self, **changes: Any) -> 'InferConfig':
        merged = dict(self)
        merged.update(changes)
        return InferConfig(P.validate(merged))


def config_from_mapping(values: Mapping[str, Any]) -> InferConfig:
    return InferConfig(P.validate(dict(values)))


def read_ros_parameters(path: Union[str, Path], node_name: Optional[str] = None) -> Dict[str, Any]:
    """
    Return the ``ros__parameters`` that apply to one node in a ROS 2 params file.

    Accepts the forms ROS accepts: ``/**:``, ``node_name:``, ``/namespace/node_name:``
    and nested namespaces. With a node name, the entries rclpy would apply are merged
    the way it merges them: ``/**`` first, then the node's own entry on top (a bare name
    also finds ``/<any namespace>/<name>``, for tools that do not know the namespace).
    With no node name, a file with one entry, or with ``/**`` and one other, is used.
    """
    found = read_entries(path)
    wildcard = found.get(WILDCARD, {})
    if node_name is not None:
        name = '/' + node_name.strip('/')
        own = found.get(name)
        if own is None and '/' not in node_name.strip('/'):
            own = next((v for k, v in found.items() if k.endswith(name)), None)
        if own is None and WILDCARD not in found:
            raise ValueError(f'config file {path}: no parameters for node {node_name!r}')
        return {**wildcard, **(own or {})}
    others = [v for k, v in found.items() if k != WILDCARD]
    if len(others) > 1:
        raise ValueError(f'config file {path}: several nodes ({", ".join(found)}); name one')
    return {**wildcard, **(others[0] if others else {})}


def read_entries(path: Union[str, Path]) -> Dict[str, Dict[str, Any]]:
    """Return every node entry of a params file by its full key (``/**``, ``/robot1/cam``)."""
    import yaml
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ValueError(f'config file not found: {path}') from None
    except yaml.YAMLError as exc:
        raise ValueError(f'config file {path} is not valid YAML: {exc}') from None
    if not isinstance(data, dict):
        raise ValueError(f'config file {path}: expected a mapping of node names')
    found: Dict[str, Any] = {}
    _collect(data, '', found)
    if not found:
        raise ValueError(f'config file {path}: no ros__parameters section')
    return found


def applies_to(entry: str, node_fqn: str) -> bool:
    """
    Whether rclpy applies a params-file entry to the node of this full name.

    rclpy (humble to kilted) applies exactly two entries: ``/**`` and the node's full
    name (a key without a leading slash is taken as absolute, so ``jetson_infer:`` is
    ``/jetson_infer`` and never applies under a namespace). Other wildcards such as
    ``/robot1/*`` are rclcpp's, not rclpy's.
    """
    return entry == WILDCARD or entry == '/' + node_fqn.strip('/')


def _collect(tree: Mapping[str, Any], prefix: str, found: Dict[str, Any]) -> None:
    for key, value in tree.items():
        if key == 'ros__parameters' and isinstance(value, dict):
            found[prefix or '/'] = _flatten(value)
        elif isinstance(value, dict):
            name = key if key.startswith('/') else f'{prefix}/{key}'
            _collect(value, name.replace('//', '/'), found)


def _flatten(values: Mapping[str, Any], prefix: str = '') -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for key, value in values.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            out.update(_flatten(value, name + '.'))
        else:
            out[name] = value
    return out


def load_config(path: Union[str, Path, None] = None, node_name: Optional[str] = None,
                **overrides: Any) -> InferConfig:
    """Parameters from ``path`` (or the defaults) with ``overrides`` applied, validated."""
    values: Dict[str, Any] = {}
    if path is not None:
        values.update(read_ros_parameters(path, node_name))
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return InferConfig(P.validate(values))
    except P.ParameterError as exc:
        where = f' in {path}' if path is not None else ''
        raise ValueError(f'invalid configuration{where}: {exc}') from None


def render_yaml(values: Mapping[str, Any], title: str, node_name: str = WILDCARD) -> str:
    """Render the canonical commented YAML of a configuration (every parameter, in order)."""
    cfg = P.validate(dict(values))
    lines = [f'# {title}', '#',
             '# Generated from jetson_infer_ros/params.py (the one parameter table); edit the',
             '# values freely, keep one parameter per line. `live` parameters change at run time',
             '# (ros2 param set); the others take effect at the next configure. Keyed `/**`,',
             '# so it applies under any namespace and node name (launch namespace:=/node_name:=);',
             '# load it into a running node with `ros2 param load <node> <file> --use-wildcard`.',
             f'{node_name}:', '  ros__parameters:']
    group = None
    for p in P.PARAMETERS:
        if p.group != group:
            group = p.group
            lines.append(f'    # --- {group} ---')
        allowed = ', '.join(p.choices) if p.choices else P._range_text(p)
        note = f' [{allowed}]' if allowed else ''
        live = ' (live)' if p.runtime else ''
        lines.append(f'    # {p.description}{note}{live}')
        if isinstance(cfg[p.name], list) and not cfg[p.name]:
            # ROS params files cannot hold an empty list: leave it at its default
            lines.append(f'    # {p.name}: []')
        else:
            lines.append(f'    {p.name}: {_yaml_value(cfg[p.name])}')
    return '\n'.join(lines) + '\n'


def _yaml_value(v: Any) -> str:
    if isinstance(v, str):
        return "''" if v == '' else repr(v) if any(c in v for c in ':#{}[],&*!|>%@`"') else v
    return P._yaml_scalar(v)
