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
From raw runs to the numbers the report states: pooled groups, targets, projection.

Repeats of one configuration are pooled (latency samples concatenated; the node's own
percentiles averaged over runs, since percentiles of separate windows cannot be
merged). Every target of issue 8 is evaluated here from measured values and reported
as met or not; nothing here asserts. Differences of percentiles (end to end minus raw
backend) are what the targets ask for; they are not percentiles of a difference.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional, Tuple

from jetson_infer_ros.bench.summary import mean_of, summarize

WORK_STAGES = ('convert', 'preprocess', 'infer', 'postprocess', 'message', 'publish')
SEED_XAVIER = {'end_to_end_ms': 30.0, 'overhead_ms': 11.7}
# Assumed slow-down of CPU-bound per-frame work on a Xavier NX's Carmel cores relative to
# this benchmark's CPU (not measured here: no Jetson is available to the project).
JETSON_CPU_FACTORS = (2.5, 4.0)
TARGETS = {'overhead_p50_ms': 1.0, 'overhead_p99_ms': 2.5, 'overload_p99_service_ratio': 2.0,
           'naive_speedup': 2.0, 'idle_rss_mb': 150.0}


def _ok(runs: Iterable[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [r for r in runs if 'error' not in r]


def select(runs: Iterable[Dict[str, Any]], **match: Any) -> List[Dict[str, Any]]:
    """Return the runs without error whose fields equal ``match``."""
    return [r for r in _ok(runs) if all(r.get(k) == v for k, v in match.items())]


def service_ms(node: Optional[Dict[str, Any]]) -> float:
    """One frame's service time: the sum of the node's per-stage p50s (no waiting)."""
    if not node:
        return float('nan')
    stages = node.get('stages_ms', {})
    values = [stages.get(s, {}).get('p50') for s in WORK_STAGES]
    if any(v is None or v != v for v in values):
        return float('nan')
    return round(sum(values), 4)


def capacity_hz(runs: Iterable[Dict[str, Any]], model: str, size: str,
                precision: str) -> Optional[float]:
    """Frames per second the node can serve, from its 30 Hz runs' service time."""
    services = [service_ms(r.get('node')) for r in select(
        runs, phase='30hz', kind='ours', model=model, size=size, precision=precision)]
    svc = mean_of(services)
    return round(1000.0 / svc, 1) if svc == svc and svc > 0 else None


def _mean_stages(nodes: List[Dict[str, Any]]) -> Dict[str, Dict[str, float]]:
    stages: Dict[str, Dict[str, float]] = {}
    names = sorted({s for n in nodes for s in n.get('stages_ms', {})})
    for s in names:
        stages[s] = {q: mean_of(n.get('stages_ms', {}).get(s, {}).get(q) for n in nodes)
                     for q in ('p50', 'p90', 'p99')}
    return stages


def group_runs(runs: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Pool the repeats of each (phase, kind, model, precision, size, executor, backend)."""
    fields = ('phase', 'kind', 'model', 'precision', 'size', 'executor', 'backend',
              'cuda_graph')
    keys: List[Tuple[str, ...]] = []
    for r in runs:
        key = tuple(r.get(f, '') for f in fields)
        if key not in keys:
            keys.append(key)
    groups = []
    for key in keys:
        members = [r for r in runs if tuple(r.get(f, '') for f in fields) == key]
        ok = _ok(members)
        g: Dict[str, Any] = dict(zip(fields, key))
        g['runs'] = len(ok)
        g['errors'] = [r['error'].splitlines()[0] for r in members if 'error' in r]
        if not ok:
            groups.append(g)
            continue
        latencies = [v for r in ok for v in r.get('latencies', [])]
        g.update(
            rate_target=mean_of(r['rate'] for r in ok),
            rate_achieved=mean_of(r.get('rate_achieved') for r in ok),
            sent=sum(r['sent'] for r in ok), answered=sum(r['answered'] for r in ok),
            sent_total=sum(r['sent_total'] for r in ok),
            answered_total=sum(r['answered_total'] for r in ok),
            unanswered_total=sum(r['unanswered_total'] for r in ok),
            camera_failed=sum(r.get('camera_failed', 0) for r in ok),
            latency_ms=summarize(latencies),
            latency_growth_ms=mean_of(r.get('latency_growth_ms') for r in ok),
            throughput_hz=mean_of(r.get('throughput_hz') for r in ok),
            cpu_percent=mean_of(r.get('cpu_percent') for r in ok),
            rss_peak_mb=max((r.get('rss_peak_mb') or 0.0) for r in ok),
            vm_hwm_mb=max((r.get('vm_hwm_mb') or 0.0) for r in ok),
            idle_rss_mb=mean_of(r.get('idle_memory', {}).get('rss_mb') for r in ok))
        nodes = [r['node'] for r in ok if r.get('node')]
        if nodes:
            drops: Dict[str, int] = {}
            for n in nodes:
                for reason, count in n.get('drops', {}).items():
                    drops[reason] = drops.get(reason, 0) + int(count)
            node = {'stages_ms': _mean_stages(nodes),
                    'received': sum(n['received'] for n in nodes),
                    'taken': (sum(n['taken'] for n in nodes)
                              if all(n.get('taken') is not None for n in nodes) else None),
                    'processed': sum(n['processed'] for n in nodes),
                    'dropped': sum(n['dropped'] for n in nodes), 'drops': drops,
                    'lost_in_transport': sum(n.get('lost_in_transport', 0) for n in nodes),
                    'precision_in_use': nodes[-1].get('precision_in_use', '')}
            node['service_ms'] = service_ms(node)
            total = node['stages_ms'].get('total', {}).get('p50', float('nan'))
            node['handoff_ms'] = round(max(0.0, total - node['service_ms']), 4) \
                if total == total and node['service_ms'] == node['service_ms'] \
                else float('nan')
            g['node'] = node
        groups.append(g)
    return groups


def find(groups: List[Dict[str, Any]], **match: Any) -> Optional[Dict[str, Any]]:
    for g in groups:
        if g.get('runs') and all(g.get(k) == v for k, v in match.items()):
            return g
    return None


def _raw(results: Dict[str, Any], model: str, precision: str, paced: bool = False
         ) -> Optional[Dict[str, Any]]:
    """Return the raw backend's percentiles, back to back or paced at the camera rate."""
    if precision == 'int8-forced':      # the same artefact; the raw backend skips the gate
        precision = 'int8'
    for row in results.get('raw_backend', []) or []:
        if row.get('model') == model and row.get('precision') == precision:
            return (row.get('paced') or {}).get('infer_ms') if paced else row.get('infer_ms')
    return None


def _lat(group: Optional[Dict[str, Any]], q: str) -> float:
    return float(group['latency_ms'][q]) if group and group.get('latency_ms') else float('nan')


def _target(name: str, where: str, measured: float, limit: float, how: str,
            le: bool = True) -> Dict[str, Any]:
    met = None
    if measured == measured:
        met = bool(measured <= limit) if le else bool(measured >= limit)
    return {'target': name, 'where': where, 'measured': round(measured, 3)
            if measured == measured else None, 'limit': limit,
            'comparison': '<=' if le else '>=', 'met': met, 'how': how}


def evaluate_targets(results: Dict[str, Any], groups: List[Dict[str, Any]]
                     ) -> List[Dict[str, Any]]:
    """Issue 8's targets, each as measured (met True/False, None when not measured)."""
    out: List[Dict[str, Any]] = []
    opts = results.get('options', {})
    sizes = opts.get('sizes') or [[640, 480]]
    size = '640x480' if any(list(s) == [640, 480] for s in sizes) else \
        f'{sizes[0][0]}x{sizes[0][1]}'
    for model in opts.get('models', []):
        for precision in ('fp32', 'int8', 'int8-forced'):
            ours = find(groups, phase='30hz', kind='ours', model=model, size=size,
                        precision=precision)
            if ours is None:
                continue
            where = f'{model} {precision} {size} @ {opts.get("rate", 30):g} Hz'
            raw = _raw(results, model, precision) or {}
            relay = find(groups, phase='30hz', kind='relay', model=model, size=size)
            wire = find(groups, phase='30hz', kind='wire', model=model, size=size)
            out.append(_target('node overhead p50 (end to end - raw backend)', where,
                               _lat(ours, 'p50') - raw.get('p50', float('nan')),
                               TARGETS['overhead_p50_ms'],
                               'listener latency p50 - backend.infer() p50'))
            out.append(_target('node overhead p99 (end to end - raw backend)', where,
                               _lat(ours, 'p99') - raw.get('p99', float('nan')),
                               TARGETS['overhead_p99_ms'],
                               'listener latency p99 - backend.infer() p99'))
            paced = _raw(results, model, precision, paced=True)
            if paced:
                for q, limit in (('p50', 'overhead_p50_ms'), ('p99', 'overhead_p99_ms')):
                    out.append(_target(
                        f'node overhead {q} (end to end - raw backend paced at the camera '
                        'rate)', where, _lat(ours, q) - paced.get(q, float('nan')),
                        TARGETS[limit], f'listener latency {q} - backend.infer() {q}, one '
                        'inference per camera period, like the node at that rate'))
            infer = (ours.get('node') or {}).get('stages_ms', {}).get('infer', {})
            for q, limit in (('p50', 'overhead_p50_ms'), ('p99', 'overhead_p99_ms')):
                out.append(_target(f'node overhead {q} (end to end - infer inside the node)',
                                   where, _lat(ours, q) - infer.get(q, float('nan')),
                                   TARGETS[limit], f"listener latency {q} - the node's own "
                                   f'infer {q} in the same runs (immune to load drift '
                                   'between the raw-backend section and these runs)'))
            out.append(_target('node overhead p50 beyond the DDS floor', where,
                               _lat(ours, 'p50') - _lat(relay, 'p50') -
                               infer.get('p50', float('nan')), TARGETS['overhead_p50_ms'],
                               "latency p50 - relay latency p50 - the node's own infer p50"))
            out.append(_target('node overhead p50 beyond the wire (one image hop)', where,
                               _lat(ours, 'p50') - _lat(wire, 'p50') -
                               infer.get('p50', float('nan')), TARGETS['overhead_p50_ms'],
                               "latency p50 - wire latency p50 - the node's own infer p50 "
                               "(includes the answer's own DDS hop)"))
            over = find(groups, phase='overload', kind='ours', model=model, size=size,
                        precision=precision)
            svc = ours.get('node', {}).get('service_ms', float('nan'))
            if over is not None:
                ow = f'{model} {precision} {size} @ {over["rate_achieved"]:.0f} Hz sent'
                out.append(_target('overload p99 latency / service time', ow,
                                   _lat(over, 'p99') / svc if svc else float('nan'),
                                   TARGETS['overload_p99_service_ratio'],
                                   'listener p99 at overload / sum of node stage p50s'))
                out.append(_target('overload queue growth (ms over the run)', ow,
                                   float(over.get('latency_growth_ms', float('nan'))), svc,
                                   'median latency of last third - first third, '
                                   '<= one service time'))
                node = over.get('node', {})
                counted = node.get('received', -1) == node.get('processed', 0) + \
                    node.get('dropped', 0)
                out.append({'target': 'overload drops counted', 'where': ow,
                            'measured': f'received {node.get("received")} = processed '
                                        f'{node.get("processed")} + dropped '
                                        f'{node.get("dropped")} {node.get("drops", {})}',
                            'limit': 'received = processed + dropped', 'comparison': '=',
                            'met': bool(counted and node.get('dropped', 0) > 0),
                            'how': 'node /diagnostics counters'})
            naive = find(groups, phase='30hz', kind='naive', model=model, size=size)
            if naive is not None and precision == 'fp32':
                out.append(_target('end to end speed-up over the naive node (p50)', where,
                                   _lat(naive, 'p50') / _lat(ours, 'p50'),
                                   TARGETS['naive_speedup'],
                                   'naive latency p50 / ours latency p50', le=False))
    idle = (results.get('memory') or {}).get('idle_node') or {}
    if 'rss_mb' in idle:
        out.append(_target('idle RSS of the configured node (MB)',
                           'efficientnet_lite0, ONNX Runtime, shipped DDS profile',
                           float(idle['rss_mb']), TARGETS['idle_rss_mb'],
                           'psutil RSS of the infer_node pid, active, no input'))
    return out


def decomposition(group: Dict[str, Any]) -> Optional[Dict[str, float]]:
    """
    Split one group's p50 end-to-end latency into where the milliseconds go.

    The node's ``total`` runs from its subscription callback to publish returned; its
    ``latency`` from the camera stamp to the moment results exist (taken after
    postprocess, before message and publish). Hence DDS in (camera publish, transport,
    rclpy take and dispatch) = latency - (total - message - publish), and DDS out
    (transport to the listener and its dispatch) = end to end - latency - message -
    publish. Differences of p50s: the parts add up only approximately.
    """
    node = group.get('node')
    if not node:
        return None
    st = node['stages_ms']

    def p50(stage: str) -> float:
        return float(st.get(stage, {}).get('p50', float('nan')))
    parts = {s: p50(s) for s in WORK_STAGES}
    parts['handoff'] = node.get('handoff_ms', float('nan'))
    after_results = p50('message') + p50('publish')
    parts['dds_in_and_dispatch'] = p50('latency') - (p50('total') - after_results)
    parts['dds_out'] = _lat(group, 'p50') - p50('latency') - after_results
    parts['end_to_end'] = _lat(group, 'p50')
    return {k: round(v, 4) for k, v in parts.items()}


def jetson_projection(groups: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """
    Project what the node adds to a TensorRT engine's time from the CPU stage numbers.

    Node work = the p50s of convert, preprocess, postprocess, message and publish, plus
    the smallest hand-off measured at the camera rate (the wake-up; a saturated node's
    hand-off is queueing, which a faster engine removes). Transport = the relay's p50
    for the same size (the measured DDS floor; the derived DDS in/out of one group is a
    difference of p50s and turns noisy under load). Both scale with the CPU.
    """
    ours = [g for g in groups if g['phase'] == '30hz' and g['kind'] == 'ours'
            and g['precision'] == 'fp32' and g.get('node')]
    handoffs = [g['node'].get('handoff_ms', float('nan')) for g in ours]
    wake = min((h for h in handoffs if h == h), default=float('nan'))
    out = []
    for g in ours:
        parts = decomposition(g)
        if parts is None:
            continue
        handoff = min(parts['handoff'], wake) if parts['handoff'] == parts['handoff'] else wake
        stages = ('convert', 'preprocess', 'postprocess', 'message', 'publish')
        work = sum(parts[k] for k in stages if parts[k] == parts[k]) + \
            (handoff if handoff == handoff else 0.0)
        relay = find(groups, phase='30hz', kind='relay', model=g['model'], size=g['size'])
        transport = _lat(relay, 'p50') if relay is not None else \
            parts['dds_in_and_dispatch'] + parts['dds_out']
        added = work + transport
        row = {'model': g['model'], 'size': g['size'], 'parts_ms': parts,
               'handoff_used_ms': round(handoff, 3), 'node_work_ms': round(work, 3),
               'transport_ms': round(transport, 3), 'added_here_ms': round(added, 3),
               'added_without_cpu_preprocess_ms': round(added - parts['preprocess'], 3)}
        row['projected_ms'] = {f'x{k:g}': round(k * added, 2) for k in JETSON_CPU_FACTORS}
        row['projected_gpu_preprocess_ms'] = {
            f'x{k:g}': round(k * (added - parts['preprocess']), 2) for k in JETSON_CPU_FACTORS}
        out.append(row)
    return out


def summarize_results(results: Dict[str, Any]) -> Dict[str, Any]:
    """Derive the reported numbers: pooled groups, targets, Jetson projection."""
    groups = group_runs(results.get('e2e_runs', []) or [])
    return {'groups': groups, 'targets': evaluate_targets(results, groups),
            'jetson_projection': jetson_projection(groups), 'seed_xavier_nx': SEED_XAVIER,
            'jetson_cpu_factors': list(JETSON_CPU_FACTORS)}
