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
The user guide's log lines and failure messages are the node's own, word for word.

docs/bring_your_own_model.md tells a user what the node says when ``decoder: auto``
chooses and what each mistake looks like. A guide that quotes messages the code no
longer prints misleads exactly the user who needs it, so this test drives the real node
(one process, parameters set and configure called as ``ros2 param set`` and
``ros2 lifecycle set`` would) through every case the guide quotes, on the real
Ultralytics/torchvision exports, and checks both ways: every line the node printed is in
the guide, and every line the guide quotes was printed. File paths are the test's
temporary folder, written ``/models`` in the guide.
"""

from __future__ import annotations

from pathlib import Path
import re
from typing import Dict, List

import numpy as np
import pytest

from jetson_infer_ros.assets import cache, detector_exports
from jetson_infer_ros.testing import synthetic_onnx
from .conftest import ROOT, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.models]

GUIDE = ROOT / 'docs' / 'bring_your_own_model.md'
#: what the guide quotes: the node's log text after its '[level] [stamp] [name]: ' prefix
QUOTED = re.compile(r'^(configure failed: .*|decoder auto: .*|Setting parameter failed: .*)$')
YOLO = {'resize_mode': 'letterbox', 'color_order': 'rgb', 'mean': [0.0] * 3,
        'std': [255.0] * 3, 'pad_value': 114.0, 'box_units': 'auto',
        'background_class': False, 'multi_label': False}
SSD = {'resize_mode': 'stretch', 'mean': [127.5] * 3, 'std': [127.5] * 3,
       'box_units': 'pixels', 'background_class': True, 'multi_label': True}


def guide_lines() -> List[str]:
    """Return the quoted node lines of the guide's code blocks."""
    lines, inside = [], False
    for line in GUIDE.read_text().splitlines():
        if line.startswith('```'):
            inside = not inside
        elif inside and QUOTED.match(line.strip()):
            lines.append(line.strip())
    return lines


def with_metadata(path: str, metadata: Dict[str, str]) -> str:
    import onnx
    model = onnx.load(path)
    for key, value in metadata.items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)
    return path


def node_lines(text: str, folder: Path) -> List[str]:
    out = []
    for line in text.splitlines():
        message = line.split(']: ', 1)[-1].strip()
        if QUOTED.match(message) and not message.startswith('configure failed: parameter'):
            out.append(message.replace(str(folder), '/models'))
    return out


def test_every_message_the_guide_quotes_is_what_the_node_prints(
        node_runner, client, processes, prepared_model, tmp_path):
    try:
        exports = detector_exports.cached_exports()
    except cache.AssetError as exc:
        pytest.fail(str(exc), pytrace=False)
    models = tmp_path / 'models'
    models.mkdir()
    model: Dict[str, str] = {name: str(exports.get(name).model) for name in (
        'yolov8n-640x640-raw-b1', 'yolo26n-640x640-e2e-b1', 'yolov8n-640x640-nms-b1',
        'ssdlite-320x320-raw-b1')}
    model['efficientnet'] = str(prepared_model('efficientnet_lite0')[0])
    # NanoDet-Plus' combined output at 416x416, fixed batch as its export has it.
    model['nanodet-plus'] = synthetic_onnx.shifted_heads(
        str(models / 'nanodet-plus.onnx'), (1, 3, 416, 416),
        {'output': (np.zeros((1, 3598, 112), np.float32), None)}, dynamic_batch=False)
    # Ultralytics RT-DETR: end-to-end rows of cx, cy, w, h in 0..1, told by its metadata.
    model['rtdetr-l'] = with_metadata(synthetic_onnx.shifted_heads(
        str(models / 'rtdetr-l.onnx'), (1, 3, 640, 640),
        {'output0': (np.zeros((1, 300, 6), np.float32), None)}, dynamic_batch=False), {
            'author': 'Ultralytics', 'head': 'RTDETRDecoder', 'end2end': 'False',
            'description': 'Ultralytics rtdetr-l model ', 'names': str(dict(enumerate(
                str(i) for i in range(80))))})
    queries = np.array([[0.5, 0.5, 0.2, 0.3, 0.9, 2]], np.float32)
    model['rtdetr'] = synthetic_onnx.rtdetr_like(str(models / 'rtdetr.onnx'), queries, 640, 640)
    coco79 = models / 'coco79.txt'
    coco79.write_text(''.join(f'class{i}\n' for i in range(79)))

    node = node_runner('detect.yaml', dict(YOLO, backend='onnxruntime', decoder='auto',
                                           model_path=model['yolov8n-640x640-raw-b1']),
                       autostart=False)
    client.wait_for_node()

    refused: List[str] = []

    def refuse(name, value):
        result = client.set_parameter(name, value)
        assert not result.successful, (name, value)
        refused.append(f'Setting parameter failed: {result.reason}')   # as ros2 param set

    def configure(expect: bool, **values):
        for name, value in values.items():
            result = client.set_parameter(name, value)
            assert result.successful, (name, value, result.reason)
        assert client.transition('configure') is expect, processes.output(node)[-3000:]
        if expect and not refused:
            refuse('decoder_output', 'output0')
        if expect:
            assert client.transition('cleanup')
        assert client.get_state() == 'unconfigured' and node.poll() is None

    # What auto-detection says when it chooses.
    configure(True, model_path=model['yolov8n-640x640-raw-b1'])
    configure(True, model_path=model['yolo26n-640x640-e2e-b1'])
    configure(True, model_path=model['yolov8n-640x640-nms-b1'])
    configure(True, model_path=model['ssdlite-320x320-raw-b1'], **SSD)
    configure(True, model_path=model['rtdetr-l'], **dict(YOLO, resize_mode='stretch'))
    # The failures.
    configure(False, model_path=model['efficientnet'], **YOLO)
    configure(False, decoder='yolov8')
    configure(False, model_path=model['yolo26n-640x640-e2e-b1'])     # (1, 300, 6) as YOLO
    configure(False, model_path=model['nanodet-plus'], decoder='auto')
    configure(False, model_path=model['yolov8n-640x640-raw-b1'], labels_file=str(coco79))
    configure(False, model_path=model['yolo26n-640x640-e2e-b1'])
    configure(False, model_path=model['yolov8n-640x640-raw-b1'], labels_file='',
              box_order='yxyx', decoder='yolov8')
    configure(False, decoder='auto')
    configure(False, model_path=model['rtdetr'], box_order='xyxy')
    refuse('box_order', 'zyx')
    refuse('yolo_channels', 'middle')
    refuse('nanodet_center_offset', 2.0)

    printed = node_lines(processes.output(node), models) + refused
    quoted = guide_lines()
    assert len(printed) == 18, printed
    assert [ln for ln in printed if ln not in quoted] == [], 'the guide does not quote these'
    assert [ln for ln in quoted if ln not in printed] == [], 'the node did not print these'
    assert wait_for(lambda: node.poll() is None, 1)
