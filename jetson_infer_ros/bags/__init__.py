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
rosbag2 bags without a ROS install: make them, read them, replay them, record them.

A robot is tested by replaying what its camera saw, so the project needs bags it can
make from real footage, a player that keeps the recorded timing, QoS and clock, and a
recorder for what the node answers. rosbag2 itself is not on any registry, so all of
this stands on the pure-Python ``rosbags`` package (rosbag2 MCAP/sqlite3 files that
``ros2 bag`` reads and writes too) and rclpy's raw (serialized) publish/subscribe.

Modules: ``make_bags`` (bags from vtest.avi and the photos, cached), ``reader`` (open a
bag, list topics, iterate serialized messages), ``typestore`` (message definitions and
Python classes by type name), ``replay`` and ``record`` (the ROS side).
"""

from __future__ import annotations


class BagError(ValueError):
    """
    A bag cannot be used as asked: missing, damaged, or without that topic or type.

    The message is one line that names the bag and the problem, fit for a CLI error.
    """


def use_large_data_profile() -> bool:
    """
    Point Fast DDS at the shipped large-data profile unless one is set already.

    Camera-sized samples need it on the publishing side too (Fast DDS' default 512 KB
    shared-memory segment falls back to fragmented UDP). Must run before rclpy is
    imported; a profile the user set always wins. Returns whether it was applied.
    """
    import os
    import sys
    from jetson_infer_ros.ros_isolation import profile_in, profile_path, set_profile
    if profile_in(os.environ) is not None or 'rclpy' in sys.modules:
        return False
    path = profile_path()
    if path is None:
        return False
    set_profile(os.environ, str(path))
    return True


def exit_process(code: int) -> None:
    """
    Flush and leave now, skipping the DDS participant teardown at interpreter exit.

    Fast DDS 3.2 can deadlock destroying a participant while another process removes a
    writer (a spin in DomainParticipant::set_listener against a discovery callback); the
    replay and record commands have removed their endpoints and closed their files by
    the time they call this, so nothing is lost by not tearing the participant down.
    """
    import os
    import sys
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
