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
Decoders on real ONNX Runtime outputs of tiny models whose right boxes are known.

Each model's head is a fixed table of candidate rows shifted along x by the mean of its
input image, so batch item b (filled with the constant v_b) must give the hand-worked
boxes moved by v_b (times the input width for normalised SSD boxes). This checks the
whole path the node uses: backend buffers and IO binding, batch indexing, decoding,
thresholding, class-wise NMS and the mapping back to source pixels.
"""

from __future__ import annotations

import numpy as np
import pytest

from jetson_infer_ros.backends.base import BackendOptions
from jetson_infer_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from jetson_infer_ros.postprocess.decoders import DetectionPostprocessor, make_decoder
from jetson_infer_ros.preprocess import Transform
from jetson_infer_ros.testing import synthetic_onnx

H, W = 64, 96
SHIFTS = (0.0, 5.0)     # the constant written into each batch item's input
ANCHORS = 8 * 12 + 4 * 6 + 2 * 3    # a YOLO head's rows at 64x96: strides 8, 16, 32

# cx, cy, w, h, objectness, class 0, class 1
ROWS = np.array([
    [30, 20, 20, 20, 0.90, 0.90, 0.10],   # class 0, 0.81
    [32, 20, 20, 20, 0.90, 0.80, 0.10],   # class 0, 0.72: overlaps the row above, suppressed
    [31, 21, 20, 20, 0.95, 0.10, 0.90],   # class 1, 0.855: overlaps row 0, other class, kept
    [70, 40, 10, 10, 0.50, 0.90, 0.00],   # class 0, 0.45
    [50, 50, 10, 10, 0.20, 0.90, 0.90],   # 0.18: below the threshold
    [10, 10, 4, 4, 0.90, 0.20, 0.20],     # 0.18: below the threshold
], np.float32)
# Survivors best first: row 2, row 0, row 3.
EXPECTED_CLASSES = [1, 0, 0]
EXPECTED_SCORES = [0.95 * 0.90, 0.90 * 0.90, 0.50 * 0.90]


def padded(rows):
    """Pad the hand-made rows with zero rows (no score) to the head's anchor count."""
    return np.concatenate([rows, np.zeros((ANCHORS - len(rows), rows.shape[1]), rows.dtype)])


def expected_boxes(shift, scale=1.0):
    rows = ROWS[[2, 0, 3]].astype(np.float64)
    cx = rows[:, 0] + shift
    boxes = np.stack([cx - rows[:, 2] / 2, rows[:, 1] - rows[:, 3] / 2,
                      cx + rows[:, 2] / 2, rows[:, 1] + rows[:, 3] / 2], axis=1)
    return boxes * scale


def run_model(path):
    backend = OnnxRuntimeBackend(str(path), BackendOptions(max_batch=2))
    backend.load()
    buf = backend.input_buffer()
    for i, v in enumerate(SHIFTS):
        buf[i] = v
    outputs = backend.infer(2)
    backend_outputs = {k: v.copy() for k, v in outputs.items()}
    backend.release()
    return backend_outputs


def check(decoder, outputs, transform_scale=None):
    post = DetectionPostprocessor(decoder, score_threshold=0.3, iou_threshold=0.5,
                                  max_detections=10)
    transforms = [None, None] if transform_scale is None else [
        Transform(1 / transform_scale, 1 / transform_scale, 0.0, 0.0,
                  int(W * transform_scale), int(H * transform_scale))] * 2
    results = post.run(outputs, transforms)
    assert len(results) == 2
    for shift, result in zip(SHIFTS, results):
        assert result.class_ids.tolist() == EXPECTED_CLASSES
        np.testing.assert_allclose(result.scores, EXPECTED_SCORES, rtol=1e-5)
        np.testing.assert_allclose(result.boxes, expected_boxes(shift, transform_scale or 1.0),
                                   atol=1e-3)


def test_yolov5_onnx(tmp_path):
    mask = np.zeros((1, 1, 7), np.float32)
    mask[0, 0, 0] = 1.0
    path = synthetic_onnx.shifted_heads(tmp_path / 'v5.onnx', (1, 3, H, W),
                                        {'output0': (padded(ROWS)[None], mask)})
    outputs = run_model(path)
    assert outputs['output0'].shape == (2, ANCHORS, 7)
    check(make_decoder('yolov5', (H, W), 2), outputs)
    check(make_decoder('yolov5', (H, W), 2), outputs, transform_scale=2.0)


@pytest.mark.parametrize('channels_first', [True, False])
def test_yolov8_onnx(tmp_path, channels_first):
    rows = padded(np.concatenate([ROWS[:, :4], ROWS[:, 4:5] * ROWS[:, 5:]], axis=1))
    if channels_first:
        table, mask = rows.T[None], np.zeros((1, 6, 1), np.float32)
        mask[0, 0, 0] = 1.0
    else:
        table, mask = rows[None], np.zeros((1, 1, 6), np.float32)
        mask[0, 0, 0] = 1.0
    path = synthetic_onnx.shifted_heads(tmp_path / 'v8.onnx', (1, 3, H, W),
                                        {'output0': (table, mask)})
    outputs = run_model(path)
    check(make_decoder('yolov8', (H, W), 2), outputs)


def test_ssd_onnx_normalised_with_background(tmp_path):
    cx, cy, w, h = ROWS[:, 0], ROWS[:, 1], ROWS[:, 2], ROWS[:, 3]
    boxes = np.stack([(cx - w / 2) / W, (cy - h / 2) / H, (cx + w / 2) / W,
                      (cy + h / 2) / H], axis=1)
    scores = ROWS[:, 4:5] * ROWS[:, 5:]
    scores = np.concatenate([1.0 - scores.max(axis=1, keepdims=True), scores], axis=1)
    box_mask = np.array([[[1.0 / W, 0.0, 1.0 / W, 0.0]]], np.float32)
    path = synthetic_onnx.shifted_heads(
        tmp_path / 'ssd.onnx', (1, 3, H, W),
        {'scores': (scores[None], None), 'boxes': (boxes[None], box_mask)})
    outputs = run_model(path)
    decoder = make_decoder('ssd', (H, W), 2, {'background_class': True})
    check(decoder, outputs)
