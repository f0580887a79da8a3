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
INT8 against ground truth: the headline table of docs/int8.md, with one command.

``python -m tools.int8.labelled --data ../shared/data --out out/int8-labelled`` (from the
repository root) calibrates both default models the documented way (``calibrate
--method percentile``, default options) on the calibration half of the bundled pictures
(``jetson_infer_ros.bench.int8.make_split``: 159 frames, none of them in the labelled
sets), then runs ``evaluate --labels`` on labelled images the project never saw:
EfficientNet-Lite0 on ``imagenet_dev/`` (500 ImageNet images, ``{file: class}``),
NanoDet on ``coco_dev/images`` (64 COCO images, COCO JSON with crowd flags). Writes
``labelled.json`` (each evaluation report, with the machine and code it ran on) and
``labelled.md`` (the table). The data folder is read, never copied into the repository.
"""

from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path
import subprocess
import sys
from typing import Any, Dict, Iterator, List, Optional, Tuple

ROOT = Path(__file__).resolve().parents[2]

RUNS = (
    # name, config, evaluation images, labels (relative to --data)
    ('EfficientNet-Lite0', 'infer.yaml', 'imagenet_dev', 'imagenet_dev_labels.json'),
    ('NanoDet', 'detect.yaml', 'coco_dev/images', 'coco_dev/instances.json'),
)
LAYOUTS = (('tensorrt', 'TensorRT Q/DQ'), ('onnxruntime', 'CPU (ONNX Runtime)'))


def run_one(name: str, config: str, images: Path, labels: Path, calib: Path, out: Path,
            reuse: bool) -> Dict[str, Any]:
    """Calibrate (unless reused) and evaluate one model; return the stored report."""
    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.quant import calibrate as cal, evaluate as ev, frames
    cfg = load_config(str(ROOT / 'config' / config))
    quiet = lambda _m: None  # noqa: E731
    if not (reuse and out.is_file()):
        print(f'[labelled] {name}: calibrating (percentile) on {calib}', file=sys.stderr,
              flush=True)
        cal.calibrate(cfg, frames.ImageFolder(str(calib)), str(out),
                      cal.CalibrationSettings(method='percentile'), log=quiet)
    print(f'[labelled] {name}: evaluating on {images} against {labels.name}', file=sys.stderr,
          flush=True)
    return ev.evaluate(cfg, frames.ImageFolder(str(images)), int8_model=str(out),
                       labels_path=str(labels), log=quiet)


def _ci(v: Any, scale: float = 1.0) -> str:
    if not (isinstance(v, (list, tuple)) and len(v) == 2):
        return ''
    return f' [{v[0] * scale:.1f}, {v[1] * scale:.1f}]'


def _pct(v: Any) -> str:
    return f'{v * 100:.1f}' if isinstance(v, (int, float)) else 'n/a'


def _num(v: Any, digits: int = 2) -> str:
    return f'{v:.{digits}f}' if isinstance(v, (int, float)) else 'n/a'


def _verdict(report: Dict[str, Any], layout: str) -> str:
    entry = report.get('gate', {}).get(layout, {})
    return 'accept' if entry.get('passes') else 'refuse: ' + str(entry.get('reason', ''))


def _variants(results: List[Dict[str, Any]], task: str) -> Iterator[Tuple[Any, ...]]:
    """Yield (result, report, layout, title, variant) for each evaluated layout of task."""
    for res in results:
        rep = res['report']
        if rep['task'] != task:
            continue
        for layout, title in LAYOUTS:
            r = rep['variants'].get(layout)
            if r:
                yield res, rep, layout, title, r


def table(results: List[Dict[str, Any]]) -> str:
    """Render the classification and detection rows as the two headline tables."""
    out = ['| model | layout | labelled frames | top-1 FP32 % | top-1 INT8 % | top-1 drop, '
           'points | top-5 FP32 / INT8 % | top-1 agreement % | gate (defaults) |',
           '|---|---|---|---|---|---|---|---|---|']
    for res, rep, layout, title, r in _variants(results, 'classification'):
        ref, q = r['accuracy_reference'], r['accuracy_int8']
        out.append(
            f'| {res["name"]} | {title} | {r["labelled_frames"]} | '
            f'{_pct(ref["top1"])}{_ci(ref["top1_interval"], 100)} | '
            f'{_pct(q["top1"])}{_ci(q["top1_interval"], 100)} | '
            f'{_num(r["top1_drop"])}{_ci(r["top1_drop_interval"])} | '
            f'{_pct(ref["top5"])} / {_pct(q["top5"])} | '
            f'{_pct(r["top1_agreement"])}{_ci(r["top1_agreement_interval"], 100)} | '
            f'{_verdict(rep, layout)} |')
    out += ['', '| model | layout | images (boxes) | mAP@[.5:.95] FP32 | mAP INT8 | mAP drop, '
            'points | AP50 FP32 / INT8 | box agreement % | gate (defaults) |',
            '|---|---|---|---|---|---|---|---|---|']
    for res, rep, layout, title, r in _variants(results, 'detection'):
        out.append(
            f'| {res["name"]} | {title} | {r["labelled_frames"]} ({r["truth_boxes"]}) | '
            f'{_num(r["map_reference"])}{_ci(r.get("map_reference_interval"))} | '
            f'{_num(r["map_int8"])}{_ci(r.get("map_int8_interval"))} | '
            f'{_num(r["map_drop"])}{_ci(r.get("map_drop_interval"))} | '
            f'{_num(r["map50_reference"], 1)} / {_num(r["map50_int8"], 1)} | '
            f'{_pct(r["box_agreement"])} | {_verdict(rep, layout)} |')
    return '\n'.join(out)


def _git(*args: str) -> str:
    try:
        return subprocess.run(['git', *args], cwd=str(ROOT), capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ''


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--data', required=True,
                        help='labelled data folder (imagenet_dev/, coco_dev/)')
    parser.add_argument('--out', default='out/int8-labelled',
                        help='work folder (default %(default)s)')
    parser.add_argument('--only', help='run only models whose name contains this text')
    parser.add_argument('--reuse', action='store_true',
                        help='evaluate existing artefacts in --out instead of calibrating')
    parser.add_argument('--render', action='store_true',
                        help='only re-render labelled.md from labelled.json')
    args = parser.parse_args(argv)
    import onnxruntime
    from jetson_infer_ros.assets.cache import file_sha256
    from jetson_infer_ros.bench.int8 import make_split
    from jetson_infer_ros.quant import execution
    root, data = Path(args.out), Path(args.data)
    root.mkdir(parents=True, exist_ok=True)
    stored = root / 'labelled.json'
    earlier = json.loads(stored.read_text())['results'] if stored.is_file() else []
    if args.render:
        results = earlier
    else:
        folders = make_split(root / 'split')
        results = []
        for name, config, images, labels in RUNS:
            if args.only and args.only.lower() not in name.lower():
                continue
            report = run_one(name, config, data / images, data / labels, folders['calib'],
                             root / config.split('.')[0] / 'model.int8.onnx', args.reuse)
            results.append({'name': name, 'config': config, 'report': report})
        done = {r['name'] for r in results}     # --only keeps the other model's rows
        results = [r for r in earlier if r['name'] not in done] + results
        results.sort(key=lambda r: [n for n, *_rest in RUNS].index(r['name']))
        facts = {
            'created_utc': datetime.datetime.now(datetime.timezone.utc).strftime(
                '%Y-%m-%dT%H:%M:%SZ'),
            'git_commit': _git('rev-parse', 'HEAD'),
            'git_dirty': bool(_git('status', '--porcelain')),
            'export_py_sha256': file_sha256(str(ROOT / 'jetson_infer_ros' / 'quant' /
                                                'export.py')),
            'onnxruntime': onnxruntime.__version__, 'cpu': execution.cpu_int8(),
            'data': str(data.resolve()), 'results': results}
        stored.write_text(json.dumps(facts, indent=1) + '\n')
    text = table(results)
    (root / 'labelled.md').write_text(text + '\n')
    print(text)
    return 0


if __name__ == '__main__':
    sys.exit(main())
