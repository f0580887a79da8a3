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
Launch the jetson_infer lifecycle node (humble / jazzy / kilted).

Launch arguments (all optional):
  params_file   parameters YAML (default: this package's config/infer.yaml)
  namespace     node namespace ('')
  node_name     node name (jetson_infer)
  image_topic   input topic remapped onto `image` (and `<image_topic>/compressed`)
  use_sim_time  use /clock, e.g. when replaying a bag (false)
  autostart     configure + activate at start (true); false leaves the node to a
                lifecycle manager such as nav2_lifecycle_manager
  dds_profile   shipped Fast DDS profile for the node (true): config/fastdds_node.xml, a
                small shared-memory segment, since the node reads camera frames from
                the camera's own segment and sends only small messages; `large` gives
                it config/fastdds_large_data.xml (debug images above 1280x720);
                false: none. Never overrides a FASTDDS_DEFAULT_PROFILES_FILE already
                set in the environment. Cameras need fastdds_large_data.xml.

Without launch installed, the same start-up is:
  infer_node --autostart --ros-args --params-file config/infer.yaml -r image:=/camera/image
"""

import os

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, OpaqueFunction
from launch.actions import RegisterEventHandler
from launch.conditions import IfCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import LifecycleNode
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.substitutions import FindPackageShare
from lifecycle_msgs.msg import Transition

from jetson_infer_ros import ros_isolation

PACKAGE = 'jetson_infer_ros'


def _node_with_environment(context):
    env = {}
    choice = LaunchConfiguration('dds_profile').perform(context).strip().lower()
    profile = {'1': 'fastdds_node.xml', 'true': 'fastdds_node.xml',
               'large': 'fastdds_large_data.xml'}.get(choice)
    if choice not in ('0', 'false') and profile is None:
        raise ValueError(f'dds_profile must be true, large or false, got {choice!r}')
    # a profile the user set under either Fast DDS's name (3.x: FASTDDS_, 2.x on Jazzy
    # and Humble: FASTRTPS_) wins; ours goes under the name this install's Fast DDS reads
    if profile and ros_isolation.profile_in(os.environ) is None:
        share = FindPackageShare(PACKAGE).perform(context)
        ros_isolation.set_profile(env, os.path.join(share, 'config', profile))
    image_topic = LaunchConfiguration('image_topic').perform(context)
    node = LifecycleNode(
        package=PACKAGE,
        executable='infer_node',
        name=LaunchConfiguration('node_name'),
        namespace=LaunchConfiguration('namespace'),
        output='screen',
        parameters=[LaunchConfiguration('params_file'),
                    {'use_sim_time': LaunchConfiguration('use_sim_time')}],
        remappings=[('image', image_topic), ('image/compressed', image_topic + '/compressed')],
        additional_env=env,
    )
    configure = EmitEvent(
        event=ChangeState(lifecycle_node_matcher=matches_action(node),
                          transition_id=Transition.TRANSITION_CONFIGURE),
        condition=IfCondition(LaunchConfiguration('autostart')))
    activate_when_configured = RegisterEventHandler(
        OnStateTransition(
            target_lifecycle_node=node, start_state='configuring', goal_state='inactive',
            entities=[EmitEvent(event=ChangeState(
                lifecycle_node_matcher=matches_action(node),
                transition_id=Transition.TRANSITION_ACTIVATE))]),
        condition=IfCondition(LaunchConfiguration('autostart')))
    return [activate_when_configured, node, configure]


def generate_launch_description():
    default_params = PathJoinSubstitution([FindPackageShare(PACKAGE), 'config', 'infer.yaml'])
    return LaunchDescription([
        DeclareLaunchArgument('params_file', default_value=default_params,
                              description='Parameters YAML for the node'),
        DeclareLaunchArgument('namespace', default_value='', description='Node namespace'),
        DeclareLaunchArgument('node_name', default_value='jetson_infer',
                              description='Node name'),
        DeclareLaunchArgument('image_topic', default_value='image',
                              description='Camera topic remapped onto the node input'),
        DeclareLaunchArgument('use_sim_time', default_value='false',
                              description='Use /clock (bag replay)'),
        DeclareLaunchArgument('autostart', default_value='true',
                              description='Configure and activate at start'),
        DeclareLaunchArgument('dds_profile', default_value='true',
                              description='Shipped Fast DDS profile for the node: true '
                              '(small segment), large, or false'),
        OpaqueFunction(function=_node_with_environment),
    ])
