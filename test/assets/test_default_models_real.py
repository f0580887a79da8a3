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
The prepared default models give right answers on real pictures.

Uses the real cache (``jetson-infer models``); fails, never skips, if it is missing.
EfficientNet-Lite0 must name the hand-checked photos right; NanoDet, decoded with the
tiny reference decoder below (the production one lives in ``postprocess/``), must find
every clearly visible pedestrian and vehicle of the hand-drawn vtest.avi boxes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest

from jetson_infer_ros.assets import cache
from jetson_infer_ros.assets import data

pytestmark = pytest.mark.models

COCO = (Path(__file__).resolve().parents[2] / 'jetson_infer_ros' / 'labels'
        / 'coco.txt').read_text().splitlines()


def _session(path):
    import onnxruntime
    return onnxruntime.InferenceSession(str(path), providers=['CPUExecutionProvider'])


def _classifier_input(bgr: np.ndarray, meta: dict) -> np.ndarray:
    """Do the standard EfficientNet-Lite preprocessing the meta describes."""
    import cv2
    spec = meta['input']
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    h, w = rgb.shape[:2]
    scale = spec['resize_short'] / min(h, w)
    crop = spec['crop']
    rgb = cv2.resize(rgb, (max(crop, round(w * scale)), max(crop, round(h * scale))),
                     interpolation=cv2.INTER_LINEAR)
    h, w = rgb.shape[:2]
    top, left = (h - crop) // 2, (w - crop) // 2
    x = rgb[top:top + crop, left:left + crop].astype(np.float32)
    x = (x - np.float32(spec['mean'])) / np.float32(spec['std'])
    return x.transpose(2, 0, 1)[None]


def _accepted(entry: dict) -> set:
    ids = set(entry['accept'])
    for lo, hi in entry.get('accept_ranges', []):
        ids.update(range(lo, hi + 1))
    return ids


def test_efficientnet_meta_describes_the_file(efficientnet):
    path, meta = efficientnet
    assert meta['sha256'] == cache.file_sha256(path)
    assert meta['input']['name'] == 'input' and meta['input']['color'] == 'RGB'
    assert meta['input']['shape'] == ['batch', 3, 224, 224]
    assert meta['outputs'][0]['name'] == 'logits'
    assert meta['export']['dynamo'] is False and meta['export']['opset'] == 13
    assert meta['verification']['max_abs_diff_torch_vs_onnxruntime'] < 1e-3


def test_efficientnet_graph_matches_meta(efficientnet):
    path, meta = efficientnet
    session = _session(path)
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.shape) == ('input', ['batch', 3, 224, 224])
    assert (out.name, out.shape) == ('logits', ['batch', 1000])


def test_efficientnet_names_the_hand_checked_photos(efficientnet, real_data,
                                                    classification_expected):
    import cv2
    path, meta = efficientnet
    session = _session(path)
    wrong = []
    batch = []
    for entry in classification_expected['photos']:
        bgr = cv2.imread(str(real_data.photo(entry['photo'])), cv2.IMREAD_COLOR)
        x = _classifier_input(bgr, meta)
        batch.append(x)
        top1 = int(session.run(['logits'], {'input': x})[0][0].argmax())
        if top1 not in _accepted(entry):
            wrong.append((entry['photo'], top1))
    assert not wrong
    assert len(batch) >= 10
    # One batch gives the per-photo answers: the batch dimension really is dynamic.
    logits = session.run(['logits'], {'input': np.concatenate(batch)})[0]
    singles = np.concatenate([session.run(['logits'], {'input': x})[0] for x in batch])
    np.testing.assert_allclose(logits, singles, atol=1e-4)


def test_nanodet_graph_matches_meta(nanodet):
    path, meta = nanodet
    assert meta['sha256'] == cache.file_sha256(path)
    session = _session(path)
    spec = meta['input']
    (inp,) = session.get_inputs()
    assert inp.name == spec['name'] == 'input'
    assert inp.shape == spec['shape'] and spec['layout'] == 'NCHW' and spec['color'] == 'BGR'
    got = {o.name: o.shape for o in session.get_outputs()}
    assert got == {o['name']: o['shape'] for o in meta['outputs']}
    for o in meta['outputs']:
        cells = (416 // o['stride']) ** 2
        assert o['shape'][1:] == [cells, 80 if o['kind'] == 'cls' else 44]
    assert meta['decoder']['cell_center_offset'] == 0.5
    assert meta['decoder']['bins'] == 11


def _nanodet_input(bgr: np.ndarray, meta: dict) -> np.ndarray:
    import cv2
    spec = meta['input']
    size = spec['shape'][2]
    x = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    x = (x - np.float32(spec['mean'])) / np.float32(spec['std'])
    return x.transpose(2, 0, 1)[None]


def _nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> List[int]:
    order = list(np.argsort(-scores))
    keep = []
    while order:
        i = order.pop(0)
        keep.append(i)
        order = [j for j in order if _iou(boxes[i], boxes[j]) < iou]
    return keep


def _iou(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(0.0, w) * max(0.0, h)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _reference_decode(outputs: Dict[str, np.ndarray], meta: dict, item: int,
                      src_wh: Tuple[int, int], threshold: float = 0.3
                      ) -> List[Tuple[str, float, List[float]]]:
    """Decode NanoDet exactly as meta.json says, for one batch item; per-class NMS."""
    size = meta['input']['shape'][2]
    dec = meta['decoder']
    bins = np.arange(dec['bins'], dtype=np.float32)
    all_boxes, all_scores, all_cls = [], [], []
    for stride in dec['strides']:
        cls = outputs['cls_%d' % stride][item]
        reg = outputs['box_%d' % stride][item].reshape(-1, 4, dec['bins'])
        n = size // stride
        ys, xs = np.divmod(np.arange(n * n), n)
        cx = (xs + dec['cell_center_offset']) * stride
        cy = (ys + dec['cell_center_offset']) * stride
        p = np.exp(reg - reg.max(-1, keepdims=True))
        dist = (p / p.sum(-1, keepdims=True) * bins).sum(-1) * stride
        boxes = np.stack([cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], 1)
        best, score = cls.argmax(1), cls.max(1)
        keep = score >= threshold
        all_boxes.append(boxes[keep])
        all_scores.append(score[keep])
        all_cls.append(best[keep])
    boxes = np.concatenate(all_boxes) * np.float32([src_wh[0], src_wh[1]] * 2) / size
    scores, classes = np.concatenate(all_scores), np.concatenate(all_cls)
    found = []
    for c in set(classes.tolist()):
        idx = np.flatnonzero(classes == c)
        for k in _nms(boxes[idx], scores[idx], 0.5):
            found.append((COCO[c], float(scores[idx][k]), boxes[idx][k].tolist()))
    return found


@pytest.fixture(scope='module')
def vtest_detections(nanodet, real_data, vtest_gt):
    """Run NanoDet on the ground-truth frames, as one batch when the model allows it."""
    path, meta = nanodet
    indices = sorted(int(i) for i in vtest_gt['frames'])
    frames = data.video_frames(real_data.video, indices)
    session = _session(path)
    x = np.concatenate([_nanodet_input(f, meta) for f in frames])
    if meta['input']['dynamic_batch']:
        names = [o.name for o in session.get_outputs()]
        outs = dict(zip(names, session.run(names, {'input': x})))
        items = [(outs, i) for i in range(len(frames))]
    else:
        items = []
        for i in range(len(frames)):
            names = [o.name for o in session.get_outputs()]
            items.append((dict(zip(names, session.run(names, {'input': x[i:i + 1]}))), 0))
    h, w = frames[0].shape[:2]
    return {idx: _reference_decode(outs, meta, item, (w, h))
            for idx, (outs, item) in zip(indices, items)}


@pytest.mark.parametrize('frame', ['100', '300', '500'])
def test_nanodet_finds_every_clearly_visible_object(frame, vtest_gt, vtest_detections):
    dets = vtest_detections[int(frame)]
    missed = []
    for obj in vtest_gt['frames'][frame]:
        best = max((_iou(obj['box'], box) for label, _s, box in dets if label in obj['accept']),
                   default=0.0)
        if best < 0.5 and not obj['occluded']:
            missed.append((obj['label'], obj['box'], round(best, 2)))
    assert not missed, 'missed at IoU 0.5: %s; detections: %s' % (missed, dets)


def test_nanodet_finds_the_pedestrians_of_frame_100(vtest_gt, vtest_detections):
    people = [d for d in vtest_detections[100] if d[0] == 'person' and d[1] >= 0.5]
    truth = [o['box'] for o in vtest_gt['frames']['100'] if o['label'] == 'person']
    assert len(people) >= 5
    assert all(max(_iou(box, t) for t in truth) >= 0.5 for _l, _s, box in people)


def test_nanodet_batch_equals_single_frames(nanodet, real_data):
    path, meta = nanodet
    assert meta['input']['dynamic_batch'] is True
    session = _session(path)
    frames = data.video_frames(real_data.video, [100, 500])
    x = np.concatenate([_nanodet_input(f, meta) for f in frames])
    together = session.run(['cls_8', 'box_32'], {'input': x})
    alone = [session.run(['cls_8', 'box_32'], {'input': x[i:i + 1]}) for i in range(2)]
    for k in range(2):
        np.testing.assert_allclose(together[k], np.concatenate([a[k] for a in alone]),
                                   atol=1e-4)
