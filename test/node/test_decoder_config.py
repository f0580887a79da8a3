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
Decoder choice and decoder options through the real node, as a lifecycle manager drives it.

A model of the wrong task given by path (issue 25: EfficientNet with task detection)
used to pass configure, then drop every frame or answer every frame with nothing;
a decoder option for another decoder used to be impossible to set at all.
"""

from __future__ import annotations

import numpy as np
import pytest

from jetson_infer_ros.testing import synthetic_onnx
from .conftest import wait_for

pytestmark = [pytest.mark.ros, pytest.mark.models]


def _failures(processes, node):
    return [ln for ln in processes.output(node).splitlines() if 'configure failed' in ln]


def test_wrong_task_model_wrong_option_and_auto_choice_at_configure(
        node_runner, client, processes, prepared_model, tmp_path):
    classifier, _meta = prepared_model('efficientnet_lite0')
    node = node_runner('detect.yaml', {'model_path': str(classifier), 'decoder': 'yolov8'},
                       autostart=False)
    client.wait_for_node()
    for k, decoder in enumerate(('yolov8', 'nanodet', 'yolov5', 'auto')):
        assert client.set_parameter('decoder', decoder).successful
        assert not client.transition('configure'), decoder
        assert client.get_state() == 'unconfigured' and node.poll() is None
        lines = _failures(processes, node)
        assert len(lines) == k + 1, lines
        assert "'logits'" in lines[-1] and '1000' in lines[-1], lines[-1]
    # A YOLOv8-layout model (1260 anchors at 192x320), and an SSD option set by mistake.
    table = np.zeros((1, 84, 24 * 40 + 12 * 20 + 6 * 10), np.float32)
    yolo = synthetic_onnx.shifted_heads(str(tmp_path / 'v8.onnx'), (1, 3, 192, 320),
                                        {'output0': (table, None)})
    assert client.set_parameter('model_path', yolo).successful
    assert client.set_parameter('labels_file', '').successful
    assert client.set_parameter('box_order', 'yxyx').successful
    assert not client.transition('configure')
    last = _failures(processes, node)[-1]
    assert 'yolov8: not a candidate: box_order is set but decoder yolov8 does not take it' \
        in last, last
    assert client.set_parameter('box_order', 'xyxy').successful
    assert client.set_parameter('decoder_strides', [8, 16, 32]).successful
    assert client.transition('configure')
    assert wait_for(lambda: 'decoder auto: yolov8, from ' in processes.output(node), 10)
    # Decoder options shape the decoder: not while configured.
    refused = client.set_parameter('decoder_output', 'output0')
    assert not refused.successful and 'unconfigured' in refused.reason
    assert client.get_parameter('decoder_strides') == [8, 16, 32]
