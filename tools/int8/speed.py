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
CPU latency of the FP32 model and its INT8 layouts, measured fairly on a shared machine.

A benchmark, not a test: ``python -m tools.int8.speed MODEL.onnx MODEL.int8.onnx
MODEL.int8.cpu.onnx`` (from the repository root). Sessions are built the way the node's
ONNX Runtime backend builds them (``quant.execution``'s deployed execution: all graph
optimizations, the int8 weight conversion x86 CPUs without VNNI need; sequential
execution), and the
models are timed in interleaved rounds (A B C A B C ...) so that load from other
processes spreads evenly over all of them instead of favouring whichever ran in a quiet
moment; medians are reported. Also prints the operators ONNX Runtime actually runs
after its graph optimizations, which is what explains the numbers (QLinearConv vs Conv).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

import numpy as np


def _session(path: str, threads: int, optimized_out: Optional[str] = None):
    import onnxruntime as ort
    from jetson_infer_ros.quant.execution import session_options
    so = session_options(ort, exact=False)
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.intra_op_num_threads = threads
    if optimized_out:
        so.optimized_model_filepath = optimized_out
    return ort.InferenceSession(path, so, providers=['CPUExecutionProvider'])


def executed_ops(path: str, threads: int = 1) -> Dict[str, int]:
    """Operator counts of the graph ONNX Runtime runs after its optimizations."""
    import onnx
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, 'optimized.onnx')
        _session(path, threads, out)
        model = onnx.load(out)
    counts: Dict[str, int] = {}
    for n in model.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def measure(paths: Sequence[str], threads: int = 0, rounds: int = 30, per_round: int = 10,
            warmup: int = 20, seed: int = 0) -> List[Dict[str, Any]]:
    """Median / p90 latency (ms) of one batch-1 inference per model, interleaved."""
    sessions = [_session(p, threads) for p in paths]
    rng = np.random.default_rng(seed)
    feeds = []
    for s in sessions:
        meta = s.get_inputs()[0]
        shape = [d if isinstance(d, int) and d > 0 else 1 for d in meta.shape]
        feeds.append({meta.name: rng.standard_normal(shape).astype(np.float32)})
    for s, f in zip(sessions, feeds):
        for _ in range(warmup):
            s.run(None, f)
    times: List[List[float]] = [[] for _ in sessions]
    for _ in range(rounds):
        for i, (s, f) in enumerate(zip(sessions, feeds)):
            for _ in range(per_round):
                t = time.perf_counter()
                s.run(None, f)
                times[i].append((time.perf_counter() - t) * 1000.0)
    return [{'model': os.path.basename(p), 'median_ms': round(float(np.median(t)), 3),
             'p90_ms': round(float(np.percentile(t, 90)), 3), 'runs': len(t)}
            for p, t in zip(paths, times)]


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('models', nargs='+', help='ONNX files; the first is the baseline')
    parser.add_argument('--threads', type=int, default=0, help='intra-op threads (0 = all)')
    parser.add_argument('--rounds', type=int, default=30)
    parser.add_argument('--ops', action='store_true', help='print executed operator counts')
    args = parser.parse_args(argv)
    rows = measure(args.models, args.threads, args.rounds)
    base = rows[0]['median_ms']
    for row in rows:
        row['speedup_vs_first'] = round(base / row['median_ms'], 2)
    if args.ops:
        for row, path in zip(rows, args.models):
            row['executed_ops'] = executed_ops(path)
    print(json.dumps({'threads': args.threads, 'cpu': _cpu(), 'results': rows}, indent=1))
    return 0


def _cpu() -> Dict[str, Any]:
    from jetson_infer_ros.quant.execution import cpu_int8
    info: Dict[str, Any] = {'cores': os.cpu_count(), **cpu_int8()}
    try:
        with open('/proc/cpuinfo') as f:
            text = f.read()
        info['model'] = next((ln.split(':', 1)[1].strip() for ln in text.splitlines()
                              if ln.startswith('model name')), '')
    except OSError:
        pass
    return info


if __name__ == '__main__':
    sys.exit(main())
