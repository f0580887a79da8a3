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
The noise model of top-1 agreement: what output SQNR an agreement threshold needs.

A docs tool (docs/int8.md, "How much fidelity 98 % agreement needs"), not part of the
runtime package: the INT8 gate now judges accuracy against ground truth with intervals
(``jetson_infer_ros.quant.intervals``); this model explained why agreement on near-tie
frames could not be the criterion.
"""

from __future__ import annotations

from typing import Dict, Optional, Sequence, Union

import numpy as np


def agreement_under_noise(reference: np.ndarray, sqnr_db: Union[Sequence[float], np.ndarray],
                          trials: int = 100, seed: int = 0) -> np.ndarray:
    """
    Top-1 agreement of ``reference`` logits with themselves plus i.i.d. Gaussian noise.

    An INT8 model's logits are the FP32 logits plus an error whose power the output SQNR
    measures; on frames whose two best classes nearly tie, any error of that size flips
    some answers. Modelling the error as independent noise of the same power says how
    many flips a given fidelity costs on *these* frames, and so what SQNR a top-1
    agreement threshold needs. Real quantization error is correlated across classes and
    frames, yet the measured artefacts land around this model's prediction, more often
    below it than above (docs/int8.md): the fidelity it asks for is, if anything, too low.

    Returns a (len(sqnr_db), trials) array of agreements. Every SQNR uses the same noise
    draws, scaled, so the rows differ by fidelity alone.
    """
    ref = np.asarray(reference, dtype=np.float64)
    if ref.ndim != 2 or ref.shape[1] < 2:
        raise ValueError(f'reference logits must be (frames, classes >= 2), got {ref.shape}')
    power = float(np.mean(np.square(ref)))
    sigmas = np.sqrt(power * 10.0 ** (-np.asarray(sqnr_db, dtype=np.float64) / 10.0))
    winners = ref.argmax(axis=1)
    rng = np.random.default_rng(seed)
    out = np.empty((len(sigmas), trials))
    for t in range(trials):
        noise = rng.standard_normal(ref.shape)
        for i, sigma in enumerate(sigmas):
            out[i, t] = np.mean((ref + sigma * noise).argmax(axis=1) == winners)
    return out


NEEDED_GRID = tuple(float(db) for db in np.arange(10.0, 60.01, 0.5))
"""Output SQNRs (dB) ``fidelity_needed`` searches by default."""


def meets(runs: np.ndarray, agreement: float) -> np.ndarray:
    """Which agreements reach ``agreement`` (49/50 is 0.98 even where float says 0.97999...)."""
    return np.asarray(runs) >= agreement - 1e-9


def thresholds_met(runs: np.ndarray, sqnr_db: Sequence[float], agreement: float,
                   confidence: float = 0.9) -> Dict[str, Optional[float]]:
    """
    Lowest of ascending ``sqnr_db`` whose ``agreement_under_noise`` rows meet ``agreement``.

    ``expected``: the mean agreement over the trials reaches it; ``reliable``: at least
    ``confidence`` of the trials reach it (one evaluation run passes that often). None
    where no SQNR does.
    """
    def first(mask: np.ndarray) -> Optional[float]:
        hits = np.nonzero(mask)[0]
        return float(sqnr_db[hits[0]]) if len(hits) else None
    return {'expected': first(meets(np.mean(runs, axis=1), agreement)),
            'reliable': first(meets(runs, agreement).mean(axis=1) >= confidence)}


def fidelity_needed(reference: np.ndarray, agreement: float, confidence: float = 0.9,
                    grid: Optional[Sequence[float]] = None, trials: int = 100,
                    seed: int = 0) -> Dict[str, Optional[float]]:
    """Lowest output SQNR (dB, on ``grid``) at which the noise model meets ``agreement``."""
    dbs = list(NEEDED_GRID if grid is None else grid)
    return thresholds_met(agreement_under_noise(reference, dbs, trials, seed), dbs,
                          agreement, confidence)
