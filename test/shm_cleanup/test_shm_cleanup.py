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

"""A killed child's Fast DDS files go with it; a foreign participant's never do."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys
import textwrap
from typing import Set

import pytest

from jetson_infer_ros import shm_cleanup

pytestmark = pytest.mark.ros

# A participant started by someone else, after our clean-up state exists: it publishes
# frames-sized samples (so readers map its segment) and serves its parameters.
FOREIGN = textwrap.dedent("""
    import rclpy
    from std_msgs.msg import String
    rclpy.init()
    node = rclpy.create_node('foreign_participant')
    node.declare_parameter('marker', 42)
    pub = node.create_publisher(String, 'chatter', 10)
    node.create_timer(0.05, lambda: pub.publish(String(data='x' * 4000)))
    print('ready', flush=True)
    rclpy.spin(node)
""")

# Our child: reads the foreign topic (maps the foreign segment) and has a segment of its own.
CHILD = textwrap.dedent("""
    import rclpy
    from std_msgs.msg import String
    rclpy.init()
    node = rclpy.create_node('our_child')
    got = []
    node.create_subscription(String, 'chatter', got.append, 10)
    pub = node.create_publisher(String, 'ours', 10)
    while len(got) < 5:
        rclpy.spin_once(node, timeout_sec=0.1)
    pub.publish(String(data='y' * 4000))
    print('ready', flush=True)
    rclpy.spin(node)
""")

# A new participant asking the foreign node for its parameter, as `ros2 param get` does.
ASK = textwrap.dedent("""
    import rclpy
    from rcl_interfaces.srv import GetParameters
    rclpy.init()
    node = rclpy.create_node('asker')
    client = node.create_client(GetParameters, '/foreign_participant/get_parameters')
    for _ in range(6):
        if not client.wait_for_service(timeout_sec=5.0):
            continue
        future = client.call_async(GetParameters.Request(names=['marker']))
        rclpy.spin_until_future_complete(node, future, timeout_sec=5.0)
        if future.result() is not None:
            print('marker', future.result().values[0].integer_value, flush=True)
            break
""")


def _start(code: str, env: dict) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, '-c', code], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == 'ready', line + proc.stdout.read() if proc.poll() else line
    return proc


def _files_of(pid: int) -> Set[Path]:
    files = set()
    for family in shm_cleanup.owned_families(pid):
        files.update(shm_cleanup.family_files(family))
    return files


def _mapped_by(pid: int) -> Set[Path]:
    maps = Path(f'/proc/{pid}/maps').read_text().splitlines()
    return {Path(line.split(None, 5)[-1].strip()) for line in maps
            if '/dev/shm/fastdds_' in line}


def test_killed_child_loses_its_files_and_a_foreign_participant_keeps_working(ros_env):
    foreign = _start(FOREIGN, ros_env)
    child = None
    try:
        child = _start(CHILD, ros_env)
        foreign_files = _files_of(foreign.pid)
        child_own = shm_cleanup.owned_families(child.pid)
        foreign_own = shm_cleanup.owned_families(foreign.pid)
        # the child maps the foreign segment it reads from, but does not own it
        foreign_segments = {f for f in foreign_files if not f.name.startswith(
            ('fastdds_port', 'sem.')) and not f.name.endswith('_el')}
        assert foreign_segments & _mapped_by(child.pid), foreign_segments
        assert not {f.name for f in foreign_segments} & child_own
        own_segment = {f for f in child_own if not f.startswith('fastdds_port')}
        assert own_segment, child_own

        shm_cleanup.kill(child)
        shm_cleanup.remove_claimed()

        assert child.returncode == -9
        for family in own_segment - foreign_own:
            assert not shm_cleanup.family_files(family), family
        missing = sorted(str(f) for f in foreign_files if not f.exists())
        assert not missing, f'foreign files removed: {missing}'
        assert foreign_own <= shm_cleanup.owned_families(foreign.pid)
        asked = subprocess.run([sys.executable, '-c', ASK], env=ros_env, text=True,
                               capture_output=True, timeout=90)
        assert 'marker 42' in asked.stdout, asked.stdout + asked.stderr
    finally:
        for proc in (child, foreign):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=10)


def test_a_family_someone_still_holds_is_kept_and_retried(ros_env):
    """Files a live process still holds open stay claimed until it lets go."""
    child = _start(FOREIGN, ros_env)     # any participant of ours will do
    holder = None
    try:
        own = sorted(shm_cleanup.owned_families(child.pid))
        assert own
        holder = open(shm_cleanup.SHM / (own[0] + '_el'), 'rb')   # a live holder
        shm_cleanup.kill(child)
        assert shm_cleanup.family_files(own[0])
        assert own[0] in shm_cleanup.claimed()
        for family in own[1:]:
            assert not shm_cleanup.family_files(family), family
        holder.close()
        holder = None
        assert shm_cleanup.remove_claimed() >= 1
        assert not shm_cleanup.family_files(own[0])
        assert own[0] not in shm_cleanup.claimed()
    finally:
        if holder is not None:
            holder.close()
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
