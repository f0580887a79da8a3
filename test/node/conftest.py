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

"""Fixtures that start the real node, camera publishers and listeners as processes."""

from __future__ import annotations

import json
import os
from pathlib import Path
import sys
import time
from typing import Dict, List, Optional

import pytest
import yaml

from jetson_infer_ros.config import read_ros_parameters
from jetson_infer_ros.ros_isolation import for_inference_node

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.prefix) / 'bin'


#: JSON parameters laid over every shipped config before a test's own overrides, e.g.
#: '{"backend": "onnxruntime_gpu"}' to run these tests on the GPU (scripts/gpu_node_check.py)
PARAMS_ENV = 'JETSON_INFER_TEST_PARAMS'


def write_params(tmp_path: Path, config: str, overrides: Optional[Dict] = None,
                 node_name: str = 'jetson_infer') -> Path:
    values = read_ros_parameters(ROOT / 'config' / config)
    values.update(json.loads(os.environ.get(PARAMS_ENV) or '{}'))
    values.update(overrides or {})
    path = tmp_path / f'{node_name}_params.yaml'
    path.write_text(yaml.safe_dump({node_name: {'ros__parameters': values}}))
    return path


def read_jsonl(path: Path) -> List[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(predicate, timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture
def node_runner(processes, ros_env, tmp_path):
    """Start the node from its console script, as a user without `ros2 launch` would."""
    def start(config: str, overrides: Optional[Dict] = None, autostart: bool = True,
              remap: Optional[List[str]] = None, name: str = 'node',
              env: Optional[Dict[str, str]] = None, ros_args: Optional[List[str]] = None):
        params = write_params(tmp_path, config, overrides)
        cmd = [str(BIN / 'infer_node')] + (['--autostart'] if autostart else []) + \
            ['--ros-args', '--params-file', str(params)] + list(ros_args or [])
        for r in remap or []:
            cmd += ['-r', r]
        return processes.start(cmd, name, env=for_inference_node(env or ros_env))
    return start


@pytest.fixture
def launched(processes, ros_env, tmp_path):
    """
    Start the node with the argv infer.launch.py gives it; return (process, client).

    Defaults: ``namespace:=robot1 node_name:=cam_infer image_topic:=/cam/image``, so the
    node is /robot1/cam_infer (see jetson_infer_ros/testing/launch_like.py).
    """
    from jetson_infer_ros.testing import launch_like
    from jetson_infer_ros.testing.client import RosClient
    clients = []

    def start(params_file, namespace='robot1', node_name='cam_infer',
              image_topic='/cam/image', name='node'):
        cmd = launch_like.infer_launch_command(
            BIN / 'infer_node', params_file, tmp_path, namespace=namespace,
            node_name=node_name, image_topic=image_topic)
        proc = processes.start(cmd, name, env=for_inference_node(ros_env))
        client = RosClient(launch_like.full_name(node_name, namespace),
                           name=f'tools_{len(clients)}')
        clients.append(client)
        client.wait_for_node()
        return proc, client
    yield start
    for c in clients:
        c.close()


def up(client) -> None:
    """Configure, then activate: what the launch file's autostart events do."""
    assert client.transition('configure')
    assert client.transition('activate')


@pytest.fixture
def publisher(processes, ros_env):
    def start(*args: str, name: str = 'publisher'):
        return processes.python(['-m', 'jetson_infer_ros.testing.publisher'] + list(args), name,
                                env=ros_env)
    return start


@pytest.fixture
def listener(processes, ros_env, tmp_path):
    def start(*topics: str, duration: float = 0.0, name: str = 'listener'):
        out = tmp_path / f'{name}.jsonl'
        args = ['-m', 'jetson_infer_ros.testing.listener', '--out', str(out)]
        if duration:
            args += ['--duration', str(duration)]
        for t in topics:
            args += ['--topic', t]
        proc = processes.python(args, name, env=ros_env)
        assert wait_for(lambda: 'listener ready' in processes.output(proc), 30), \
            processes.output(proc)
        proc.out_path = out
        return proc
    return start


@pytest.fixture
def client():
    from jetson_infer_ros.testing.client import RosClient
    c = RosClient()
    yield c
    c.close()


@pytest.fixture(scope='session')
def data():
    from jetson_infer_ros.assets.data import cached_data
    return cached_data()
