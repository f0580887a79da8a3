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

"""The docs tools of tools/int8: the noise model of agreement and the study's tables."""

from __future__ import annotations

import numpy as np
import pytest

from tools.int8 import noise, study


def _logits(clear, tied, classes=50, seed=1):
    """``clear`` frames whose winner leads by 10, then ``tied`` frames with two equal best."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(0.0, 1.0, (clear + tied, classes))
    rows[:clear, 0] = rows[:clear].max(axis=1) + 10.0
    rows[clear:, :2] = rows[clear:].max(axis=1, keepdims=True) + 5.0
    return rows


def test_noise_flips_only_the_near_ties_and_fewer_as_fidelity_rises():
    # 80 clear frames never flip at 20 dB; the 20 exact ties flip about half the time
    logits = _logits(80, 20)
    runs = noise.agreement_under_noise(logits, [20.0, 60.0], trials=200)
    assert runs.shape == (2, 200)
    assert runs.min() >= 0.8 - 1e-12
    assert abs(runs[0].mean() - 0.9) < 0.02
    # an exact tie stays a coin flip at any fidelity; a small lead does not
    near = _logits(0, 100)
    near[:, 0] += 0.05
    low, high = noise.agreement_under_noise(near, [20.0, 50.0], trials=20).mean(axis=1)
    assert low < 0.9 and high == 1.0


def test_fidelity_needed_is_the_first_grid_point_meeting_the_target():
    logits = _logits(0, 200)
    logits[:, 0] += np.linspace(0.01, 1.0, 200)      # leads from tiny to clear
    grid = np.arange(10.0, 60.01, 2.0)
    need = noise.fidelity_needed(logits, 0.98, grid=grid, trials=50)
    runs = noise.agreement_under_noise(logits, grid, trials=50)
    i = list(grid).index(need['expected'])
    assert runs[i].mean() >= 0.98 - 1e-9 and runs[i - 1].mean() < 0.98
    assert need['reliable'] >= need['expected']
    # with exact ties in 5 % of the frames, 98 % is out of reach at any fidelity
    tied = noise.fidelity_needed(_logits(95, 5), 0.98, grid=grid, trials=50)
    assert tied['reliable'] is None
    with pytest.raises(ValueError):
        noise.agreement_under_noise(np.zeros(10), [30.0])


def test_study_renders_the_noise_model_tables():
    report = {'frames': 156, 'trials': 100,
              'logit_gap_below': {'0.01': 2, '0.05': 6, '0.1': 15},
              'grid': [{'sqnr_db': 28.0, 'expected': 0.971, 'p_98': 0.25, 'p_99': 0.01}],
              'needed': {'0.98': {'expected': 32.0, 'reliable': 35.5},
                         '0.99': {'expected': 38.5, 'reliable': None}},
              'measured': [{'tag': 'infer_percentile', 'layout': 'onnxruntime',
                            'sqnr_db': 22.93, 'top1_agreement': 0.942, 'expected': 0.952}]}
    text = study.fidelity_table(report)
    assert '| 28 | 97.1% | 25.0% | 1.0% |' in text
    assert '98 % needs 32 dB on average and 35.5 dB for 9 runs in 10' in text
    assert "99 % (the gate's default) 38.5 dB / > 60 dB" in text
    assert '| infer_percentile | onnxruntime | 22.93 | 94.2% | 95.2% |' in text
