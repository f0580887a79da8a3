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
One end-to-end run: camera process -> node process -> listener process, over DDS.

The node under test is one of three: ``ours`` (the real ``infer_node`` console script
with a params file, exactly as a user starts it), ``naive`` (the tutorial-style
reference) or ``relay`` (the transport floor of the node's topology: one image hop in,
one small message hop out). A fourth kind, ``wire``, has no node at all: the image
sink subscribes to the camera itself, so its latency is one image hop, the DDS floor
any node subscribing to that camera starts from. The camera stamps each frame just before
publishing; the listener notes when the answer for that stamp arrives in its process,
so latency is input header stamp -> output receipt. For ``ours`` the listener also
records /diagnostics, and the node's last report after the run gives its own per-stage
percentiles, frame counts and drops by reason. CPU% and RSS come from psutil on the
node's pid over the camera's measured window.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from jetson_infer_ros import ros_isolation
from jetson_infer_ros.bench import procs
from jetson_infer_ros.bench.summary import growth, rounded, summarize
from jetson_infer_ros.stats import STAGES

KINDS = ('ours', 'naive', 'relay', 'wire')
CAMERA_DELAY = 1.0
# what a reference node prints once it is subscribed; ours is ready when its latched
# label_info (published on activate) reaches the listener
READY = {'naive': 'naive node ready', 'relay': 'relay ready', 'wire': 'sink ready'}
ANSWER_KINDS = ('classification', 'detections', 'image')


@dataclasses.dataclass
class RunSpec:
    """What one end-to-end run measures."""

    kind: str                  # ours | naive | relay | wire
    model: str                 # default model name, e.g. efficientnet_lite0
    config: str                # ROS params YAML of the model (config/infer.yaml, ...)
    task: str                  # classification | detection
    precision: str = 'fp32'    # fp32 | int8 (gate accepts) | int8-forced (gate lowered)
    int8_model: str = ''       # the INT8 artefact ours runs for int8 precisions
    size: Tuple[int, int] = (640, 480)
    rate: float = 30.0
    duration: float = 6.0
    warmup: float = 1.0
    phase: str = '30hz'        # 30hz | overload | executor
    repeat: int = 0
    executor: str = ''         # relay: single | multi; ours: a node_variants spin ('' = main)
    switch_interval: float = 0.0   # ours with an executor: sys.setswitchinterval, s
    backend: str = ''          # ours: the backend parameter ('' = the config's); naive:
    #                            onnxruntime_gpu runs it on the CUDA EP
    cuda_graph: bool = False   # ours: use_cuda_graph

    @property
    def label(self) -> str:
        prec = f'-{self.precision}' if self.kind == 'ours' else ''
        prec += f'-{self.executor}' if self.executor else ''
        prec += f'-si{self.switch_interval * 1e3:g}ms' if self.switch_interval else ''
        prec += f'-{self.backend}' if self.backend else ''
        prec += '-graph' if self.cuda_graph else ''
        return (f'{self.phase}-{self.kind}{prec}-{self.model}-{self.size[0]}x{self.size[1]}'
                f'-r{self.repeat}')


def write_params(spec: RunSpec, path: Path) -> Path:
    """
    Write the node's params file: the model's shipped config with the precision set.

    ``int8-forced`` lowers the accuracy gate's thresholds so that the node runs an
    artefact the gate refuses: the bench times it, the report says it is refused.
    """
    import yaml
    from jetson_infer_ros.config import DEFAULT_NODE_NAME, read_ros_parameters
    values = read_ros_parameters(spec.config)
    values['precision'] = 'int8' if spec.precision.startswith('int8') else spec.precision
    if spec.int8_model:
        values['int8_model_path'] = spec.int8_model
    if spec.precision == 'int8-forced':
        from jetson_infer_ros.quant.gate import PERMISSIVE
        values.update(PERMISSIVE)
    if spec.backend:
        values['backend'] = spec.backend
    if spec.cuda_graph:
        values['use_cuda_graph'] = True
    path.write_text(yaml.safe_dump({DEFAULT_NODE_NAME: {'ros__parameters': values}}))
    return path


def _node_command(spec: RunSpec, work: Path) -> List[str]:
    if spec.kind == 'ours':
        params = write_params(spec, work / f'{spec.label}.params.yaml')
        ros_args = ['--ros-args', '--params-file', str(params)]
        if spec.executor or spec.switch_interval:
            return [sys.executable, '-m', 'jetson_infer_ros.bench.node_variants',
                    '--executor', spec.executor or 'multi', '--switch-interval',
                    str(spec.switch_interval)] + ros_args
        return [str(procs.bin_dir() / 'infer_node'), '--autostart'] + ros_args
    if spec.kind == 'naive':
        return [sys.executable, '-m', 'jetson_infer_ros.bench.naive_node', '--config',
                str(spec.config), '--device',
                'cuda' if spec.backend == 'onnxruntime_gpu' else 'cpu']
    if spec.kind == 'relay':
        return [sys.executable, '-m', 'jetson_infer_ros.bench.relay_node', '--executor',
                spec.executor or 'single']
    if spec.kind == 'wire':
        return [sys.executable, '-m', 'jetson_infer_ros.bench.image_sink', '--out',
                str(work / f'{spec.label}.listener.jsonl'), '--kind', 'image']
    raise ValueError(f'unknown node kind {spec.kind!r}; one of {", ".join(KINDS)}')


def output_topic(spec: RunSpec) -> str:
    """Return the listener's KIND=TOPIC for what this node publishes."""
    if spec.task == 'detection' and spec.kind != 'relay':
        return 'detections=detections'
    return 'classification=classification'


def read_jsonl(path: Path) -> List[Dict[str, Any]]:
    """Read JSON lines, skipping a torn last line of a killed writer."""
    out: List[Dict[str, Any]] = []
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def _count_lines(path: Path) -> int:
    try:
        with open(path, 'rb') as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def _wait_active(node: procs.Child, listener_out: Path, timeout: float) -> None:
    """Wait for the node's latched label_info: it is published when the node activates."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r.get('kind') == 'label_info' for r in read_jsonl(listener_out)):
            return
        if node.proc.poll() is not None:
            break
        time.sleep(0.1)
    tail = '\n'.join(node.log().splitlines()[-15:])
    raise procs.BenchProcessError(f'{node.name} never became active; log:\n{tail}')


def _wait_tail(listener_out: Path, want_diagnostics: bool, max_wait: float = 6.0) -> None:
    """Wait until answers stop arriving (and, for ours, one more diagnostics report)."""
    deadline = time.monotonic() + max_wait
    last, still_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        n = _count_lines(listener_out)
        if n != last:
            last, still_since = n, time.monotonic()
        elif time.monotonic() - still_since > 0.6:
            break
        time.sleep(0.1)
    if not want_diagnostics:
        return
    # the node reports once a second: wait for a report made after the last answer
    t_quiet = time.time_ns()
    deadline = time.monotonic() + 2.5
    while time.monotonic() < deadline:
        recs = [r for r in read_jsonl(listener_out) if r.get('kind') == 'diagnostics']
        if recs and recs[-1]['received_ns'] > t_quiet:
            return
        time.sleep(0.1)


def node_diagnostics(values: Dict[str, str]) -> Dict[str, Any]:
    """Turn the node's last /diagnostics key/values into stage percentiles and counts."""
    def num(key: str) -> float:
        try:
            return float(values[key])
        except (KeyError, ValueError):
            return float('nan')
    stages = {}
    for stage in STAGES:
        pct = {q: num(f'{stage}_ms.{q}') for q in ('p50', 'p90', 'p99')}
        if any(v == v for v in pct.values()):   # not all NaN
            stages[stage] = pct
    drops = {k[len('dropped.'):]: int(num(k)) for k in values
             if k.startswith('dropped.') and num(k) > 0}
    taken = num('frames_taken')     # absent before the input gate
    return {'stages_ms': stages, 'received': int(num('frames_received')),
            'taken': int(taken) if taken == taken else None,
            'processed': int(num('frames_processed')),
            'published': int(num('frames_published')),
            'dropped': int(num('frames_dropped')), 'drops': drops,
            'precision_in_use': values.get('precision_in_use', ''),
            'backend': values.get('backend', ''), 'notes': values.get('notes', '')}


def run_once(spec: RunSpec, work: Path, log: Any = print) -> Dict[str, Any]:
    """Run one camera -> node -> listener measurement; failures are recorded, not raised."""
    work.mkdir(parents=True, exist_ok=True)
    result: Dict[str, Any] = dataclasses.asdict(spec)
    result['size'] = f'{spec.size[0]}x{spec.size[1]}'
    env = procs.run_env(profile=True)
    result['domain_id'] = int(env['ROS_DOMAIN_ID'])
    listener_out = work / f'{spec.label}.listener.jsonl'
    camera_summary = work / f'{spec.label}.camera.json'
    topics = ['--topic', output_topic(spec)]
    if spec.kind == 'ours':
        topics += ['--topic', 'diagnostics=/diagnostics', '--topic', 'label_info=label_info']
    children: List[procs.Child] = []
    monitor: Optional[procs.Monitor] = None
    try:
        node_env = ros_isolation.for_inference_node(env) if spec.kind == 'ours' else env
        node = procs.Child(f'{spec.label}.node', _node_command(spec, work), node_env, work)
        children.append(node)
        listener = None
        if spec.kind != 'wire':     # the wire's sink is its own listener
            listener = procs.Child(f'{spec.label}.listener',
                                   [sys.executable, '-m', 'jetson_infer_ros.testing.listener',
                                    '--out', str(listener_out)] + topics, env, work)
            children.append(listener)
        # the camera starts with the others (it waits for the node's subscription, then
        # CAMERA_DELAY s, so the node is watched from before the first frame)
        camera = procs.Child(
            f'{spec.label}.camera',
            [sys.executable, '-m', 'jetson_infer_ros.bench.camera', '--width',
             str(spec.size[0]), '--height', str(spec.size[1]), '--rate', str(spec.rate),
             '--duration', str(spec.duration), '--warmup', str(spec.warmup), '--reliable',
             '--depth', '10', '--start-delay', str(CAMERA_DELAY), '--summary',
             str(camera_summary)], env, work)
        children.append(camera)
        if listener is not None:
            listener.wait_for('listener ready', 60)
        if spec.kind == 'ours':
            _wait_active(node, listener_out, 90)
        else:
            node.wait_for(READY[spec.kind], 90)
        monitor = procs.Monitor(node.pid)
        monitor.start()
        result['idle_memory'] = monitor.memory_now()
        if not camera.wait_exit(spec.warmup + spec.duration + 60) or \
                not camera_summary.is_file():
            raise procs.BenchProcessError('camera did not finish:\n' + camera.log()[-2000:])
        _wait_tail(listener_out, spec.kind == 'ours')
        monitor.sample()
    except procs.BenchProcessError as exc:
        result['error'] = str(exc)
        log(f'[bench] {spec.label}: FAILED: {str(exc).splitlines()[0]}')
        return result
    finally:
        if monitor is not None:
            monitor.stop()
        procs.stop_all(children)
    result.update(analyse(spec, read_jsonl(listener_out), json.loads(camera_summary.read_text()),
                          monitor))
    return result


def analyse(spec: RunSpec, records: List[Dict[str, Any]], camera: Dict[str, Any],
            monitor: Any) -> Dict[str, Any]:
    """Match answers to sent stamps and compute what the run measured."""
    kinds = ANSWER_KINDS
    answers: Dict[int, int] = {}
    for r in records:
        if r.get('kind') in kinds:
            answers.setdefault(int(r['stamp_ns']), int(r['received_ns']))
    sent = [int(s) for s in camera['stamps']]
    warm = [int(s) for s in camera['warmup_stamps']]
    latencies = [(answers[s] - s) / 1e6 for s in sent if s in answers]
    answered_total = sum(1 for s in sent + warm if s in answers)
    measured_s = float(camera.get('measured_s') or 0.0)
    out: Dict[str, Any] = {
        'rate_achieved': camera.get('rate_achieved'),
        'camera_publish_ms': summarize(camera.get('publish_ms', [])),
        'camera_failed': camera.get('failed', 0),
        'camera_subscribers': camera.get('subscribers', 0),
        'sent': len(sent), 'answered': len(latencies),
        'sent_total': len(sent) + len(warm), 'answered_total': answered_total,
        'unanswered_total': len(sent) + len(warm) - answered_total,
        'latency_ms': summarize(latencies),
        'latency_growth_ms': growth(latencies),
        'throughput_hz': round(len(latencies) / measured_s, 2) if measured_s else 0.0,
        'latencies': rounded(latencies),
    }
    diags = [r for r in records if r.get('kind') == 'diagnostics' and r.get('status')]
    if diags:
        diag = node_diagnostics(diags[-1]['status'][0]['values'])
        diag['lost_in_transport'] = max(0, out['sent_total'] - diag['received'])
        out['node'] = diag
    if monitor is not None:
        out.update(monitor.window(int(camera.get('measure_start_ns') or 0),
                                  int(camera.get('measure_end_ns') or 0)))
        out['vm_hwm_mb'] = round(monitor.vm_hwm_bytes / 2 ** 20, 1)
    return out
