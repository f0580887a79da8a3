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
The command line launch_ros builds for a node, without launch installed.

launch and launch_ros are not on PyPI, so tests cannot run ``ros2 launch``. What reaches
the node process from launch/infer.launch.py is only its argv, and launch_ros's Node
action (launch_ros/actions/node.py, humble to kilted) builds it in a fixed order:
the executable, its ``arguments``, then ``--ros-args``, ``-r __node:=<name>``,
``-r __ns:=/<namespace>``, one ``--params-file`` per entry of ``parameters`` (a dict
entry is first written to a temporary file keyed by the node's full name), and one
``-r from:=to`` per remapping. The node tests start the node with exactly that argv,
so a params file that launch would not apply is not applied in the tests either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union


def full_name(name: str, namespace: str = '') -> str:
    """``('cam_infer', 'robot1')`` -> ``/robot1/cam_infer`` (launch_ros's prefix rule)."""
    ns = '/' + namespace.strip('/') if namespace.strip('/') else ''
    return f'{ns}/{name}'


def command(executable: Union[str, Path], *, name: Optional[str] = None,
            namespace: Optional[str] = None,
            parameters: Sequence[Union[str, Path, Dict[str, Any]]] = (),
            remappings: Sequence[Tuple[str, str]] = (), arguments: Sequence[str] = (),
            work_dir: Optional[Path] = None) -> List[str]:
    """Return the argv launch_ros's ``Node``/``LifecycleNode`` action starts the node with."""
    import yaml
    cmd = [str(executable)] + list(arguments) + ['--ros-args']
    if name is not None:
        cmd += ['-r', f'__node:={name}']
    if namespace is not None:
        cmd += ['-r', '__ns:=/' + namespace.strip('/')]
    fqn = full_name(name, namespace or '') if name is not None and namespace is not None \
        else '/**'
    for index, entry in enumerate(parameters):
        if isinstance(entry, dict):
            if work_dir is None:
                raise ValueError('a parameters dict needs work_dir for its temporary file')
            path = Path(work_dir) / f'launch_params_{index}.yaml'
            path.write_text(yaml.safe_dump({fqn: {'ros__parameters': entry}}))
            entry = path
        cmd += ['--params-file', str(entry)]
    for src, dst in remappings:
        cmd += ['-r', f'{src}:={dst}']
    return cmd


def infer_launch_command(executable: Union[str, Path], params_file: Union[str, Path],
                         work_dir: Path, namespace: str = '', node_name: str = 'jetson_infer',
                         image_topic: str = 'image', use_sim_time: bool = False,
                         arguments: Sequence[str] = ()) -> List[str]:
    """
    Return the argv ``ros2 launch jetson_infer_ros infer.launch.py`` gives the node.

    ``arguments`` go before ``--ros-args``, as launch_ros puts a Node's ``arguments``
    (``--autostart`` stands in for the launch file's configure/activate events).
    """
    return command(executable, name=node_name, namespace=namespace, arguments=arguments,
                   parameters=[params_file, {'use_sim_time': use_sim_time}],
                   remappings=[('image', image_topic),
                               ('image/compressed', image_topic + '/compressed')],
                   work_dir=work_dir)
