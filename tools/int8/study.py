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
The INT8 method comparison of docs/int8.md, reproducible with one command.

``python -m tools.int8.study --out out/int8`` (from the repository root) splits the real
pictures into a calibration half and an evaluation half that share no frame
(``jetson_infer_ros.bench.int8.make_split``: opencv-doc and scikit-image photos
alternate; vtest.avi frames 0-396 calibrate, 402-794 evaluate, every 4th), then
calibrates both default models with each method (and with
``--keep-float auto``) and evaluates every artefact against FP32 through the same
commands' code. Writes ``study.jsonl`` (one row per run), ``fidelity.json`` (what
output SQNR each top-1 agreement needs on the evaluation frames, ``fidelity()``) and
``study.md`` (the tables). Takes 10-20 minutes on two cores, the distillation rows 33 more.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

from jetson_infer_ros.bench.int8 import make_split

RUNS: List[Tuple[str, str, Any, Dict[str, Any]]] = [
    # (config, method, keep_float, extra settings)
    ('infer', 'minmax', (), {}),
    ('infer', 'entropy', (), {}),
    ('infer', 'percentile', (), {}),
    ('infer', 'percentile', (), {'weight_rounding': 'nearest'}),
    ('infer', 'entropy', (), {'histogram_bins': 2048}),
    ('infer', 'percentile', 'auto', {}),
    ('infer', 'percentile', 'auto', {'sensitivity_db': 30.0}),
    ('infer', 'percentile', (), {'distill_steps': 400}),
    ('infer', 'percentile', 'auto', {'sensitivity_db': 30.0, 'distill_steps': 400}),
    ('detect', 'minmax', (), {}),
    ('detect', 'entropy', (), {}),
    ('detect', 'percentile', (), {}),
    ('detect', 'percentile', (), {'weight_rounding': 'nearest'}),
    ('detect', 'entropy', (), {'histogram_bins': 2048}),
]


def run_one(config: Path, method: str, keep_float: Any, extra: Dict[str, Any],
            folders: Dict[str, Path], out: Path) -> Dict[str, Any]:
    """Calibrate and evaluate one setting; return the row."""
    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.quant import artifacts, calibrate as cal, evaluate as ev, frames
    cfg = load_config(str(config))
    quiet = lambda _m: None  # noqa: E731
    started = time.monotonic()
    from jetson_infer_ros.quant.distill import DistillSettings
    distill = DistillSettings(**{k[len('distill_'):]: v for k, v in extra.items()
                                 if k.startswith('distill_')})
    settings = {k: v for k, v in extra.items() if not k.startswith('distill_')}
    result = cal.calibrate(cfg, frames.ImageFolder(str(folders['calib'])), str(out),
                           cal.CalibrationSettings(method=method, keep_float=keep_float,
                                                   distill=distill, **settings), log=quiet)
    seconds = time.monotonic() - started
    report = ev.evaluate(cfg, frames.ImageFolder(str(folders['eval'])), int8_model=str(out),
                         log=quiet)
    family = artifacts.ArtifactFamily(out)
    head = json.loads(family.provenance.read_text())['output_head_float']
    layouts = _layout_files(out)
    row: Dict[str, Any] = {
        'config': config.name, 'method': method, 'settings': extra,
        'kept_float': result.kept_float, 'head': head, 'calibration_s': round(seconds, 1),
        'calibration_frames': result.frames, 'evaluation_frames': report['frames'],
        'overlap': report['calibration_overlap'], 'sample_sqnr_db': result.sample_sqnr_db,
        'eval_sqnr_db': ev.output_sqnr(cfg, frames.ImageFolder(str(folders['eval'])),
                                       layouts),
        'weight_rounding': result.weight_rounding,
    }
    for layout, numbers in report['variants'].items():
        keys = ('top1_agreement', 'top5_agreement', 'top1_agreement_confident',
                'confident_frames', 'top1_agreement_clear', 'clear_frames') \
            if report['task'] == 'classification' else \
            ('map_int8', 'map_drop', 'box_agreement', 'mean_matched_iou', 'reference_boxes',
             'int8_boxes', 'matched_boxes')
        row[layout] = {k: numbers.get(k) for k in keys}
    return row


def _pct(v: Optional[float]) -> str:
    return f'{v * 100:.1f}%' if isinstance(v, (int, float)) else 'n/a'


def _rounding(row: Dict[str, Any]) -> str:
    """``nearest``, or e.g. ``auto: gptq / nearest`` (what each layout kept, TRT / CPU)."""
    report = row.get('weight_rounding') or {}
    layouts = report.get('layouts') or {}
    if not layouts:
        return str(report.get('method', row['settings'].get('weight_rounding', 'auto')))
    kept = ' / '.join(layouts[k]['chosen'] for k in ('tensorrt', 'onnxruntime') if k in layouts)
    return f'{report.get("method", "auto")}: {kept}'


def table(rows: List[Dict[str, Any]]) -> str:
    """Render the rows as the two markdown tables of docs/int8.md."""
    out = ['| model | method | weight rounding | float layers | calib s | top-1 agr. TRT Q/DQ '
           '| top-1 agr. CPU | top-1 agr. clear frames (TRT / CPU) | top-5 agr. (worse) | '
           'output SQNR dB (TRT / CPU) |', '|---|---|---|---|---|---|---|---|---|---|']
    for r in rows:
        if r['config'] != 'infer.yaml':
            continue
        t, c = r['tensorrt'], r.get('onnxruntime', {})
        method = r['method'] + (f' ({r["settings"]["histogram_bins"]} bins)'
                                if 'histogram_bins' in r['settings'] else '')
        extra = len(r['kept_float']) - len(r.get('head', []))
        floats = ('head' if r.get('head') else 'none') + (f' + {extra}' if extra else '')
        out.append(f'| EfficientNet-Lite0 | {method} | {_rounding(r)} | {floats} | '
                   f'{r["calibration_s"]} | {_pct(t["top1_agreement"])} | '
                   f'{_pct(c.get("top1_agreement"))} | '
                   f'{_pct(t.get("top1_agreement_clear"))} / '
                   f'{_pct(c.get("top1_agreement_clear"))} ({t.get("clear_frames")}) | '
                   f'{_pct(min(t["top5_agreement"], c.get("top5_agreement", 1.0)))} | '
                   f'{r["eval_sqnr_db"].get("tensorrt")} / '
                   f'{r["eval_sqnr_db"].get("onnxruntime")} |')
    out += ['', '| model | method | weight rounding | calib s | mAP INT8 vs FP32, TRT / CPU | '
            'box agreement TRT / CPU | matched / FP32 / INT8 boxes (CPU) | output SQNR dB '
            '(TRT / CPU) |', '|---|---|---|---|---|---|---|---|']
    for r in rows:
        if r['config'] != 'detect.yaml':
            continue
        t, c = r['tensorrt'], r.get('onnxruntime', {})
        method = r['method'] + (f' ({r["settings"]["histogram_bins"]} bins)'
                                if 'histogram_bins' in r['settings'] else '')
        out.append(f'| NanoDet | {method} | {_rounding(r)} | {r["calibration_s"]} | '
                   f'{t["map_int8"]} / '
                   f'{c.get("map_int8")} | {_pct(t["box_agreement"])} / '
                   f'{_pct(c.get("box_agreement"))} | {c.get("matched_boxes")} / '
                   f'{c.get("reference_boxes")} / {c.get("int8_boxes")} | '
                   f'{r["eval_sqnr_db"].get("tensorrt")} / '
                   f'{r["eval_sqnr_db"].get("onnxruntime")} |')
    return '\n'.join(out)


FIDELITY_GRID = (20.0, 24.0, 26.0, 28.0, 30.0, 32.0, 34.0, 36.0, 40.0, 45.0)
"""Output SQNRs (dB) at which the noise-model table of study.md reads the agreement."""


def fidelity(config: Path, folders: Dict[str, Path], rows: List[Dict[str, Any]],
             trials: int = 100, root: Optional[Path] = None) -> Dict[str, Any]:
    """
    Measure what top-1 agreement each output SQNR buys on the evaluation frames.

    The classifier's FP32 logits on the evaluation frames plus i.i.d. noise of a given
    power (``noise.agreement_under_noise``): how many answers that fidelity flips on
    these frames, the SQNR that 98 % and 99 % agreement need, and, beside every measured
    artefact, the agreement the model expects at that artefact's SQNR. Where the
    artefacts are still under ``root/<tag>/``, each is also run a second way, by ONNX
    Runtime with its graph optimizations off (float kernels between the Q/DQ pairs
    instead of fused integer ones): how far two correct executions of one INT8 model
    are apart says how finely an agreement threshold can judge it at all.
    """
    import numpy as np
    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.pipeline import resolve_model
    from jetson_infer_ros.quant import evaluate as ev, execution, frames
    from tools.int8 import noise
    cfg = load_config(str(config))
    input_name, stacked = ev.preprocessed_frames(cfg, frames.ImageFolder(str(folders['eval'])))
    # one (1, classes) array per frame: the classifier has a single output
    logits = np.concatenate(execution.model_outputs(resolve_model(cfg.model_path)[0],
                                                    input_name, stacked))
    top2 = np.sort(logits, axis=1)[:, -2:]
    artefacts = []
    for row in rows:
        if row['config'] != config.name:
            continue
        for layout in ('tensorrt', 'onnxruntime'):
            db = row['eval_sqnr_db'].get(layout)
            if isinstance(db, (int, float)) and layout in row:
                artefacts.append((row, layout, float(db)))
    # one simulation for every SQNR asked about: the draws are shared, so each row is the
    # same as a simulation of that SQNR alone
    dbs = sorted(set(noise.NEEDED_GRID) | set(FIDELITY_GRID) | {a[2] for a in artefacts})
    runs = dict(zip(dbs, noise.agreement_under_noise(logits, dbs, trials)))
    needed_dbs = list(noise.NEEDED_GRID)
    needed_runs = np.stack([runs[db] for db in needed_dbs])
    measured = []
    for row, layout, db in artefacts:
        entry = {'tag': row.get('tag', ''), 'layout': layout, 'sqnr_db': db,
                 'top1_agreement': row[layout]['top1_agreement'],
                 'expected': float(runs[db].mean())}
        path = _layout_files(root / entry['tag'] / ARTEFACT)[layout] if root else None
        if path is not None and path.is_file():
            entry['unoptimised'] = _second_execution(path, input_name, stacked, logits)
        measured.append(entry)
    return {
        'config': config.name, 'frames': int(len(logits)), 'trials': trials,
        'logit_gap_below': {str(g): int(np.sum(top2[:, 1] - top2[:, 0] < g))
                            for g in (0.01, 0.05, 0.1)},
        'grid': [{'sqnr_db': db, 'expected': float(runs[db].mean()),
                  'p_98': float(np.mean(noise.meets(runs[db], 0.98))),
                  'p_99': float(np.mean(noise.meets(runs[db], 0.99)))}
                 for db in FIDELITY_GRID],
        'needed': {str(a): noise.thresholds_met(needed_runs, needed_dbs, a)
                   for a in (0.98, 0.99)},
        'measured': measured,
    }


ARTEFACT = 'model.int8.onnx'
"""The TensorRT layout's file name in each study folder; the family names the others."""


def _layout_files(main: Path) -> Dict[str, Path]:
    """Return the two layouts of an artefact, named as ``evaluate`` reports them."""
    from jetson_infer_ros.quant import artifacts
    family = artifacts.ArtifactFamily(main)
    return {'tensorrt': family.main, 'onnxruntime': family.cpu}


def _second_execution(path: Path, input_name: str, stacked: Any, logits: Any
                      ) -> Dict[str, Any]:
    """Run the artefact as written and as deployed; compare with FP32 and with each other."""
    import numpy as np
    from jetson_infer_ros.quant import execution, sensitivity
    data = path.read_bytes()
    fused, plain = (np.concatenate(execution.run_frames(
        execution.session(data, exact=e), input_name, stacked)) for e in (False, True))
    winners = logits.argmax(axis=1)
    return {'sqnr_db': round(sensitivity.sqnr_db([logits], [plain]), 2),
            'top1_agreement': float(np.mean(plain.argmax(axis=1) == winners)),
            'vs_optimised_db': round(sensitivity.sqnr_db([fused], [plain]), 2),
            'optimised_differ': int(np.sum(plain.argmax(axis=1) != fused.argmax(axis=1)))}


def fidelity_table(report: Dict[str, Any]) -> str:
    """Render ``fidelity()`` as the noise-model tables of docs/int8.md."""
    gaps = report['logit_gap_below']
    out = [f'Noise model on the {report["frames"]} evaluation frames ({report["trials"]} '
           f'draws per SQNR; FP32 top-2 logit gap < 0.01 / 0.05 / 0.1 on '
           f'{gaps["0.01"]} / {gaps["0.05"]} / {gaps["0.1"]} frames):', '',
           '| output SQNR dB | expected top-1 agr. | runs >= 98 % | runs >= 99 % |',
           '|---|---|---|---|']
    for g in report['grid']:
        out.append(f'| {g["sqnr_db"]:g} | {_pct(g["expected"])} | {_pct(g["p_98"])} | '
                   f'{_pct(g["p_99"])} |')
    need = report['needed']

    def db(v: Optional[float]) -> str:
        return f'{v:g} dB' if v is not None else '> 60 dB'
    out += ['', f'98 % needs {db(need["0.98"]["expected"])} on average and '
            f'{db(need["0.98"]["reliable"])} for 9 runs in 10; 99 % (the gate\'s default) '
            f'{db(need["0.99"]["expected"])} / {db(need["0.99"]["reliable"])}.', '',
            '| artefact | layout | output SQNR dB | top-1 agr. measured | noise model | '
            'run unoptimised: SQNR dB, top-1 agr. | fused vs unoptimised: dB, answers differ |',
            '|---|---|---|---|---|---|---|']
    for m in report['measured']:
        second = m.get('unoptimised')
        extra = (f'{second["sqnr_db"]}, {_pct(second["top1_agreement"])} | '
                 f'{second["vs_optimised_db"]}, {second["optimised_differ"]}'
                 if second else 'n/a | n/a')
        out.append(f'| {m["tag"]} | {m["layout"]} | {m["sqnr_db"]} | '
                   f'{_pct(m["top1_agreement"])} | {_pct(m["expected"])} | {extra} |')
    return '\n'.join(out)


def _render(root: Path, rows: List[Dict[str, Any]]) -> str:
    text = table(rows)
    path = root / 'fidelity.json'
    if path.is_file():
        text += '\n\n' + fidelity_table(json.loads(path.read_text()))
    (root / 'study.md').write_text(text + '\n')
    return text


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--out', default='out/int8', help='work folder (default %(default)s)')
    parser.add_argument('--only', help='run only configs/methods containing this text')
    parser.add_argument('--render', action='store_true',
                        help='only re-render study.md from an existing study.jsonl')
    parser.add_argument('--fidelity', action='store_true',
                        help='only (re)compute the noise model (fidelity.json) for the rows '
                        'of an existing study.jsonl, then render')
    args = parser.parse_args(argv)
    root = Path(args.out)
    config_dir = Path(__file__).resolve().parents[2] / 'config'   # tools/int8/ -> repo
    if args.render or args.fidelity:
        rows = [json.loads(line) for line in (root / 'study.jsonl').read_text().splitlines()
                if line.strip()]
        if args.fidelity:
            report = fidelity(config_dir / 'infer.yaml', make_split(root / 'split'), rows,
                              root=root)
            (root / 'fidelity.json').write_text(json.dumps(report, indent=1) + '\n')
        print(_render(root, rows))
        return 0
    folders = make_split(root / 'split')
    rows = []
    with open(root / 'study.jsonl', 'w') as log:
        for name, method, keep, extra in RUNS:
            tag = f'{name}_{method}' + ('_auto' if keep == 'auto' else '') + \
                ''.join(f'_{k}{v}' for k, v in extra.items())
            if args.only and args.only not in tag:
                continue
            print(f'[study] {tag}', file=sys.stderr, flush=True)
            row = run_one(config_dir / f'{name}.yaml', method, keep, extra, folders,
                          root / tag / ARTEFACT)
            row['tag'] = tag
            rows.append(row)
            log.write(json.dumps(row) + '\n')
            log.flush()
    if any(r['config'] == 'infer.yaml' for r in rows):
        report = fidelity(config_dir / 'infer.yaml', folders, rows, root=root)
        (root / 'fidelity.json').write_text(json.dumps(report, indent=1) + '\n')
    else:       # an earlier study's noise model would describe rows no longer there
        (root / 'fidelity.json').unlink(missing_ok=True)
    print(_render(root, rows))
    return 0


if __name__ == '__main__':
    sys.exit(main())
