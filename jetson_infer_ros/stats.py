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
Per-stage latency and per-reason drop counters, cheap enough to leave on in production.

Each stage keeps its last N durations in a preallocated ring (no per-frame allocation);
percentiles are computed only when diagnostics or a benchmark ask. The same numbers
feed /diagnostics and `jetson-infer bench`, so what is benchmarked is what runs.
"""

from __future__ import annotations

import threading
import time
from typing import Dict, Iterable, List, Optional

import numpy as np

STAGES = ('convert', 'preprocess', 'infer', 'postprocess', 'message', 'publish', 'total',
          'latency')
DROP_REASONS = ('stale', 'queue_full', 'inactive', 'bad_encoding', 'bad_size', 'bad_step',
                'bad_length', 'bad_endian', 'truncated', 'decode_error', 'bad_format',
                'inference_error')


class Ring:
    """Fixed-size ring of float64 samples (milliseconds)."""

    def __init__(self, size: int = 2048) -> None:
        self._data = np.zeros(size, dtype=np.float64)
        self._n = 0

    def add(self, value: float) -> None:
        self._data[self._n % self._data.shape[0]] = value
        self._n += 1

    def values(self) -> np.ndarray:
        n = min(self._n, self._data.shape[0])
        return self._data[:n].copy()

    @property
    def count(self) -> int:
        return self._n

    def clear(self) -> None:
        self._n = 0


class PipelineStats:
    """Stage timings, frame counts and drop counters of one input (or the whole node)."""

    def __init__(self, window: int = 2048, stages: Iterable[str] = STAGES) -> None:
        self._lock = threading.Lock()
        self.rings: Dict[str, Ring] = {s: Ring(window) for s in stages}
        self.drops: Dict[str, int] = dict.fromkeys(DROP_REASONS, 0)
        self.received = 0
        self.taken = 0               # received frames copied out of the middleware
        self.processed = 0
        self.published = 0
        self.lost_in_transport = 0   # never reached us: dropped inside the middleware
        self._rate_marks: List[tuple] = []

    def record(self, stage: str, ms: float) -> None:
        ring = self.rings.get(stage)
        if ring is None:
            with self._lock:
                ring = self.rings.setdefault(stage, Ring())
        ring.add(ms)

    def drop(self, reason: str, count: int = 1) -> None:
        with self._lock:
            self.drops[reason] = self.drops.get(reason, 0) + count

    def count_received(self, count: int = 1, taken: bool = True) -> None:
        """Count frames that reached us; ``taken=False``: left in the middleware unread."""
        with self._lock:
            self.received += count
            if taken:
                self.taken += count

    def count_lost(self, count: int) -> None:
        with self._lock:
            self.lost_in_transport += count

    def count_processed(self, published: bool = True) -> None:
        with self._lock:
            self.processed += 1
            if published:
                self.published += 1

    @property
    def dropped(self) -> int:
        with self._lock:
            return sum(self.drops.values())

    def percentiles(self, stage: str, qs=(50, 90, 99)) -> Dict[str, float]:
        ring = self.rings.get(stage)
        values = ring.values() if ring is not None else np.empty(0)
        if values.size == 0:
            return {f'p{q}': float('nan') for q in qs}
        pct = np.percentile(values, qs)
        return {f'p{q}': float(v) for q, v in zip(qs, pct)}

    def snapshot(self) -> Dict[str, object]:
        with self._lock:
            counts = {'received': self.received, 'taken': self.taken,
                      'processed': self.processed,
                      'published': self.published, 'drops': dict(self.drops),
                      'lost_in_transport': self.lost_in_transport}
        counts['stages_ms'] = {s: self.percentiles(s) for s in self.rings
                               if self.rings[s].count}
        return counts

    def clear_window(self) -> None:
        for ring in self.rings.values():
            ring.clear()


class RateMeter:
    """Events per second over the interval since the previous reading."""

    def __init__(self) -> None:
        self._last_count = 0
        self._last_time: Optional[float] = None

    def rate(self, count: int, now: Optional[float] = None) -> float:
        now = time.monotonic() if now is None else now
        if self._last_time is None:
            self._last_time, self._last_count = now, count
            return float('nan')
        dt = now - self._last_time
        r = (count - self._last_count) / dt if dt > 0 else float('nan')
        self._last_time, self._last_count = now, count
        return r


class StageTimer:
    """``with timer('preprocess'):`` records the block's wall time into stats, in ms."""

    __slots__ = ('_stats', '_stage', '_t0')

    def __init__(self, stats: PipelineStats) -> None:
        self._stats = stats
        self._stage = ''
        self._t0 = 0.0

    def __call__(self, stage: str) -> 'StageTimer':
        self._stage = stage
        return self

    def __enter__(self) -> 'StageTimer':
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self._stats.record(self._stage, (time.perf_counter() - self._t0) * 1e3)
