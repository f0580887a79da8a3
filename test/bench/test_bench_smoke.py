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
`jetson-infer bench --quick` runs every section end to end and writes a sound report.

A smoke test on a tiny budget: it checks that the report is complete and well formed
(every section, every node, counts that add up, plots that are PNGs), never what the
timings are.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.models]

ROOT = Path(__file__).resolve().parents[2]
WORK_STAGES = ('convert', 'preprocess', 'infer', 'postprocess', 'message', 'publish')


@pytest.fixture(scope='module')
def quick_report(tmp_path_factory, ros_env):
    out = tmp_path_factory.mktemp('bench')
    proc = subprocess.run([sys.executable, '-m', 'jetson_infer_ros.cli.main', 'bench',
                           '--quick', '--out', str(out / 'report'),
                           '--gpu-results', str(out / 'absent.md')],
                          cwd=str(ROOT), env=ros_env, capture_output=True, text=True,
                          timeout=540)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = out / 'report'
    return {'dir': report, 'stdout': proc.stdout,
            'results': json.loads((report / 'bench.json').read_text()),
            'markdown': (report / 'bench.md').read_text()}


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def test_every_section_is_present(quick_report):
    r = quick_report['results']
    assert r['schema'] == 'jetson_infer_ros.bench/1'
    assert r['options']['quick'] is True
    assert 'errors' not in r, r.get('errors')
    for key in ('machine', 'int8', 'raw_backend', 'node_path_inprocess', 'allocations',
                'conversion', 'e2e_runs', 'transport', 'memory', 'summary'):
        assert key in r, key
    assert r['machine']['cpus'] >= 1 and r['machine']['ram_gib'] > 0


def test_raw_backend_and_in_process_stages(quick_report):
    r = quick_report['results']
    raw = r['raw_backend'][0]
    assert raw['model'] == 'efficientnet_lite0' and raw['precision'] == 'fp32'
    assert raw['infer_ms']['n'] == raw['runs'] == len(raw['samples'])
    assert all(_finite(raw['infer_ms'][q]) for q in ('p50', 'p90', 'p99'))
    paced = raw['paced']
    assert paced['pace_hz'] == r['options']['rate'] and paced['runs'] == raw['runs']
    assert paced['infer_ms']['n'] == len(paced['samples']) == raw['runs']
    stages = r['node_path_inprocess'][0]['stages_ms']
    assert set(stages) == {'convert', 'preprocess', 'infer', 'postprocess', 'message', 'total'}
    conv = r['conversion'][0]
    assert conv['size'] == '640x480' and conv['bytes'] > 640 * 480 * 3
    for path in ('raw_parse', 'raw_with_take_copy', 'standard'):
        assert conv[path]['n'] == conv['runs']


def test_end_to_end_runs_answer_and_account_for_every_frame(quick_report):
    runs = quick_report['results']['e2e_runs']
    assert not [r for r in runs if 'error' in r]
    seen = {(r['phase'], r['kind']) for r in runs}
    assert {('30hz', 'ours'), ('30hz', 'naive'), ('30hz', 'relay'), ('30hz', 'wire'),
            ('overload', 'ours'),
            ('overload', 'naive'), ('executor', 'relay')} <= seen
    for run in runs:
        assert run['camera_subscribers'] >= 1
        assert 0 < run['answered'] <= run['sent']
        assert run['latency_ms']['n'] == run['answered'] == len(run['latencies'])
        assert run['answered_total'] + run['unanswered_total'] == run['sent_total']
        assert _finite(run['cpu_percent']) and run['rss_peak_mb'] > 0
    for run in (r for r in runs if r['kind'] == 'ours'):
        node = run['node']
        assert set(WORK_STAGES) | {'total', 'latency'} <= set(node['stages_ms'])
        # the node's own books balance: every frame it saw is answered or dropped
        assert node['received'] == node['processed'] + node['dropped']
        assert node['received'] <= run['sent_total']
        assert node['precision_in_use'] == 'fp32'


def test_transport_memory_and_targets(quick_report):
    r = quick_report['results']
    transport = {(t['profile'], t['heap']): t for t in r['transport']}
    assert set(transport) == {(True, 'kept'), (True, 'glibc'), (False, 'kept')}
    for heap in ('kept', 'glibc'):       # the shipped profile carries 640x480 either way
        assert transport[True, heap]['delivered'] > 0
    assert transport[False, 'kept']['profile_file'] == ''
    assert 'glibc defaults' in quick_report['markdown']
    mem = r['memory']
    assert mem['idle_node']['rss_mb'] > 0
    assert mem['idle_node']['smaps']['by_owner_mb']      # where the idle megabytes are
    assert [s['step'] for s in mem['import_steps']['steps']][0] == 'python interpreter'
    assert len(mem['shm_segment']) == 3
    alloc = r['allocations'][0]
    for path in ('pipeline_run', 'node_path'):
        assert alloc[path]['frames'] > 0
        assert alloc[path]['transient_peak_bytes_max'] >= 0
    targets = r['summary']['targets']
    names = {t['target'] for t in targets}
    assert {'node overhead p50 (end to end - raw backend)',
            'node overhead p99 (end to end - raw backend)',
            'overload p99 latency / service time', 'overload drops counted',
            'end to end speed-up over the naive node (p50)',
            'idle RSS of the configured node (MB)'} <= names
    assert all(t['met'] in (True, False, None) for t in targets)
    assert r['summary']['jetson_projection'][0]['model'] == 'efficientnet_lite0'


def test_markdown_and_plots(quick_report):
    md = quick_report['markdown']
    for heading in ('## Machine', '## 1. Raw backend', '## 2. Per stage inside the node',
                    '## 3. End to end over ROS 2', '## 4-5. Against the naive node',
                    '## 6. Issue 11', '## 7. Memory', '## 8. Targets', '## Jetson projection',
                    '## GPU results'):
        assert heading in md, heading
    assert 'QUICK' in md and 'not present when this report was generated' in md
    for name in ('latency.png', 'stages.png'):
        png = quick_report['dir'] / name
        assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
        assert f']({name})' in md
    assert '[bench] wrote' in quick_report['stdout']
