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
Where Jazzy and Kilted differ, the code does what each distro allows (run on both in CI).

Measured on the PyPI wheels: Kilted's rclpy (9.x) hands a subscription callback
MessageInfo with the publisher's id (``publisher_gid``), Jazzy's (7.x) without it; both
have ``rclpy.event_handler`` (``rclpy.qos_event`` is Jazzy's deprecated alias, Humble's
only spelling); both compute RIHS01 type hashes, and rosbags has a type store per distro.
"""

from __future__ import annotations

from importlib.metadata import version
import json
import os
from pathlib import Path
import subprocess
import sys
import textwrap

import pytest

# what each distro's wheels are, by the version of their rclpy
DISTROS = {'kilted': {'rclpy_major': 9, 'publisher_gid': True},
           'jazzy': {'rclpy_major': 7, 'publisher_gid': False}}


def _distro() -> str:
    distro = os.environ.get('ROS_DISTRO', '')
    assert distro in DISTROS, f'ROS_DISTRO={distro!r}: the venv names its distro (setup_env)'
    return distro


def test_the_venv_is_the_distro_it_says():
    assert int(version('ros-rclpy').split('.')[0]) == DISTROS[_distro()]['rclpy_major']


PROBE = textwrap.dedent("""
    import json, time, rclpy
    from std_msgs.msg import String
    from jetson_infer_ros.input_gate import message_info_supported, publisher_ids_supported
    rclpy.init()
    node = rclpy.create_node('message_info_probe')
    got = []
    node.create_subscription(String, 'probe', lambda m, info: got.append(info), 10)
    pub = node.create_publisher(String, 'probe', 10)
    deadline = time.monotonic() + 20
    while not got and time.monotonic() < deadline:
        pub.publish(String(data='x'))
        rclpy.spin_once(node, timeout_sec=0.1)
    print(json.dumps({'keys': sorted(got[0]), 'supported': message_info_supported(),
                      'ids': publisher_ids_supported()}))
    node.destroy_node()
    rclpy.shutdown()
""")


@pytest.mark.ros
def test_message_info_and_the_input_gate_agree_on_this_distro(ros_env):
    out = subprocess.run([sys.executable, '-c', PROBE], env=ros_env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    probe = json.loads(out.stdout.strip().splitlines()[-1])
    has_gid = 'publisher_gid' in probe['keys']
    assert 'publication_sequence_number' in probe['keys']
    assert has_gid == DISTROS[_distro()]['publisher_gid']
    # the gate counts skipped frames from sequence numbers (both distros), and tells
    # publishers apart only where the id is given
    assert probe['supported'] and probe['ids'] == has_gid


def test_qos_event_callbacks_come_from_event_handler_without_a_deprecation(ros_env):
    code = ('import warnings; warnings.simplefilter("error", UserWarning); '
            'import jetson_infer_ros.node as n; '
            'from rclpy.event_handler import SubscriptionEventCallbacks as S; '
            'assert n.SubscriptionEventCallbacks is S; print("ok")')
    out = subprocess.run([sys.executable, '-c', code], env=ros_env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith('ok')


@pytest.mark.parametrize('name', ['sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage',
                                  'std_msgs/msg/Header'])
def test_bags_carry_this_distros_type_hashes(name):
    from ament_index_python.packages import get_package_share_directory
    from rosbags.typesys import Stores

    from jetson_infer_ros.bags import typestore as ts
    assert ts.distro_store() == getattr(Stores, f'ROS2_{_distro().upper()}')
    pkg, _, cls = name.split('/')
    described = json.loads((Path(get_package_share_directory(pkg)) / 'msg' / f'{cls}.json')
                           .read_text())
    installed = {h['type_name']: h['hash_string'] for h in described['type_hashes']}
    assert ts.definition(name)[1] == installed[name]
