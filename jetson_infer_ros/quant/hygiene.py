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
Warn about calibration sets that look fine but measure the wrong thing.

Three mistakes produce INT8 models that pass a quick look and fail on the robot: too few
frames (activation ranges of a handful of scenes), a set dominated by near-duplicates
(a 30 Hz bag where 100 frames are three seconds of one view), and calibrating on the
very frames the evaluation later uses (which flatters the agreement numbers). Each is
cheap to detect while the frames stream past: a 32x32 grey thumbnail per frame for
the mean absolute difference of consecutive frames, and the pixel hashes.
"""

from __future__ import annotations

from typing import Iterable, List, Optional, Set

import numpy as np

from ..image_convert import Picture

MIN_FRAMES = 100
"""Fewer calibration frames than this draws a warning."""

NEAR_DUPLICATE_DIFF = 2.0
"""
Mean absolute difference (0-255 grey, 32x32 thumbnails) below which two consecutive
frames count as near-duplicates. Measured on vtest.avi (10 fps): consecutive frames
0.8 median, every 3rd frame 2.4, every 10th 4.5; unrelated photos 18-130."""

NEAR_DUPLICATE_SHARE = 0.5
"""More than this share of near-duplicate consecutive pairs draws a warning."""

THUMB = 32


def thumbnail(picture: Picture) -> np.ndarray:
    """Return a 32x32 float32 grey miniature, area-averaged: the unit of the duplicate check."""
    import cv2
    a = picture.array
    if a.dtype == np.uint16:
        a = (a >> 8).astype(np.uint8)
    a = np.ascontiguousarray(a)
    if a.ndim == 3 and a.shape[2] >= 3:
        code = cv2.COLOR_RGB2GRAY if picture.color.startswith('rgb') else cv2.COLOR_BGR2GRAY
        a = cv2.cvtColor(np.ascontiguousarray(a[:, :, :3]), code)
    elif a.ndim == 3:
        a = a[:, :, 0]
    return cv2.resize(a, (THUMB, THUMB), interpolation=cv2.INTER_AREA).astype(np.float32)


class SetChecker:
    """Accumulates what the checks need while frames stream past, then says what is wrong."""

    def __init__(self) -> None:
        self.count = 0
        self.hashes: List[str] = []
        self.near_duplicates = 0
        self.exact_duplicates = 0
        self._previous: Optional[np.ndarray] = None
        self._seen: Set[str] = set()
        self.diffs: List[float] = []

    def add(self, picture: Picture, sha256: str) -> None:
        """Account for one frame (in the order the calibration sees them)."""
        thumb = thumbnail(picture)
        if self._previous is not None:
            diff = float(np.abs(thumb - self._previous).mean())
            self.diffs.append(diff)
            if diff < NEAR_DUPLICATE_DIFF:
                self.near_duplicates += 1
        self._previous = thumb
        if sha256 in self._seen:
            self.exact_duplicates += 1
        self._seen.add(sha256)
        self.hashes.append(sha256)
        self.count += 1

    def summary(self) -> dict:
        """Numbers for the provenance file."""
        pairs = max(self.count - 1, 0)
        return {
            'frames': self.count,
            'exact_duplicates': self.exact_duplicates,
            'near_duplicate_pairs': self.near_duplicates,
            'consecutive_pairs': pairs,
            'median_consecutive_diff': (round(float(np.median(self.diffs)), 3)
                                        if self.diffs else None),
            'near_duplicate_threshold': NEAR_DUPLICATE_DIFF,
        }

    def warnings(self, evaluation_hashes: Iterable[str] = (),
                 min_frames: int = MIN_FRAMES) -> List[str]:
        """One line per problem found; empty when the set looks sound."""
        out = []
        if self.count < min_frames:
            out.append(f'only {self.count} calibration frames; about {min_frames} or more '
                       'varied frames give stable activation ranges')
        pairs = self.count - 1
        if pairs > 0 and self.near_duplicates > NEAR_DUPLICATE_SHARE * pairs:
            out.append(
                f'{self.near_duplicates} of {pairs} consecutive frame pairs are near-duplicates '
                f'(mean abs difference < {NEAR_DUPLICATE_DIFF:g} on {THUMB}x{THUMB} grey '
                'thumbnails): the set covers few distinct views; spread the frames over a '
                'longer stretch (--samples picks them evenly)')
        if self.exact_duplicates:
            out.append(f'{self.exact_duplicates} frames are exact duplicates of earlier ones')
        overlap = overlap_count(self.hashes, evaluation_hashes)
        if overlap:
            out.append(f'{overlap} calibration frames are also evaluation frames (same '
                       'pixels): evaluate on frames the calibration never saw')
        return out


def overlap_count(calibration: Iterable[str], evaluation: Iterable[str]) -> int:
    """How many distinct frames the two sets share (by pixel hash)."""
    return len(set(calibration) & set(evaluation))
