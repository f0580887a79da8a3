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
ModelSpec, backend and postprocessing on the two real default models.

The specs are built from the real ONNX files (nothing about 224 or 416 is given), run
through the ONNX Runtime backend on real pictures, and checked against what the model
preparation recorded (EfficientNet's PyTorch top-1) and against an independent float64
NanoDet decode of the same outputs. Fails, never skips, when the models are missing,
with the command that prepares them.
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from jetson_infer_ros.assets import data
from jetson_infer_ros.backends.base import BackendOptions
from jetson_infer_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from jetson_infer_ros.image_convert import Picture
from jetson_infer_ros.model_spec import build_model_spec
from jetson_infer_ros.postprocess.classify import top_k
from jetson_infer_ros.postprocess.decoders import postprocessor_for_spec
from jetson_infer_ros.preprocess import Preprocessor

LABELS = Path(__file__).resolve().parents[2] / 'jetson_infer_ros' / 'labels'
pytestmark = pytest.mark.models


def test_efficientnet_pipeline_agrees_with_the_recorded_top1(prepared_model, real_data):
    model, meta = prepared_model('efficientnet_lite0')
    path = str(model)
    spec = build_model_spec(path, 'classification', labels=str(LABELS / 'imagenet.txt'),
                            mean=(127.0,) * 3, std=(128.0,) * 3, resize='center_crop',
                            crop_fraction=224 / 256)
    assert spec.input_hw == (224, 224) and spec.layout == 'NCHW'
    assert spec.batch_dynamic and spec.num_classes == 1000
    names = meta['verification']['images']
    backend = OnnxRuntimeBackend(path, BackendOptions(max_batch=len(names),
                                                      intra_op_threads=2))
    backend.load()
    pre = Preprocessor(spec.preprocess)
    for i, name in enumerate(names):
        ref = ('scikit-image/' if name.endswith('.png') else 'opencv-doc/') + name
        bgr = cv2.imread(str(real_data.photo(ref)), cv2.IMREAD_COLOR)
        pre.run(Picture(bgr, 'bgr'), backend.input_buffer()[i])
    results = top_k(backend.infer(len(names))[backend.output_specs[0].name], spec.top_k)
    backend.release()
    assert [r[0].class_id for r in results] == meta['verification']['top1_torch']
    for row in results:
        assert 0.0 < row[0].score <= 1.0 and sum(c.score for c in row) <= 1.0 + 1e-6


def _reference(outputs, spec, src_wh):
    """Decode NanoDet from its definition, one candidate at a time, in float64."""
    size_h, size_w = spec.input_hw
    rows = []
    for stride in (8, 16, 32):
        cls = outputs['cls_%d' % stride][0].astype(np.float64)
        box = outputs['box_%d' % stride][0].astype(np.float64)
        grid_w = math.ceil(size_w / stride)
        for cell in np.flatnonzero(cls.max(axis=1) > spec.score_threshold):
            y, x = divmod(int(cell), grid_w)
            c = int(np.argmax(cls[cell]))
            d = []
            for side in range(4):
                logits = box[cell, side * 11:(side + 1) * 11]
                p = np.exp(logits - logits.max())
                d.append(float((p / p.sum()) @ np.arange(11)) * stride)
            cx, cy = (x + 0.5) * stride, (y + 0.5) * stride
            rows.append(([cx - d[0], cy - d[1], cx + d[2], cy + d[3]], cls[cell, c], c))
    boxes = np.array([r[0] for r in rows])
    scores = np.array([r[1] for r in rows], np.float32)
    classes = np.array([r[2] for r in rows])
    xywh = np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)
    keep = np.asarray(cv2.dnn.NMSBoxesBatched(
        xywh.tolist(), scores.tolist(), classes.tolist(), 0.0, spec.nms_iou_threshold),
        np.int64).reshape(-1)[:spec.max_detections]
    sx, sy = src_wh[0] / size_w, src_wh[1] / size_h
    mapped = np.clip(boxes[keep] * [sx, sy, sx, sy], 0, [src_wh[0], src_wh[1]] * 2)
    return mapped, scores[keep], classes[keep]


def test_nanodet_pipeline_matches_an_independent_decode_on_a_street_frame(prepared_model,
                                                                          real_data):
    model, meta = prepared_model('nanodet')
    path = str(model)
    spec = build_model_spec(path, 'detection', 'nanodet', labels=str(LABELS / 'coco.txt'),
                            color='bgr', resize='stretch', mean=meta['input']['mean'],
                            std=meta['input']['std'], score_threshold=0.35)
    assert spec.input_hw == (416, 416) and spec.num_classes == 80
    frame = data.video_frames(real_data.video, [100])[0]
    backend = OnnxRuntimeBackend(path, BackendOptions(intra_op_threads=2))
    backend.load()
    transform = Preprocessor(spec.preprocess).run(Picture(frame, 'bgr'),
                                                  backend.input_buffer()[0])
    outputs = {k: v.copy() for k, v in backend.infer(1).items()}
    backend.release()
    (ours,) = postprocessor_for_spec(spec).run(outputs, [transform])
    boxes, scores, classes = _reference(outputs, spec, (frame.shape[1], frame.shape[0]))
    assert ours.class_ids.tolist() == classes.tolist()
    np.testing.assert_allclose(ours.scores, scores, rtol=1e-6)
    np.testing.assert_allclose(ours.boxes, boxes, atol=0.05)
    people = [b for b, c in zip(ours.boxes, ours.class_ids) if spec.labels[c] == 'person']
    assert len(people) >= 3, 'vtest frame 100 shows several pedestrians'
