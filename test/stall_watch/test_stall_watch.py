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
"""The stall rule on made-up sequence numbers: what counts as stalled, what is lost."""

from __future__ import annotations

from jetson_infer_ros.input_gate import PublisherSequences
from jetson_infer_ros.stall_watch import StallWatch

CAMERA = {'implementation_identifier': 'rmw_fastrtps_cpp', 'data': b'\x01' * 16}
OTHER = {'implementation_identifier': 'rmw_fastrtps_cpp', 'data': b'\x02' * 16}


def info(seq, gid=CAMERA):
    return {'publication_sequence_number': seq, 'publisher_gid': gid}


def test_a_publisher_ahead_for_stall_after_seconds_is_stalled():
    w = StallWatch(stall_after=5.0)
    w.on_delivered(info(1))
    w.on_delivered(info(2))
    w.on_probe(info(6))                    # sent up to 6; 3 was the zero-length sample
    assert w.check(10.0, True) == []       # ahead since 10.0
    assert w.check(14.9, True) == []
    [stall] = w.check(15.0, True)
    assert (stall.delivered, stall.seen, stall.missing) == (2, 6, 4)
    assert w.recovered([stall], 15.0) == 4
    assert (w.stalls, w.lost) == (1, 4)
    assert 'nothing arrived after sample 2' in w.warning(16.0)
    assert w.warning(15.0 + 61.0) == ''    # reported for a minute, counted for good
    assert w.check(30.0, True) == []       # counted up to 6: no second stall


def test_a_slow_but_moving_subscription_is_not_stalled():
    w = StallWatch(stall_after=5.0)
    t = 0.0
    for seq in range(1, 200):              # the probe always a few samples ahead
        w.on_probe(info(seq + 5))
        if seq % 3 == 0:
            w.on_delivered(info(seq))
        t += 0.5
        assert w.check(t, True) == []


def test_time_without_room_in_the_node_does_not_count():
    """Samples waiting in the middleware while the worker is busy are no stall."""
    w = StallWatch(stall_after=5.0)
    w.on_delivered(info(1))
    w.on_probe(info(40))
    for t in range(0, 60):                 # the node never had room: never stalled
        assert w.check(float(t), could_take=t % 10 == 9) == []


def test_a_best_effort_publisher_never_delivered_is_not_a_stall():
    w = StallWatch(stall_after=1.0)
    w.on_delivered(info(3))
    w.on_probe(info(500, OTHER))           # reaches the probe, can never reach us
    reliable = {}
    for t in range(10):
        assert w.check(float(t), True, lambda key: reliable.get(key, False)) == []
    # a reliable publisher first seen by the probe: stalled from its first sample on
    assert w.check(20.0, True, lambda key: True) == []
    [stall] = w.check(21.0, True, lambda key: True)
    assert stall.seen == 500 and stall.delivered == 499     # first seen - 1


def test_losses_around_the_recreation_are_counted_once():
    """
    Count what the probe saw at the re-creation, then what was sent while re-matching.

    The publisher's gap is then fully claimed, so PublisherSequences counts none of it
    again as skipped.
    """
    w, seqs = StallWatch(stall_after=1.0), PublisherSequences()
    for seq in (1, 2):
        w.on_delivered(info(seq))
        assert seqs.skipped(info(seq)) == 0
    w.on_probe(info(6))
    w.check(0.0, True)
    assert w.recovered(w.check(1.0, True), 1.0) == 4          # 3, 4, 5, 6
    lost, claimed = w.on_delivered(info(9))                   # 7, 8 sent meanwhile
    assert (lost, claimed) == (2, 6)
    seqs.note_lost(claimed)
    assert seqs.skipped(info(9)) == 0
    assert w.lost == 6
    assert w.on_delivered(info(10)) == (0, 0)


def test_publishers_are_remembered_in_bounded_number():
    w = StallWatch()
    for n in range(1000):
        gid = {'implementation_identifier': 'x', 'data': n.to_bytes(16, 'big')}
        w.on_probe(info(1, gid))
        w.on_delivered(info(1, gid))
    assert len(w._seen) <= 32 and len(w._delivered) <= 32


def test_samples_without_sequence_numbers_are_ignored():
    w = StallWatch(stall_after=0.0)
    w.on_probe({'publication_sequence_number': None, 'publisher_gid': CAMERA})
    assert w.on_delivered(None) == (0, 0)
    assert w.check(1.0, True) == []


def jazzy(seq):
    """Jazzy's MessageInfo: a sequence number, no publisher id."""
    return {'publication_sequence_number': seq, 'publisher_gid': None}


def test_without_publisher_ids_the_one_publisher_of_the_topic_is_watched():
    w = StallWatch(stall_after=5.0, publishers=lambda: 1)
    w.on_delivered(jazzy(1))
    w.on_delivered(jazzy(2))
    w.on_probe(jazzy(6))
    assert w.check(10.0, True) == []
    [stall] = w.check(15.0, True)
    assert (stall.delivered, stall.seen) == (2, 6)
    assert w.recovered([stall], 15.0) == 4
    assert w.on_delivered(jazzy(9)) == (2, 6)     # 7, 8 sent while re-matching


def test_without_publisher_ids_a_second_publisher_is_not_attributed():
    count = [1]
    w = StallWatch(stall_after=1.0, publishers=lambda: count[0])
    w.on_delivered(jazzy(5))
    count[0] = 2                         # whose number is 900? unknowable: ignored
    w.on_probe(jazzy(900))
    assert [w.check(float(t), True) for t in range(5)] == [[]] * 5
    assert StallWatch(publishers=None).on_delivered(jazzy(3)) == (0, 0)


def test_without_publisher_ids_numbers_going_back_are_a_new_publisher_not_a_stall():
    """A camera driver restarted on Jazzy: its numbers start again from 1."""
    w = StallWatch(stall_after=1.0, publishers=lambda: 1)
    w.on_delivered(jazzy(400))
    w.on_probe(jazzy(400))
    w.on_probe(jazzy(3))                 # the new driver's third sample
    w.on_delivered(jazzy(3))
    assert [w.check(float(t), True) for t in range(5)] == [[]] * 5
    w.on_probe(jazzy(9))                 # and the new one can stall like any other
    w.check(10.0, True)
    [stall] = w.check(11.0, True)
    assert (stall.delivered, stall.seen) == (3, 9)
