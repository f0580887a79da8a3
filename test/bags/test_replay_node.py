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

"""Bags through the real node: another tool's bag, and use_sim_time driven by /clock."""

from __future__ import annotations

import json
from pathlib import Path
import sys
import time

import pytest
import yaml

from jetson_infer_ros.bags import typestore as ts
from jetson_infer_ros.bags.reader import open_bag
from jetson_infer_ros.config import read_ros_parameters
from jetson_infer_ros.regression import (check_run, compare, read_golden, run_node_on_bag,
                                         Tolerances)

from .conftest import write_foreign_bag

pytestmark = [pytest.mark.ros, pytest.mark.models]

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / 'test' / 'golden' / 'vtest_bgr8_nanodet.json'
CLI = [sys.executable, '-m', 'jetson_infer_ros.cli.main']


def test_a_foreign_bag_through_the_node_matches_the_golden(standard_bags, tmp_path):
    """20 street frames written by mcap-ros2-support as rgb8, answered like our bgr8 bag."""
    foreign = tmp_path / 'foreign.mcap'
    write_foreign_bag(foreign, standard_bags['vtest_bgr8'], 20)
    run = run_node_on_bag(ROOT / 'config' / 'detect.yaml', foreign, work_dir=tmp_path / 'w',
                          log=lambda _m: None)
    assert check_run(run) == [] and len(run.outputs) == 20
    assert {o.frame_id for o in run.outputs} == {'front_camera'}
    doc, golden = read_golden(GOLDEN)
    c = compare(golden[:20], run.outputs, 'detection', Tolerances(**doc['tolerances']),
                doc['score_threshold'])
    assert c.ok, '\n'.join(c.problems[:20])


def test_sim_time_makes_the_nodes_clock_the_bags(standard_bags, processes, ros_env, tmp_path):
    """
    With use_sim_time and --clock the node's "now" is bag time.

    Observable twice: the node stamps /diagnostics with its clock, and its end-to-end
    latency (clock now - frame stamp) is the bag's receive delay plus processing, not
    the year and more between the bag's recording and today.
    """
    bag = standard_bags['vtest_rgb8']
    values = read_ros_parameters(ROOT / 'config' / 'detect.yaml')
    values.update({'lossless': True, 'use_sim_time': True, 'diagnostics_period': 0.5})
    params = tmp_path / 'params.yaml'
    params.write_text(yaml.safe_dump({'/**': {'ros__parameters': values}}))
    node = processes.start([sys.executable, '-m', 'jetson_infer_ros.node', '--autostart',
                            '--ros-args', '--params-file', str(params),
                            '-r', 'image:=/camera/image_raw'], 'node')
    rec = processes.start(CLI + ['record', '--topics', '/detections', '/diagnostics',
                                 '--out', str(tmp_path / 'got'), '--count', '40'], 'record')
    deadline = time.monotonic() + 120
    while '[record] /detections' not in processes.output(rec):
        assert node.poll() is None and time.monotonic() < deadline, processes.output(node)
        time.sleep(0.1)
    replay = processes.start(CLI + ['replay', str(bag), '--limit', '40', '--clock',
                                    '--wait-subscribers', '1', '--start-delay', '1'],
                             'replay')
    assert replay.wait(timeout=120) == 0, processes.output(replay)
    rec.wait(timeout=60)
    with open_bag(bag) as b:
        stamps = [s for s, _f in b.stamps('/camera/image_raw')[:40]]
    store = ts.typestore()
    ts.ensure_type('vision_msgs/msg/Detection2DArray')
    with open_bag(tmp_path / 'got') as b:
        answers = [store.deserialize_cdr(r, m) for _t, m, _l, r in b.messages(['/detections'])]
        diags = [store.deserialize_cdr(r, m) for _t, m, _l, r in b.messages(['/diagnostics'])]
    assert [a.header.stamp.sec * 10**9 + a.header.stamp.nanosec for a in answers] == stamps
    clock = [d.header.stamp.sec * 10**9 + d.header.stamp.nanosec for d in diags]
    in_bag_time = [c for c in clock if stamps[0] <= c <= stamps[-1] + 10**9]
    assert in_bag_time, (clock, stamps[0])
    assert all(abs(c - time.time_ns()) > 86_400 * 10**9 for c in clock)   # not wall time
    latest = {kv.key: kv.value for kv in diags[-1].status[0].values}
    p50 = float(latest['latency_ms.p50'])
    assert 0.0 <= p50 < 1000.0, latest
    print(json.dumps({'diagnostics_stamps_in_bag_time': len(in_bag_time),
                      'latency_ms_p50_sim': p50}))
