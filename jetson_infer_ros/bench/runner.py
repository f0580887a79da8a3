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
Run every benchmark section in order and collect one results dictionary.

Sections (each can be chosen with ``sections``; a failing section is recorded in the
results and the others still run): ``inprocess`` (raw backend, the node's per-frame
path without DDS, tracemalloc), ``convert`` (issue 11 conversion paths), ``e2e``
(camera -> node -> listener for ours / naive / relay, at the camera rate and at the
overload rate, interleaved so that noise on a shared machine falls on all of them),
``transport`` (issue 11 delivery with and without the profile), ``memory`` (idle
RSS and where it comes from) and ``gpu`` (the node on the CPU backend against the node on
``onnxruntime_gpu``, naive GPU node and floors in the same run; bench/gpu_compare.py;
skipped with the reason where no GPU backend is usable).

With ``int8`` among the precisions, the bench first makes (or finds cached) each model's
INT8 artefact itself (bench/int8.py), so INT8 rows never depend on a hand-made file.
Where the accuracy gate refuses the artefact the node would run FP32, so those rows run
as ``int8-forced`` (the gate's thresholds lowered in the node's params file) and say so.
"""

from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from jetson_infer_ros.bench import aggregate, machine
from jetson_infer_ros.bench.frames import size_label

SECTIONS = ('inprocess', 'convert', 'e2e', 'transport', 'memory', 'gpu')
MODEL_CONFIGS = {'efficientnet_lite0': 'infer.yaml', 'nanodet': 'detect.yaml'}
SCHEMA = 'jetson_infer_ros.bench/1'


@dataclasses.dataclass
class BenchOptions:
    """Everything that shapes a benchmark run (the CLI fills it)."""

    models: Tuple[str, ...] = ('efficientnet_lite0', 'nanodet')
    sizes: Tuple[Tuple[int, int], ...] = ((640, 480), (1280, 720))
    precisions: Tuple[str, ...] = ('fp32', 'int8')
    rate: float = 30.0
    duration: float = 5.0
    warmup: float = 1.0
    repeats: int = 2
    overload_factor: float = 3.0
    max_rate: float = 500.0
    gpu_max_rate: float = 1000.0       # gpu section: overload cap (the GPU node is fast)
    raw_runs: int = 300
    stage_frames: int = 200
    alloc_frames: int = 100
    convert_sizes: Tuple[Tuple[int, int], ...] = ((640, 480), (1920, 1080))
    convert_runs: int = 200
    transport_sizes: Tuple[Tuple[int, int], ...] = ((640, 480), (1280, 720), (1920, 1080))
    transport_duration: float = 5.0
    sections: Tuple[str, ...] = SECTIONS
    quick: bool = False


def quick_options() -> BenchOptions:
    """Return the tiny budget of ``--quick``: every section, a few frames, one model."""
    return BenchOptions(models=('efficientnet_lite0',), sizes=((640, 480),),
                        precisions=('fp32',), duration=1.5, warmup=0.5, repeats=1,
                        raw_runs=30, stage_frames=20, alloc_frames=10,
                        convert_sizes=((640, 480),), convert_runs=20,
                        transport_sizes=((640, 480),), transport_duration=1.5, quick=True)


def config_path(model: str) -> str:
    """Return the shipped params file of a default model (source tree or ament share)."""
    if model not in MODEL_CONFIGS:
        raise ValueError(f'unknown model {model!r}; one of {", ".join(MODEL_CONFIGS)}')
    here = Path(__file__).resolve().parents[2] / 'config' / MODEL_CONFIGS[model]
    if here.is_file():
        return str(here)
    from ament_index_python.packages import get_package_share_directory
    return str(Path(get_package_share_directory('jetson_infer_ros')) / 'config' /
               MODEL_CONFIGS[model])


def task_of(model: str) -> str:
    return 'detection' if MODEL_CONFIGS.get(model) == 'detect.yaml' else 'classification'


class Runner:
    """Runs the chosen sections; ``results`` is what bench.json holds."""

    def __init__(self, options: BenchOptions, work: Path,
                 log: Callable[[str], None] = print) -> None:
        self.o = options
        self.work = Path(work)
        self.log = log
        self.results: Dict[str, Any] = {
            'schema': SCHEMA,
            'created': datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec='seconds'),
            'options': _jsonable(dataclasses.asdict(options)),
            'machine': machine.describe(),
            'load_average': {'start': machine.load_average()},
        }
        self._frames: Dict[Tuple[int, int], List[Any]] = {}

    # ------------------------------------------------------------------ helpers
    def frames(self, size: Tuple[int, int]) -> List[Any]:
        if size not in self._frames:
            from jetson_infer_ros.bench.frames import video_rgb_frames
            self._frames[size] = video_rgb_frames(*size)
        return self._frames[size]

    def precisions_for(self, model: str, gated: bool = True) -> List[str]:
        """
        FP32 always; INT8 where an artefact exists, labelled by the gate's verdict.

        ``gated``: the node's end-to-end rows, where a refused artefact runs as
        ``int8-forced``; otherwise (in-process timings) plain ``int8``.
        """
        out = ['fp32'] if 'fp32' in self.o.precisions else []
        status = self.int8_status(model)
        if 'int8' in self.o.precisions and status.get('exists'):
            out.append('int8' if status.get('gate_accepted') or not gated else 'int8-forced')
        return out

    def int8_status(self, model: str) -> Dict[str, Any]:
        return self.results.get('int8', {}).get(model) or {}

    def int8_model(self, model: str, precision: str) -> str:
        return str(self.int8_status(model).get('artifact', '')) \
            if precision.startswith('int8') else ''

    # ------------------------------------------------------------------ sections
    def run(self) -> Dict[str, Any]:
        t0 = time.monotonic()
        from jetson_infer_ros.bench.inprocess import maybe
        int8: Dict[str, Any] = {}
        if 'int8' in self.o.precisions:
            from jetson_infer_ros.bench.int8 import prepare
            for model in self.o.models:
                int8[model] = maybe(_Call(prepare, model, config_path(model), self.log),
                                    self.log, f'int8 artefact {model}')
        self.results['int8'] = int8
        for name in SECTIONS:
            if name not in self.o.sections:
                continue
            self.log(f'[bench] section {name}')
            started = time.monotonic()
            try:
                getattr(self, f'section_{name}')()
            except Exception as exc:  # noqa: B902 - one broken section must not sink the rest
                self.log(f'[bench] section {name}: FAILED: {type(exc).__name__}: {exc}')
                self.results.setdefault('errors', []).append(
                    f'{name}: {type(exc).__name__}: {exc}')
            self.results.setdefault('section_seconds', {})[name] = round(
                time.monotonic() - started, 1)
        self.results['load_average']['end'] = machine.load_average()
        self.results['summary'] = aggregate.summarize_results(self.results)
        self.results['elapsed_s'] = round(time.monotonic() - t0, 1)
        return self.results

    def section_inprocess(self) -> None:
        from jetson_infer_ros.bench import inprocess as ip
        raw, stages, allocs = [], [], []
        for model in self.o.models:
            config = config_path(model)
            for precision in self.precisions_for(model, gated=False):
                pipeline = ip.load_pipeline(config, precision, force_int8=True,
                                            int8_model=self.int8_model(model, precision))
                try:
                    size0 = self.o.sizes[0]
                    row = {'model': model, 'precision': precision,
                           'precision_in_use': pipeline.precision_in_use}
                    self.log(f'[bench] raw backend {model} {precision}')
                    row.update(ip.raw_backend(pipeline, self.frames(size0)[0],
                                              self.o.raw_runs))
                    self.log(f'[bench] raw backend {model} {precision} paced at '
                             f'{self.o.rate:g} Hz')
                    row['paced'] = ip.raw_backend(pipeline, self.frames(size0)[0],
                                                  self.o.raw_runs, pace_hz=self.o.rate)
                    raw.append(row)
                    for size in self.o.sizes:
                        payloads = ip.serialized_frames(self.frames(size))
                        entry = {'model': model, 'precision': precision,
                                 'size': size_label(size)}
                        entry.update(ip.node_path_stages(pipeline, payloads,
                                                         self.o.stage_frames))
                        stages.append(entry)
                    if precision == 'fp32':
                        self.log(f'[bench] tracemalloc {model}')
                        payloads = ip.serialized_frames(self.frames(size0))
                        entry = {'model': model, 'size': size_label(size0)}
                        entry.update(ip.allocation_checks(pipeline, self.frames(size0)[0],
                                                          payloads, self.o.alloc_frames))
                        allocs.append(entry)
                finally:
                    pipeline.release()
        self.results['raw_backend'] = raw
        self.results['node_path_inprocess'] = stages
        self.results['allocations'] = allocs

    def section_convert(self) -> None:
        from jetson_infer_ros.bench.frames import video_rgb_frames
        from jetson_infer_ros.bench.inprocess import conversion
        out = []
        for size in self.o.convert_sizes:
            row = {'size': size_label(size)}
            row.update(conversion(video_rgb_frames(*size, count=1)[0], self.o.convert_runs))
            out.append(row)
        self.results['conversion'] = out

    def section_e2e(self) -> None:
        from jetson_infer_ros.bench.e2e import RunSpec, run_once
        runs: List[Dict[str, Any]] = []
        self.results['e2e_runs'] = runs
        o = self.o

        def go(spec: RunSpec) -> Dict[str, Any]:
            self.log(f'[bench] e2e {spec.label} at {spec.rate:.0f} Hz')
            try:
                result = run_once(spec, self.work / 'e2e', self.log)
            except Exception as exc:  # noqa: B902 - one broken run is recorded, not fatal
                self.log(f'[bench] {spec.label}: FAILED: {type(exc).__name__}: {exc}')
                result = dataclasses.asdict(spec)
                result.update(size=size_label(spec.size), error=f'{type(exc).__name__}: {exc}')
            runs.append(result)
            return result

        for model in o.models:
            config, task = config_path(model), task_of(model)
            precisions = self.precisions_for(model)
            for size in o.sizes:
                base: Dict[str, Any] = {
                    'model': model, 'config': config, 'task': task, 'size': size,
                    'duration': o.duration, 'warmup': o.warmup}
                kinds = [('ours', p) for p in precisions]
                kinds += [('naive', 'fp32'), ('relay', 'fp32'), ('wire', 'fp32')]
                for rep in range(o.repeats):
                    for kind, precision in kinds:
                        go(RunSpec(kind=kind, precision=precision, rate=o.rate, repeat=rep,
                                   int8_model=self.int8_model(model, precision), **base))
                capacity = {p: aggregate.capacity_hz(runs, model, size_label(size), p)
                            for p in precisions}
                for kind, precision in kinds:
                    if kind in ('relay', 'wire'):
                        continue
                    cap = capacity.get(precision if kind == 'ours' else 'fp32')
                    if not cap:
                        self.log(f'[bench] overload {kind} {model}: no capacity measured')
                        continue
                    rate = round(min(o.max_rate, o.overload_factor * cap), 1)
                    go(RunSpec(kind=kind, precision=precision, rate=rate, phase='overload',
                               int8_model=self.int8_model(model, precision), **base))
        # the executor's share: the relay spun the way rclpy.spin does and the way
        # infer_node spins (MultiThreadedExecutor, 4 threads, spin_once loop), and our
        # node as shipped against the same node class in a SingleThreadedExecutor
        if o.models and 'fp32' in o.precisions:
            model = o.models[0]
            ebase: Dict[str, Any] = {
                'model': model, 'config': config_path(model), 'task': task_of(model),
                'size': o.sizes[0], 'rate': o.rate, 'duration': o.duration,
                'warmup': o.warmup, 'phase': 'executor'}
            for rep in range(o.repeats):
                for kind, executor in (('relay', 'single'), ('relay', 'multi'),
                                       ('ours', ''), ('ours', 'single')):
                    go(RunSpec(kind=kind, executor=executor, repeat=rep, **ebase))
            cap = aggregate.capacity_hz(runs, model, size_label(o.sizes[0]), 'fp32')
            if cap:
                ebase.update(phase='executor-overload',
                             rate=round(min(o.max_rate, o.overload_factor * cap), 1))
                for rep in range(o.repeats):
                    for executor in ('', 'single'):
                        go(RunSpec(kind='ours', executor=executor, repeat=rep, **ebase))

    def section_gpu(self) -> None:
        from jetson_infer_ros.bench import gpu_compare
        self.results['gpu'] = gpu_compare.run(self)

    def section_transport(self) -> None:
        from jetson_infer_ros.bench.transport import run_delivery
        out = []
        for size in self.o.transport_sizes:
            for profile, glibc_heap in ((True, False), (True, True), (False, False)):
                self.log(f'[bench] transport {size_label(size)} '
                         f'{"profile" if profile else "defaults"}'
                         f'{", glibc heap" if glibc_heap else ""}')
                out.append(run_delivery(size, profile, self.work / 'transport',
                                        rate=self.o.rate, duration=self.o.transport_duration,
                                        warmup=self.o.warmup, log=self.log,
                                        glibc_heap=glibc_heap))
        self.results['transport'] = out

    def section_memory(self) -> None:
        from jetson_infer_ros.bench import memory
        config = config_path('efficientnet_lite0')
        self.results['memory'] = {
            'idle_node': memory.idle_node_memory(config, self.work / 'memory', log=self.log),
            'import_steps': memory.import_steps(config, self.work / 'memory'),
            'shm_segment': memory.segment_rss(self.work / 'memory'),
        }


class _Call:
    """A function bound to its arguments (typed, unlike a lambda in a loop)."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        self.fn, self.args = fn, args

    def __call__(self) -> Any:
        return self.fn(*self.args)


def _jsonable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def parse_list(text: Optional[str], allowed: Optional[Sequence[str]] = None,
               what: str = 'value') -> Tuple[str, ...]:
    """Split 'a,b' into ('a', 'b'), checking each against ``allowed``."""
    items = tuple(x.strip() for x in str(text or '').split(',') if x.strip())
    if not items:
        raise ValueError(f'no {what} given')
    if allowed is not None:
        bad = [x for x in items if x not in allowed]
        if bad:
            raise ValueError(f'unknown {what} {", ".join(bad)}; one of {", ".join(allowed)}')
    return items
