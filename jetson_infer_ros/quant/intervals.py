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
How sure an evaluation is: confidence intervals for the numbers the INT8 gate reads.

Two frames that agree are 100 % agreement; so are two thousand. The gate judges the
worse end of a 95 % interval instead of the point value, so that a small evaluation
cannot pass on luck:

- a proportion (agreement, accuracy): the Wilson score interval, right near 0 and 1
  where the normal approximation collapses to a point;
- the drop between two accuracies measured on the *same* frames: Newcombe's hybrid
  score interval for paired proportions (method 10, Newcombe 1998), built from the two
  Wilson intervals and the correlation of the paired answers. With no discordant frame
  it still has width (200 frames all agreeing: about +-1.3 points), as it must: a
  bootstrap would say [0, 0] there;
- mAP, which has no closed form: a paired bootstrap over images (the same resampled
  images score both models).
"""

from __future__ import annotations

import math
from typing import Callable, List, Optional, Sequence, Tuple, Union

import numpy as np

CONFIDENCE = 0.95
Z = 1.959963984540054
"""Two-sided 95 % normal quantile."""

BOOTSTRAP_SAMPLES = 1000
BOOTSTRAP_SEED = 0

Interval = Tuple[float, float]


def wilson(successes: int, n: int, z: float = Z) -> Optional[Interval]:
    """Wilson score interval of ``successes / n``; None for n == 0."""
    if n <= 0:
        return None
    p = successes / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def paired_difference(ref_right: Union[Sequence[bool], np.ndarray],
                      test_right: Union[Sequence[bool], np.ndarray],
                      z: float = Z) -> Optional[Tuple[float, Interval]]:
    """
    Return reference minus test accuracy on the same frames, with Newcombe's interval.

    Returns (difference, (low, high)) as fractions; None without frames.
    """
    r = np.asarray(ref_right, bool)
    t = np.asarray(test_right, bool)
    n = len(r)
    if n == 0:
        return None
    a = int(np.sum(r & t))
    b = int(np.sum(r & ~t))
    c = int(np.sum(~r & t))
    d = n - a - b - c
    p1, p2 = (a + b) / n, (a + c) / n
    w1, w2 = wilson(a + b, n, z), wilson(a + c, n, z)
    assert w1 is not None and w2 is not None
    (l1, u1), (l2, u2) = w1, w2
    denom = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(denom) if denom > 0 else (1.0 if b == c == 0 else 0.0)
    delta = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2)
                          + (u2 - p2) ** 2))
    epsilon = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2)
                            + (p2 - l2) ** 2))
    diff = p1 - p2
    return diff, (max(-1.0, diff - delta), min(1.0, diff + epsilon))


def bootstrap(statistic: Callable[[np.ndarray], Sequence[float]], n: int,
              samples: int = BOOTSTRAP_SAMPLES, seed: int = BOOTSTRAP_SEED
              ) -> List[Interval]:
    """
    Percentile intervals of each value ``statistic(indices)`` returns, over resamples.

    ``statistic`` gets an index array (n draws with replacement from range(n)) and
    returns a fixed-length sequence of numbers (e.g. mAP FP32, mAP INT8, their drop),
    each computed on the same resampled items, so paired differences stay paired.
    """
    rng = np.random.default_rng(seed)
    values = np.array([list(statistic(rng.integers(0, n, n))) for _ in range(samples)],
                      dtype=np.float64)
    alpha = (1.0 - CONFIDENCE) / 2.0
    lo = np.nanquantile(values, alpha, axis=0)
    hi = np.nanquantile(values, 1.0 - alpha, axis=0)
    return [(float(a), float(b)) for a, b in zip(lo, hi)]


def rounded(interval: Optional[Interval], digits: int = 4) -> Optional[List[float]]:
    """JSON form of an interval: [low, high] rounded, or None."""
    if interval is None:
        return None
    return [round(float(interval[0]), digits), round(float(interval[1]), digits)]
