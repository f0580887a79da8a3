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
`jetson-infer bench`: where the milliseconds of a frame go, written down as a report.

Writes ``bench.json`` (every number, raw latency samples included), ``bench.md`` (the
tables), ``latency.png`` and ``stages.png`` into ``--out``, and refreshes the headline
block of a ``README.md`` already there (docs/benchmarks keeps its narrative that way).
``--quick`` runs every section on a tiny budget (the smoke test); ``--models``,
``--sizes``, ``--duration`` and ``--repeats`` trade time for precision (the default run
takes 12-15 minutes on 2 cores). Every ROS process it starts is isolated (LOCALHOST
discovery, its own domain, the large-data Fast DDS profile).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import shutil
import sys
import tempfile
from typing import Any, Dict, List

DEFAULT_GPU_RESULTS = Path(__file__).resolve().parents[2] / 'docs' / 'gpu_results.md'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--out', default='out/bench', help='where the report goes')
    parser.add_argument('--quick', action='store_true',
                        help='tiny budget: one model, one size, a few frames (smoke test)')
    parser.add_argument('--models', help='comma list (default efficientnet_lite0,nanodet)')
    parser.add_argument('--sizes', help='comma list of WxH (default 640x480,1280x720)')
    parser.add_argument('--precisions', help='comma list (default fp32,int8; for int8 the '
                        'bench calibrates and evaluates an artefact on the study split first, '
                        'cached under ~/.cache/jetson_infer_ros/bench_int8, and runs it even '
                        'where the accuracy gate would refuse it, labelled int8-forced)')
    parser.add_argument('--duration', type=float, help='measured seconds per end-to-end run '
                        '(default 5)')
    parser.add_argument('--repeats', type=int, help='interleaved repeats per node (default 2)')
    parser.add_argument('--rate', type=float, help='camera rate, Hz (default 30)')
    parser.add_argument('--raw-runs', type=int, help='in-process inferences timed per '
                        'backend, back to back and paced (default 300)')
    parser.add_argument('--overload-factor', type=float,
                        help="overload rate as a multiple of the node's capacity (default 3)")
    parser.add_argument('--sections', help='comma list of inprocess,convert,e2e,transport,'
                        'memory,gpu (default all; gpu is skipped where no GPU backend is '
                        'usable)')
    parser.add_argument('--gpu-results', default=str(DEFAULT_GPU_RESULTS),
                        help='GPU results markdown merged into the report when present')
    parser.add_argument('--keep-work', action='store_true',
                        help='keep child-process logs and raw files (printed at the end)')
    parser.add_argument('--from-json', metavar='BENCH_JSON',
                        help='measure nothing: re-derive and re-render the report of an '
                        'earlier bench.json into --out (e.g. after docs/gpu_results.md changed)')


def options_from_args(args: argparse.Namespace) -> Any:
    """Build BenchOptions: --quick's budget first, then every option given explicitly."""
    from jetson_infer_ros.bench.frames import parse_size
    from jetson_infer_ros.bench.runner import (BenchOptions, MODEL_CONFIGS, parse_list,
                                               quick_options, SECTIONS)
    o = quick_options() if args.quick else BenchOptions()
    if args.models:
        o.models = parse_list(args.models, tuple(MODEL_CONFIGS), 'model')
    if args.sizes:
        o.sizes = tuple(parse_size(s) for s in parse_list(args.sizes, what='size'))
    if args.precisions:
        o.precisions = parse_list(args.precisions, ('fp32', 'int8'), 'precision')
    if args.sections:
        o.sections = parse_list(args.sections, SECTIONS, 'section')
    for name in ('duration', 'repeats', 'rate', 'overload_factor', 'raw_runs'):
        value = getattr(args, name)
        if value is not None:
            if value <= 0:
                raise ValueError(f'--{name.replace("_", "-")} must be > 0, got {value}')
            setattr(o, name, value)
    return o


def write_report(results: Dict[str, Any], out: Path, gpu_results: Path) -> List[Path]:
    """Write bench.json, the PNGs and bench.md into ``out``; return the paths written."""
    from jetson_infer_ros.bench import plots, report
    out.mkdir(parents=True, exist_ok=True)
    written = []
    images = []
    for name, draw in (('latency.png', plots.latency_plot), ('stages.png', plots.stages_plot)):
        path = draw(results, out / name)
        if path is not None:
            images.append(str(path))
            written.append(path)
    results['images'] = [Path(p).name for p in images]
    json_path = out / 'bench.json'
    json_path.write_text(json.dumps(results, indent=1, allow_nan=True) + '\n')
    md_path = out / 'bench.md'
    md_path.write_text(report.render(results, gpu_results, images))
    written = [json_path, md_path] + written
    readme = out / 'README.md'           # docs/benchmarks: keep its headline block current
    if readme.is_file():
        updated = report.update_block(readme.read_text(), report.headline(results))
        if updated is not None:
            readme.write_text(updated)
            written.append(readme)
    return written


def rerender(args: argparse.Namespace) -> int:
    """Re-derive summary and report from an existing bench.json."""
    from jetson_infer_ros.bench import aggregate
    try:
        results = json.loads(Path(args.from_json).read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f'--from-json {args.from_json}: {exc}') from None
    results['summary'] = aggregate.summarize_results(results)
    gpu = results.get('gpu') or {}
    if gpu.get('e2e_runs') is not None:
        from jetson_infer_ros.bench import gpu_compare
        gpu['summary'] = gpu_compare.summarize(gpu, results.get('options', {}))
    for p in write_report(results, Path(args.out), Path(args.gpu_results)):
        print(f'[bench] wrote {p}')
    return 0


def run(args: argparse.Namespace) -> int:
    if getattr(args, 'from_json', None):
        return rerender(args)
    from jetson_infer_ros import ros_isolation
    ros_isolation.apply_to_this_process()       # before anything imports rclpy
    from jetson_infer_ros.assets.data import cached_data
    from jetson_infer_ros import shm_cleanup
    from jetson_infer_ros.bench.runner import config_path, Runner
    from jetson_infer_ros.pipeline import resolve_model
    options = options_from_args(args)
    cached_data()                               # clear message if `make data` is missing
    for model in options.models:
        config_path(model)
        if not Path(resolve_model(model)[0]).is_file():
            raise ValueError(f'model {model} is not prepared: run `jetson-infer models`')
    out = Path(args.out)
    work = Path(tempfile.mkdtemp(prefix='jetson_infer_bench_'))
    try:
        results = Runner(options, work, log=lambda m: print(m, flush=True)).run()
    finally:
        shm_cleanup.remove_claimed()    # files of killed children still in use then
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    paths = write_report(results, out, Path(args.gpu_results))
    gpu_targets = ((results.get('gpu') or {}).get('summary') or {}).get('targets', [])
    for t in results['summary']['targets'] + gpu_targets:
        verdict = {True: 'met', False: 'NOT MET', None: 'not measured'}[t['met']]
        print(f'[bench] target {t["target"]} ({t["where"]}): {t["measured"]} '
              f'{t["comparison"]} {t["limit"]}: {verdict}')
    for p in paths:
        print(f'[bench] wrote {p}')
    if args.keep_work:
        print(f'[bench] child logs and raw files kept in {work}')
    if results.get('errors'):
        print('[bench] sections failed: ' + '; '.join(results['errors']), file=sys.stderr)
        return 1
    return 0
