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
The message packages built in ros_env/ are upstream's, field for field and hash for hash.

vision_msgs and bond are in no registry, so ros_env/ builds them from their definitions.
A node or bag of a real ROS 2 install interoperates only if package, type, field names,
field types, order and constants are upstream's: then the RIHS01 type hashes agree too.
The tables below are written from the upstream definitions (vision_msgs 4.1.1, msg/*.msg;
ros/bond_core branch ros2, bond/msg/*.msg), the hashes from rosidl's output for the
upstream packages (the ``idl__description.c`` rosidl_generator_c writes; bond's with the
Kilted rosidl). The test runs on every distro CI runs.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

# upstream vision_msgs 4.1.1: (type, field) pairs in order, types as the .msg writes them
VISION_MSGS = {
    'Point2D': [('float64', 'x'), ('float64', 'y')],
    'Pose2D': [('vision_msgs/Point2D', 'position'), ('float64', 'theta')],
    'BoundingBox2D': [('vision_msgs/Pose2D', 'center'), ('float64', 'size_x'),
                      ('float64', 'size_y')],
    'BoundingBox2DArray': [('std_msgs/Header', 'header'),
                           ('vision_msgs/BoundingBox2D[]', 'boxes')],
    'BoundingBox3D': [('geometry_msgs/Pose', 'center'), ('geometry_msgs/Vector3', 'size')],
    'BoundingBox3DArray': [('std_msgs/Header', 'header'),
                           ('vision_msgs/BoundingBox3D[]', 'boxes')],
    'ObjectHypothesis': [('string', 'class_id'), ('float64', 'score')],
    'ObjectHypothesisWithPose': [('vision_msgs/ObjectHypothesis', 'hypothesis'),
                                 ('geometry_msgs/PoseWithCovariance', 'pose')],
    'Classification': [('std_msgs/Header', 'header'),
                       ('vision_msgs/ObjectHypothesis[]', 'results')],
    'Detection2D': [('std_msgs/Header', 'header'),
                    ('vision_msgs/ObjectHypothesisWithPose[]', 'results'),
                    ('vision_msgs/BoundingBox2D', 'bbox'), ('string', 'id')],
    'Detection2DArray': [('std_msgs/Header', 'header'),
                         ('vision_msgs/Detection2D[]', 'detections')],
    'Detection3D': [('std_msgs/Header', 'header'),
                    ('vision_msgs/ObjectHypothesisWithPose[]', 'results'),
                    ('vision_msgs/BoundingBox3D', 'bbox'), ('string', 'id')],
    'Detection3DArray': [('std_msgs/Header', 'header'),
                         ('vision_msgs/Detection3D[]', 'detections')],
    'VisionClass': [('uint16', 'class_id'), ('string', 'class_name')],
    'LabelInfo': [('std_msgs/Header', 'header'), ('vision_msgs/VisionClass[]', 'class_map'),
                  ('float32', 'threshold')],
    'VisionInfo': [('std_msgs/Header', 'header'), ('string', 'method'),
                   ('string', 'database_location'), ('int32', 'database_version')],
}

# upstream bond (ros/bond_core, ros2): Status's fields; Constants has only constants
BOND_STATUS = [('std_msgs/Header', 'header'), ('string', 'id'), ('string', 'instance_id'),
               ('bool', 'active'), ('float32', 'heartbeat_timeout'),
               ('float32', 'heartbeat_period')]
BOND_CONSTANTS = {'DEAD_PUBLISH_PERIOD': 0.05, 'DEFAULT_CONNECT_TIMEOUT': 10.0,
                  'DEFAULT_HEARTBEAT_TIMEOUT': 4.0, 'DEFAULT_DISCONNECT_TIMEOUT': 2.0,
                  'DEFAULT_HEARTBEAT_PERIOD': 1.0,
                  'DISABLE_HEARTBEAT_TIMEOUT_PARAM': '/bond_disable_heartbeat_timeout'}

# RIHS01 hashes of the upstream packages, as rosidl computed them (see the module docstring)
UPSTREAM_HASHES = {
    'bond/msg/Status':
        'RIHS01_87eaccffa254ffffadc0b61600452e8251740f06c25659a2dbda4927fdb1f70a',
    'bond/msg/Constants':
        'RIHS01_347874ac7a49af69eb313fc911d72cd59152a5a157b6577cafad31ad43a8d63e',
    'vision_msgs/msg/Detection2DArray':
        'RIHS01_214274120007f4a683866481336b70310268cfa107aebe9d594a6acf75bda968',
    'vision_msgs/msg/Classification':
        'RIHS01_f74db28d0eaef3afb78f48bf2161cd709a1383a0309d3454383b25be11345143',
    'vision_msgs/msg/LabelInfo':
        'RIHS01_3d37df4015cdf660cc851c51897f2acd957e1ca6205ba0a99aebffb9406b0783',
    'vision_msgs/msg/ObjectHypothesis':
        'RIHS01_51da43cec11c01957a64d1e05a24acd18aae7745ec30b74348ad5f6d634f7f90',
    'vision_msgs/msg/VisionClass':
        'RIHS01_1e4a11f0fed50b5623cb8ff26ca0e37952a48a9c074d16f804b44e9164c2037a',
    'std_msgs/msg/Header':
        'RIHS01_f49fb3ae2cf070f793645ff749683ac6b06203e41c891e17701b1cb597ce6a01',
    'builtin_interfaces/msg/Time':
        'RIHS01_b106235e25a4c5ed35098aa0a61a3ee9c9b18d197f398b0e4206cea9acf9c197',
}

# how rosidl's Python classes spell the .msg types (get_fields_and_field_types)
PRIMITIVES = {'float64': 'double', 'float32': 'float', 'bool': 'boolean', 'string': 'string',
              'uint16': 'uint16', 'int32': 'int32'}


def _python_spelling(msg_type: str) -> str:
    if msg_type.endswith('[]'):
        return f'sequence<{_python_spelling(msg_type[:-2])}>'
    return PRIMITIVES.get(msg_type, msg_type)


def _fields(package: str, name: str):
    cls = getattr(importlib.import_module(f'{package}.msg'), name)
    return list(cls.get_fields_and_field_types().items())


def _installed_hash(full_name: str) -> str:
    from ament_index_python.packages import get_package_share_directory
    package, _, name = full_name.split('/')
    path = Path(get_package_share_directory(package)) / 'msg' / f'{name}.json'
    hashes = {h['type_name']: h['hash_string']
              for h in json.loads(path.read_text())['type_hashes']}
    return hashes[full_name]


@pytest.mark.parametrize('name', sorted(VISION_MSGS))
def test_vision_msgs_fields_are_upstreams(name):
    expected = [(field, _python_spelling(t)) for t, field in VISION_MSGS[name]]
    assert _fields('vision_msgs', name) == expected


def test_vision_msgs_has_exactly_upstreams_types():
    msg_dir = Path(__file__).resolve().parents[2] / 'ros_env' / 'vision_msgs' / 'msg'
    assert sorted(p.stem for p in msg_dir.glob('*.msg')) == sorted(VISION_MSGS)


def test_bond_status_fields_are_upstreams():
    expected = [(field, _python_spelling(t)) for t, field in BOND_STATUS]
    assert _fields('bond', 'Status') == expected


def test_bond_constants_are_upstreams():
    from bond.msg import Constants
    for name, value in BOND_CONSTANTS.items():
        assert getattr(Constants, name) == pytest.approx(value) if isinstance(value, float) \
            else getattr(Constants, name) == value, name
    assert _fields('bond', 'Constants') == []       # constants only, no fields


@pytest.mark.parametrize('full_name', sorted(UPSTREAM_HASHES))
def test_type_hashes_are_upstreams(full_name):
    assert _installed_hash(full_name) == UPSTREAM_HASHES[full_name]
