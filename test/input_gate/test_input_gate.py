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

"""Frames left in the middleware while the worker is busy are skipped, and counted."""

from __future__ import annotations

import time

import pytest

from jetson_infer_ros.input_gate import (publisher_ids_supported, PublisherSequences,
                                         TakeGate)

CAMERA = {'implementation_identifier': 'rmw_fastrtps_cpp', 'data': b'\x01' * 16}
OTHER = {'implementation_identifier': 'rmw_fastrtps_cpp', 'data': b'\x02' * 16}


def info(seq, gid=CAMERA):
    return {'source_timestamp': 0, 'received_timestamp': 0,
            'publication_sequence_number': seq, 'reception_sequence_number': None,
            'publisher_gid': gid}


def test_gaps_in_a_publishers_sequence_are_the_skipped_frames():
    seqs = PublisherSequences()
    assert seqs.skipped(info(7)) == 0        # first sample: nothing known before it
    assert seqs.skipped(info(8)) == 0
    assert seqs.skipped(info(12)) == 3
    assert seqs.skipped(info(13)) == 0
    assert seqs.counting


def test_each_publisher_is_counted_on_its_own():
    seqs = PublisherSequences()
    assert [seqs.skipped(info(s, g)) for s, g in
            ((1, CAMERA), (100, OTHER), (2, CAMERA), (105, OTHER), (6, CAMERA))] == \
        [0, 0, 0, 4, 3]


def test_a_restarted_publisher_starts_a_new_count():
    seqs = PublisherSequences()
    seqs.skipped(info(50))
    assert seqs.skipped(info(1)) == 0        # same id, numbering started again
    assert seqs.skipped(info(4)) == 2


def test_frames_reported_lost_in_transport_are_not_counted_twice():
    seqs = PublisherSequences()
    seqs.skipped(info(1))
    seqs.note_lost(2)
    assert seqs.skipped(info(7)) == 3        # 5 missing, 2 of them lost on the way
    seqs.note_lost(4)
    assert seqs.skipped(info(8)) == 0        # a loss report with no gap is not kept ...
    assert seqs.skipped(info(10)) == 1       # ... to swallow a later, real skip


def test_without_sequence_numbers_or_publisher_ids_counting_stops():
    for missing in (info(None), info(3, gid=None), {}, None):
        seqs = PublisherSequences()
        assert seqs.skipped(missing) == 0
        assert not seqs.counting
        assert seqs.why_not


def test_without_publisher_ids_a_sole_publisher_is_still_counted():
    """Jazzy: sequence numbers but no publisher_gid; one publisher makes them usable."""
    publishers = [1]
    seqs = PublisherSequences()
    skipped = [seqs.skipped(info(s, gid=None), lambda: publishers[0]) for s in (5, 6, 9)]
    assert skipped == [0, 0, 2] and seqs.counting
    publishers[0] = 0                          # it left; its last samples are still its own
    assert seqs.skipped(info(12, gid=None), lambda: publishers[0]) == 2
    publishers[0] = 2                          # a second camera: numbers unattributable
    assert seqs.skipped(info(20, gid=None), lambda: publishers[0]) == 0
    assert not seqs.counting and 'more than one publisher' in seqs.why_not
    assert PublisherSequences().skipped(info(3, gid=None)) == 0   # no count to ask: off


def test_publishers_remembered_are_bounded():
    seqs = PublisherSequences(max_publishers=2)
    gids = [{'implementation_identifier': 'x', 'data': bytes([k]) * 16} for k in range(3)]
    for g in gids:
        seqs.skipped(info(10, g))
    assert seqs.skipped(info(12, gids[2])) == 1
    assert seqs.skipped(info(20, gids[0])) == 0   # forgotten: a new count, not a gap of 9
    assert seqs.skipped(info(13, gids[2])) == 0


def _shut_gate_scenario():
    """Publish while the gate is shut, then open it: what the subscription was given."""
    import rclpy
    from rclpy.context import Context
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from std_msgs.msg import String

    ctx = Context()
    rclpy.init(context=ctx)
    try:
        node = rclpy.create_node('input_gate_test', context=ctx)
        executor = SingleThreadedExecutor(context=ctx)
        executor.add_node(node)
        is_open = [True]
        got = []
        qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)   # keep last 1
        node.create_subscription(String, 'gate_test', lambda m, i: got.append((m.data, i)),
                                 qos, callback_group=TakeGate(lambda: is_open[0]))
        pub = node.create_publisher(String, 'gate_test', QoSProfile(
            depth=10, reliability=ReliabilityPolicy.RELIABLE))
        deadline = time.monotonic() + 10
        while pub.get_subscription_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.01)

        def spin_until(count, timeout):
            end = time.monotonic() + timeout
            while len(got) < count and time.monotonic() < end:
                executor.spin_once(timeout_sec=0.05)

        pub.publish(String(data='0'))
        spin_until(1, 5.0)
        is_open[0] = False
        for k in range(1, 6):
            pub.publish(String(data=str(k)))
        spin_until(2, 0.5)
        while_shut = len(got)
        is_open[0] = True
        executor.wake()
        spin_until(2, 5.0)
        time.sleep(0.1)
        spin_until(3, 0.3)
        executor.shutdown()
        node.destroy_node()
        return while_shut, got
    finally:
        rclpy.shutdown(context=ctx)


@pytest.mark.ros
def test_a_shut_gate_leaves_samples_in_the_middleware_until_it_opens(in_fresh_process):
    while_shut, got = in_fresh_process(_shut_gate_scenario)
    assert while_shut == 1                    # shut: nothing was taken
    assert [g[0] for g in got] == ['0', '5']  # only the newest, and only once
    seqs = PublisherSequences()
    skipped = [seqs.skipped(i, lambda: 1) for _, i in got]   # the scenario's one publisher
    assert skipped == [0, 4]                  # the publisher's numbers show the four
    assert seqs.counting                      # frames left behind
    if not publisher_ids_supported():         # Jazzy: no publisher id, so with a second
        assert 'publisher_gid' not in got[0][1]              # publisher the node keeps
        assert PublisherSequences().skipped(got[1][1], lambda: 2) == 0   # its gate open
