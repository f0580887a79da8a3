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

"""Cross-camera batching: wait bound, fairness, one frame per camera, nothing lost."""

from __future__ import annotations

import threading
import time

import pytest

from jetson_infer_ros.batching import BatchCollector


class FakeClock:

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_single_camera_behaves_like_a_latest_frame_slot():
    drops = []
    c = BatchCollector(1, on_drop=lambda cam, r, f: drops.append((cam, r, f)))
    c.put(0, 'a')
    c.put(0, 'b')
    assert c.collect(0) == [(0, 'b')]
    assert drops == [(0, 'stale', 'a')]
    assert c.collect(0.01) == []


def test_full_batch_closes_at_once_and_takes_one_frame_per_camera():
    c = BatchCollector(3, max_batch=3, max_wait=10.0)
    c.put(0, 'f0')
    c.put(1, 'f1')
    c.put(2, 'f2')
    t0 = time.monotonic()
    assert sorted(c.collect(1.0)) == [(0, 'f0'), (1, 'f1'), (2, 'f2')]
    assert time.monotonic() - t0 < 5.0   # did not sit out the 10 s wait bound


def test_a_frame_waits_at_most_max_wait_for_partners():
    clock = FakeClock()
    c = BatchCollector(2, max_batch=2, max_wait=0.05, clock=clock)
    c.put(0, 'lonely')
    result = []
    t = threading.Thread(target=lambda: result.append(c.collect(1.0)))
    t.start()
    time.sleep(0.02)
    clock.t = 0.06            # past the bound: the next wake-up must close the batch
    with c._cond:
        c._cond.notify_all()
    t.join(2.0)
    assert result == [[(0, 'lonely')]]


def test_partner_arriving_within_the_bound_joins_the_batch():
    c = BatchCollector(2, max_batch=2, max_wait=2.0)
    c.put(0, 'a')
    threading.Timer(0.05, lambda: c.put(1, 'b')).start()
    assert sorted(c.collect(1.0)) == [(0, 'a'), (1, 'b')]


def test_round_robin_fairness_when_cameras_outnumber_the_batch():
    """4 cameras, batch 2: every camera with a frame is served within 2 batches."""
    c = BatchCollector(4, max_batch=2)
    served = []
    for round_ in range(6):
        for cam in range(4):
            c.put(cam, (cam, round_))
        served.append(sorted(cam for cam, _f in c.collect(0)))
        served.append(sorted(cam for cam, _f in c.collect(0)))
    for first, second in zip(served[::2], served[1::2]):
        assert sorted(first + second) == [0, 1, 2, 3]


def test_fast_camera_cannot_starve_a_slow_one():
    drops = []
    c = BatchCollector(2, max_batch=1, on_drop=lambda cam, r, f: drops.append((cam, r)))
    slow_served = 0
    c.put(1, 'slow')
    for i in range(20):
        c.put(0, f'fast{i}')        # the fast camera publishes between every batch
        batch = c.collect(0)
        slow_served += sum(1 for cam, _f in batch if cam == 1)
        if slow_served:
            break
    assert slow_served == 1 and i <= 1
    assert all(cam == 0 for cam, _r in drops)   # only the fast camera lost frames


def test_lossless_keeps_every_frame_in_order_per_camera():
    c = BatchCollector(2, max_batch=2, lossless=True, queue_size=10)
    for i in range(5):
        c.put(0, ('a', i))
        c.put(1, ('b', i))
    got = []
    while c.pending():
        got.extend(c.collect(0))
    assert [f for cam, f in got if cam == 0] == [('a', i) for i in range(5)]
    assert [f for cam, f in got if cam == 1] == [('b', i) for i in range(5)]


def test_close_drains_then_refuses_and_discard_counts():
    drops = []
    c = BatchCollector(2, lossless=True, on_drop=lambda cam, r, f: drops.append((cam, r, f)))
    c.put(0, 'x')
    c.close()
    c.put(1, 'late')
    assert c.collect(0) == [(0, 'x')]
    assert c.collect(0) == []
    assert drops == [(1, 'inactive', 'late')]
    c2 = BatchCollector(1, lossless=True, on_drop=lambda cam, r, f: drops.append((cam, r, f)))
    c2.put(0, 'y')
    assert c2.discard_pending() == 1 and drops[-1] == (0, 'inactive', 'y')


def test_invalid_construction():
    with pytest.raises(ValueError):
        BatchCollector(0)
    with pytest.raises(ValueError):
        BatchCollector(2, max_batch=0)


def test_lossless_full_queue_blocks_the_producer_until_room():
    c = BatchCollector(1, lossless=True, queue_size=2, full_wait=5.0)
    c.put(0, 1)
    c.put(0, 2)
    done = threading.Event()
    t = threading.Thread(target=lambda: (c.put(0, 3), done.set()))
    t.start()
    assert not done.wait(0.2)           # blocked: the queue is full
    assert c.collect(0) == [(0, 1)]
    assert done.wait(2.0)               # room made: the frame went in, nothing dropped
    assert [c.collect(0), c.collect(0)] == [[(0, 2)], [(0, 3)]]


def test_lossless_full_queue_drops_only_after_full_wait():
    clock = FakeClock()
    drops = []
    c = BatchCollector(1, lossless=True, queue_size=1, full_wait=0.05, clock=clock,
                       on_drop=lambda cam, r, f: drops.append((r, f)))
    c.put(0, 'a')
    t = threading.Thread(target=lambda: c.put(0, 'b'))
    t.start()
    time.sleep(0.05)
    clock.t = 1.0
    with c._cond:
        c._cond.notify_all()
    t.join(2.0)
    assert drops == [('queue_full', 'b')]
