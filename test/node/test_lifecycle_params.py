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

"""Lifecycle and parameters driven from another process, as a lifecycle manager would."""

from __future__ import annotations

import time

import pytest

from .conftest import read_jsonl, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.models]


def _outputs(lis):
    return [r for r in read_jsonl(lis.out_path) if r['kind'] == 'classification']


def test_lifecycle_sequence_and_no_output_while_inactive(node_runner, publisher, listener,
                                                         client, data, processes):
    node = node_runner('infer.yaml', autostart=False)
    client.wait_for_node()
    assert client.get_state() == 'unconfigured'
    lis = listener('classification=classification')
    photo = str(data.photo('opencv-doc/orange.jpg'))
    pub = publisher('--images', photo, '--rate', '20', '--count', '100000',
                    '--wait-subscribers', '0')

    assert client.transition('configure')
    assert client.get_state() == 'inactive'
    time.sleep(1.5)
    assert _outputs(lis) == [], 'published while inactive'

    assert client.transition('activate')
    assert client.get_state() == 'active'
    assert wait_for(lambda: len(_outputs(lis)) >= 3, 20), processes.output(node)

    assert client.transition('deactivate')
    assert client.get_state() == 'inactive'
    time.sleep(0.5)
    n = len(_outputs(lis))
    time.sleep(1.5)
    assert len(_outputs(lis)) == n, 'published while inactive'

    assert client.transition('activate')
    assert wait_for(lambda: len(_outputs(lis)) >= n + 3, 20)
    assert client.transition('deactivate')
    assert client.transition('cleanup')
    assert client.get_state() == 'unconfigured'
    assert client.transition('configure')
    assert client.get_state() == 'inactive'
    assert client.transition('shutdown')
    assert client.get_state() == 'finalized'
    assert node.poll() is None, 'node must stay up after shutdown until signalled'
    processes.stop(pub)
    assert processes.stop(node) == 0, processes.output(node)


def test_configure_failure_leaves_node_unconfigured_and_alive(node_runner, client, processes,
                                                              tmp_path):
    missing = tmp_path / 'nope' / 'model.onnx'
    node = node_runner('infer.yaml', {'model_path': str(missing)}, autostart=False)
    client.wait_for_node()
    assert not client.transition('configure')
    assert client.get_state() == 'unconfigured'
    assert node.poll() is None
    log = processes.output(node)
    lines = [ln for ln in log.splitlines() if 'configure failed' in ln]
    assert len(lines) == 1 and 'model file not found' in lines[0] and str(missing) in lines[0]
    # fix the parameter while unconfigured, and configure now works
    assert client.set_parameter('model_path', 'efficientnet_lite0').successful
    assert client.transition('configure')
    assert client.get_state() == 'inactive'


def test_live_parameter_change_and_rejections(node_runner, client, processes):
    node_runner('detect.yaml', autostart=True)
    client.wait_for_node()
    assert wait_for(lambda: client.get_state() == 'active', 60)
    ok = client.set_parameter('score_threshold', 0.6)
    assert ok.successful, ok.reason
    assert client.get_parameter('score_threshold') == pytest.approx(0.6)
    bad = client.set_parameter('score_threshold', 1.5)
    assert not bad.successful and 'score_threshold' in bad.reason
    assert client.get_parameter('score_threshold') == pytest.approx(0.6)
    wrong_type = client.set_parameter('top_k', 'five')
    assert not wrong_type.successful
    engine = client.set_parameter('model_path', '/tmp/other.onnx')
    assert not engine.successful and 'unconfigured' in engine.reason
    assert client.get_parameter('model_path') == 'nanodet'


def test_backend_tensorrt_without_tensorrt_fails_configure_clearly(
        node_runner, client, processes):
    node = node_runner('infer.yaml', {'backend': 'tensorrt'}, autostart=False)
    client.wait_for_node()
    assert not client.transition('configure')
    assert client.get_state() == 'unconfigured' and node.poll() is None
    lines = [ln for ln in processes.output(node).splitlines() if 'configure failed' in ln]
    assert len(lines) == 1 and 'tensorrt' in lines[0].lower(), lines


def test_backend_auto_falls_back_to_onnxruntime_with_one_line(node_runner, client, processes):
    node = node_runner('infer.yaml', {'backend': 'auto'}, autostart=False)
    client.wait_for_node()
    assert client.transition('configure')
    lines = [ln for ln in processes.output(node).splitlines() if 'TensorRT unavailable' in ln]
    assert len(lines) == 1 and 'ONNX Runtime' in lines[0], processes.output(node)
