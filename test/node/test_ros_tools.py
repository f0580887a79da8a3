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
The node as the real ros2 tools see it, started with the argv ``ros2 launch`` gives it.

infer.launch.py with ``namespace:=robot1 node_name:=cam_infer image_topic:=/cam/image``
becomes ``infer_node --ros-args -r __node:=cam_infer -r __ns:=/robot1 --params-file
<params_file> --params-file <use_sim_time file> -r image:=/cam/image ...``
(jetson_infer_ros/testing/launch_like.py), and the lifecycle events of the launch file
are ChangeState calls. The checks below are what ``ros2 param get/dump/load`` and
``ros2 node list`` do, made from this (separate) process.
"""

from __future__ import annotations

import pytest
import yaml

from jetson_infer_ros.testing import launch_like

from .conftest import read_jsonl, ROOT, up, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.models]

FQN = '/robot1/cam_infer'      # what launched() starts, as infer.launch.py would


def test_shipped_yaml_applies_under_a_namespace_and_node_name(launched, processes):
    """Item 1: ros2 param get /robot1/cam_infer task gives the file's value."""
    node, client = launched(ROOT / 'config' / 'detect.yaml')
    assert client.get_parameter('task') == 'detection', processes.output(node)
    assert client.get_parameter('decoder') == 'nanodet'
    assert client.get_parameter('color_order') == 'bgr'
    assert client.transition('configure'), processes.output(node)
    lines = [ln for ln in processes.output(node).splitlines() if 'parameter overrides' in ln]
    assert len(lines) == 1, processes.output(node)
    # the file's values and the launch file's use_sim_time, by name
    assert 'task' in lines[0] and 'decoder' in lines[0] and 'use_sim_time' in lines[0]


def test_a_params_file_that_matches_nothing_is_reported(launched, processes, tmp_path):
    """Item 1: a file keyed by the default node name is named as ignored, at start-up."""
    f = tmp_path / 'by_name.yaml'
    f.write_text(yaml.safe_dump({'jetson_infer': {'ros__parameters': {
        'model_path': 'nanodet', 'task': 'detection', 'decoder': 'nanodet'}}}))
    node, client = launched(f)
    assert client.get_parameter('task') == 'classification'   # as ROS does: not applied
    assert client.transition('configure'), processes.output(node)
    log = processes.output(node)
    ignored = [ln for ln in log.splitlines() if str(f) in ln]
    assert ignored and 'WARN' in ignored[0] and FQN in ignored[0] and '/**' in ignored[0], log
    assert "'jetson_infer'" in ignored[0] or 'jetson_infer:' in ignored[0], ignored
    overrides = [ln for ln in log.splitlines() if 'parameter overrides' in ln]
    assert overrides and 'task' not in overrides[0], overrides


def test_param_dump_returns_every_declared_parameter(launched, processes):
    """Item 2: ListParameters then GetParameters with every name, as ros2 param dump."""
    from jetson_infer_ros import params as P
    node, client = launched(ROOT / 'config' / 'infer.yaml')
    dumped = client.dump_parameters()
    names = set(client.last_dump_names)
    assert {p.name for p in P.PARAMETERS} <= names, names
    assert len(dumped) == len(names), f'{len(dumped)} values for {len(names)} names'
    assert dumped['output_namespaces'] == []
    assert client.get_parameter('output_namespaces') == []   # ros2 param get: not "not set"
    assert dumped['task'] == 'classification' and dumped['image_topics'] == ['image']


def test_one_node_per_name_and_remapped_input_still_applies(launched, publisher, listener,
                                                            processes, data):
    """Item 3: the hidden input node keeps its own name; -r image:=/cam/image still works."""
    node, client = launched(ROOT / 'config' / 'infer.yaml')
    up(client)
    lis = listener('classification=/robot1/classification')
    pub = publisher('--topic', '/cam/image', '--images',
                    str(data.photo('opencv-doc/orange.jpg')), '--rate', '20', '--count', '400',
                    '--wait-subscribers', '1')
    assert wait_for(lambda: len(read_jsonl(lis.out_path)) >= 3, 40), processes.output(node)
    names = client.node_names()
    assert names.count(FQN) == 1, names
    assert '/robot1/_cam_infer_input' in names, names
    log = processes.output(node)
    assert 'Publisher already registered' not in log, log
    assert 'camera 0: /cam/image' in log, log
    processes.stop(pub)


def test_launch_file_passes_what_this_test_passes(tmp_path):
    """The argv above is the launch file's: name, namespace, params files and remaps."""
    text = (ROOT / 'launch' / 'infer.launch.py').read_text()
    assert "name=LaunchConfiguration('node_name')" in text
    assert "namespace=LaunchConfiguration('namespace')" in text
    assert "parameters=[LaunchConfiguration('params_file')," in text
    assert "remappings=[('image', image_topic), ('image/compressed', image_topic + " \
        "'/compressed')]" in text
    cmd = launch_like.infer_launch_command('infer_node', 'p.yaml', tmp_path,
                                           namespace='robot1', node_name='cam_infer',
                                           image_topic='/cam/image')
    assert cmd[:8] == ['infer_node', '--ros-args', '-r', '__node:=cam_infer', '-r',
                       '__ns:=/robot1', '--params-file', 'p.yaml']
    assert cmd[-4:] == ['-r', 'image:=/cam/image', '-r',
                        'image/compressed:=/cam/image/compressed']
