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
Replay and record between processes: timing, headers, QoS, /clock, loop, other tools' bags.

No model here: the recorder is the consumer. What a replay publishes is recorded by
`jetson-infer record` in another process and read back from its bag.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from jetson_infer_ros.bags import typestore as ts
from jetson_infer_ros.bags.reader import decode_image, header_of, open_bag

from .conftest import offered_qos, write_foreign_bag, write_small_bag

pytestmark = pytest.mark.ros

CLI = [sys.executable, '-m', 'jetson_infer_ros.cli.main']


def _wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _start_recorder(processes, out, topics, count, name='record', extra=()):
    args = ['record', '--topics'] + topics + ['--out', str(out), '--count', str(count)]
    proc = processes.start(CLI + args + list(extra), name)
    assert _wait_for(lambda: '[record] waiting' in processes.output(proc), 60), \
        processes.output(proc)
    return proc


def _finish(processes, proc, timeout=120):
    proc.wait(timeout=timeout)
    return processes.output(proc)


def test_replay_keeps_headers_pixels_and_pacing(standard_bags, processes, tmp_path):
    bag = standard_bags['vtest_rgb8']
    rec = _start_recorder(processes, tmp_path / 'got', ['/camera/image_raw'], 20)
    replay = processes.start(CLI + ['replay', str(bag), '--limit', '20', '--rate', '2',
                                    '--wait-subscribers', '1'], 'replay')
    out = _finish(processes, replay)
    assert replay.returncode == 0, out
    assert 'replayed 20 messages' in out
    _finish(processes, rec)
    with open_bag(bag) as b:
        sent = list(b.messages(limit=20))
    with open_bag(tmp_path / 'got') as b:
        info = b.topic('/camera/image_raw')
        got = list(b.messages())
    assert info.msgtype == ts.IMAGE and [q.reliability.name for q in info.qos] == ['RELIABLE']
    assert [header_of(r) for _t, _m, _l, r in got] == [header_of(r) for _t, _m, _l, r in sent]
    for (_t, m, _l, a), (_t2, m2, _l2, b_) in zip(sent[::7], got[::7]):
        assert np.array_equal(decode_image(a, m), decode_image(b_, m2))
    # never faster than the recorded spacing (1.9 s of bag time at rate 2)
    span = (got[-1][2] - got[0][2]) / 1e9
    assert span >= 0.9 * 1.9 / 2, span


@pytest.mark.parametrize('recorded, offered', [('BEST_EFFORT', 'BEST_EFFORT'),
                                               ('RELIABLE', 'RELIABLE'),
                                               (None, 'RELIABLE')])
def test_replay_offers_the_recorded_qos(processes, tmp_path, recorded, offered):
    bag = tmp_path / 'small'
    write_small_bag(bag, count=3, qos=offered_qos(recorded) if recorded else [])
    rec = _start_recorder(processes, tmp_path / 'got', ['/camera/image_raw'], 3)
    replay = processes.start(CLI + ['replay', str(bag), '--wait-subscribers', '1',
                                    '--start-delay', '0.5'], 'replay')
    assert replay.wait(timeout=60) == 0, processes.output(replay)
    _finish(processes, rec, 30) if recorded != 'BEST_EFFORT' else processes.stop(rec)
    with open_bag(tmp_path / 'got') as b:
        info = b.topic('/camera/image_raw')
    assert {q.reliability.name for q in info.qos} == {offered}


def test_clock_follows_the_bag(processes, tmp_path):
    bag = tmp_path / 'small'
    stamps = write_small_bag(bag, count=10, period_ns=50_000_000)
    rec = _start_recorder(processes, tmp_path / 'got', ['/camera/image_raw', '/clock'], 0,
                          extra=['--idle-timeout', '2'])
    replay = processes.start(CLI + ['replay', str(bag), '--clock', '--wait-subscribers', '1',
                                    '--start-delay', '0.3'], 'replay')
    assert replay.wait(timeout=60) == 0, processes.output(replay)
    _finish(processes, rec, 30)
    store = ts.typestore()
    with open_bag(tmp_path / 'got') as b:
        clocks = [store.deserialize_cdr(r, m).clock for _t, m, _l, r in b.messages(['/clock'])]
    values = [c.sec * 1_000_000_000 + c.nanosec for c in clocks]
    assert len(values) >= 10
    assert values == sorted(values)
    assert stamps[0] <= values[0] and values[-1] <= stamps[-1] + 2_000_000
    # every message's log time (stamp + 2 ms) was announced on /clock
    assert {s + 2_000_000 for s in stamps} <= set(values)


def test_loop_repeats_until_interrupted(processes, tmp_path):
    bag = tmp_path / 'small'
    stamps = write_small_bag(bag, count=3, period_ns=20_000_000)
    rec = _start_recorder(processes, tmp_path / 'got', ['/camera/image_raw'], 8)
    replay = processes.start(CLI + ['replay', str(bag), '--loop', '--wait-subscribers', '1'],
                             'replay')
    _finish(processes, rec, 60)
    replay.send_signal(signal.SIGINT)
    assert replay.wait(timeout=20) in (0, 130), processes.output(replay)
    with open_bag(tmp_path / 'got') as b:
        got = [header_of(r) for _t, _m, _l, r in b.messages()]
    seen = [s * 1_000_000_000 + ns for s, ns, _f in got]
    assert len(seen) >= 8 and seen[:6] == stamps + stamps


def test_a_bag_written_by_another_tool_replays(processes, tmp_path, standard_bags):
    """Replay an MCAP file that mcap + mcap-ros2-support wrote (another writer, serializer)."""
    foreign = tmp_path / 'foreign.mcap'
    frames = write_foreign_bag(foreign, standard_bags['vtest_bgr8'], 6)
    rec = _start_recorder(processes, tmp_path / 'got', ['/front/image'], 6)
    replay = processes.start(CLI + ['replay', str(foreign), '--wait-subscribers', '1',
                                    '--rate', '0'], 'replay')
    assert replay.wait(timeout=60) == 0, processes.output(replay)
    _finish(processes, rec, 30)
    with open_bag(tmp_path / 'got') as b:
        info = b.topic('/front/image')
        got = list(b.messages())
    assert [q.reliability.name for q in info.qos] == ['RELIABLE']   # unknown -> reliable
    expected = [(stamp // 10**9, stamp % 10**9) for stamp, _bgr in frames]
    assert [header_of(r)[:2] for _t, _m, _l, r in got] == expected
    for (_t, m, _l, raw), (_s, bgr) in zip(got, frames):
        assert np.array_equal(decode_image(raw, m), bgr)


def test_interrupting_a_replay_is_clean(processes, tmp_path, standard_bags):
    replay = processes.start(CLI + ['replay', str(standard_bags['vtest_jpeg'])], 'replay')
    assert _wait_for(lambda: '[replay]' in processes.output(replay), 60)
    time.sleep(0.5)
    replay.send_signal(signal.SIGINT)
    assert replay.wait(timeout=20) in (0, 130)
    assert 'interrupted' in processes.output(replay)
    assert subprocess.run(CLI + ['replay', '--help'], capture_output=True).returncode == 0
