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
Real camera frames at the sizes benchmarked, from the street video of the data set.

Timing on real pictures matters for detection: the number of boxes that survive the
threshold drives decode, NMS and message building. Frames come from ``vtest.avi``
(pedestrians and cars), resized to the benchmarked size and handed out as rgb8, the
encoding cameras most often publish.
"""

from __future__ import annotations

from typing import List, Tuple

import numpy as np

DEFAULT_FRAMES = 8


def parse_size(text: str) -> Tuple[int, int]:
    """Parse '640x480' into (640, 480); a clear ValueError otherwise."""
    width, sep, height = str(text).lower().partition('x')
    try:
        w, h = int(width), int(height)
    except ValueError:
        w = h = 0
    if not sep or w <= 0 or h <= 0:
        raise ValueError(f'size {text!r}: expected WIDTHxHEIGHT, e.g. 640x480')
    return w, h


def size_label(size: Tuple[int, int]) -> str:
    """Return '640x480' for (640, 480)."""
    return f'{size[0]}x{size[1]}'


def video_rgb_frames(width: int, height: int, count: int = DEFAULT_FRAMES
                     ) -> List[np.ndarray]:
    """Return ``count`` frames of vtest.avi (every 20th) as HxWx3 rgb8 at width x height."""
    import cv2
    from jetson_infer_ros.assets.data import cached_data, video_frames
    data = cached_data()
    frames = video_frames(data.video, [20 * i for i in range(max(1, count))])
    out = []
    for bgr in frames:
        resized = cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
        out.append(np.ascontiguousarray(cv2.cvtColor(resized, cv2.COLOR_BGR2RGB)))
    return out
