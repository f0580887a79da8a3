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
The bench's arithmetic and report, on made-up runs: pooling, targets, projection, tables.

No ROS and no timing here: synthetic results go in, and what comes out must follow
from them exactly.
"""

from __future__ import annotations

import argparse
import math

import pytest

from jetson_infer_ros.bench import aggregate, e2e, report
from jetson_infer_ros.bench.frames import parse_size, size_label
from jetson_infer_ros.bench.runner import BenchOptions, parse_list, quick_options
from jetson_infer_ros.bench.summary import fmt_ms, growth, mean_of, summarize
from jetson_infer_ros.cli import bench_cmd

STAGES = {'convert': 0.1, 'preprocess': 0.4, 'infer': 5.0, 'postprocess': 0.2,
          'message': 0.05, 'publish': 0.25, 'total': 7.0, 'latency': 8.0}


def test_summarize_percentiles_and_empty():
    s = summarize(range(1, 101))
    assert s['n'] == 100 and s['min'] == 1 and s['max'] == 100
    assert s['p50'] == pytest.approx(50.5) and s['mean'] == pytest.approx(50.5)
    empty = summarize([float('nan')])
    assert empty['n'] == 0 and math.isnan(empty['p99'])


def test_growth_sees_a_filling_queue_only():
    assert growth([5.0] * 30) == 0.0
    assert growth([float(i) for i in range(30)]) == pytest.approx(20.0)
    assert math.isnan(growth([1.0, 2.0]))


def test_helpers_reject_bad_input():
    assert parse_size('1280x720') == (1280, 720) and size_label((640, 480)) == '640x480'
    for bad in ('640', '0x480', 'axb'):
        with pytest.raises(ValueError, match='WIDTHxHEIGHT'):
            parse_size(bad)
    with pytest.raises(ValueError, match='unknown model resnet'):
        parse_list('nanodet,resnet', ('nanodet',), 'model')
    assert mean_of([1.0, None, float('nan'), 3.0]) == 2.0
    assert fmt_ms(float('nan')) == '-' and fmt_ms(1.234) == '1.23'


def _args(**kw):
    base = {'quick': False, 'models': None, 'sizes': None, 'precisions': None,
            'duration': None, 'repeats': None, 'rate': None, 'overload_factor': None,
            'sections': None, 'raw_runs': None}
    base.update(kw)
    return argparse.Namespace(**base)


def test_options_quick_then_explicit_overrides():
    o = bench_cmd.options_from_args(_args(quick=True, sizes='320x240', duration=2.0))
    assert o.quick and o.models == quick_options().models
    assert o.sizes == ((320, 240),) and o.duration == 2.0
    assert bench_cmd.options_from_args(_args()).models == BenchOptions().models
    with pytest.raises(ValueError, match='--duration must be > 0'):
        bench_cmd.options_from_args(_args(duration=-1.0))
    assert bench_cmd.options_from_args(_args(raw_runs=120)).raw_runs == 120
    with pytest.raises(ValueError, match='unknown section'):
        bench_cmd.options_from_args(_args(sections='e2e,cuda'))


def _run(kind, latencies, phase='30hz', precision='fp32', repeat=0, stages=None,
         drops=None, received=None, rate=30.0):
    run = {'kind': kind, 'model': 'efficientnet_lite0', 'precision': precision,
           'size': '640x480', 'phase': phase, 'repeat': repeat, 'rate': rate,
           'executor': '', 'rate_achieved': rate, 'sent': len(latencies),
           'answered': len(latencies), 'sent_total': len(latencies) + 10,
           'answered_total': len(latencies) + 10, 'unanswered_total': 0,
           'latencies': latencies, 'latency_ms': summarize(latencies),
           'latency_growth_ms': growth(latencies), 'throughput_hz': rate,
           'cpu_percent': 30.0, 'rss_peak_mb': 260.0, 'vm_hwm_mb': 262.0,
           'idle_memory': {'rss_mb': 250.0}}
    if kind == 'ours':
        st = stages or STAGES
        dropped = sum((drops or {}).values())
        n = received if received is not None else len(latencies) + 10
        run['node'] = {'stages_ms': {k: {'p50': v, 'p90': v, 'p99': v} for k, v in st.items()},
                       'received': n, 'processed': n - dropped, 'published': n - dropped,
                       'dropped': dropped, 'drops': drops or {}, 'lost_in_transport': 0,
                       'precision_in_use': precision}
    return run


def _results():
    runs = [_run('ours', [8.0] * 50, repeat=0), _run('naive', [20.0] * 50),
            _run('relay', [2.0] * 50), _run('ours', [10.0] * 50, repeat=1),
            _run('ours', [12.0] * 60, phase='overload', rate=180.0,
                 drops={'stale': 400}, received=470),
            _run('naive', [50.0 + i for i in range(60)], phase='overload', rate=180.0),
            dict(_run('relay', [1.5] * 20, phase='executor'), executor='single'),
            dict(_run('relay', [3.5] * 20, phase='executor'), executor='multi')]
    results = {'options': {'models': ['efficientnet_lite0'], 'sizes': [[640, 480]],
                           'rate': 30.0, 'quick': False, 'repeats': 2},
               'raw_backend': [{'model': 'efficientnet_lite0', 'precision': 'fp32',
                                'precision_in_use': 'fp32', 'runs': 200,
                                'infer_ms': summarize([4.0] * 200)}],
               'e2e_runs': runs,
               'memory': {'idle_node': {'rss_mb': 140.0}},
               'int8': {'efficientnet_lite0': {'exists': False, 'artifact': '/m.int8.onnx',
                                               'gate_accepted': False, 'reason': 'none'}}}
    results['summary'] = aggregate.summarize_results(results)
    return results


def test_repeats_pool_and_node_percentiles_average():
    groups = _results()['summary']['groups']
    ours = aggregate.find(groups, phase='30hz', kind='ours', precision='fp32')
    assert ours['runs'] == 2 and ours['latency_ms']['n'] == 100
    assert ours['latency_ms']['p50'] == pytest.approx(9.0)
    assert ours['node']['service_ms'] == pytest.approx(6.0)    # sum of the six stages
    assert ours['node']['handoff_ms'] == pytest.approx(1.0)    # total 7 - service 6
    execs = [g for g in groups if g['phase'] == 'executor']
    assert {g['executor'] for g in execs} == {'single', 'multi'}


def test_targets_follow_from_the_numbers():
    targets = {t['target']: t for t in _results()['summary']['targets']}
    over = targets['node overhead p50 (end to end - raw backend)']
    assert over['measured'] == pytest.approx(5.0) and over['met'] is False
    floor = targets['node overhead p50 beyond the DDS floor']
    assert floor['measured'] == pytest.approx(9.0 - 2.0 - 5.0)    # in-node infer 5
    inside = targets['node overhead p50 (end to end - infer inside the node)']
    assert inside['measured'] == pytest.approx(4.0) and inside['met'] is False
    ratio = targets['overload p99 latency / service time']
    assert ratio['measured'] == pytest.approx(12.0 / 6.0) and ratio['met'] is True
    assert targets['overload drops counted']['met'] is True
    speed = targets['end to end speed-up over the naive node (p50)']
    assert speed['measured'] == pytest.approx(20.0 / 9.0, abs=1e-3) and speed['met'] is True
    assert targets['idle RSS of the configured node (MB)']['met'] is True


def test_decomposition_and_jetson_projection():
    summary = _results()['summary']
    ours = aggregate.find(summary['groups'], phase='30hz', kind='ours')
    parts = aggregate.decomposition(ours)
    # stamp->results 8 - (total 7 - message 0.05 - publish 0.25)
    assert parts['dds_in_and_dispatch'] == pytest.approx(1.3)
    # end to end p50 9 - stamp->results 8 - message - publish
    assert parts['dds_out'] == pytest.approx(0.7)
    proj = summary['jetson_projection'][0]
    assert proj['node_work_ms'] == pytest.approx(0.1 + 0.4 + 0.2 + 0.05 + 0.25 + 1.0)
    assert proj['projected_ms']['x2.5'] == pytest.approx(2.5 * proj['added_here_ms'], abs=0.01)


def test_markdown_report_lays_out_every_section(tmp_path):
    gpu = tmp_path / 'gpu.md'
    gpu.write_text('# H100\n\n| a | b |\n|---|---|\n| 1 | 2 |\n')
    md = report.render(_results(), gpu, images=['latency.png'])
    assert '![latency](latency.png)' in md
    assert '**no INT8 artefact**' in md
    assert '## GPU results (merged from docs/gpu_results.md)' in md and '## H100' in md
    assert '| ours fp32 | efficientnet_lite0 | 640x480 |' in md
    assert '**not met**' in md and '| met |' in md
    assert "### The executor's share" in md
    missing = report.render(_results(), tmp_path / 'absent.md')
    assert 'was not present' in missing


def test_headline_block_replaced_between_markers_only():
    text = ('intro\n' + report.HEADLINE_BEGIN + '\nold numbers\n' + report.HEADLINE_END +
            '\noutro\n')
    new = report.update_block(text, report.headline(_results()))
    assert new is not None and 'old numbers' not in new
    assert new.startswith('intro\n') and new.endswith(report.HEADLINE_END + '\noutro\n')
    assert '| end to end @ 30 Hz, ours fp32, efficientnet_lite0 640x480 |' in new
    assert '| node overhead p50 (end to end - raw backend) |' in new
    assert report.update_block('no markers here', 'x') is None


def test_rerender_from_json_writes_the_whole_report(tmp_path):
    import json
    results = _results()
    del results['summary']
    src = tmp_path / 'bench.json'
    src.write_text(json.dumps(results))
    out = tmp_path / 'report'
    args = argparse.Namespace(from_json=str(src), out=str(out),
                              gpu_results=str(tmp_path / 'absent.md'))
    assert bench_cmd.run(args) == 0
    written = json.loads((out / 'bench.json').read_text())
    assert written['summary']['targets'] and written['images'] == ['latency.png', 'stages.png']
    for name in ('latency.png', 'stages.png'):
        assert (out / name).read_bytes()[:4] == b'\x89PNG'
    assert '## 8. Targets' in (out / 'bench.md').read_text()
    with pytest.raises(ValueError, match='--from-json'):
        bench_cmd.run(argparse.Namespace(from_json=str(tmp_path / 'nope.json'), out=str(out),
                                         gpu_results=''))


def _with_wire_and_int8():
    results = _results()
    runs = results['e2e_runs']
    runs.append(_run('wire', [1.5] * 50))
    runs.append(_run('ours', [6.0] * 50, precision='int8-forced',
                     stages=dict(STAGES, infer=2.5)))
    results['raw_backend'].append({'model': 'efficientnet_lite0', 'precision': 'int8',
                                   'precision_in_use': 'int8', 'runs': 200,
                                   'infer_ms': summarize([2.0] * 200)})
    results['int8'] = {'efficientnet_lite0': {
        'exists': True, 'artifact': '/cache/bench_int8/e-abc/model.int8.onnx', 'key': 'abc',
        'settings': {'method': 'percentile'}, 'calibration_frames': 159, 'made_now': False,
        'gate_accepted': False, 'reason': 'INT8 refused: top-1 agreement 86% < 99%'}}
    results['summary'] = aggregate.summarize_results(results)
    return results


def test_wire_floor_and_forced_int8_targets():
    results = _with_wire_and_int8()
    targets = {(t['target'], t['where'].split()[1]): t for t in results['summary']['targets']}
    wire = targets[('node overhead p50 beyond the wire (one image hop)', 'fp32')]
    assert wire['measured'] == pytest.approx(9.0 - 1.5 - 5.0)
    # the forced INT8 rows are compared with the raw INT8 backend, not with FP32
    forced = targets[('node overhead p50 (end to end - raw backend)', 'int8-forced')]
    assert forced['measured'] == pytest.approx(6.0 - 2.0)
    md = report.render(results, None)
    assert '| ours int8-forced | efficientnet_lite0 | 640x480 |' in md
    assert '**refused by the gate**' in md and 'cache key `abc`' in md
    assert 'wire p50 (p99)' in md


def test_paced_raw_backend_gives_its_own_overhead_rows_beside_back_to_back():
    results = _results()
    results['raw_backend'][0]['paced'] = {'runs': 200, 'pace_hz': 30.0,
                                          'infer_ms': summarize([5.5] * 200)}
    results['summary'] = aggregate.summarize_results(results)
    targets = {t['target']: t for t in results['summary']['targets']}
    b2b = targets['node overhead p50 (end to end - raw backend)']
    paced = targets['node overhead p50 (end to end - raw backend paced at the camera rate)']
    assert b2b['measured'] == pytest.approx(9.0 - 4.0)
    assert paced['measured'] == pytest.approx(9.0 - 5.5) and paced['met'] is False
    assert 'node overhead p99 (end to end - raw backend paced at the camera rate)' in targets
    md = report.render(results, None)
    assert '| efficientnet_lite0 | fp32 (fp32) | back to back | 200 | 4.00 |' in md
    assert '| efficientnet_lite0 | fp32 (fp32) | paced at 30 Hz | 200 | 5.50 |' in md
    assert 'raw backend, efficientnet_lite0 fp32, paced at 30 Hz' in report.headline(results)
    # a run without the paced measurement (older bench.json) renders without those rows
    plain = {t['target'] for t in _results()['summary']['targets']}
    assert not any('paced' in t for t in plain)


def test_forced_int8_params_lower_the_gate_only_when_forced(tmp_path):
    import yaml
    from jetson_infer_ros.bench.e2e import RunSpec, write_params
    from jetson_infer_ros.bench.runner import config_path
    from jetson_infer_ros.config import DEFAULT_NODE_NAME

    def params(precision):
        spec = RunSpec(kind='ours', model='efficientnet_lite0',
                       config=config_path('efficientnet_lite0'), task='classification',
                       precision=precision, int8_model='/a/model.int8.onnx')
        path = write_params(spec, tmp_path / f'{precision}.yaml')
        return yaml.safe_load(path.read_text())[DEFAULT_NODE_NAME]['ros__parameters']
    forced, gated = params('int8-forced'), params('int8')
    assert forced['precision'] == gated['precision'] == 'int8'
    assert forced['int8_model_path'] == gated['int8_model_path'] == '/a/model.int8.onnx'
    assert forced['int8_min_top1_agreement'] == 0.0 and forced['int8_max_map_drop'] == 100.0
    assert gated['int8_min_top1_agreement'] > 0.5


def test_wire_answers_are_image_records():
    from jetson_infer_ros.bench.e2e import analyse, RunSpec
    spec = RunSpec(kind='wire', model='m', config='c', task='classification')
    stamps = [1_000_000_000 * i for i in range(1, 6)]
    records = [{'kind': 'image', 'stamp_ns': s, 'received_ns': s + 2_000_000}
               for s in stamps[:4]]
    out = analyse(spec, records, {'stamps': stamps, 'warmup_stamps': [],
                                  'measured_s': 1.0}, None)
    assert out['answered'] == 4 and out['sent'] == 5
    assert out['latency_ms']['p50'] == pytest.approx(2.0)


def test_int8_cache_key_names_what_made_the_artefact():
    from jetson_infer_ros.bench.int8 import artifact_key
    base = artifact_key('aa', ['f1', 'f2'], {'method': 'percentile'})
    assert base == artifact_key('aa', ['f2', 'f1'], {'method': 'percentile'})   # a set
    assert len({base, artifact_key('ab', ['f1', 'f2'], {'method': 'percentile'}),
                artifact_key('aa', ['f1'], {'method': 'percentile'}),
                artifact_key('aa', ['f1', 'f2'], {'method': 'minmax'})}) == 4


def test_smaps_breakdown_accounts_for_this_process():
    import os
    import psutil
    from jetson_infer_ros.bench.memory import smaps_breakdown
    out = smaps_breakdown(os.getpid())
    total = sum(out['by_owner_mb'].values())
    rss = psutil.Process().memory_info().rss / 2 ** 20
    assert total == pytest.approx(rss, rel=0.2)
    assert 'Python' in out['by_owner_mb'] and out['anonymous_regions'] > 0
    assert 'error' in smaps_breakdown(2 ** 22 + 12345)     # no such process: said, not raised


def test_frames_left_in_the_middleware_show_beside_the_drops():
    results = _results()
    over = [r for r in results['e2e_runs'] if r['kind'] == 'ours' and r['phase'] == 'overload']
    over[0]['node']['taken'] = 70
    results['summary'] = aggregate.summarize_results(results)
    md = report.render(results, None)
    assert '| stale 400 (taken 70 of 470) |' in md
    # diagnostics from before the input gate have no frames_taken: nothing is claimed
    assert '| stale 400 |' in report.render(_results(), None)
    values = {'frames_received': '470', 'frames_processed': '70', 'frames_published': '70',
              'frames_dropped': '400', 'dropped.stale': '400'}
    assert e2e.node_diagnostics(values)['taken'] is None
    assert e2e.node_diagnostics(dict(values, frames_taken='70'))['taken'] == 70
