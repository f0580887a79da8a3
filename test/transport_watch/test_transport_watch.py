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

"""The starvation rule on made-up arrivals: which evidence warns, and which cause it names."""

from __future__ import annotations

from jetson_infer_ros.transport_watch import TransportWatch

FRAME_640x480_RGB = 640 * 480 * 3
PERIOD_NS = 33_333_333          # a 30 Hz camera


def _feed(watch, first, count, every=1, nbytes=FRAME_640x480_RGB):
    """Deliver frames first..first+count-1 of a 30 Hz camera, keeping one in ``every``."""
    for i in range(first, first + count):
        if i % every == 0:
            watch.on_frame(i * PERIOD_NS, nbytes)


def _checks(watch, times):
    return [watch.diagnosis(t) for t in times]


def test_a_healthy_stream_never_warns():
    watch = TransportWatch()
    said = []
    for second in range(1, 20):
        _feed(watch, (second - 1) * 30, 30)
        said.append(watch.diagnosis(3.0 * second))
    assert said == [''] * len(said) and watch.warned == ''


def test_nothing_ever_arrives_but_losses_are_reported_names_the_shm_segment():
    """The CI picture with Fast DDS defaults: every 921 KB sample is lost."""
    watch = TransportWatch()
    watch.diagnosis(3.0)                        # opens the first window
    watch.lost = 90
    assert watch.diagnosis(6.0) == ''           # one check is only a suspicion
    watch.lost = 180
    line = watch.diagnosis(9.0)
    assert line.startswith('input starving: 0.0 Hz received')
    assert '90 samples reported lost' in line
    assert '512 KB' in line and 'fastdds_large_data.xml' in line
    assert watch.diagnosis(12.0) == ''          # said once


def test_frames_over_the_segment_lost_in_transport_name_the_senders_segment(monkeypatch):
    """
    The issue's picture: 768x576 frames, a few arrive, most are reported lost.

    The node runs with a Fast DDS profile of its own (the launch file always gives it
    one); that must not turn the diagnosis into "this node is slow": the segment that
    matters is the camera's.
    """
    monkeypatch.setenv('FASTDDS_DEFAULT_PROFILES_FILE', '/share/config/fastdds_node.xml')
    watch = TransportWatch()
    frame = 768 * 576 * 3
    _feed(watch, 0, 90, every=3, nbytes=frame)
    watch.diagnosis(3.0)
    _feed(watch, 90, 90, every=15, nbytes=frame)
    watch.lost = 84
    watch.diagnosis(6.0)
    _feed(watch, 180, 90, every=15, nbytes=frame)
    watch.lost = 168
    line = watch.diagnosis(9.0)
    assert 'input starving' in line and '84 samples reported lost' in line
    assert "frames of 1296 KB exceed Fast DDS's default 512 KB" in line
    assert "sender's segment" in line and 'fastdds_large_data.xml' in line
    assert 'this node is not taking' not in line


def test_large_frames_arriving_thinly_without_losses_name_both_causes():
    watch = TransportWatch()
    _feed(watch, 0, 90, every=3)
    watch.diagnosis(3.0)
    _feed(watch, 90, 90, every=10)
    watch.diagnosis(6.0)
    _feed(watch, 180, 90, every=10)
    line = watch.diagnosis(9.0)
    assert 'input starving' in line and 'none reported lost' in line
    assert 'not taking frames' in line and 'frames of 900 KB' in line
    assert 'fastdds_large_data.xml' in line


def test_small_frames_left_unread_blame_this_node_not_the_transport():
    watch = TransportWatch()
    _feed(watch, 0, 90, every=3, nbytes=100_000)
    watch.diagnosis(3.0)
    _feed(watch, 90, 90, every=10, nbytes=100_000)
    watch.diagnosis(6.0)
    _feed(watch, 180, 90, every=10, nbytes=100_000)
    line = watch.diagnosis(9.0)
    assert 'input starving' in line and 'not taking them as fast as they arrive' in line
    assert '512 KB' not in line


def test_small_frames_lost_get_no_segment_advice():
    watch = TransportWatch()
    _feed(watch, 0, 90, nbytes=100_000)
    watch.diagnosis(3.0)
    for t, lost in ((6.0, 200), (9.0, 400)):
        _feed(watch, int(t) * 30, 10, nbytes=100_000)
        watch.lost = lost
        line = watch.diagnosis(t)
    assert 'input starving' in line and 'KB' not in line.split('lost', 1)[1]


def test_lossless_replay_is_never_starvation():
    watch = TransportWatch()
    watch.disabled = True
    watch.lost = 1000
    assert _checks(watch, [1.0, 4.0, 7.0, 10.0]) == [''] * 4
