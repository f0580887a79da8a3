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
The launch file, checked without launch installed (it is not on PyPI).

launch/launch_ros cannot be installed on the machines this project is tested on, so
the file is checked structurally: it parses on Python 3.8, declares the documented
arguments, starts the console script that setup.py installs, and points at files the
package ships. The same start-up is exercised for real by the node tests through
`infer_node --autostart --ros-args --params-file ...`.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAUNCH = ROOT / 'launch' / 'infer.launch.py'


def _calls(tree, name):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(
        n.func, 'id', getattr(n.func, 'attr', None)) == name]


def _kw(call, key):
    for k in call.keywords:
        if k.arg == key:
            return k.value
    return None


def test_declares_the_documented_arguments():
    tree = ast.parse(LAUNCH.read_text(), feature_version=(3, 8))
    names = [c.args[0].value for c in _calls(tree, 'DeclareLaunchArgument')]
    assert names == ['params_file', 'namespace', 'node_name', 'image_topic', 'use_sim_time',
                     'autostart', 'dds_profile']
    readme = (ROOT / 'README.md').read_text()
    for name in names:
        assert f'`{name}`' in readme, f'launch argument {name} undocumented'


def test_starts_the_installed_lifecycle_node_with_autostart_events():
    tree = ast.parse(LAUNCH.read_text())
    node = _calls(tree, 'LifecycleNode')
    assert len(node) == 1
    package = _kw(node[0], 'package')
    constants = {t.id: n.value.value for n in tree.body if isinstance(n, ast.Assign)
                 for t in n.targets if isinstance(t, ast.Name)
                 and isinstance(n.value, ast.Constant)}
    assert constants.get(getattr(package, 'id', None)) == 'jetson_infer_ros'
    assert _kw(node[0], 'executable').value == 'infer_node'
    assert 'infer_node = jetson_infer_ros.node:main' in (ROOT / 'setup.py').read_text()
    transitions = {a.attr for a in ast.walk(tree) if isinstance(a, ast.Attribute)
                   and a.attr.startswith('TRANSITION_')}
    assert transitions == {'TRANSITION_CONFIGURE', 'TRANSITION_ACTIVATE'}
    handler = _calls(tree, 'OnStateTransition')[0]
    assert _kw(handler, 'start_state').value == 'configuring'
    assert _kw(handler, 'goal_state').value == 'inactive'


def test_default_files_exist_and_profile_is_never_forced():
    text = LAUNCH.read_text()
    assert "'config', 'infer.yaml'" in text
    assert (ROOT / 'config' / 'infer.yaml').is_file()
    assert (ROOT / 'config' / 'fastdds_large_data.xml').is_file()
    # never over a profile the user set, under either Fast DDS's name (3.x / 2.x)
    assert 'if profile and ros_isolation.profile_in(os.environ) is None:' in text
    assert "ros_isolation.set_profile(env, os.path.join(share, 'config', profile))" in text
    # the node's own profile by default, the large-data one on request
    assert "'true': 'fastdds_node.xml'" in text and "'large': 'fastdds_large_data.xml'" in text
    assert (ROOT / 'config' / 'fastdds_node.xml').is_file()


def test_the_node_profile_is_the_large_data_profile_with_a_small_segment():
    import xml.etree.ElementTree as ET
    ns = {'d': 'http://www.eprosima.com/XMLSchemas/fastRTPS_Profiles'}

    def read(name):
        root = ET.parse(ROOT / 'config' / name).getroot()
        sizes = [int(e.text) for e in root.iterfind('.//d:segment_size', ns)]
        types = sorted(e.text for e in root.iterfind('.//d:transport_descriptor/d:type', ns))
        builtin = root.find('.//d:useBuiltinTransports', ns).text
        default = root.find('.//d:participant', ns).get('is_default_profile')
        return sizes, types, builtin, default
    large, node = read('fastdds_large_data.xml'), read('fastdds_node.xml')
    assert large[1:] == node[1:] == (['SHM', 'UDPv4'], 'false', 'true')
    assert node[0] == [4 * 1024 * 1024] and large[0] == [16 * 1024 * 1024]
    assert node[0][0] > 1280 * 720 * 3          # one 1280x720 rgb8 debug image fits
