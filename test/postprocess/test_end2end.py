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
End-to-end rows (B, K, 6) are final detections, and a (1, 300, 6) is never YOLO.

YOLOv10/YOLO26's NMS-free head and Ultralytics ``nms=True`` exports both give rows of
x1, y1, x2, y2, score, class. Their own predictor keeps every row above the threshold,
in order, and runs no NMS: a heavily overlapping same-class pair stays. Before this
decoder existed, ``yolov8`` read the same tensor as 300 anchors of 2 classes.
"""

from __future__ import annotations

import numpy as np
import pytest

from jetson_infer_ros.postprocess.decoders import (
    DecoderShapeError, DetectionPostprocessor, EndToEndDecoder, make_decoder)
from jetson_infer_ros.preprocess import Transform

ROWS = np.array([
    [10, 10, 50, 50, 0.90, 3],
    [12, 11, 51, 52, 0.85, 3],     # IoU ~0.9 with row 0, same class: kept (no NMS)
    [100, 40, 140, 90, 0.60, 0],
    [0, 0, 5, 5, 0.20, 1],          # below the threshold
], np.float32)


def e2e_output(rows=ROWS, k=300, zero_pad=True, batch=1):
    out = np.zeros((batch, k, 6), np.float32)
    if not zero_pad:                 # NMS-free heads: every row real, low scores at the end
        out[:, :, :4] = [200, 200, 210, 210]
        out[:, :, 4] = np.linspace(0.1, 0.01, k)
        out[:, :, 5] = 7
    out[:, :len(rows)] = rows
    return out


@pytest.mark.parametrize('decoder', ['yolov8', 'yolo11', 'yolov5'])
def test_a_300x6_output_is_not_read_as_a_yolo_head(decoder):
    """The misreading of issue 23: without labels yolov8 used to bind 2 classes."""
    with pytest.raises(DecoderShapeError) as err:
        make_decoder(decoder, (640, 640), None).bind({'output0': (1, 300, 6)})
    text = str(err.value)
    assert "'output0' has shape (1, 300, 6)" in text and '8400' in text


@pytest.mark.parametrize('shape', [(1, 1000), (-1, 1000), (1, 1000, 1, 1)])
def test_a_classifier_output_fits_no_detection_decoder(shape):
    for name in ('nanodet', 'yolov5', 'yolov8', 'end2end', 'ssd'):
        with pytest.raises(DecoderShapeError, match=r"'logits'"):
            make_decoder(name, (224, 224)).bind({'logits': shape})


def test_rows_above_the_threshold_in_order_without_nms():
    post = DetectionPostprocessor(make_decoder('yolov10', (640, 640), 80), 0.25, 0.5, 100)
    (got,) = post.run({'output0': e2e_output()}, [None])
    np.testing.assert_allclose(got.boxes, ROWS[:3, :4])
    np.testing.assert_allclose(got.scores, ROWS[:3, 4])
    assert got.class_ids.tolist() == [3, 3, 0]


def test_nms_free_rows_are_never_zero_padded_and_all_count():
    post = DetectionPostprocessor(EndToEndDecoder((640, 640)), 0.02, 0.7, 1000)
    (got,) = post.run({'o': e2e_output(zero_pad=False)}, [None])
    expected = 3 + int(np.sum(np.linspace(0.1, 0.01, 300)[3:] > 0.02))
    assert len(got) == expected
    (capped,) = DetectionPostprocessor(EndToEndDecoder((640, 640)), 0.02, 0.7, 2).run(
        {'o': e2e_output(zero_pad=False)}, [None])
    assert capped.scores.tolist() == pytest.approx([0.9, 0.85])


def test_batch_items_source_pixels_normalized_boxes_and_unknown_classes():
    out = e2e_output(batch=2)
    out[1, :3, 0] += 20              # item 1: moved right
    out[1, 2, 5] = 90                # a class id beyond the 80 labels: dropped
    transform = Transform(0.5, 0.5, 0.0, 10.0, 1280, 1260)
    post = DetectionPostprocessor(EndToEndDecoder((640, 640), 80), 0.25, 0.5, 100)
    a, b = post.run({'o': out}, [transform, transform])
    np.testing.assert_allclose(a.boxes[0], [20, 0, 100, 80])
    np.testing.assert_allclose(b.boxes[:, 0], (ROWS[:2, 0] + 20) * 2)
    assert len(b) == 2
    normalized = e2e_output()
    normalized[0, :, :4] /= 640.0
    dec = EndToEndDecoder((640, 640), options={'normalized': True})
    (n,) = DetectionPostprocessor(dec, 0.25, 0.5, 100).run({'o': normalized}, [None])
    np.testing.assert_allclose(n.boxes, ROWS[:3, :4], rtol=1e-5)


def test_end2end_shape_errors():
    with pytest.raises(DecoderShapeError, match=r'\(batch, detections, 6\)'):
        EndToEndDecoder((640, 640)).bind({'o': (1, 300, 7)})
    with pytest.raises(DecoderShapeError, match='all fit'):
        EndToEndDecoder((640, 640)).bind({'a': (1, 300, 6), 'b': (1, 100, 6)})
    assert EndToEndDecoder((640, 640), options={'output': 'b'}).bind(
        {'a': (1, 300, 6), 'b': (1, 100, 6)}) is None


def test_centre_size_rows_in_0_1_become_corners_in_pixels():
    """Ultralytics RT-DETR's rows: cx, cy, w, h normalised (RTDETRPredictor's xywh2xyxy)."""
    rows = np.zeros((1, 300, 6), np.float32)
    rows[0, 0] = [0.5, 0.25, 0.2, 0.1, 0.8, 4]
    decoder = make_decoder('end2end', (320, 640), 80,
                           {'box_format': 'cxcywh', 'normalized': True})
    post = DetectionPostprocessor(decoder, 0.25, 0.5, 100)
    (got,) = post.run({'output0': rows}, [None])
    np.testing.assert_allclose(got.boxes, [[256, 64, 384, 96]], atol=1e-4)
    assert got.class_ids.tolist() == [4]
    with pytest.raises(ValueError, match="box_format 'xywh' is not 'xyxy' or 'cxcywh'"):
        make_decoder('end2end', (320, 640), 80, {'box_format': 'xywh'}).bind(
            {'output0': (1, 300, 6)})
