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
Greedy non-maximum suppression in NumPy, so detection needs neither OpenCV nor torch.

Every detector decoder produces overlapping candidates; this removes the duplicates the
same way ``cv2.dnn.NMSBoxes`` / ``NMSBoxesBatched`` do (highest score first, drop any box
whose IoU with a kept box of the same class is above the threshold, ties broken by input
order), which the tests check. Class-wise suppression masks IoU across classes to zero
instead of offsetting boxes by class, so large coordinates lose no precision. The loop
runs once per *kept* box and stops at ``max_detections``; each step is one vectorised IoU
against the boxes still alive.
"""

from __future__ import annotations

from typing import Optional

import numpy as np


def box_iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Compute the IoU of one ``xyxy`` box with (N, 4) boxes; 0 where the union is empty."""
    iw = np.minimum(box[2], boxes[:, 2]) - np.maximum(box[0], boxes[:, 0])
    ih = np.minimum(box[3], boxes[:, 3]) - np.maximum(box[1], boxes[:, 1])
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float,
        class_ids: Optional[np.ndarray] = None,
        max_detections: Optional[int] = None) -> np.ndarray:
    """
    Return the indices of the boxes that survive, highest score first.

    ``boxes`` is (N, 4) ``x_min, y_min, x_max, y_max``; a box is suppressed when its IoU
    with an already kept box (of the same class, when ``class_ids`` is given) is greater
    than ``iou_threshold``. IoU is computed in float64 so the result does not depend on
    the input's precision.
    """
    boxes = np.asarray(boxes)
    scores = np.asarray(scores)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f'nms: boxes must have shape (N, 4), got {boxes.shape}')
    n = boxes.shape[0]
    if scores.shape != (n,):
        raise ValueError(f'nms: scores must have shape ({n},), got {scores.shape}')
    if class_ids is not None:
        class_ids = np.asarray(class_ids)
        if class_ids.shape != (n,):
            raise ValueError(f'nms: class_ids must have shape ({n},), got {class_ids.shape}')
    if not 0.0 <= iou_threshold <= 1.0:
        raise ValueError(f'nms: iou_threshold must be in [0, 1], got {iou_threshold}')
    limit = n if max_detections is None else int(max_detections)
    if limit < 0:
        raise ValueError(f'nms: max_detections must be >= 0, got {max_detections}')
    if n == 0 or limit == 0:
        return np.zeros(0, dtype=np.int64)

    order = np.argsort(-scores, kind='stable')
    sorted_boxes = boxes[order].astype(np.float64)
    sorted_classes = None if class_ids is None else class_ids[order]
    alive = np.arange(n)
    keep = []
    while alive.size:
        first = alive[0]
        keep.append(first)
        if len(keep) >= limit:
            break
        rest = alive[1:]
        if not rest.size:
            break
        iou = box_iou(sorted_boxes[first], sorted_boxes[rest])
        if sorted_classes is not None:
            iou[sorted_classes[rest] != sorted_classes[first]] = 0.0
        alive = rest[iou <= iou_threshold]
    return order[np.asarray(keep, dtype=np.int64)]
