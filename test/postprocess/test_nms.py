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
NMS must keep exactly what OpenCV's NMSBoxes keeps, class-wise and class-agnostic.

Boxes have integer coordinates and the IoU thresholds are exact in float32, so both
implementations compute bit-identical IoUs and any difference is a real disagreement,
not rounding (OpenCV takes its threshold as a float32).
"""

from __future__ import annotations

import cv2
from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from jetson_infer_ros.postprocess.nms import box_iou, nms

THRESHOLDS = (0.25, 0.375, 0.5, 0.625, 0.75)


@st.composite
def box_sets(draw, max_boxes=40):
    n = draw(st.integers(0, max_boxes))
    xs = draw(st.lists(st.integers(0, 80), min_size=n, max_size=n))
    ys = draw(st.lists(st.integers(0, 80), min_size=n, max_size=n))
    ws = draw(st.lists(st.integers(1, 50), min_size=n, max_size=n))
    hs = draw(st.lists(st.integers(1, 50), min_size=n, max_size=n))
    # Few distinct score values on purpose: ties must break the same way (input order).
    scores = draw(st.lists(st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.9, 0.95]),
                           min_size=n, max_size=n))
    classes = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    xywh = np.array([xs, ys, ws, hs], dtype=np.float64).T.reshape(n, 4)
    return xywh, np.array(scores, np.float32), np.array(classes, np.int64)


def xyxy(xywh):
    out = xywh.copy()
    out[:, 2:] += out[:, :2]
    return out


def cv2_nms(xywh, scores, thr, classes=None):
    if not len(scores):
        return []
    boxes = [tuple(map(float, b)) for b in xywh]
    if classes is None:
        kept = cv2.dnn.NMSBoxes(boxes, scores.tolist(), 0.0, thr)
    else:
        kept = cv2.dnn.NMSBoxesBatched(boxes, scores.tolist(), classes.tolist(), 0.0, thr)
    return np.asarray(kept, np.int64).reshape(-1).tolist()


@settings(max_examples=300, deadline=None)
@given(box_sets(), st.sampled_from(THRESHOLDS))
def test_class_agnostic_matches_cv2_nmsboxes(data, thr):
    xywh, scores, _ = data
    ours = nms(xyxy(xywh).astype(np.float32), scores, thr).tolist()
    assert ours == cv2_nms(xywh, scores, thr)


@settings(max_examples=300, deadline=None)
@given(box_sets(), st.sampled_from(THRESHOLDS))
def test_class_wise_matches_cv2_nmsboxes_batched(data, thr):
    xywh, scores, classes = data
    ours = nms(xyxy(xywh), scores, thr, class_ids=classes).tolist()
    assert ours == cv2_nms(xywh, scores, thr, classes)


@settings(max_examples=100, deadline=None)
@given(box_sets(), st.sampled_from(THRESHOLDS))
def test_class_wise_is_the_union_of_per_class_runs(data, thr):
    xywh, scores, classes = data
    boxes = xyxy(xywh)
    ours = set(nms(boxes, scores, thr, class_ids=classes).tolist())
    expected = set()
    for c in np.unique(classes):
        idx = np.flatnonzero(classes == c)
        expected |= set(idx[nms(boxes[idx], scores[idx], thr)].tolist())
    assert ours == expected


@settings(max_examples=100, deadline=None)
@given(box_sets(), st.sampled_from(THRESHOLDS), st.integers(0, 10))
def test_max_detections_is_a_prefix(data, thr, cap):
    xywh, scores, classes = data
    full = nms(xyxy(xywh), scores, thr, class_ids=classes)
    capped = nms(xyxy(xywh), scores, thr, class_ids=classes, max_detections=cap)
    assert capped.tolist() == full[:cap].tolist()


def test_seeded_float_boxes_match_cv2():
    rng = np.random.default_rng(7)
    for _ in range(20):
        n = 200
        xywh = np.concatenate([rng.uniform(0, 600, (n, 2)), rng.uniform(5, 200, (n, 2))], 1)
        scores = rng.uniform(0.01, 1, n).astype(np.float32)
        classes = rng.integers(0, 5, n)
        assert nms(xyxy(xywh), scores, 0.5).tolist() == cv2_nms(xywh, scores, 0.5)
        assert nms(xyxy(xywh), scores, 0.45, classes).tolist() == \
            cv2_nms(xywh, scores, np.float32(0.45).item(), classes)


def test_obvious_cases():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 10, 10]],
                     np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.6], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [0, 2]
    # The same box in another class survives class-wise NMS.
    assert nms(boxes, scores, 0.5, class_ids=np.array([0, 0, 0, 1])).tolist() == [0, 2, 3]
    assert nms(boxes, scores, 1.0).tolist() == [0, 1, 2, 3]
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_degenerate_boxes_do_not_make_nan():
    boxes = np.array([[5, 5, 5, 5], [5, 5, 5, 5], [0, 0, 4, 4]], np.float32)
    iou = box_iou(boxes[0].astype(np.float64), boxes.astype(np.float64))
    assert np.all(np.isfinite(iou))
    assert nms(boxes, np.array([0.9, 0.8, 0.7]), 0.5).tolist() == [0, 1, 2]


GOOD = {'boxes': np.zeros((3, 4)), 'scores': np.zeros(3), 'iou_threshold': 0.5}


@pytest.mark.parametrize('change, message', [
    ({'boxes': np.zeros((3, 5))}, 'boxes'),
    ({'scores': np.zeros(2)}, 'scores'),
    ({'iou_threshold': 1.5}, 'iou_threshold'),
    ({'class_ids': np.zeros(4)}, 'class_ids'),
    ({'max_detections': -1}, 'max_detections'),
])
def test_bad_input_raises_value_error(change, message):
    with pytest.raises(ValueError, match=message):
        nms(**dict(GOOD, **change))
