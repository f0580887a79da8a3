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
    names = ros_isolation.profile_vars()
    assert names
    for name in names:
        assert env[name].endswith('fastdds_large_data.xml')
        assert node[name].endswith('fastdds_node.xml')
    for name in set(ros_isolation.PROFILE_VARS) - set(names):
        assert name not in env and name not in node
    assert {k: v for k, v in node.items() if k not in ros_isolation.PROFILE_VARS} == \
        {k: v for k, v in env.items() if k not in ros_isolation.PROFILE_VARS}
    assert 'fastdds_large_data.xml' in env[names[0]]   # input untouched


def test_a_users_own_profile_or_none_is_left_alone():
    own = {'FASTDDS_DEFAULT_PROFILES_FILE': '/etc/my_profile.xml', 'ROS_DOMAIN_ID': '3'}
    assert ros_isolation.for_inference_node(own) == own
    assert ros_isolation.for_inference_node({'ROS_DOMAIN_ID': '3'}) == {'ROS_DOMAIN_ID': '3'}


def test_the_profile_goes_under_the_name_this_fast_dds_reads(monkeypatch):
    """Kilted's rmw warns on every participant given FASTRTPS_: one name, the right one."""
    from importlib import metadata
    installed = {d.metadata['Name'] for d in metadata.distributions()}
    names = ros_isolation.profile_vars({})
    if 'ros-fastdds' in installed:                      # Fast DDS 3.x wheels (Kilted)
        assert names == ('FASTDDS_DEFAULT_PROFILES_FILE',)
    else:                                               # Fast DDS 2.x wheels (Jazzy)
        assert 'ros-fastrtps' in installed
        assert names == ('FASTRTPS_DEFAULT_PROFILES_FILE',)
    env = {'FASTRTPS_DEFAULT_PROFILES_FILE': '/old.xml', 'FASTDDS_DEFAULT_PROFILES_FILE': '/o'}
    ros_isolation.set_profile(env, '/new.xml')
    assert env == dict.fromkeys(names, '/new.xml')


def test_a_sourced_install_without_wheels_follows_ros_distro(monkeypatch):
    from importlib import metadata

    def no_wheels(name):
        raise metadata.PackageNotFoundError(name)
    monkeypatch.setattr(metadata, 'version', no_wheels)
    assert ros_isolation.profile_vars({'ROS_DISTRO': 'jazzy'}) == \
        ('FASTRTPS_DEFAULT_PROFILES_FILE',)
    assert ros_isolation.profile_vars({'ROS_DISTRO': 'humble'}) == \
        ('FASTRTPS_DEFAULT_PROFILES_FILE',)
    assert ros_isolation.profile_vars({'ROS_DISTRO': 'kilted'}) == \
        ('FASTDDS_DEFAULT_PROFILES_FILE',)
    assert ros_isolation.profile_vars({}) == ros_isolation.PROFILE_VARS
