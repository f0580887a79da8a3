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
Percentile summaries of timing samples, the one way every bench section reports them.

Every number in the report is a summary of raw samples (milliseconds) made here, so
p50/p90/p99 mean the same thing in every table: NumPy's linear-interpolation percentile
over all samples kept after warm-up.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np

QUANTILES = (50, 90, 99)


def summarize(samples: Iterable[float]) -> Dict[str, float]:
    """Return n, mean, p50, p90, p99, min and max of ``samples`` (NaN when empty)."""
    a = np.asarray(list(samples), dtype=np.float64)
    a = a[np.isfinite(a)]
    if a.size == 0:
        out = {f'p{q}': float('nan') for q in QUANTILES}
        out.update(n=0, mean=float('nan'), min=float('nan'), max=float('nan'))
        return out
    pct = np.percentile(a, QUANTILES)
    out = {f'p{q}': round(float(v), 4) for q, v in zip(QUANTILES, pct)}
    out.update(n=int(a.size), mean=round(float(a.mean()), 4), min=round(float(a.min()), 4),
               max=round(float(a.max()), 4))
    return out


def growth(samples: Sequence[float]) -> float:
    """
    Median of the last third minus median of the first third (ms): queue growth.

    A node that keeps up, or drops the frames it cannot serve, shows about 0; a queue
    that fills shows the latency it accumulated over the run.
    """
    a = np.asarray(samples, dtype=np.float64)
    if a.size < 6:
        return float('nan')
    third = a.size // 3
    return round(float(np.median(a[-third:]) - np.median(a[:third])), 4)


def mean_of(values: Iterable[Optional[float]]) -> float:
    """Mean of the finite values; NaN when there are none."""
    finite = [float(v) for v in values if v is not None and _finite(v)]
    return round(sum(finite) / len(finite), 4) if finite else float('nan')


def _finite(value: float) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def fmt_ms(value: Optional[float], digits: int = 2) -> str:
    """Format a millisecond value for a table; '-' for missing or NaN."""
    if value is None or not _finite(value):
        return '-'
    return f'{float(value):.{digits}f}'


def rounded(values: Sequence[float], digits: int = 3) -> List[float]:
    """Round raw samples for the JSON file (keeps it small, loses nothing that matters)."""
    return [round(float(v), digits) for v in values]


def phase_rows(groups: Iterable[Dict[str, Any]], phase: str,
               name: Callable[[Dict[str, Any]], str],
               row_of: Callable[[Dict[str, Any]], List[str]],
               columns: int, error_chars: int = 120) -> List[List[str]]:
    """
    Return one table row per run group of ``phase``: ``row_of(group)``, or FAILED.

    A group without runs still gets its row, with its errors, so a table never hides
    a configuration that did not run; ``columns`` is the table's width.
    """
    rows = []
    for g in groups:
        if g['phase'] != phase:
            continue
        if not g.get('runs'):
            failed = 'FAILED: ' + '; '.join(g.get('errors', []))[:error_chars]
            rows.append([name(g), g['model'], g['size'], failed] + [''] * (columns - 4))
            continue
        rows.append(row_of(g))
    return rows
