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
Stopping the node the ways a terminal and ``ros2 launch`` stop it: clean, exit code 0.

Ctrl-C in a terminal running ``ros2 launch`` sends SIGINT to the whole process group, and
launch then sends the node its own SIGINT (and SIGTERM after sigterm_timeout): the node
gets two signals, the second often while it is already tearing down. Each case is run a
few times, since what is checked is a race (the issue saw it in 3 of 5 and 3 of 8 runs).
"""

from __future__ import annotations

import signal
import time

import pytest

from jetson_infer_ros.testing import launch_like

from .conftest import BIN, read_jsonl, ROOT, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.models]

RUNS = 3
FAILURE_SIGNS = ('Traceback', 'RCLError', 'Exception in thread', 'context is invalid')


@pytest.fixture
def start_node(processes, ros_env, tmp_path):
    from jetson_infer_ros.ros_isolation import for_inference_node

    def start(run: int, config: str = 'infer.yaml'):
        cmd = launch_like.infer_launch_command(
            BIN / 'infer_node', ROOT / 'config' / config, tmp_path, namespace='robot1',
            node_name='cam_infer', image_topic='/cam/image', arguments=['--autostart'])
        proc = processes.start(cmd, f'node{run}', env=for_inference_node(ros_env))
        assert wait_for(lambda: 'camera 0: /cam/image' in processes.output(proc), 60), \
            processes.output(proc)
        return proc
    return start


def _exit_code(proc, timeout: float = 20.0):
    try:
        return proc.wait(timeout=timeout)
    except Exception:  # noqa: B902 - still running: the test fails on the code below
        return None


@pytest.mark.parametrize('signum', [signal.SIGINT, signal.SIGTERM], ids=['SIGINT', 'SIGTERM'])
def test_a_signal_while_frames_flow_is_a_clean_exit(signum, start_node, publisher, listener,
                                                    processes, data):
    """Item 4: the worker never publishes into a shut-down context with a traceback."""
    lis = listener('classification=/robot1/classification')
    pub = publisher('--topic', '/cam/image', '--images', str(data.photo('opencv-doc/baboon.jpg')),
                    '--width', '640', '--height', '480', '--encoding', 'rgb8', '--rate', '300',
                    '--count', '1000000', '--wait-subscribers', '0')
    for run in range(RUNS):
        before = len(read_jsonl(lis.out_path))
        node = start_node(run)
        assert wait_for(lambda: len(read_jsonl(lis.out_path)) >= before + 20, 60), \
            processes.output(node)
        node.send_signal(signum)
        code = _exit_code(node)
        log = processes.output(node)
        assert code == 0, f'run {run}: exit code {code}\n{log}'
        assert not [s for s in FAILURE_SIGNS if s in log], f'run {run}:\n{log}'
    processes.stop(pub)


@pytest.mark.parametrize('delay', [0.0, 0.02, 0.1, 0.4])
def test_a_second_sigint_during_teardown_still_exits_0(delay, start_node, processes):
    """Item 5: Ctrl-C of ros2 launch: the process group's SIGINT, then launch's own."""
    node = start_node(0)
    time.sleep(0.5)
    node.send_signal(signal.SIGINT)
    time.sleep(delay)
    node.send_signal(signal.SIGINT)
    code = _exit_code(node)
    log = processes.output(node)
    assert code == 0, f'exit code {code}\n{log}'
    assert not [s for s in FAILURE_SIGNS if s in log], log
