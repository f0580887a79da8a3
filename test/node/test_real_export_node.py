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
A user's own Ultralytics export through the running node, over DDS, as the guide says.

test/postprocess/test_real_exports.py compares the pipeline with the exporters' own
postprocessing for every family and option; this runs two of the exports (a YOLOv8 head
the node NMSes, a YOLO26 NMS-free head it must not) in the real node process, with the
guide's parameters and ``decoder: auto``, fed by a camera publisher in another process,
and checks the Detection2DArray it publishes against Ultralytics' predictor on the same
frames: same classes, boxes in source pixels within 0.5 px, scores within 1e-4, the
camera's header kept.
"""

from __future__ import annotations

import numpy as np
import pytest

from jetson_infer_ros.assets import cache, detector_exports
from .conftest import read_jsonl, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.models]

FRAMES = ('vtest-250-odd', 'messi5')      # a street frame cropped to 767x433, a photo


@pytest.mark.parametrize('name', ['yolov8n-640x640-raw-b1', 'yolo26n-640x640-e2e-b1'])
def test_an_ultralytics_export_answers_like_ultralytics(name, node_runner, publisher,
                                                        listener, processes, tmp_path):
    import cv2
    try:
        exports = detector_exports.cached_exports()
    except cache.AssetError as exc:
        pytest.fail(str(exc), pytrace=False)
    export = exports.get(name)
    s = detector_exports.SETTINGS
    node = node_runner('detect.yaml', {
        'model_path': str(export.model), 'decoder': 'auto', 'labels_file': '',
        'backend': 'onnxruntime', 'resize_mode': 'letterbox', 'color_order': 'rgb',
        'mean': [0.0] * 3, 'std': [255.0] * 3, 'pad_value': 114.0,
        'score_threshold': s['conf'], 'nms_iou_threshold': s['iou'],
        'max_detections': s['max_det'], 'lossless': True})
    images = []
    for frame in FRAMES:
        path = tmp_path / f'{frame}.png'
        cv2.imwrite(str(path), np.load(exports.frame_path(frame)))
        images.append(str(path))
    lis = listener('detections=detections')
    pub = publisher('--images', *images, '--encoding', 'bgr8', '--rate', '5', '--count',
                    str(len(images)), '--frame-id', 'street_cam', '--reliable')
    assert wait_for(lambda: pub.poll() is not None, 60), processes.output(pub)
    assert wait_for(lambda: len(read_jsonl(lis.out_path)) >= len(images), 30), \
        processes.output(node)[-3000:]
    expected = 'decoder auto: yolov8, from ' if export.nms is None else \
        'decoder auto: end2end, from '
    assert expected in processes.output(node)
    reference = {f['name']: f for f in export.reference()['frames']}
    for frame, out in zip(FRAMES, read_jsonl(lis.out_path)):
        assert out['frame_id'] == 'street_cam'
        ref = reference[frame]
        boxes = np.asarray(ref['boxes'], np.float64).reshape(-1, 4)
        area = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])   # see test_real_exports
        want = zip(np.asarray(ref['classes'])[area].tolist(),
                   np.asarray(ref['scores'])[area].tolist(), boxes[area])
        got = out['detections']
        assert len(got) == int(area.sum()) > 0, (frame, len(got), int(area.sum()))
        used = set()
        for cls, score, box in want:    # each reference detection: ours of its class, nearest
            j = min((k for k, d in enumerate(got) if d[0] == cls and k not in used),
                    key=lambda k: np.abs(np.subtract(got[k][2:6], box)).max(), default=None)
            assert j is not None, (frame, cls, box.tolist())
            used.add(j)
            assert np.abs(np.subtract(got[j][2:6], box)).max() <= 0.5, (frame, got[j], box)
            assert abs(got[j][1] - score) <= 1e-4, (frame, got[j], score)
