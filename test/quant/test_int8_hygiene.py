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

"""Calibration-set hygiene: too few, near-duplicate, duplicated and evaluation frames."""

from __future__ import annotations

from hypothesis import given, strategies as st
import numpy as np

from jetson_infer_ros.image_convert import Picture
from jetson_infer_ros.quant import frames, hygiene


def _pic(seed, shift=0):
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    return Picture(np.roll(img, shift, axis=1), 'bgr')


def _checker(pictures):
    c = hygiene.SetChecker()
    for p in pictures:
        c.add(p, frames.pixel_sha256(p))
    return c


def test_varied_set_of_enough_frames_has_no_warning():
    c = _checker([_pic(i) for i in range(100)])
    assert c.warnings() == []
    assert c.summary()['frames'] == 100


def test_small_set_is_named():
    w = _checker([_pic(i) for i in range(5)]).warnings()
    assert len(w) == 1 and 'only 5 calibration frames' in w[0]


def test_near_duplicates_like_a_30hz_bag_are_named():
    base = _pic(0)
    noise = np.random.default_rng(9)
    similar = [Picture(np.clip(base.array.astype(int) + noise.integers(-2, 3, base.array.shape),
                               0, 255).astype(np.uint8), 'bgr') for _ in range(120)]
    w = _checker(similar).warnings()
    assert any('near-duplicates' in line for line in w)


def test_exact_duplicates_and_evaluation_overlap_are_named():
    pics = [_pic(i) for i in range(100)] + [_pic(3)]
    c = _checker(pics)
    evaluation = [frames.pixel_sha256(_pic(i)) for i in (3, 4, 500)]
    w = c.warnings(evaluation)
    assert any('1 frames are exact duplicates' in line for line in w)
    assert any('2 calibration frames are also evaluation frames' in line for line in w)


def test_pixel_hash_ignores_channel_order_container_but_not_content():
    bgr = _pic(1)
    rgb = Picture(np.ascontiguousarray(bgr.array[:, :, ::-1]), 'rgb')
    assert frames.pixel_sha256(bgr) == frames.pixel_sha256(rgb)
    changed = Picture(bgr.array.copy(), 'bgr')
    changed.array[0, 0, 0] ^= 1
    assert frames.pixel_sha256(changed) != frames.pixel_sha256(bgr)


@given(st.integers(0, 500), st.one_of(st.none(), st.integers(1, 600)))
def test_evenly_spaced_picks_distinct_sorted_indices_in_range(count, wanted):
    idx = frames.evenly_spaced(count, wanted)
    assert idx == sorted(set(idx))
    assert all(0 <= i < count for i in idx)
    expected = count if wanted is None else min(count, wanted)
    assert len(idx) == expected
    if idx and expected > 1:
        assert idx[0] == 0 and idx[-1] == count - 1
