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
Every decoder against an independent float64 reference written with plain loops.

The references below restate each output convention from its definition (cell centres,
softmax expectation over bins, objectness times class score, ...) one box at a time, so
a vectorisation mistake in the decoders (a wrong axis, x and y swapped, an off-by-half
centre) shows up as a mismatch on random raw outputs.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from jetson_infer_ros.postprocess.decoders import (
    DecoderShapeError, DetectionPostprocessor, grid_cells, make_decoder,
    NanoDetDecoder, SsdDecoder, YoloV5Decoder, YoloV8Decoder)
from jetson_infer_ros.preprocess import Transform


# -- helpers -----------------------------------------------------------------------------
def rows_of(decoded):
    boxes, scores, classes = decoded
    assert boxes.dtype == np.float32 and scores.dtype == np.float32
    assert classes.dtype == np.int64
    assert boxes.shape == (len(scores), 4) and classes.shape == scores.shape
    return [tuple(b) + (float(s), int(c)) for b, s, c in zip(boxes.tolist(), scores, classes)]


def assert_same(ours, ref, atol=1e-3):
    """Check for the same multiset of (x1, y1, x2, y2, score, class) rows, nearest first."""
    assert len(ours) == len(ref), f'{len(ours)} decoded, {len(ref)} expected'
    if not ref:
        return
    a = np.array(ours, np.float64)
    b = np.array(ref, np.float64)
    used = set()
    for row in b:
        cost = np.abs(a - row).sum(axis=1) + np.where(a[:, 5] == row[5], 0, 1e9)
        j = int(np.argmin(cost))
        assert j not in used, f'two expected rows matched decoded row {a[j]}'
        used.add(j)
        np.testing.assert_allclose(a[j], row, atol=atol, rtol=1e-5)


def sparse_scores(rng, cells, classes, hits, low=0.2):
    """Make class scores mostly below ``low`` with ``hits`` random strong entries."""
    cls = rng.uniform(0, low, (cells, classes)).astype(np.float32)
    idx = rng.choice(cells * classes, size=hits, replace=False)
    cls.reshape(-1)[idx] = rng.uniform(0.3, 1.0, hits)
    return cls


# -- NanoDet -------------------------------------------------------------------------------
def ref_nanodet(levels, input_hw, thr, offset=0.5, multi_label=False, sigmoid=False):
    """Decode NanoDet levels: (stride, class scores (cells, C), box logits (cells, 4 x bins))."""
    height, width = input_hw
    out = []
    for stride, cls, box in levels:
        grid_w = math.ceil(width / stride)
        bins = box.shape[1] // 4
        for cell in range(cls.shape[0]):
            y, x = divmod(cell, grid_w)
            cx, cy = (x + offset) * stride, (y + offset) * stride
            scores = [float(v) for v in cls[cell]]
            if sigmoid:
                scores = [1.0 / (1.0 + math.exp(-v)) for v in scores]
            if multi_label:
                picks = [(c, s) for c, s in enumerate(scores) if s > thr]
            else:
                best = max(range(len(scores)), key=lambda c: scores[c])
                picks = [(best, scores[best])] if scores[best] > thr else []
            for c, s in picks:
                d = []
                for side in range(4):
                    logits = [float(v) for v in box[cell, side * bins:(side + 1) * bins]]
                    m = max(logits)
                    p = [math.exp(v - m) for v in logits]
                    d.append(sum(i * pi for i, pi in enumerate(p)) / sum(p) * stride)
                out.append((cx - d[0], cy - d[1], cx + d[2], cy + d[3], s, c))
    return out


def nanodet_outputs(rng, input_hw, strides=(8, 16, 32), classes=80, bins=11, hits=30):
    height, width = input_hw
    levels, outputs = [], {}
    names = iter(rng.permutation(2 * len(strides)).tolist())
    for s in strides:
        cells = math.ceil(height / s) * math.ceil(width / s)
        cls = sparse_scores(rng, cells, classes, hits)
        box = rng.normal(0, 2, (cells, 4 * bins)).astype(np.float32)
        levels.append((s, cls, box))
        outputs[f'Identity_{next(names)}'] = cls[None]
        outputs[f'Identity_{next(names)}'] = box[None]
    return levels, outputs


@pytest.mark.parametrize('input_hw', [(416, 416), (320, 256), (300, 200)])
def test_nanodet_split_layout_found_by_shape(input_hw):
    rng = np.random.default_rng(sum(input_hw))
    levels, outputs = nanodet_outputs(rng, input_hw)
    decoder = NanoDetDecoder(input_hw)   # no labels: the 80-channel tensor is the class one
    assert decoder.bind(outputs) == 80
    assert_same(rows_of(decoder.decode(outputs, 0, 0.35)), ref_nanodet(levels, input_hw, 0.35))


def test_nanodet_explicit_levels_few_classes_multi_label():
    rng = np.random.default_rng(1)
    input_hw = (256, 320)
    levels, _ = nanodet_outputs(rng, input_hw, classes=3, bins=8, hits=60)
    outputs = {}
    spec_levels = []
    for stride, cls, box in levels:
        outputs[f'cls{stride}'] = cls[None]
        outputs[f'reg{stride}'] = box[None]
        spec_levels.append({'stride': stride, 'scores': f'cls{stride}', 'boxes': f'reg{stride}'})
    decoder = NanoDetDecoder(input_hw, 3, {'levels': spec_levels, 'multi_label': True})
    assert decoder.bind(outputs) == 3
    assert_same(rows_of(decoder.decode(outputs, 0, 0.3)),
                ref_nanodet(levels, input_hw, 0.3, multi_label=True))


def test_nanodet_with_labels_resolves_class_tensor_when_box_tensor_is_larger():
    rng = np.random.default_rng(2)
    input_hw = (128, 128)
    levels, outputs = nanodet_outputs(rng, input_hw, classes=3, bins=11)
    decoder = make_decoder('nanodet', input_hw, num_classes=3)
    assert_same(rows_of(decoder.decode(outputs, 0, 0.3)), ref_nanodet(levels, input_hw, 0.3))


def test_nanodet_batch_items_are_independent():
    input_hw = (160, 224)
    la, oa = nanodet_outputs(np.random.default_rng(3), input_hw)
    lb, _ = nanodet_outputs(np.random.default_rng(4), input_hw)
    # Item b's tensors under item a's (shuffled) names, stacked into a batch of two.
    second = [t for level in lb for t in level[1:]]   # same order as oa: cls, box per level
    batched = {name: np.concatenate([t, u[None]]) for (name, t), u in zip(oa.items(), second)}
    decoder = NanoDetDecoder(input_hw)
    assert_same(rows_of(decoder.decode(batched, 0, 0.35)), ref_nanodet(la, input_hw, 0.35))
    assert_same(rows_of(decoder.decode(batched, 1, 0.35)), ref_nanodet(lb, input_hw, 0.35))
    with pytest.raises(DecoderShapeError, match='batch item 2'):
        decoder.decode(batched, 2, 0.35)


def test_nanodet_sigmoid_option_on_logits():
    rng = np.random.default_rng(5)
    input_hw = (96, 128)
    levels, outputs = nanodet_outputs(rng, input_hw, classes=4)
    logit_levels = []
    for name in outputs:
        if outputs[name].shape[-1] == 4:
            outputs[name] = np.log(outputs[name] / (1 - outputs[name])).astype(np.float32)
    for stride, cls, box in levels:
        logit_levels.append((stride, np.log(cls / (1 - cls)).astype(np.float32), box))
    decoder = NanoDetDecoder(input_hw, 4, {'apply_sigmoid': True})
    assert_same(rows_of(decoder.decode(outputs, 0, 0.4)),
                ref_nanodet(logit_levels, input_hw, 0.4, sigmoid=True))


def test_nanodet_plus_combined_output():
    rng = np.random.default_rng(6)
    input_hw = (320, 320)
    strides = (8, 16, 32, 64)
    levels, parts = [], []
    for s in strides:
        cells = math.ceil(320 / s) ** 2
        cls = sparse_scores(rng, cells, 80, 25)
        box = rng.normal(0, 2, (cells, 32)).astype(np.float32)
        levels.append((s, cls, box))
        parts.append(np.concatenate([cls, box], axis=1))
    outputs = {'output': np.concatenate(parts)[None]}
    decoder = NanoDetDecoder(input_hw, 80, {'center_offset': 0.0})
    assert decoder.bind({'output': (1, -1, 112)}) == 80   # cell count dynamic: still fits
    assert_same(rows_of(decoder.decode(outputs, 0, 0.35)),
                ref_nanodet(levels, input_hw, 0.35, offset=0.0))


def test_nanodet_shapes_that_do_not_fit_name_the_tensor():
    outputs = {'cls': np.zeros((1, 100, 80), np.float32),
               'box': np.zeros((1, 100, 44), np.float32)}
    with pytest.raises(DecoderShapeError, match=r"no output .*'cls' \(1, 100, 80\)"):
        NanoDetDecoder((416, 416)).bind(outputs)
    with pytest.raises(DecoderShapeError, match=r"level stride 8 names output 'reg8'"):
        NanoDetDecoder((64, 64), options={'levels': [
            {'stride': 8, 'scores': 'cls', 'boxes': 'reg8'}]}).bind(outputs)
    good = {'cls': np.zeros((1, 64, 80), np.float32), 'box': np.zeros((1, 64, 44), np.float32)}
    decoder = NanoDetDecoder((64, 64), options={'strides': [8]})
    decoder.bind(good)
    with pytest.raises(DecoderShapeError, match=r"'box' has shape \(1, 64, 40\)"):
        decoder.decode({'cls': good['cls'], 'box': np.zeros((1, 64, 40), np.float32)}, 0, 0.5)
    with pytest.raises(DecoderShapeError, match='missing'):
        decoder.decode({'cls': good['cls']}, 0, 0.5)
    with pytest.raises(DecoderShapeError, match='78 labels'):
        NanoDetDecoder((64, 64), 78, {'strides': [8]}).bind(good)


# -- YOLOv5 / YOLOv8 -------------------------------------------------------------------------
def ref_yolo(rows, thr, objectness, multi_label=False, scale=(1.0, 1.0)):
    """Decode YOLO rows (N, 4 [+1] + C): cx, cy, w, h, [obj], classes."""
    out = []
    for r in rows.astype(np.float64):
        cx, cy, w, h = r[0] * scale[0], r[1] * scale[1], r[2] * scale[0], r[3] * scale[1]
        first = 5 if objectness else 4
        scores = [(r[4] if objectness else 1.0) * v for v in r[first:]]
        if multi_label:
            picks = [(c, s) for c, s in enumerate(scores) if s > thr]
        else:
            best = int(np.argmax(scores))
            picks = [(best, scores[best])] if scores[best] > thr else []
        for c, s in picks:
            out.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, s, c))
    return out


def anchors(input_hw, per_cell=1):
    """Count a YOLO head's rows at this input: strides 8, 16, 32, ``per_cell`` each."""
    return per_cell * grid_cells(input_hw, (8, 16, 32))


def padded(rows, n):
    """Pad hand-made rows with zero rows (no score) up to the anchor count ``n``."""
    return np.concatenate([rows, np.zeros((n - len(rows), rows.shape[1]), rows.dtype)])


def yolo_rows(rng, n, classes, objectness, normalized=False):
    size = 1.0 if normalized else 640.0
    centres = rng.uniform(0, size, (n, 2))
    boxes = np.concatenate([centres, rng.uniform(size / 50, size / 4, (n, 2))], axis=1)
    cls = sparse_scores(rng, n, classes, n // 10)
    cols = [boxes]
    if objectness:
        cols.append(rng.uniform(0.2, 1.0, (n, 1)))
    cols.append(cls)
    return np.concatenate(cols, axis=1).astype(np.float32)


@pytest.mark.parametrize('multi_label', [False, True])
def test_yolov5_matches_reference(multi_label):
    rng = np.random.default_rng(10)
    n = anchors((320, 320), per_cell=3)     # 6300: YOLOv5's three anchors per cell
    batch = np.stack([yolo_rows(rng, n, 7, True) for _ in range(2)])
    decoder = YoloV5Decoder((320, 320), 7, {'multi_label': multi_label})
    assert decoder.bind({'output0': batch.shape}) == 7
    for i in range(2):
        assert_same(rows_of(decoder.decode({'output0': batch}, i, 0.25)),
                    ref_yolo(batch[i], 0.25, True, multi_label))


def test_yolov5_normalized_boxes_scale_to_network_pixels():
    rng = np.random.default_rng(11)
    rows = yolo_rows(rng, anchors((480, 640)), 3, True, normalized=True)  # YOLOX: 1 per cell
    decoder = YoloV5Decoder((480, 640), options={'normalized': True})
    assert_same(rows_of(decoder.decode({'out': rows[None]}, 0, 0.2)),
                ref_yolo(rows, 0.2, True, scale=(640.0, 480.0)))


@pytest.mark.parametrize('transposed_output', [False, True])
def test_yolov8_both_orientations(transposed_output):
    rng = np.random.default_rng(12)
    rows = yolo_rows(rng, 8400, 80, False)
    tensor = rows[None] if transposed_output else rows.T[None]   # (1, N, 84) or (1, 84, N)
    for labels in (80, None):    # with labels and by the smaller-dimension rule
        decoder = YoloV8Decoder((640, 640), labels)
        assert decoder.bind({'output0': tensor.shape}) == 80
        assert_same(rows_of(decoder.decode({'output0': tensor}, 0, 0.3)),
                    ref_yolo(rows, 0.3, False))


def test_yolov8_orientation_comes_from_the_anchor_count_not_the_larger_dimension():
    rng = np.random.default_rng(13)
    input_hw = (64, 64)                     # 64 + 16 + 4 = 84 anchors
    rows = yolo_rows(rng, anchors(input_hw), 200, False)    # 204 channels > 84 anchors
    for tensor, first in ((rows.T[None], True), (rows[None], False)):
        decoder = YoloV8Decoder(input_hw)
        assert decoder.bind({'o': tensor.shape}) == 200
        assert decoder._channels_first is first
        assert_same(rows_of(decoder.decode({'o': tensor}, 0, 0.25)),
                    ref_yolo(rows, 0.25, False))
    forced = YoloV8Decoder(input_hw, options={'transposed': True})
    assert forced.bind({'o': rows[None].shape}) == 200
    with pytest.raises(DecoderShapeError, match=r'\(1, 204, 84\)'):
        YoloV8Decoder(input_hw, options={'transposed': True}).bind({'o': rows.T[None].shape})


@pytest.mark.parametrize('make, shape, expected', [
    (lambda: YoloV8Decoder((640, 640), 80), (84,), r"'output0' has shape \(84,\)"),
    (lambda: YoloV8Decoder((640, 640), 80), (1, 85, 8400), r'\(batch, 84, anchors\)'),
    (lambda: YoloV5Decoder((640, 640), 80), (1, 8400, 84), r'\(batch, anchors, 85\)'),
    (lambda: YoloV5Decoder((640, 640)), (1, 8400, 4), r"'output0' has shape \(1, 8400, 4\)"),
])
def test_yolo_shape_errors_name_tensor_shape_and_expectation(make, shape, expected):
    with pytest.raises(DecoderShapeError, match=expected):
        make().bind({'output0': shape})
    with pytest.raises(ValueError):
        make().decode({'output0': np.zeros(shape, np.float32)}, 0, 0.5)


def test_yolo_picks_the_fitting_output_among_several():
    rng = np.random.default_rng(14)
    rows = yolo_rows(rng, anchors((64, 64), per_cell=3), 5, True)
    outputs = {'proto': np.zeros((1, 32, 8, 8), np.float32), 'pred': rows[None]}
    decoder = YoloV5Decoder((64, 64), 5)
    assert decoder.bind(outputs) == 5
    assert_same(rows_of(decoder.decode(outputs, 0, 0.3)), ref_yolo(rows, 0.3, True))


# -- SSD ------------------------------------------------------------------------------------------
def ref_ssd(boxes, scores, thr, input_hw, normalized, background, order):
    height, width = input_hw
    out = []
    for b, s in zip(boxes.astype(np.float64), scores.astype(np.float64)):
        if order == 'yxyx':
            b = b[[1, 0, 3, 2]]
        if normalized:
            b = b * [width, height, width, height]
        cls = s[1:] if background else s
        best = int(np.argmax(cls))
        if cls[best] > thr:
            out.append(tuple(b) + (cls[best], best))
    return out


@pytest.mark.parametrize('normalized, background, order', [
    (True, False, 'xyxy'), (False, True, 'xyxy'), (True, True, 'yxyx')])
def test_ssd_matches_reference(normalized, background, order):
    rng = np.random.default_rng(20)
    n, classes = 1500, 6 + background
    input_hw = (300, 400)
    lo = rng.uniform(0, 0.5, (n, 2))
    boxes = np.concatenate([lo, lo + rng.uniform(0.01, 0.5, (n, 2))], axis=1)
    if not normalized:
        boxes = boxes * 300
    boxes = boxes.astype(np.float32)
    scores = sparse_scores(rng, n, classes, 200)
    decoder = SsdDecoder(input_hw, 6, {'normalized': normalized, 'background_class': background,
                                       'box_order': order})
    outputs = {'scores': scores[None], 'boxes': boxes[None]}
    assert decoder.bind(outputs) == 6
    assert_same(rows_of(decoder.decode(outputs, 0, 0.3)),
                ref_ssd(boxes, scores, 0.3, input_hw, normalized, background, order))
    # [B, N, 1, 4] boxes (some TF exports) decode the same.
    outputs4 = {'scores': scores[None], 'boxes': boxes[None, :, None, :]}
    decoder4 = SsdDecoder(input_hw, 6, {'normalized': normalized,
                                        'background_class': background, 'box_order': order})
    assert_same(rows_of(decoder4.decode(outputs4, 0, 0.3)),
                ref_ssd(boxes, scores, 0.3, input_hw, normalized, background, order))


def test_ssd_errors():
    with pytest.raises(DecoderShapeError, match='no output fits'):
        SsdDecoder((300, 300)).bind({'a': (1, 10, 5), 'b': (1, 10, 6)})
    with pytest.raises(DecoderShapeError,
                       match=r"'scores' has shape \(1, 10, 5\).*\(batch, 10, 6\)"):
        SsdDecoder((300, 300), 6).bind({'boxes': (1, 10, 4), 'scores': (1, 10, 5)})
    with pytest.raises(DecoderShapeError, match='box_order'):
        SsdDecoder((300, 300), options={'box_order': 'xywh'})


def test_unknown_decoder_and_option():
    with pytest.raises(ValueError, match='unknown detection decoder'):
        make_decoder('detr', (640, 640))
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['strid'\]"):
        make_decoder('nanodet', (416, 416), options={'strid': [8]})
    assert isinstance(make_decoder('yolo11', (640, 640)), YoloV8Decoder)


# -- the whole tail: threshold, class-wise NMS, cap, source pixels ----------------------------
def test_postprocessor_matches_reference_pipeline():
    rng = np.random.default_rng(30)
    input_hw = (416, 416)
    levels, outputs = nanodet_outputs(rng, input_hw, hits=400)
    # A 768x576 frame letterboxed into 416x416: scale 416/768, 32 rows of padding on top.
    scale = 416 / 768
    transform = Transform(scale, scale, 0.0, (416 - 576 * scale) / 2, 768, 576)
    post = DetectionPostprocessor(NanoDetDecoder(input_hw), score_threshold=0.35,
                                  iou_threshold=0.5, max_detections=20)
    result = post.run(outputs, [transform])
    assert len(result) == 1
    ours = result[0]

    ref = ref_nanodet(levels, input_hw, 0.35)
    ref_boxes = np.array([r[:4] for r in ref])
    mapped = ref_boxes.copy()
    mapped[:, 0::2] = np.clip(mapped[:, 0::2] / scale, 0, 768)
    mapped[:, 1::2] = np.clip((mapped[:, 1::2] - transform.offset_y) / scale, 0, 576)
    visible = (mapped[:, 2] > mapped[:, 0]) & (mapped[:, 3] > mapped[:, 1])
    assert not visible.all()    # some random boxes lie wholly in the padding
    ref_boxes, mapped = ref_boxes[visible], mapped[visible]
    ref_scores = np.array([r[4] for r in ref], np.float32)[visible]
    ref_classes = np.array([r[5] for r in ref])[visible]
    xywh = np.concatenate([ref_boxes[:, :2], ref_boxes[:, 2:] - ref_boxes[:, :2]], axis=1)
    keep = np.asarray(cv2.dnn.NMSBoxesBatched(
        xywh.tolist(), ref_scores.tolist(), ref_classes.tolist(), 0.35, 0.5)).reshape(-1)[:20]
    expected = mapped[keep]
    assert len(ours) == 20
    np.testing.assert_allclose(ours.boxes, expected, atol=2e-3)
    np.testing.assert_allclose(ours.scores, ref_scores[keep], rtol=1e-6)
    assert ours.class_ids.tolist() == ref_classes[keep].tolist()
    assert np.all(np.diff(ours.scores) <= 0)
    detections = ours.to_list()
    assert detections[0].class_id == ours.class_ids[0]
    assert detections[0].x_max == pytest.approx(float(ours.boxes[0, 2]))


def test_postprocessor_drops_boxes_that_clip_to_nothing_and_handles_empty():
    rows = np.array([[5, 5, 4, 4, 0.9, 0.9], [100, 50, 20, 20, 0.9, 0.8]], np.float32)
    n = anchors((140, 200))
    outputs = {'o': padded(rows, n)[None]}
    # Network 64 rows of padding on top: the first box lies wholly in it.
    transform = Transform(1.0, 1.0, 0.0, 20.0, 200, 100)
    post = DetectionPostprocessor(YoloV5Decoder((140, 200), 1), 0.5, 0.5, 10)
    (batch,) = post.run(outputs, [transform])
    assert len(batch) == 1
    np.testing.assert_allclose(batch.boxes[0], [90, 20, 110, 40])
    (none,) = post.run({'o': np.zeros((1, n, 6), np.float32)}, [transform])
    assert len(none) == 0 and none.boxes.shape == (0, 4)


def test_postprocessor_pre_nms_cap_and_class_agnostic():
    rows = np.array([[50, 50, 20, 20, 1.0, 0.9, 0.0],
                     [51, 50, 20, 20, 1.0, 0.0, 0.8],
                     [200, 200, 20, 20, 1.0, 0.7, 0.0]], np.float32)
    outputs = {'o': padded(rows, 8400)[None]}
    wise = DetectionPostprocessor(YoloV5Decoder((640, 640), 2), 0.5, 0.5, 10)
    agnostic = DetectionPostprocessor(YoloV5Decoder((640, 640), 2), 0.5, 0.5, 10,
                                      class_agnostic=True)
    capped = DetectionPostprocessor(YoloV5Decoder((640, 640), 2), 0.5, 0.5, 10,
                                    pre_nms_top_k=1)
    assert wise.run(outputs, [None])[0].class_ids.tolist() == [0, 1, 0]
    assert agnostic.run(outputs, [None])[0].class_ids.tolist() == [0, 0]
    assert capped.run(outputs, [None])[0].scores.tolist() == pytest.approx([0.9])


@pytest.mark.parametrize('kwargs', [{'score_threshold': 1.5}, {'iou_threshold': -0.1},
                                    {'max_detections': 0}, {'pre_nms_top_k': 0}])
def test_postprocessor_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        DetectionPostprocessor(YoloV5Decoder((640, 640)), **kwargs)
