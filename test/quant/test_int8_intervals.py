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

"""The gate's intervals: right values, real width on small evidence, the coverage claimed."""

from __future__ import annotations

import numpy as np
import pytest

from jetson_infer_ros.quant import intervals


def test_wilson_matches_the_published_values():
    # Newcombe (1998), single proportion: 81/263 -> 0.2553-0.3662
    lo, hi = intervals.wilson(81, 263)
    assert lo == pytest.approx(0.2553, abs=1e-4) and hi == pytest.approx(0.3662, abs=1e-4)
    lo, hi = intervals.wilson(2, 2)
    assert hi == 1.0 and lo == pytest.approx(0.3424, abs=1e-4)   # two agreeing frames
    assert intervals.wilson(0, 10)[0] == 0.0
    assert intervals.wilson(0, 0) is None


def test_paired_drop_has_width_without_a_single_discordant_frame():
    right = np.array([True] * 170 + [False] * 30)
    diff, (lo, hi) = intervals.paired_difference(right, right)
    assert diff == 0.0 and lo < -0.005 and hi > 0.005        # 200 frames cannot prove 0.5 pt
    # more frames, same perfect agreement: narrower
    big = np.tile(right, 10)
    _d, (lo2, hi2) = intervals.paired_difference(big, big)
    assert hi2 < hi and lo2 > lo
    assert intervals.paired_difference([], []) is None


def test_paired_drop_interval_covers_the_true_drop_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    n, p_ref, p_lose, p_gain = 300, 0.85, 0.03, 0.01       # true drop 2 points
    hits = 0
    trials = 1500
    for _ in range(trials):
        ref = rng.uniform(size=n) < p_ref
        u = rng.uniform(size=n)
        test = np.where(ref, u >= p_lose / p_ref, u < p_gain / (1 - p_ref))
        _diff, (lo, hi) = intervals.paired_difference(ref, test)
        hits += lo <= p_lose - p_gain <= hi
    assert 0.92 <= hits / trials <= 0.985


def test_bootstrap_keeps_pairs_together_and_is_reproducible():
    rng = np.random.default_rng(1)
    a = rng.normal(10, 3, 80)
    b = a - 1.0 + rng.normal(0, 0.1, 80)     # b tracks a closely: the paired drop is ~1

    def stat(idx):
        return [a[idx].mean(), b[idx].mean(), a[idx].mean() - b[idx].mean()]
    first = intervals.bootstrap(stat, 80, samples=300)
    assert first == intervals.bootstrap(stat, 80, samples=300)
    (alo, ahi), _b, (dlo, dhi) = first
    assert ahi - alo > 1.0                   # each mean alone is uncertain
    assert dlo < 1.0 < dhi and dhi - dlo < 0.1   # their paired difference is not
