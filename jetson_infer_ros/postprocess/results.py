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
The values postprocessing hands to message building, free of any ROS type.

Keeping results as plain dataclasses (and, for detections, as arrays) lets the CLI,
the evaluator and the tests use postprocessing without ROS, and keeps the per-frame
path vectorised: a frame's detections stay in one ``DetectionBatch`` of arrays until
the message builder walks them once.
"""

from __future__ import annotations

import dataclasses
from typing import List

import numpy as np


@dataclasses.dataclass(frozen=True)
class ClassScore:
    """One class of a classification result; ``class_id`` indexes the label list."""

    class_id: int
    score: float


@dataclasses.dataclass(frozen=True)
class Detection:
    """One detected box in source-image pixels (x to the right, y down, max exclusive)."""

    class_id: int
    score: float
    x_min: float
    y_min: float
    x_max: float
    y_max: float

    @property
    def width(self) -> float:
        return self.x_max - self.x_min

    @property
    def height(self) -> float:
        return self.y_max - self.y_min


class DetectionBatch:
    """
    The detections of one frame as parallel arrays, highest score first.

    ``boxes`` is (N, 4) float32 ``x_min, y_min, x_max, y_max``, ``scores`` (N,) float32,
    ``class_ids`` (N,) int64. The arrays are owned by the batch (not views of a backend
    output), so a caller may keep them past the next inference.
    """

    __slots__ = ('boxes', 'scores', 'class_ids')

    def __init__(self, boxes: np.ndarray, scores: np.ndarray, class_ids: np.ndarray) -> None:
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float32).reshape(-1)
        class_ids = np.asarray(class_ids, dtype=np.int64).reshape(-1)
        if not len(boxes) == len(scores) == len(class_ids):
            raise ValueError(
                f'DetectionBatch: {len(boxes)} boxes, {len(scores)} scores and '
                f'{len(class_ids)} class ids must have the same length')
        self.boxes = boxes
        self.scores = scores
        self.class_ids = class_ids

    @classmethod
    def empty(cls) -> DetectionBatch:
        """No detections (a frame with nothing above the threshold)."""
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32),
                   np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.scores)

    def __repr__(self) -> str:
        return f'DetectionBatch({len(self)} detections)'

    def to_list(self) -> List[Detection]:
        """Python objects, for code that prefers them over arrays (one pass, at the end)."""
        boxes = self.boxes.tolist()
        return [Detection(int(c), float(s), b[0], b[1], b[2], b[3])
                for b, s, c in zip(boxes, self.scores.tolist(), self.class_ids.tolist())]
