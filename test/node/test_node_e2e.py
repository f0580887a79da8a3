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

"""Camera publisher -> node -> listener, three processes, real models on real frames."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import read_jsonl, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.models]


def _last_diagnostics(records):
    diags = [r for r in records if r['kind'] == 'diagnostics']
    return diags[-1]['status'][0]['values'] if diags else {}


def test_classification_node_end_to_end(node_runner, publisher, listener, data, tmp_path,
                                        processes):
    node = node_runner('infer.yaml', {'lossless': True})
    lis = listener('classification=classification', 'label_info=label_info',
                   'diagnostics=/diagnostics')
    pub_log = tmp_path / 'pub.jsonl'
    photos = [str(data.photo('opencv-doc/baboon.jpg')), str(data.photo('opencv-doc/orange.jpg'))]
    pub = publisher('--images', *photos, '--width', '640', '--height', '480', '--encoding',
                    'rgb8', '--rate', '15', '--count', '30', '--frame-id', 'cam_front',
                    '--reliable', '--log', str(pub_log))
    assert wait_for(lambda: pub.poll() is not None, 60), processes.output(pub)
    assert wait_for(lambda: len([r for r in read_jsonl(lis.out_path)
                                 if r['kind'] == 'classification']) >= 30, 30), \
        processes.output(node)
    wait_for(lambda: _last_diagnostics(read_jsonl(lis.out_path)).get('frames_processed') == '30',
             5)
    records = read_jsonl(lis.out_path)
    outputs = [r for r in records if r['kind'] == 'classification']
    sent = [json.loads(line) for line in pub_log.read_text().splitlines()]
    # lossless: exactly one output per input, in order, with the input's header
    assert [o['stamp_ns'] for o in outputs] == [s['stamp_ns'] for s in sent]
    assert {o['frame_id'] for o in outputs} == {'cam_front'}
    expected_top1 = {0: 372, 1: 950}  # baboon, orange (ImageNet ids)
    for o, s in zip(outputs, sent):
        assert o['results'][0][0] == expected_top1[s['frame']], o
        assert len(o['results']) == 5
        scores = [r[1] for r in o['results']]
        assert scores == sorted(scores, reverse=True) and 0 < scores[0] <= 1
    labels = [r for r in records if r['kind'] == 'label_info']
    assert labels and len(labels[0]['classes']) == 1000
    assert labels[0]['classes'][372] == [372, 'baboon']
    diag = _last_diagnostics(records)
    assert diag['frames_processed'] == diag['frames_published'] == '30'
    assert diag['frames_dropped'] == '0'


def test_detection_node_end_to_end(node_runner, publisher, listener, data, tmp_path, processes):
    import numpy as np
    from jetson_infer_ros.assets.data import video_frames
    import cv2
    frame = video_frames(data.video, [100])[0]
    img = tmp_path / 'frame100.png'
    cv2.imwrite(str(img), frame)
    node = node_runner('detect.yaml', {'lossless': True})
    lis = listener('detections=detections')
    pub_log = tmp_path / 'pub.jsonl'
    pub = publisher('--images', str(img), '--encoding', 'bgr8', '--rate', '10', '--count', '5',
                    '--frame-id', 'street_cam', '--reliable', '--log', str(pub_log))
    assert wait_for(lambda: pub.poll() is not None, 60), processes.output(pub)
    assert wait_for(lambda: len(read_jsonl(lis.out_path)) >= 5, 30), processes.output(node)
    outputs = read_jsonl(lis.out_path)
    sent = [json.loads(line) for line in pub_log.read_text().splitlines()]
    assert [o['stamp_ns'] for o in outputs] == [s['stamp_ns'] for s in sent]
    truth = json.loads((Path(__file__).resolve().parents[1] / 'data' / 'vtest_gt.json'
                        ).read_text())['frames']['100']
    people = [np.array(t['box'], float) for t in truth
              if t['label'] == 'person' and not t.get('occluded')]
    for o in outputs:
        assert o['frame_id'] == 'street_cam'
        boxes = [np.array(d[2:6]) for d in o['detections'] if d[0] == 0]   # COCO 0 = person
        assert all(d[6] == 'street_cam' for d in o['detections'])
        matched = sum(1 for g in people if any(_iou(g, b) >= 0.5 for b in boxes))
        assert matched >= max(1, int(0.6 * len(people))), (matched, len(people), o)
        for d in o['detections']:   # boxes in source pixels, inside the 768x576 frame
            assert 0 <= d[2] < d[4] <= 768 and 0 <= d[3] < d[5] <= 576


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_debug_image_only_when_asked(node_runner, publisher, listener, data, tmp_path,
                                     processes, client):
    import cv2
    from jetson_infer_ros.assets.data import video_frames
    img = tmp_path / 'frame300.png'
    cv2.imwrite(str(img), video_frames(data.video, [300])[0])
    node = node_runner('detect.yaml')
    lis = listener('image=debug_image', 'detections=detections')
    pub = publisher('--images', str(img), '--rate', '10', '--count', '30', '--frame-id', 'cam',
                    '--wait-subscribers', '1')
    assert wait_for(lambda: any(r['kind'] == 'detections' for r in read_jsonl(lis.out_path)),
                    30), processes.output(node)
    assert not [r for r in read_jsonl(lis.out_path) if r['kind'] == 'image'], 'off by default'
    client.wait_for_node()
    assert client.set_parameter('publish_debug_image', True).successful
    assert wait_for(lambda: any(r['kind'] == 'image' for r in read_jsonl(lis.out_path)), 30)
    debug = [r for r in read_jsonl(lis.out_path) if r['kind'] == 'image'][0]
    assert debug['frame_id'] == 'cam'
    assert debug['image'][:3] == [768, 576, 'bgr8']
    processes.stop(pub)


def test_compressed_input_without_launch_as_the_readme_says(node_runner, publisher, listener,
                                                            data, processes):
    """
    README: without launch, `input_type: compressed` needs `-r image/compressed:=...`.

    A remap renames one name exactly: `-r image:=/camera/image_raw` leaves the node on
    `image/compressed`, which no camera publishes (issue 25 item 7).
    """
    node = node_runner('infer.yaml', ros_args=['-p', 'input_type:=compressed'],
                       remap=['image/compressed:=/camera/image_raw/compressed'])
    lis = listener('classification=classification')
    pub = publisher('--images', str(data.photo('opencv-doc/orange.jpg')), '--compressed',
                    '--topic', '/camera/image_raw', '--rate', '10', '--count', '20',
                    '--reliable')
    assert wait_for(lambda: pub.poll() is not None, 60), processes.output(pub)
    assert wait_for(lambda: any(r['kind'] == 'classification'
                                for r in read_jsonl(lis.out_path)), 20), processes.output(node)
    first = next(r for r in read_jsonl(lis.out_path) if r['kind'] == 'classification')
    assert first['results'][0][0] == 950                     # orange
    assert '/camera/image_raw/compressed' in processes.output(node)
