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
Frames of several cameras gathered into one batch for one engine.

One node serves N cameras with one engine, one CUDA context and one set of buffers:
on a Xavier NX (4 GB shared by CPU and GPU) memory runs out long before compute does
when every camera gets its own node. Each camera keeps its own hand-over slot (newest
frame, or an in-order queue in lossless mode), and the worker asks collect() for a
batch.

Batching rule: as soon as one frame is pending, the batch is closed either when every
camera that can contribute has a frame pending (up to ``max_batch``), or when the oldest
pending frame has waited ``max_wait`` seconds for partners — a frame never waits longer
than that for a batch to fill.

Fairness rule: at most one frame per camera per batch, and when more cameras have frames
than the batch holds, cameras are taken round-robin starting after the last camera
served. A camera with a pending frame is therefore served within ceil(N / max_batch)
batches, however fast the other cameras publish; a fast camera only ever replaces its
own pending frame (counted as stale), never anyone else's.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Any, Callable, Deque, List, Optional, Tuple

DropCallback = Callable[[int, str, Any], None]


class BatchCollector:
    """Per-camera hand-over slots feeding one batching worker."""

    def __init__(self, cameras: int, max_batch: int = 1, max_wait: float = 0.0,
                 lossless: bool = False, queue_size: int = 256,
                 on_drop: Optional[DropCallback] = None,
                 clock: Callable[[], float] = time.monotonic,
                 full_wait: float = 10.0) -> None:
        if cameras < 1:
            raise ValueError('at least one camera is needed')
        if max_batch < 1:
            raise ValueError(f'max_batch must be >= 1, got {max_batch}')
        self.cameras = cameras
        self.max_batch = max_batch
        self.max_wait = max(0.0, float(max_wait))
        self.lossless = lossless
        self.queue_size = queue_size
        self._cond = threading.Condition()
        # per camera: deque of (arrival time, frame); at most 1 entry unless lossless
        self._pending: List[Deque[Tuple[float, Any]]] = [
            collections.deque() for _ in range(cameras)]
        self._next = 0
        self._closed = False
        self._on_drop = on_drop
        self._clock = clock
        self.full_wait = full_wait

    # ---------------------------------------------------------------- producers
    def put(self, camera: int, frame: Any) -> bool:
        """
        Hand over a frame of ``camera``; True if something was dropped to make room.

        In lossless mode a full queue blocks the caller (the subscription callback) for up
        to ``full_wait`` seconds: the middleware's reliable history then fills and pushes
        back on the publisher, instead of frames being thrown away here. Only a consumer
        stalled for longer than that costs frames (counted as queue_full).
        """
        dropped: Optional[Tuple[str, Any]] = None
        with self._cond:
            q = self._pending[camera]
            if self.lossless and len(q) >= self.queue_size and not self._closed:
                deadline = self._clock() + self.full_wait
                while len(q) >= self.queue_size and not self._closed:
                    remaining = deadline - self._clock()
                    if remaining <= 0:
                        break
                    self._cond.wait(min(remaining, 0.5))
            if self._closed:
                dropped = ('inactive', frame)
            elif not self.lossless and q:
                dropped = ('stale', q.popleft()[1])
                q.append((self._clock(), frame))
            elif self.lossless and len(q) >= self.queue_size:
                dropped = ('queue_full', frame)
            else:
                q.append((self._clock(), frame))
            self._cond.notify()
        if dropped is not None and self._on_drop is not None:
            self._on_drop(camera, dropped[0], dropped[1])
        return dropped is not None

    # ---------------------------------------------------------------- the worker
    def collect(self, timeout: Optional[float] = None) -> List[Tuple[int, Any]]:
        """Wait for a batch: a list of (camera, frame), at most one per camera, or []."""
        with self._cond:
            if not self._any_pending():
                if self._closed:
                    return []
                self._cond.wait(timeout)
                if not self._any_pending():
                    return []
            target = min(self.max_batch, self.cameras)
            if target > 1 and self.max_wait > 0:
                deadline = self._oldest_arrival() + self.max_wait
                while self._ready_count() < target and not self._closed:
                    remaining = deadline - self._clock()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
            batch = self._take()
            self._cond.notify_all()   # room for producers blocked on a full queue
            return batch

    def _any_pending(self) -> bool:
        return any(self._pending)

    def _ready_count(self) -> int:
        return sum(1 for q in self._pending if q)

    def _oldest_arrival(self) -> float:
        return min(q[0][0] for q in self._pending if q)

    def _take(self) -> List[Tuple[int, Any]]:
        batch: List[Tuple[int, Any]] = []
        last_served = None
        for k in range(self.cameras):
            cam = (self._next + k) % self.cameras
            if self._pending[cam]:
                batch.append((cam, self._pending[cam].popleft()[1]))
                last_served = cam
                if len(batch) == self.max_batch:
                    break
        if last_served is not None:
            self._next = (last_served + 1) % self.cameras
        return batch

    def pending(self, camera: Optional[int] = None) -> int:
        with self._cond:
            if camera is not None:
                return len(self._pending[camera])
            return sum(len(q) for q in self._pending)

    # ---------------------------------------------------------------- shutdown
    def close(self) -> None:
        """Refuse new frames and wake the worker; pending frames stay to be drained."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def discard_pending(self) -> int:
        """Drop whatever is still pending (cleanup), counting each as inactive."""
        with self._cond:
            items = [(cam, f) for cam, q in enumerate(self._pending) for _, f in q]
            for q in self._pending:
                q.clear()
        if self._on_drop is not None:
            for cam, f in items:
                self._on_drop(cam, 'inactive', f)
        return len(items)
