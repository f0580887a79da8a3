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
vision_msgs built from pipeline results, with the input's header carried through.

``class_id`` holds the numeric class index as a string, as vision_msgs documents: the
name is looked up in the LabelInfo the node latches on ``label_info``. Boxes are in
source-image pixels (centre + size, theta 0).
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence, Tuple

import numpy as np


def make_header(stamp_sec: int, stamp_nanosec: int, frame_id: str) -> Any:
    from std_msgs.msg import Header
    h = Header()
    h.stamp.sec = int(stamp_sec)
    h.stamp.nanosec = int(stamp_nanosec)
    h.frame_id = frame_id
    return h


def classification_msg(header: Any, class_ids: Sequence[int], scores: Sequence[float]) -> Any:
    from vision_msgs.msg import Classification, ObjectHypothesis
    msg = Classification()
    msg.header = header
    results = []
    for cid, score in zip(class_ids, scores):
        hyp = ObjectHypothesis()
        hyp.class_id = str(int(cid))
        hyp.score = float(score)
        results.append(hyp)
    msg.results = results
    return msg


def detection_array_msg(header: Any, boxes: np.ndarray, scores: np.ndarray,
                        class_ids: np.ndarray) -> Any:
    """``boxes`` is (N, 4) x_min, y_min, x_max, y_max in source pixels."""
    from vision_msgs.msg import Detection2D, Detection2DArray, ObjectHypothesisWithPose
    msg = Detection2DArray()
    msg.header = header
    dets = []
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    cx = (b[:, 0] + b[:, 2]) * 0.5
    cy = (b[:, 1] + b[:, 3]) * 0.5
    w = b[:, 2] - b[:, 0]
    h = b[:, 3] - b[:, 1]
    for i in range(b.shape[0]):
        det = Detection2D()
        det.header = header
        det.bbox.center.position.x = float(cx[i])
        det.bbox.center.position.y = float(cy[i])
        det.bbox.center.theta = 0.0
        det.bbox.size_x = float(w[i])
        det.bbox.size_y = float(h[i])
        hyp = ObjectHypothesisWithPose()
        hyp.hypothesis.class_id = str(int(class_ids[i]))
        hyp.hypothesis.score = float(scores[i])
        det.results = [hyp]
        dets.append(det)
    msg.detections = dets
    return msg


def label_info_msg(header: Any, labels: Iterable[str], threshold: float) -> Any:
    from vision_msgs.msg import LabelInfo, VisionClass
    msg = LabelInfo()
    msg.header = header
    classes = []
    for i, name in enumerate(labels):
        vc = VisionClass()
        vc.class_id = i
        vc.class_name = name
        classes.append(vc)
    msg.class_map = classes
    msg.threshold = float(threshold)
    return msg


def detections_from_msg(msg: Any) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Invert detection_array_msg, for listeners, tests and the regression harness."""
    n = len(msg.detections)
    boxes = np.zeros((n, 4), dtype=np.float64)
    scores = np.zeros(n, dtype=np.float64)
    ids = np.zeros(n, dtype=np.int64)
    for i, d in enumerate(msg.detections):
        cx, cy = d.bbox.center.position.x, d.bbox.center.position.y
        boxes[i] = (cx - d.bbox.size_x / 2, cy - d.bbox.size_y / 2,
                    cx + d.bbox.size_x / 2, cy + d.bbox.size_y / 2)
        scores[i] = d.results[0].hypothesis.score if d.results else 0.0
        ids[i] = int(d.results[0].hypothesis.class_id) if d.results else -1
    return boxes, scores, ids


def draw_detections(bgr: np.ndarray, boxes: np.ndarray, scores: np.ndarray,
                    class_ids: np.ndarray, labels: Sequence[str]) -> np.ndarray:
    """Draw boxes and labels on a copy of ``bgr`` (debug image, demo contact sheet)."""
    import cv2
    out = np.ascontiguousarray(bgr).copy()
    for (x0, y0, x1, y1), s, c in zip(np.asarray(boxes).reshape(-1, 4), scores, class_ids):
        color = _color(int(c))
        p0, p1 = (int(round(x0)), int(round(y0))), (int(round(x1)), int(round(y1)))
        cv2.rectangle(out, p0, p1, color, 2)
        name = labels[int(c)] if 0 <= int(c) < len(labels) else str(int(c))
        text = f'{name} {float(s):.2f}'
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45, 1)
        ty = max(p0[1], th + 4)
        cv2.rectangle(out, (p0[0], ty - th - 4), (p0[0] + tw + 4, ty), color, -1)
        cv2.putText(out, text, (p0[0] + 2, ty - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return out


def _color(class_id: int) -> Tuple[int, int, int]:
    rng = (class_id * 2654435761) & 0xFFFFFF
    return (64 + (rng & 0x7F), 64 + ((rng >> 8) & 0x7F), 64 + ((rng >> 16) & 0x7F))
