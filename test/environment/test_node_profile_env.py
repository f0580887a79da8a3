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

"""The inference node gets the small-segment profile only in place of the shipped large one."""

from __future__ import annotations

from jetson_infer_ros import ros_isolation


def test_the_shipped_large_profile_becomes_the_node_profile():
    env = ros_isolation.isolated_env({'PATH': '/bin'}, domain_id=7)
    node = ros_isolation.for_inference_node(env)
    for name in ros_isolation.PROFILE_VARS:       # Fast DDS 3 (Kilted) and 2.x (Jazzy)
        assert env[name].endswith('fastdds_large_data.xml')
        assert node[name].endswith('fastdds_node.xml')
    assert {k: v for k, v in node.items() if k not in ros_isolation.PROFILE_VARS} == \
        {k: v for k, v in env.items() if k not in ros_isolation.PROFILE_VARS}
    assert 'fastdds_large_data.xml' in env['FASTDDS_DEFAULT_PROFILES_FILE']   # input untouched


def test_a_users_own_profile_or_none_is_left_alone():
    own = {'FASTDDS_DEFAULT_PROFILES_FILE': '/etc/my_profile.xml', 'ROS_DOMAIN_ID': '3'}
    assert ros_isolation.for_inference_node(own) == own
    assert ros_isolation.for_inference_node({'ROS_DOMAIN_ID': '3'}) == {'ROS_DOMAIN_ID': '3'}
