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

"""package.xml is well-formed, format 3, and names what the code really imports."""

import ast
from pathlib import Path
import xml.dom.minidom

from catkin_pkg.package import parse_package
import pytest

ROOT = Path(__file__).resolve().parents[2]

# Python import name -> the rosdep key package.xml must declare for it.
IMPORT_TO_DEP = {
    'rclpy': 'rclpy', 'std_msgs': 'std_msgs', 'sensor_msgs': 'sensor_msgs',
    'vision_msgs': 'vision_msgs', 'lifecycle_msgs': 'lifecycle_msgs', 'bond': 'bond',
    'diagnostic_msgs': 'diagnostic_msgs', 'rcl_interfaces': 'rcl_interfaces',
    'builtin_interfaces': 'builtin_interfaces', 'numpy': 'python3-numpy',
    'cv2': 'python3-opencv', 'yaml': 'python3-yaml', 'launch': 'launch',
    'launch_ros': 'launch_ros', 'ament_index_python': 'ament_index_python',
}


@pytest.mark.linter
@pytest.mark.xmllint
def test_package_xml_well_formed_and_valid():
    xml.dom.minidom.parse(str(ROOT / 'package.xml'))
    pkg = parse_package(str(ROOT))
    pkg.validate()
    assert pkg.package_format == 3
    assert pkg.name == 'jetson_infer_ros'
    assert [e.content for e in pkg.exports if e.tagname == 'build_type'] == ['ament_python']


@pytest.mark.linter
def test_package_xml_declares_every_ros_import():
    pkg = parse_package(str(ROOT))
    declared = {d.name for d in pkg.exec_depends + pkg.build_export_depends}
    used = set()
    for path in list((ROOT / 'jetson_infer_ros').rglob('*.py')) + \
            list((ROOT / 'launch').glob('*.py')):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                top = name.split('.')[0]
                if top in IMPORT_TO_DEP:
                    used.add(IMPORT_TO_DEP[top])
    assert used - declared == set(), f'imported but not in package.xml: {used - declared}'
