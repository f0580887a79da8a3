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

"""The development environment works as README.md promises, on a fresh machine."""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys
import textwrap
import time

import pytest

from jetson_infer_ros import ros_isolation

ROOT = Path(__file__).resolve().parents[2]


def test_ros_and_vision_msgs_import_in_a_fresh_process(ros_env):
    code = ('import rclpy, rclpy.lifecycle; from vision_msgs.msg import Detection2DArray, '
            'Classification, LabelInfo, ObjectHypothesisWithPose, BoundingBox2D; print("ok")')
    out = subprocess.run([sys.executable, '-c', code], env=ros_env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith('ok')


def test_package_share_directory_holds_launch_and_config(ros_env):
    code = ('from ament_index_python.packages import get_package_share_directory as g; '
            'print(g("jetson_infer_ros"))')
    out = subprocess.run([sys.executable, '-c', code], env=ros_env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    share = Path(out.stdout.strip().splitlines()[-1])
    assert (share / 'launch' / 'infer.launch.py').is_file()
    assert (share / 'config' / 'infer.yaml').is_file()
    assert (share / 'package.xml').is_file()


def test_node_executable_is_where_launch_ros_looks(ros_env):
    """launch_ros and `ros2 run` look in <prefix>/lib/<package>/<executable>."""
    prefix = Path(sys.prefix)
    exe = prefix / 'lib' / 'jetson_infer_ros' / 'infer_node'
    assert exe.exists() and os.access(exe, os.X_OK)


def test_vision_msgs_are_all_upstream_4_1_types():
    import vision_msgs.msg as vm
    expected = ['BoundingBox2D', 'BoundingBox2DArray', 'BoundingBox3D', 'BoundingBox3DArray',
                'Classification', 'Detection2D', 'Detection2DArray', 'Detection3D',
                'Detection3DArray', 'LabelInfo', 'ObjectHypothesis', 'ObjectHypothesisWithPose',
                'Point2D', 'Pose2D', 'VisionClass', 'VisionInfo']
    for name in expected:
        assert hasattr(vm, name), name
    fields = vm.Detection2D.get_fields_and_field_types()
    assert list(fields) == ['header', 'results', 'bbox', 'id']
    assert fields['results'] == 'sequence<vision_msgs/ObjectHypothesisWithPose>'
    assert list(vm.LabelInfo.get_fields_and_field_types().values()) == [
        'std_msgs/Header', 'sequence<vision_msgs/VisionClass>', 'float']
    assert list(vm.VisionClass.get_fields_and_field_types().values()) == ['uint16', 'string']


PUBLISHER = textwrap.dedent("""
    import sys, time, rclpy
    from vision_msgs.msg import (Detection2D, Detection2DArray, ObjectHypothesisWithPose,
                                 BoundingBox2D)
    rclpy.init()
    node = rclpy.create_node('smoke_pub')
    pub = node.create_publisher(Detection2DArray, 'smoke_detections', 10)
    msg = Detection2DArray()
    msg.header.frame_id = 'camera_optical'
    msg.header.stamp.sec = 1234
    msg.header.stamp.nanosec = 567890
    for i in range(3):
        det = Detection2D()
        det.header = msg.header
        det.id = f'obj{i}'
        det.bbox.center.position.x = 10.5 + i
        det.bbox.center.position.y = 20.25
        det.bbox.center.theta = 0.0
        det.bbox.size_x = 30.0
        det.bbox.size_y = 40.0 + i
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id = 'person'
        hyp.hypothesis.score = 0.875 - i / 10
        det.results.append(hyp)
        msg.detections.append(det)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and rclpy.ok():
        pub.publish(msg)
        rclpy.spin_once(node, timeout_sec=0.1)
    rclpy.shutdown()
""")

LISTENER = textwrap.dedent("""
    import json, sys, rclpy
    from vision_msgs.msg import Detection2DArray
    rclpy.init()
    node = rclpy.create_node('smoke_sub')
    got = []
    node.create_subscription(Detection2DArray, 'smoke_detections', got.append, 10)
    while rclpy.ok() and not got:
        rclpy.spin_once(node, timeout_sec=0.1)
    m = got[0]
    print(json.dumps({
        'frame_id': m.header.frame_id, 'sec': m.header.stamp.sec,
        'nanosec': m.header.stamp.nanosec,
        'dets': [[d.id, d.bbox.center.position.x, d.bbox.center.position.y, d.bbox.size_x,
                  d.bbox.size_y, d.results[0].hypothesis.class_id, d.results[0].hypothesis.score,
                  d.header.frame_id] for d in m.detections]}), flush=True)
    rclpy.shutdown()
""")


@pytest.mark.ros
def test_detection2darray_crosses_processes_intact(processes, ros_env):
    listener = processes.python(['-c', LISTENER], 'listener', env=ros_env)
    processes.python(['-c', PUBLISHER], 'publisher', env=ros_env)
    deadline = time.monotonic() + 40
    while listener.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    out = processes.output(listener)
    assert listener.returncode == 0, out
    data = json.loads(out.strip().splitlines()[-1])
    assert data['frame_id'] == 'camera_optical'
    assert (data['sec'], data['nanosec']) == (1234, 567890)
    assert data['dets'] == [
        [f'obj{i}', 10.5 + i, 20.25, 30.0, 40.0 + i, 'person', 0.875 - i / 10, 'camera_optical']
        for i in range(3)]


def test_every_child_process_is_isolated(ros_env):
    assert ros_env['ROS_AUTOMATIC_DISCOVERY_RANGE'] == 'LOCALHOST'
    assert 1 <= int(ros_env['ROS_DOMAIN_ID']) <= 101
    assert Path(ros_isolation.profile_in(ros_env)).is_file()
    assert os.environ['ROS_DOMAIN_ID'] == ros_env['ROS_DOMAIN_ID']
