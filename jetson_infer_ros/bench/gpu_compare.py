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
The bench's ``gpu`` section: the node on the CPU backend against the node on the GPU.

Where ``onnxruntime_gpu`` is usable, one interleaved run measures side by side, on the
same camera frames: our node on the CPU backend, on ``onnxruntime_gpu`` with the fused
preprocessing kernel (and once more with ``use_cuda_graph``), the naive node on ONNX
Runtime's CUDA EP with host arrays (``naive_node --device cuda``), the relay (the
topology's DDS floor) and the wire (one image hop). First at the camera rate, then the
three inference nodes at one overload rate (``overload_factor`` x the GPU node's
capacity, capped at ``gpu_max_rate``). In process, without DDS, it times the inference
alone: ``backend.infer(1)`` on the CPU, ``infer_from_device(1)`` on the input the GPU
kernel wrote (back to back and paced at the camera rate), and the node's per-frame path
stage by stage. The GPU targets of issue 20 are evaluated here from those numbers, each
reported as measured; where no GPU backend is usable the section records why and
measures nothing.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Optional, Tuple

from jetson_infer_ros.bench import aggregate
from jetson_infer_ros.bench.frames import size_label
from jetson_infer_ros.bench.summary import fmt_ms as fmt, phase_rows

GPU = 'onnxruntime_gpu'
CPU = 'onnxruntime'
#: (kind, backend, cuda_graph) of the runs at the camera rate, interleaved per repeat
#: (the naive node on the CPU is the e2e section's; GPU time is too scarce to repeat it)
CAMERA_RATE_RUNS: Tuple[Tuple[str, str, bool], ...] = (
    ('ours', CPU, False), ('ours', GPU, False), ('ours', GPU, True), ('naive', GPU, False),
    ('relay', '', False), ('wire', '', False))
OVERLOAD_RUNS: Tuple[Tuple[str, str, bool], ...] = (
    ('ours', CPU, False), ('ours', GPU, False), ('naive', GPU, False))
TARGETS = {'p50_over_floor_ms': 1.0, 'p99_over_floor_ms': 2.0, 'overload_speedup': 3.0,
           'camera_rate_speedup': 1.0, 'cpu_per_frame_ratio': 0.5}


def run(runner: Any) -> Dict[str, Any]:
    """Measure the section for ``runner`` (a bench Runner); never raises for one bad run."""
    from jetson_infer_ros.backends import unavailable_reason
    reason = unavailable_reason(GPU)
    if reason:
        runner.log(f'[bench] gpu: skipped ({reason})')
        return {'skipped': reason}
    out: Dict[str, Any] = {'raw': [], 'node_path_inprocess': [], 'e2e_runs': []}
    _inprocess(runner, out)
    _end_to_end(runner, out)
    out['summary'] = summarize(out, runner.o)
    return out


def _load(config: str, backend: str, cuda_graph: bool = False) -> Any:
    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.pipeline import InferencePipeline
    pipeline = InferencePipeline(load_config(config, backend=backend,
                                             use_cuda_graph=cuda_graph))
    pipeline.load()
    return pipeline


def _inprocess(runner: Any, out: Dict[str, Any]) -> None:
    from jetson_infer_ros.bench import inprocess as ip
    from jetson_infer_ros.bench.runner import config_path
    o = runner.o
    for model in o.models:
        # no CUDA-graph session in this process: ONNX Runtime aborted the process
        # once around one on the H200; its node run below is a process of its own
        for backend, graph in ((CPU, False), (GPU, False)):
            runner.log(f'[bench] gpu: in process {model} {backend}{" graph" if graph else ""}')
            pipeline = _load(config_path(model), backend, graph)
            try:
                frame = runner.frames(o.sizes[0])[0]
                device = hasattr(pipeline.backend, 'infer_from_device')
                row: Dict[str, Any] = {'model': model, 'backend': backend, 'cuda_graph': graph,
                                       'from_device': device, 'info': pipeline.info()}
                row.update(ip.raw_backend(pipeline, frame, o.raw_runs, from_device=device))
                row['paced'] = ip.raw_backend(pipeline, frame, o.raw_runs, pace_hz=o.rate,
                                              from_device=device)
                out['raw'].append(row)
                for size in o.sizes:
                    entry = {'model': model, 'backend': backend, 'cuda_graph': graph,
                             'size': size_label(size)}
                    entry.update(ip.node_path_stages(
                        pipeline, ip.serialized_frames(runner.frames(size)), o.stage_frames))
                    out['node_path_inprocess'].append(entry)
            finally:
                pipeline.release()


def _end_to_end(runner: Any, out: Dict[str, Any]) -> None:
    from jetson_infer_ros.bench.e2e import RunSpec, run_once
    from jetson_infer_ros.bench.runner import config_path, task_of
    o = runner.o
    runs: List[Dict[str, Any]] = out['e2e_runs']

    def go(spec: RunSpec) -> None:
        runner.log(f'[bench] gpu: e2e {spec.label} at {spec.rate:.0f} Hz')
        try:
            result = run_once(spec, runner.work / 'gpu_e2e', runner.log)
        except Exception as exc:  # noqa: B902 - one broken run is recorded, not fatal
            result = dataclasses.asdict(spec)
            result.update(size=size_label(spec.size), error=f'{type(exc).__name__}: {exc}')
        runs.append(result)

    for model in o.models:
        for size in o.sizes:
            base: Dict[str, Any] = {'model': model, 'config': config_path(model),
                                    'task': task_of(model), 'size': size,
                                    'duration': o.duration, 'warmup': o.warmup}
            for rep in range(o.repeats):
                for kind, backend, graph in CAMERA_RATE_RUNS:
                    go(RunSpec(kind=kind, backend=backend, cuda_graph=graph, rate=o.rate,
                               repeat=rep, phase='gpu-30hz', **base))
            groups = aggregate.group_runs(runs)
            ours = aggregate.find(groups, phase='gpu-30hz', kind='ours', model=model,
                                  size=size_label(size), backend=GPU, cuda_graph=False)
            svc = (ours or {}).get('node', {}).get('service_ms', float('nan'))
            if not (svc == svc and svc > 0):
                runner.log(f'[bench] gpu: overload {model} {size_label(size)}: no GPU '
                           'service time measured')
                continue
            rate = round(min(o.gpu_max_rate, o.overload_factor * 1000.0 / svc), 1)
            for kind, backend, graph in OVERLOAD_RUNS:
                go(RunSpec(kind=kind, backend=backend, cuda_graph=graph, rate=rate,
                           phase='gpu-overload', **base))


# ------------------------------------------------------------------ numbers and targets
def _lat(group: Optional[Dict[str, Any]], q: str) -> float:
    return float(group['latency_ms'][q]) if group and group.get('latency_ms') else float('nan')


def cpu_ms_per_frame(group: Optional[Dict[str, Any]]) -> float:
    """CPU time of the node process per answered frame: CPU% over the window / out Hz."""
    if not group or not group.get('throughput_hz'):
        return float('nan')
    cpu = group.get('cpu_percent', float('nan'))
    return float(cpu) * 10.0 / float(group['throughput_hz'])


def raw_row(out: Dict[str, Any], model: str, backend: str, graph: bool = False
            ) -> Optional[Dict[str, Any]]:
    for row in out.get('raw') or []:
        if (row['model'], row['backend'], bool(row['cuda_graph'])) == (model, backend, graph):
            return row
    return None


def summarize(out: Dict[str, Any], options: Any) -> Dict[str, Any]:
    """Pool the runs and evaluate the targets (each met True/False, None unmeasured)."""
    groups = aggregate.group_runs(out.get('e2e_runs') or [])
    rate = getattr(options, 'rate', 30.0) if not isinstance(options, dict) else \
        options.get('rate', 30.0)
    targets: List[Dict[str, Any]] = []
    for model in sorted({g['model'] for g in groups}):
        for size in sorted({g['size'] for g in groups if g['model'] == model}):
            targets += _targets(out, groups, model, size, rate)
    return {'groups': groups, 'targets': targets}


def _targets(out: Dict[str, Any], groups: List[Dict[str, Any]], model: str, size: str,
             rate: float) -> List[Dict[str, Any]]:
    target = aggregate._target
    res: List[Dict[str, Any]] = []

    def grp(phase: str, kind: str, backend: str, graph: bool = False) -> Any:
        return aggregate.find(groups, phase=phase, kind=kind, model=model, size=size,
                              backend=backend, cuda_graph=graph)
    where = f'{model} {size} @ {rate:g} Hz'
    relay = grp('gpu-30hz', 'relay', '')
    for graph in (False, True):
        ours = grp('gpu-30hz', 'ours', GPU, graph)
        raw = raw_row(out, model, GPU, graph) or {}
        label = ' with CUDA graph' if graph else ''
        for paced, how in ((True, 'paced at the camera rate'), (False, 'back to back')):
            infer = ((raw.get('paced') or {}) if paced else raw).get('infer_ms') or {}
            for q, limit in (('p50', 'p50_over_floor_ms'), ('p99', 'p99_over_floor_ms')):
                res.append(target(
                    f'GPU node{label} {q} - (relay {q} + GPU inference alone {q}, {how})',
                    where, _lat(ours, q) - _lat(relay, q) - infer.get(q, float('nan')),
                    TARGETS[limit], f'listener latency {q} - relay latency {q} - '
                    f'infer_from_device(1) {q} in process ({how})'))
    ours, naive = grp('gpu-30hz', 'ours', GPU), grp('gpu-30hz', 'naive', GPU)
    res.append(target('camera rate: naive GPU p50 / GPU node p50', where,
                      _lat(naive, 'p50') / _lat(ours, 'p50'), TARGETS['camera_rate_speedup'],
                      'no slower than the naive GPU node at the camera rate', le=False))
    over, naive_over = grp('gpu-overload', 'ours', GPU), grp('gpu-overload', 'naive', GPU)
    if over is not None:
        ow = f'{model} {size} @ {over["rate_achieved"]:.0f} Hz sent'
        res.append(target('overload: naive GPU p50 / GPU node p50', ow,
                          _lat(naive_over, 'p50') / _lat(over, 'p50'),
                          TARGETS['overload_speedup'],
                          'end-to-end latency p50 ratio at the same camera rate', le=False))
        thr = (naive_over or {}).get('throughput_hz') or float('nan')
        res.append(target('overload: GPU node out Hz / naive GPU out Hz', ow,
                          float(over.get('throughput_hz') or float('nan')) / thr,
                          TARGETS['overload_speedup'], 'answers per second, same camera',
                          le=False))
    cpu = grp('gpu-30hz', 'ours', CPU)
    res.append(target('CPU per frame: GPU node / CPU-backend node', where,
                      cpu_ms_per_frame(ours) / cpu_ms_per_frame(cpu),
                      TARGETS['cpu_per_frame_ratio'],
                      'psutil CPU time of the node process per answered frame, 30 Hz runs'))
    return res


# ------------------------------------------------------------------ markdown
def _name(g: Dict[str, Any]) -> str:
    if g['kind'] in ('relay', 'wire'):
        return g['kind']
    if g['kind'] == 'naive':
        return 'naive, ORT CUDA EP, host arrays' if g.get('backend') == GPU else 'naive, CPU'
    if g.get('backend') == GPU:
        return 'ours, onnxruntime_gpu + kernel' + (' + CUDA graph' if g.get('cuda_graph')
                                                   else '')
    return 'ours, CPU backend'


def render(r: Dict[str, Any], table: Callable[..., List[str]]) -> List[str]:
    """Markdown lines of the section (``table`` is the report's table helper)."""
    gpu = r.get('gpu')
    if not gpu:
        return []
    lines = ['## GPU: the node on the CPU backend and on onnxruntime_gpu, side by side', '']
    if gpu.get('skipped'):
        return lines + [f'Not measured here: {gpu["skipped"]}.', '']
    summary = gpu.get('summary') or summarize(gpu, r.get('options', {}))
    groups = summary['groups']
    info: Dict[str, Any] = next(
        (row['info'] for row in gpu.get('raw', []) if row['backend'] == GPU), {})
    lines += [f'Device {info.get("device", "?")}, execution provider '
              f'{info.get("execution_provider", "?")}, ONNX Runtime '
              f'{info.get("runtime_version", "?")}, CUDA binding '
              f'{info.get("cuda_binding", "?")}. ms; p50 (p99).', '',
              '### Inference alone, in process (%s runs after warm-up)'
              % (gpu.get('raw') or [{}])[0].get('runs', '?'), '']

    def pq(p: Any) -> str:
        return f'{fmt(p.get("p50"))} ({fmt(p.get("p99"))})' if p else '-'
    lines += table(['model', 'backend', 'what is timed', 'back to back',
                    f'paced at {r.get("options", {}).get("rate", 30):g} Hz'],
                   [[row['model'], row['backend'] + (' + CUDA graph' if row['cuda_graph']
                                                     else ''),
                     'infer_from_device(1)' if row['from_device'] else 'infer(1)',
                     pq(row.get('infer_ms')), pq((row.get('paced') or {}).get('infer_ms'))]
                    for row in gpu.get('raw', [])])
    lines += ['', "### The node's per-frame path in process (no DDS), p50", '']
    stages = ('convert', 'preprocess', 'infer', 'postprocess', 'message', 'total')
    lines += table(['model', 'backend', 'size'] + list(stages),
                   [[e['model'], e['backend'] + (' + graph' if e['cuda_graph'] else ''),
                     e['size']] + [fmt(e['stages_ms'][s]['p50']) for s in stages]
                    for e in gpu.get('node_path_inprocess', [])])
    for phase, title in (('gpu-30hz', 'End to end at the camera rate'),
                         ('gpu-overload', 'End to end at overload (same camera rate for all)')):
        def row_of(g: Dict[str, Any]) -> List[str]:
            lat = g['latency_ms']
            return [_name(g), g['model'], g['size'], f'{g["rate_achieved"]:.0f}',
                    fmt(lat['p50']), fmt(lat['p99']), f'{g["throughput_hz"]:.1f}',
                    f'{g["answered"]}/{g["sent"]}', f'{g["cpu_percent"]:.0f}',
                    fmt(cpu_ms_per_frame(g)) if g['kind'] not in ('wire',) else '-']
        rows = phase_rows(groups, phase, _name, row_of, columns=10, error_chars=160)
        if rows:
            lines += ['', f'### {title}', ''] + table(
                ['node', 'model', 'size', 'sent Hz', 'p50', 'p99', 'out Hz',
                 'answered/sent', 'CPU %', 'CPU ms/frame'], rows)
    lines += ['', "### Per stage, from the node's own /diagnostics (camera rate, p50 / p99)",
              '']
    names = ('convert', 'preprocess', 'infer', 'postprocess', 'message', 'publish', 'total',
             'latency')
    rows = []
    for g in groups:
        node = g.get('node')
        if g['phase'] == 'gpu-30hz' and g['kind'] == 'ours' and node:
            st = node['stages_ms']
            rows.append([_name(g), g['model'], g['size']] +
                        [f'{fmt(st.get(s, {}).get("p50"))} / {fmt(st.get(s, {}).get("p99"))}'
                         for s in names])
    lines += table(['node', 'model', 'size'] + list(names), rows)
    lines += ['', '### Targets (issue 20), as measured', '']
    lines += table(['target', 'where', 'measured', 'limit', 'met', 'how'],
                   [[t['target'], t['where'], fmt(t['measured']),
                     f'{t["comparison"]} {t["limit"]}',
                     {True: 'met', False: 'NOT MET', None: 'not measured'}[t['met']], t['how']]
                    for t in summary['targets']])
    return lines + ['']
