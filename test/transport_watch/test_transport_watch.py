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
    watch = TransportWatch(environ={})
    said = []
    for second in range(1, 20):
        _feed(watch, (second - 1) * 30, 30)
        said.append(watch.diagnosis(3.0 * second))
    assert said == [''] * len(said) and watch.warned == ''


def test_nothing_ever_arrives_but_losses_are_reported_names_the_shm_segment():
    """The CI picture with Fast DDS defaults: every 921 KB sample is lost."""
    watch = TransportWatch(environ={})
    watch.diagnosis(3.0)                        # opens the first window
    watch.lost = 90
    assert watch.diagnosis(6.0) == ''           # one check is only a suspicion
    watch.lost = 180
    line = watch.diagnosis(9.0)
    assert line.startswith('input starving: 0.0 Hz received')
    assert '90 samples reported lost' in line
    assert '512 KB' in line and 'fastdds_large_data.xml' in line
    assert watch.diagnosis(12.0) == ''          # said once


def test_frames_over_the_segment_arriving_thinly_name_their_size():
    watch = TransportWatch(environ={})
    _feed(watch, 0, 90, every=3)
    watch.diagnosis(3.0)
    _feed(watch, 90, 90, every=10)
    watch.diagnosis(6.0)
    _feed(watch, 180, 90, every=10)
    line = watch.diagnosis(9.0)
    assert 'input starving' in line and 'frames of 900 KB exceed' in line
    assert 'fastdds_large_data.xml' in line


def test_with_a_profile_set_the_cause_is_the_node_or_network_not_the_segment():
    watch = TransportWatch(environ={'FASTDDS_DEFAULT_PROFILES_FILE': '/x.xml'})
    watch.diagnosis(3.0)
    watch.lost = 90
    watch.diagnosis(6.0)
    watch.lost = 180
    line = watch.diagnosis(9.0)
    assert 'a middleware profile is set' in line and '512 KB' not in line


def test_small_frames_lost_get_no_segment_advice():
    watch = TransportWatch(environ={})
    _feed(watch, 0, 90, nbytes=100_000)
    watch.diagnosis(3.0)
    for t, lost in ((6.0, 200), (9.0, 400)):
        _feed(watch, int(t) * 30, 10, nbytes=100_000)
        watch.lost = lost
        line = watch.diagnosis(t)
    assert 'input starving' in line and 'KB' not in line.split('lost', 1)[1]


def test_lossless_replay_is_never_starvation():
    watch = TransportWatch(environ={})
    watch.disabled = True
    watch.lost = 1000
    assert _checks(watch, [1.0, 4.0, 7.0, 10.0]) == [''] * 4
