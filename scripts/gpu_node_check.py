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
The whole node on a GPU machine, on the GPU backend: what runs, what matches, by how much.

GPU time is scarce and CI has none, so every check that needs the GPU backend is one
step of this script, each recorded on its own (one failing step does not stop the rest):

* ``env``: the machine, the GPU, ONNX Runtime's providers, the CUDA binding;
* ``probe``: both default models on ``onnxruntime_gpu`` (with and without CUDA graph)
  against the CPU backend on real frames, in process;
* ``top1``: top-1 on labelled ImageNet images (``--imagenet``), CPU backend vs GPU
  backend with the fused kernel, and GPU backend with CPU preprocessing;
* ``tests``: the node's lifecycle and end-to-end tests (real frames, real node processes)
  with ``backend: onnxruntime_gpu`` laid over every config (JETSON_INFER_TEST_PARAMS);
* ``regress``: the lossless bag replays through the node on the GPU backend against the
  golden answers (street video, photos), and the street bag on the CPU backend on this
  machine, detection by detection (box IoU).

Results: ``--out``/gpu_node_check.json and .md, plus the logs of the runs. ``--backend
onnxruntime`` runs the same steps on the CPU backend (a dry run of the script anywhere).

    python scripts/gpu_node_check.py --out OUT --imagenet ../shared/data [--steps a,b]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
from pathlib import Path
import platform
import shutil
import subprocess
import sys
import time
import traceback
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from jetson_infer_ros import ros_isolation  # noqa: E402

ros_isolation.apply_to_this_process()   # before anything imports rclpy

STEPS = ('env', 'tests', 'regress', 'top1', 'probe')
NODE_TESTS = ('test/node/test_lifecycle_params.py', 'test/node/test_node_e2e.py')
IOU_TARGET = 0.9
TOP1_TARGET_POINTS = 0.2


def sh(cmd: str) -> str:
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=60).stdout.strip()
    except Exception as exc:  # noqa: B902 - the report says what failed
        return f'<{exc}>'


# ------------------------------------------------------------------ steps
def step_env(args: argparse.Namespace) -> Dict[str, Any]:
    import onnxruntime as ort
    from jetson_infer_ros.backends import available_backends, unavailable_reason
    out: Dict[str, Any] = {
        'date_utc': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'nvidia_smi': sh('nvidia-smi --query-gpu=name,driver_version,memory.total,'
                         'clocks.max.sm,power.limit --format=csv,noheader'),
        'cpu': sh("lscpu | grep 'Model name' | sed 's/ \\+/ /g'"), 'cpus': os.cpu_count(),
        'python': platform.python_version(), 'onnxruntime': ort.__version__,
        'onnxruntime_file': ort.__file__, 'providers': ort.get_available_providers(),
        'available_backends': available_backends(),
        'onnxruntime_gpu_unavailable': unavailable_reason('onnxruntime_gpu'),
        'numpy': np.__version__, 'rclpy': sh(f'{sys.executable} -m pip show ros-rclpy '
                                             '2>/dev/null | grep ^Version'),
        'cuda_bindings': sh(f'{sys.executable} -m pip show cuda-bindings 2>/dev/null '
                            '| grep ^Version')}
    try:
        from jetson_infer_ros.cuda.binding import get_cuda_api
        api = get_cuda_api(0)
        out.update(device=api.device_name(), compute_capability=list(api.compute_capability()),
                   cuda_versions=list(api.versions()), cuda_binding=api.name)
    except Exception as exc:  # noqa: B902
        out['cuda_error'] = str(exc)
    return out


def _frames() -> Dict[str, List[Any]]:
    import cv2
    from jetson_infer_ros.assets.data import cached_data, video_frames
    from jetson_infer_ros.image_convert import Picture
    d = cached_data()
    photos = [Picture(cv2.imread(str(d.photo(p))), 'bgr')
              for p in ('opencv-doc/baboon.jpg', 'opencv-doc/orange.jpg',
                        'opencv-doc/squirrel_cls.jpg', 'scikit-image/coffee.png')]
    street = [Picture(f, 'bgr') for f in video_frames(d.video, [10, 100, 300, 500])]
    return {'config/infer.yaml': photos, 'config/detect.yaml': street}


def _pipeline(config: str, **overrides: Any) -> Any:
    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.pipeline import InferencePipeline
    pipe = InferencePipeline(load_config(str(ROOT / config), **overrides), log=print)
    pipe.load()
    return pipe


def step_probe(args: argparse.Namespace) -> Dict[str, Any]:
    """Raw outputs GPU vs CPU on the same input tensor, and the whole per-frame result."""
    out: Dict[str, Any] = {}
    saved = Path(args.out) / 'step_probe.json'
    for graph in (False, True):         # every model without CUDA graph first
        for config, pictures in _frames().items():
            cpu = _pipeline(config, backend='onnxruntime')
            key = f'{Path(config).stem}{"+graph" if graph else ""}'
            t0 = time.monotonic()
            gpu = _pipeline(config, backend=args.backend, use_cuda_graph=graph)
            row: Dict[str, Any] = {'load_s': round(time.monotonic() - t0, 2),
                                   'info': gpu.info()}
            try:
                rel, same = [], []
                for pic in pictures:
                    want = cpu.run([pic])[0]
                    got = gpu.run([pic])[0]
                    # the same input tensor into both: the execution provider's error
                    gpu.backend.input_buffer()[:1] = cpu.backend.input_buffer()[:1]
                    g_out = gpu.backend.infer(1)
                    c_out = cpu.backend.infer(1)
                    for name, c in c_out.items():
                        g = g_out[name]
                        rel.append(float(np.linalg.norm(g - c) / max(1e-12,
                                                                     np.linalg.norm(c))))
                    same.append(_same_answer(want, got))
                row.update(max_rel_l2=max(rel), answers_equal=same)
                row['infer_from_device_ms'] = _median_ms(
                    lambda: gpu.backend.infer_from_device(1)
                    if hasattr(gpu.backend, 'infer_from_device') else gpu.backend.infer(1))
            finally:
                gpu.release()
                cpu.release()
            out[key] = row
            saved.write_text(json.dumps(out, default=str))   # kept if the next aborts
    return out


def _same_answer(a: Any, b: Any) -> Any:
    if a.boxes is None:
        return {'top1_equal': int(a.class_ids[0]) == int(b.class_ids[0]),
                'top1_score_diff': round(abs(float(a.scores[0]) - float(b.scores[0])), 5)}
    pairs = match_boxes([[int(c), float(s)] + list(map(float, bx)) for c, s, bx in
                         zip(a.class_ids, a.scores, a.boxes)],
                        [[int(c), float(s)] + list(map(float, bx)) for c, s, bx in
                         zip(b.class_ids, b.scores, b.boxes)])
    return {'cpu_boxes': len(a.boxes), 'gpu_boxes': len(b.boxes),
            'min_iou': round(min([p[2] for p in pairs['pairs']] or [float('nan')]), 4)}


def _median_ms(fn: Callable[[], Any], runs: int = 300) -> float:
    for _ in range(20):
        fn()
    t = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        t.append((time.perf_counter() - t0) * 1e3)
    return round(float(np.median(t)), 4)


def step_top1(args: argparse.Namespace) -> Dict[str, Any]:
    import cv2
    from jetson_infer_ros.image_convert import Picture
    root = Path(args.imagenet)
    labels = json.loads((root / 'imagenet_dev_labels.json').read_text())
    names = sorted(labels)
    t0 = time.monotonic()
    pictures = []
    for name in names:
        img = cv2.imread(str(root / 'imagenet_dev' / name), cv2.IMREAD_COLOR)
        if img is None:
            raise RuntimeError(f'cannot read {name}')
        pictures.append(Picture(img, 'bgr'))
    variants = {'cpu': {'backend': 'onnxruntime'},
                'gpu+kernel': {'backend': args.backend, 'gpu_preprocess': True},
                'gpu, CPU preprocessing': {'backend': args.backend, 'gpu_preprocess': False}}
    top: Dict[str, List[int]] = {}
    top_scores: Dict[str, List[float]] = {}
    out: Dict[str, Any] = {'images': len(names), 'decode_s': round(time.monotonic() - t0, 1)}
    for key, overrides in variants.items():
        pipe = _pipeline('config/infer.yaml', **overrides)
        try:
            t1 = time.monotonic()
            results = [pipe.run([p])[0] for p in pictures]
            top[key] = [int(r.class_ids[0]) for r in results]
            top_scores[key] = [float(r.scores[0]) for r in results]
            out[key] = {'top1': round(float(np.mean([t == labels[n] for t, n in
                                                     zip(top[key], names)])), 4),
                        'seconds': round(time.monotonic() - t1, 2),
                        'gpu_kernel': bool(pipe._gpu), 'backend': pipe.info().get('backend')}
        finally:
            pipe.release()
    for key in variants:
        if key == 'cpu':
            continue
        differ = [n for n, a, b in zip(names, top['cpu'], top[key]) if a != b]
        out[key].update(
            top1_points_vs_cpu=round(100 * (out[key]['top1'] - out['cpu']['top1']), 2),
            top1_changed=len(differ), changed_files=differ[:20],
            max_top1_score_diff=round(max(abs(a - b) for a, b, x, y in zip(
                top_scores['cpu'], top_scores[key], top['cpu'], top[key]) if x == y), 5))
        out[key]['within_target'] = abs(out[key]['top1_points_vs_cpu']) <= TOP1_TARGET_POINTS
    return out


def step_tests(args: argparse.Namespace) -> Dict[str, Any]:
    env = dict(os.environ, JETSON_INFER_TEST_PARAMS=json.dumps({'backend': args.backend}))
    log = Path(args.out) / 'node_tests.log'
    cmd = [sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-rA',
           '--timeout', '150'] + list(args.tests or NODE_TESTS)
    t0 = time.monotonic()
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, cwd=str(ROOT), env=env, stdout=f, stderr=subprocess.STDOUT,
                              timeout=args.tests_timeout)
    text = log.read_text(errors='replace')
    lines = [ln for ln in text.splitlines() if ln.startswith(('PASSED', 'FAILED', 'ERROR',
                                                             'SKIPPED'))]
    summary = next((ln for ln in reversed(text.splitlines()) if ' in ' in ln and (
        'passed' in ln or 'failed' in ln)), '')
    return {'command': ' '.join(cmd[1:]), 'params': {'backend': args.backend},
            'returncode': proc.returncode, 'summary': summary.strip('= '), 'results': lines,
            'seconds': round(time.monotonic() - t0, 1)}


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    x1, y1 = max(a[2], b[2]), max(a[3], b[3])
    x2, y2 = min(a[4], b[4]), min(a[5], b[5])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    area = (a[4] - a[2]) * (a[5] - a[3]) + (b[4] - b[2]) * (b[5] - b[3]) - inter
    return inter / area if area > 0 else (1.0 if a[2:6] == b[2:6] else 0.0)


def match_boxes(cpu: List[List[float]], gpu: List[List[float]]) -> Dict[str, Any]:
    """Greedy same-class matching by IoU, highest CPU score first."""
    free = list(range(len(gpu)))
    pairs: List[Tuple[int, int, float]] = []
    unmatched_cpu = []
    for i in sorted(range(len(cpu)), key=lambda k: -cpu[k][1]):
        cands = [(iou(cpu[i], gpu[j]), j) for j in free if int(gpu[j][0]) == int(cpu[i][0])]
        best = max(cands, default=(0.0, -1))
        if best[1] < 0 or best[0] <= 0.0:
            unmatched_cpu.append(i)
            continue
        free.remove(best[1])
        pairs.append((i, best[1], best[0]))
    return {'pairs': pairs, 'unmatched_cpu': unmatched_cpu, 'unmatched_gpu': free}


def compare_detections(cpu_run: Any, gpu_run: Any, threshold: float,
                       score_tol: float = 0.02) -> Dict[str, Any]:
    ious: List[float] = []
    below: List[str] = []
    lonely: List[str] = []
    for k, (c, g) in enumerate(zip(cpu_run.outputs, gpu_run.outputs)):
        m = match_boxes(c.results, g.results)
        for i, j, v in m['pairs']:
            ious.append(v)
            if v < IOU_TARGET:
                below.append(f'frame {k}: class {int(c.results[i][0])} IoU {v:.3f} '
                             f'(scores {c.results[i][1]:.3f} / {g.results[j][1]:.3f})')
        for side, rows, idx in (('CPU', c.results, m['unmatched_cpu']),
                                ('GPU', g.results, m['unmatched_gpu'])):
            for i in idx:
                border = rows[i][1] < threshold + score_tol
                lonely.append(f'frame {k}: {side} only, class {int(rows[i][0])} score '
                              f'{rows[i][1]:.3f}{" (borderline)" if border else ""}')
    arr = np.array(ious) if ious else np.array([float('nan')])
    not_border = [x for x in lonely if 'borderline' not in x]
    return {'frames': min(len(cpu_run.outputs), len(gpu_run.outputs)),
            'cpu_detections': sum(len(o.results) for o in cpu_run.outputs),
            'gpu_detections': sum(len(o.results) for o in gpu_run.outputs),
            'matched': len(ious), 'iou_min': round(float(arr.min()), 4),
            'iou_p01': round(float(np.percentile(arr, 1)), 4),
            'iou_median': round(float(np.median(arr)), 4),
            'matched_at_or_above_target': int((arr >= IOU_TARGET).sum()) if ious else 0,
            'below_target': below[:30], 'below_target_count': len(below),
            'unmatched': lonely[:30], 'unmatched_count': len(lonely),
            'unmatched_not_borderline': len(not_border),
            'within_target': not below and not not_border}


def step_regress(args: argparse.Namespace) -> Dict[str, Any]:
    from jetson_infer_ros.bags.make_bags import prepare_bag
    from jetson_infer_ros.regression import regress, run_node_on_bag
    work = Path(args.work) / 'regress'
    out: Dict[str, Any] = {}
    golden = ROOT / 'test' / 'golden'
    gpu = {'backend': args.backend}
    cases = (('photos', 'config/infer.yaml', 'photos_efficientnet_lite0.json'),
             ('vtest_bgr8', 'config/detect.yaml', 'vtest_bgr8_nanodet.json'))
    runs = {}
    for bag_name, config, gold in cases:
        bag = prepare_bag(bag_name, log=print)
        t0 = time.monotonic()
        res = regress(ROOT / config, bag, golden / gold, overrides=gpu,
                      work_dir=work / f'{bag_name}-gpu', log=print)
        runs[bag_name] = res.run
        c = res.comparison
        out[f'{bag_name} vs golden'] = {
            'ok': res.ok, 'frames': len(res.run.inputs), 'answers': len(res.run.outputs),
            'lossless_problems': res.run_problems[:20],
            'differences': len(c.problems) if c else None,
            'difference_lines': (c.problems if c else [])[:40],
            'compared_items': c.items if c else 0,
            'frames_per_s': round(res.run.frames_per_s, 1),
            'seconds': round(time.monotonic() - t0, 1)}
    street = prepare_bag('vtest_bgr8', log=print)
    cpu_run = run_node_on_bag(ROOT / 'config' / 'detect.yaml', street,
                              overrides={'backend': 'onnxruntime'},
                              work_dir=work / 'vtest_bgr8-cpu', log=print)
    out['vtest_bgr8 GPU vs CPU on this machine'] = compare_detections(
        cpu_run, runs['vtest_bgr8'], runs['vtest_bgr8'].score_threshold)
    out['vtest_bgr8 GPU vs CPU on this machine']['cpu_frames_per_s'] = round(
        cpu_run.frames_per_s, 1)
    return out


# ------------------------------------------------------------------ report
def markdown(results: Dict[str, Any]) -> str:
    lines = ['# gpu_node_check', '', f'command: `{results["command"]}`', '']
    for step in STEPS:
        if step not in results['steps']:
            continue
        value = results['steps'][step]
        lines += [f'## {step} ({results["seconds"].get(step, "?")} s)', '', '```',
                  json.dumps(value, indent=1, default=str)[:20000], '```', '']
    return '\n'.join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--out', required=True, help='folder for the JSON, markdown and logs')
    ap.add_argument('--work', default='', help='scratch folder (default: OUT/work)')
    ap.add_argument('--steps', default=','.join(STEPS), help=f'comma list of {STEPS}')
    ap.add_argument('--backend', default='onnxruntime_gpu',
                    help='the backend under test (onnxruntime: a dry run on the CPU)')
    ap.add_argument('--imagenet', default=str(ROOT.parent / 'shared' / 'data'),
                    help='folder with imagenet_dev/ and imagenet_dev_labels.json')
    ap.add_argument('--tests', nargs='*', help=f'node test files (default {NODE_TESTS})')
    ap.add_argument('--tests-timeout', type=float, default=270.0,
                    help='seconds for the whole node test run')
    ap.add_argument('--step-timeout', type=float, default=420.0,
                    help='seconds for any one step')
    ap.add_argument('--child', choices=STEPS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    args.work = args.work or str(out / 'work')
    steps = [s.strip() for s in args.steps.split(',') if s.strip()]
    results: Dict[str, Any] = {'command': ' '.join([Path(sys.argv[0]).name] + sys.argv[1:]),
                               'steps': {}, 'errors': {}, 'seconds': {}}
    path = out / 'gpu_node_check.json'
    if args.child:                      # one step, in this process, result as JSON
        value = globals()[f'step_{args.child}'](args)
        (out / f'step_{args.child}.json').write_text(json.dumps(value, default=str))
        return 0
    for step in steps:
        print(f'[gpu-check] step {step}', flush=True)
        t0 = time.monotonic()
        # each step in a process of its own: a native abort (ONNX Runtime's CUDA EP once
        # called std::terminate here) loses that step, not the whole check
        part = out / f'step_{step}.json'
        part.unlink(missing_ok=True)
        cmd = [sys.executable, __file__, '--child', step] + sys.argv[1:]
        try:
            proc = subprocess.run(cmd, timeout=args.step_timeout)
            if part.is_file():              # complete, or what a crashed step had saved
                results['steps'][step] = json.loads(part.read_text())
                part.unlink()
            if proc.returncode != 0:
                results['errors'][step] = f'step process exited {proc.returncode}'
        except Exception as exc:  # noqa: B902 - one failing step must not sink the rest
            results['errors'][step] = f'{type(exc).__name__}: {exc}'
            traceback.print_exc()
        results['seconds'][step] = round(time.monotonic() - t0, 1)
        print(f'[gpu-check] step {step} done in {results["seconds"][step]} s', flush=True)
        path.write_text(json.dumps(results, indent=1, default=str) + '\n')
        (out / 'gpu_node_check.md').write_text(markdown(results))
    if Path(args.work).is_dir() and not os.environ.get('GPU_CHECK_KEEP_WORK'):
        shutil.rmtree(args.work, ignore_errors=True)
    print(json.dumps({k: results['steps'].get(k, results['errors'].get(k)) for k in steps},
                     default=str)[-6000:], flush=True)
    return 1 if results['errors'] else 0


if __name__ == '__main__':
    sys.exit(main())
