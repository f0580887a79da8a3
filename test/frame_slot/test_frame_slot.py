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

"""Frames are handed over without loss going unnoticed: replaced or overflowing is counted."""

from __future__ import annotations

import threading

from jetson_infer_ros.frame_slot import FrameQueue, LatestFrameSlot


def test_latest_slot_keeps_only_the_newest_and_counts_replacements():
    drops = []
    slot = LatestFrameSlot(on_drop=lambda reason, item: drops.append((reason, item)))
    assert slot.get(timeout=0) is None
    assert slot.put(1) is False
    assert slot.put(2) is True
    assert slot.put(3) is True
    assert slot.get(timeout=0) == 3
    assert slot.get(timeout=0) is None
    assert drops == [('stale', 1), ('stale', 2)]


def test_latest_slot_close_counts_pending_and_later_frames():
    drops = []
    slot = LatestFrameSlot(on_drop=lambda reason, item: drops.append((reason, item)))
    slot.put('a')
    slot.close()
    slot.put('b')
    assert slot.get(timeout=0) is None
    assert drops == [('inactive', 'a'), ('inactive', 'b')]


def test_latest_slot_wakes_a_waiting_worker():
    slot = LatestFrameSlot()
    got = []
    t = threading.Thread(target=lambda: got.append(slot.get(timeout=5)))
    t.start()
    slot.put('frame')
    t.join(5)
    assert got == ['frame']


def test_queue_is_lossless_in_order_and_counts_overflow():
    drops = []
    q = FrameQueue(3, on_drop=lambda reason, item: drops.append((reason, item)))
    for i in range(5):
        q.put(i)
    assert [q.get(0) for _ in range(3)] == [0, 1, 2]
    assert drops == [('queue_full', 3), ('queue_full', 4)]
    q.put(9)
    q.close()
    assert q.get(0) == 9      # closing leaves queued frames for the worker to drain
    q.put(10)
    assert drops[-1] == ('inactive', 10)
    q.reopen()
    q.put(11)
    assert q.drain_dropped() == 1 and drops[-1] == ('inactive', 11)
