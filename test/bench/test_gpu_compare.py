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
The bench's gpu section on made-up runs: pooling by backend, the GPU targets, the tables.

Synthetic results go in; every target must follow from them exactly. On this machine the
section itself is skipped with the reason, which the report must say.
"""

from __future__ import annotations

import pytest

from jetson_infer_ros.bench import e2e, gpu_compare, report
from jetson_infer_ros.bench.runner import BenchOptions, SECTIONS
from jetson_infer_ros.bench.summary import summarize

GPU, CPU = 'onnxruntime_gpu', 'onnxruntime'
STAGES = ('convert', 'preprocess', 'infer', 'postprocess', 'message', 'publish', 'total',
          'latency')


def _run(kind, backend, latency, phase='gpu-30hz', graph=False, cpu=30.0, rate=30.0,
         out_hz=30.0, repeat=0):
    lat = [latency] * 40
    run = {'kind': kind, 'backend': backend, 'cuda_graph': graph, 'model': 'efficientnet_lite0',
           'precision': 'fp32', 'size': '640x480', 'phase': phase, 'repeat': repeat,
           'executor': '', 'rate': rate, 'rate_achieved': rate, 'sent': 40, 'answered': 40,
           'sent_total': 50, 'answered_total': 50, 'unanswered_total': 0, 'latencies': lat,
           'latency_ms': summarize(lat), 'latency_growth_ms': 0.0, 'throughput_hz': out_hz,
           'cpu_percent': cpu, 'rss_peak_mb': 300.0, 'vm_hwm_mb': 300.0,
           'idle_memory': {'rss_mb': 290.0}}
    if kind == 'ours':
        run['node'] = {'stages_ms': {s: {'p50': 0.5, 'p90': 0.5, 'p99': 0.5} for s in STAGES},
                       'received': 50, 'processed': 50, 'published': 50, 'dropped': 0,
                       'drops': {}, 'lost_in_transport': 0, 'precision_in_use': 'fp32'}
    return run


def _raw(backend, p50, p99, graph=False, paced=None):
    row = {'model': 'efficientnet_lite0', 'backend': backend, 'cuda_graph': graph,
           'from_device': backend == GPU, 'info': {'device': 'NVIDIA H200',
                                                   'execution_provider': 'CUDAExecutionProvider'},
           'infer_ms': {'p50': p50, 'p99': p99}}
    row['paced'] = {'infer_ms': paced or {'p50': p50, 'p99': p99}}
    return row


def _section():
    runs = [_run('ours', CPU, 9.0, cpu=45.0), _run('ours', GPU, 5.0, cpu=12.0),
            _run('ours', GPU, 4.6, graph=True), _run('naive', '', 20.0),
            _run('naive', GPU, 6.0, cpu=60.0), _run('relay', '', 3.0), _run('wire', '', 2.0),
            _run('ours', GPU, 6.0, phase='gpu-overload', rate=900.0, out_hz=600.0),
            _run('naive', GPU, 30.0, phase='gpu-overload', rate=900.0, out_hz=150.0),
            _run('ours', CPU, 12.0, phase='gpu-overload', rate=900.0, out_hz=110.0),
            _run('naive', '', 60.0, phase='gpu-overload', rate=900.0, out_hz=40.0)]
    return {'raw': [_raw(CPU, 4.0, 5.0), _raw(GPU, 1.2, 1.6, paced={'p50': 1.5, 'p99': 2.5}),
                    _raw(GPU, 0.5, 0.7, graph=True)],
            'node_path_inprocess': [], 'e2e_runs': runs}


def _targets(section):
    summary = gpu_compare.summarize(section, {'rate': 30.0})
    return {(t['target'], t['where']): t for t in summary['targets']}, summary


def test_gpu_is_a_bench_section_and_runs_carry_their_backend(tmp_path):
    assert 'gpu' in SECTIONS and BenchOptions().gpu_max_rate == 1000.0
    spec = e2e.RunSpec(kind='ours', model='efficientnet_lite0', config='config/infer.yaml',
                       task='classification', backend=GPU, cuda_graph=True)
    assert spec.label.endswith('-onnxruntime_gpu-graph-efficientnet_lite0-640x480-r0')
    import yaml
    params = yaml.safe_load(e2e.write_params(spec, tmp_path / 'p.yaml').read_text())
    values = params['jetson_infer']['ros__parameters']
    assert values['backend'] == GPU and values['use_cuda_graph'] is True
    naive = e2e.RunSpec(kind='naive', model='nanodet', config='config/detect.yaml',
                        task='detection', backend=GPU)
    assert e2e._node_command(naive, tmp_path)[-2:] == ['--device', 'cuda']


def test_groups_keep_backends_apart_and_targets_follow_from_the_numbers():
    targets, summary = _targets(_section())
    ours = [g for g in summary['groups'] if g['kind'] == 'ours' and g['phase'] == 'gpu-30hz']
    assert len(ours) == 3                            # CPU, GPU, GPU + graph: not pooled
    where = 'efficientnet_lite0 640x480 @ 30 Hz'
    paced = targets[('GPU node p50 - (relay p50 + GPU inference alone p50, paced at the '
                     'camera rate)', where)]
    assert paced['measured'] == pytest.approx(5.0 - 3.0 - 1.5) and paced['met'] is True
    b2b = targets[('GPU node p99 - (relay p99 + GPU inference alone p99, back to back)',
                   where)]
    assert b2b['measured'] == pytest.approx(5.0 - 3.0 - 1.6) and b2b['met'] is True
    graph = targets[('GPU node with CUDA graph p50 - (relay p50 + GPU inference alone p50, '
                     'back to back)', where)]
    assert graph['measured'] == pytest.approx(4.6 - 3.0 - 0.5) and graph['met'] is False
    cam = targets[('camera rate: naive GPU p50 / GPU node p50', where)]
    assert cam['measured'] == pytest.approx(6.0 / 5.0) and cam['met'] is True
    ow = 'efficientnet_lite0 640x480 @ 900 Hz sent'
    over = targets[('overload: naive GPU p50 / GPU node p50', ow)]
    assert over['measured'] == pytest.approx(5.0) and over['met'] is True
    thr = targets[('overload: GPU node out Hz / naive GPU out Hz', ow)]
    assert thr['measured'] == pytest.approx(4.0) and thr['met'] is True
    cpu = targets[('CPU per frame: GPU node / CPU-backend node', where)]
    assert cpu['measured'] == pytest.approx((12.0 * 10 / 30) / (45.0 * 10 / 30), abs=1e-3)
    assert cpu['met'] is True


def test_missing_runs_are_not_measured_not_met():
    section = _section()
    section['e2e_runs'] = [r for r in section['e2e_runs'] if r['kind'] != 'relay']
    targets, _ = _targets(section)
    floor = [t for t in targets.values() if 'relay' in t['target']]
    assert floor and all(t['met'] is None and t['measured'] is None for t in floor)


def test_report_renders_the_section_and_a_skip():
    r = {'options': {'rate': 30.0}, 'gpu': _section()}
    text = '\n'.join(gpu_compare.render(r, report.table))
    assert 'NVIDIA H200' in text and 'ours, onnxruntime_gpu + kernel + CUDA graph' in text
    assert 'naive, ORT CUDA EP, host arrays' in text and '| met |' in text
    assert '4.00' in text                            # CPU ms per frame of the GPU node
    skipped = gpu_compare.render({'gpu': {'skipped': 'onnxruntime_gpu: no GPU'}}, report.table)
    assert skipped[-2] == 'Not measured here: onnxruntime_gpu: no GPU.'
    assert gpu_compare.render({}, report.table) == []
