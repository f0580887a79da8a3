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
Hand-over of frames from the subscription callback to the inference worker.

A camera node must answer the newest frame, not work through a backlog: LatestFrameSlot
keeps one frame, and a newer frame replaces one not yet started (counted as a stale
drop), so latency stays bounded at any input rate. Bag replay for regression testing
needs the opposite, every frame in order: FrameQueue, bounded so a runaway publisher
cannot exhaust memory (overflow is counted, never silent).
"""

from __future__ import annotations

import collections
import threading
from typing import Any, Callable, Deque, Optional


class LatestFrameSlot:
    """Holds at most one pending frame; put() replaces it and reports the replacement."""

    def __init__(self, on_drop: Optional[Callable[[str, Any], None]] = None) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._has_item = False
        self._closed = False
        self._on_drop = on_drop

    def put(self, item: Any) -> bool:
        """Store ``item``; returns True if it replaced a frame that was never started."""
        with self._cond:
            if self._closed:
                if self._on_drop:
                    self._on_drop('inactive', item)
                return False
            replaced = self._has_item
            old = self._item
            self._item = item
            self._has_item = True
            self._cond.notify()
        if replaced and self._on_drop:
            self._on_drop('stale', old)
        return replaced

    def get(self, timeout: Optional[float] = None) -> Any:
        """Take the pending frame, waiting up to ``timeout``; None when empty or closed."""
        with self._cond:
            if not self._has_item and not self._closed:
                self._cond.wait(timeout)
            if not self._has_item:
                return None
            item = self._item
            self._item = None
            self._has_item = False
            return item

    def __len__(self) -> int:
        with self._cond:
            return 1 if self._has_item else 0

    def close(self) -> None:
        """Wake the worker; a frame still pending is counted as dropped (inactive)."""
        with self._cond:
            self._closed = True
            old, had = self._item, self._has_item
            self._item, self._has_item = None, False
            self._cond.notify_all()
        if had and self._on_drop:
            self._on_drop('inactive', old)

    def reopen(self) -> None:
        with self._cond:
            self._closed = False


class FrameQueue:
    """Every frame in arrival order, up to ``maxlen`` waiting; overflow is counted."""

    def __init__(self, maxlen: int, on_drop: Optional[Callable[[str, Any], None]] = None) -> None:
        self._cond = threading.Condition()
        self._items: Deque[Any] = collections.deque()
        self._maxlen = maxlen
        self._closed = False
        self._on_drop = on_drop

    def put(self, item: Any) -> bool:
        with self._cond:
            if self._closed:
                dropped, reason = True, 'inactive'
            elif len(self._items) >= self._maxlen:
                dropped, reason = True, 'queue_full'
            else:
                self._items.append(item)
                self._cond.notify()
                return False
        if dropped and self._on_drop:
            self._on_drop(reason, item)
        return dropped

    def get(self, timeout: Optional[float] = None) -> Any:
        with self._cond:
            if not self._items and not self._closed:
                self._cond.wait(timeout)
            if not self._items:
                return None
            return self._items.popleft()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def close(self) -> None:
        """Stop accepting; frames still queued are left for the worker to drain."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def drain_dropped(self) -> int:
        """Discard what is still queued (cleanup), counting each as dropped (inactive)."""
        with self._cond:
            items = list(self._items)
            self._items.clear()
        if self._on_drop:
            for item in items:
                self._on_drop('inactive', item)
        return len(items)

    def reopen(self) -> None:
        with self._cond:
            self._closed = False
