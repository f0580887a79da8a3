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
Run the INT8 artefact and its FP32 reference on the same frames; store what the gate reads.

Both run through the node's own pipeline (same config, preprocessing, decoder and NMS),
so the numbers describe what the node would publish. Every layout of the artefact that
exists is evaluated, each in the execution that stands for its runtime
(``quant/execution.py``): the TensorRT Q/DQ model exactly as written (graph
optimizations off: the int8 arithmetic TensorRT is asked for, not this CPU's fused
kernels, which saturate on x86 without VNNI), the CPU model as the node runs it here.

With ground truth (``labels_path``) the report's primary numbers are accuracy: top-1 /
top-5 for classifiers, COCO mAP@[.5:.95] / AP50 for detectors, for FP32 and for INT8, and
the drop between them, each with a 95 % interval (``quant/intervals.py``: Wilson,
Newcombe's paired interval for the top-1 drop, a paired bootstrap over images for mAP).
Agreement with FP32 is always reported, with its Wilson interval. The report
(``<artefact>.eval.json``) has the numbers per layout under ``variants`` and, at top
level, the worse of them. It is tied to the artefact by sha256: re-calibrating makes it
stale, and the gate then refuses until `jetson-infer evaluate` runs again.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from . import artifacts, execution, export, frames as frames_mod, hygiene, intervals, metrics
from .gate import judge, REPORT_VERSION, Thresholds
from ..assets.cache import file_sha256
from ..config import InferConfig

EVAL_SCORE_THRESHOLD = 0.05
"""
Detections down to this score feed mAP (the ranking matters there); the operating
threshold (``score_threshold``) decides what counts for box agreement."""

CONFIDENT = 0.5
# FP32 top-1 minus top-2 probability below this is a near tie: any numeric change, int8 or
# another GPU, may swap the two, so agreement is also reported without those frames.
CLEAR_MARGIN = 0.1

Log = Callable[[str], None]

EXECUTIONS = {'tensorrt': 'exact', 'onnxruntime': 'deployed'}
"""How each layout is run when evaluated (quant/execution.py)."""


class EvaluationError(ValueError):
    """Evaluation cannot run as asked (one line, fit for the CLI)."""


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class _Filtered:
    """Detections of one frame at or above a score threshold."""

    def __init__(self, result: Any, threshold: float) -> None:
        keep = np.asarray(result.scores) >= threshold
        self.boxes = np.asarray(result.boxes).reshape(-1, 4)[keep]
        self.scores = np.asarray(result.scores)[keep]
        self.class_ids = np.asarray(result.class_ids)[keep]


def _load(cfg: InferConfig, log: Log, exact: bool = False):
    from jetson_infer_ros.pipeline import InferencePipeline
    pipeline = InferencePipeline(cfg, log=log, backend_extra=(('exact', exact),))
    pipeline.load()
    return pipeline


def evaluate(cfg: InferConfig, source: frames_mod.FrameSource,
             int8_model: Optional[str] = None, labels_path: Optional[str] = None,
             reference: str = 'fp32', store: bool = True, log: Log = _stderr) -> Dict[str, Any]:
    """Evaluate the INT8 artefact against the FP32 reference; return (and store) the report."""
    from jetson_infer_ros.pipeline import resolve_model
    if reference != 'fp32':
        raise EvaluationError(f'reference {reference!r}: only fp32 (ONNX Runtime on the CPU) '
                              'is available as a reference')
    started = time.monotonic()
    model_file, bundled_labels = resolve_model(cfg.model_path)
    if not Path(model_file).is_file():
        raise EvaluationError(f'reference model not found: {model_file}')
    if export.is_quantized_file(model_file):
        raise EvaluationError(f'the reference {Path(model_file).name} is itself quantized; '
                              'the config (or --model) must name the FP32 model')
    family = artifacts.family_of(int8_model) if int8_model else \
        artifacts.ArtifactFamily(artifacts.default_artifact(model_file))
    if not family.main.is_file():
        raise EvaluationError(f'no INT8 model at {family.main} (run `jetson-infer calibrate`)')
    variants = [('tensorrt', family.main)]
    if family.cpu.is_file():
        variants.append(('onnxruntime', family.cpu))

    common: Dict[str, Any] = {
        'backend': 'onnxruntime', 'precision': 'fp32', 'max_batch': 1,
        'labels_file': cfg.labels_file or bundled_labels or '',
        'top_k': max(5, int(cfg.top_k)),
        'score_threshold': min(EVAL_SCORE_THRESHOLD, float(cfg.score_threshold)),
        'max_detections': max(100, int(cfg.max_detections))}
    ref_pipe = _load(cfg.replace(**common), log)
    pipes = {}
    try:
        truth = _read_truth(labels_path, ref_pipe, source, log)
        for name, path in variants:
            pipes[name] = _load(cfg.replace(model_path=str(path), **common), log,
                                exact=EXECUTIONS[name] == 'exact')
        report = _run(cfg, source, ref_pipe, pipes, truth, log)
    finally:
        ref_pipe.release()
        for p in pipes.values():
            p.release()

    provenance = _provenance(family)
    calib_hashes = [it.get('sha256', '') for it in
                    (provenance or {}).get('frames', {}).get('items', [])]
    hashes = report.pop('_hashes')
    overlap: Optional[int] = hygiene.overlap_count(calib_hashes, hashes) if provenance else None
    if overlap:
        log(f'[evaluate] warning: {overlap} of {len(hashes)} evaluation frames were '
            'calibration frames: the numbers are flattered and the INT8 gate will refuse')
    elif overlap is None:
        log(f'[evaluate] warning: no calibration provenance ({family.provenance.name}): the '
            'frames cannot be checked against the calibration frames; the gate will refuse')
    report.update({
        'report_version': REPORT_VERSION,
        'ground_truth': labels_path,
        'cpu': execution.cpu_int8(),
        'created_utc': datetime.datetime.now(datetime.timezone.utc).strftime(
            '%Y-%m-%dT%H:%M:%SZ'),
        'artifact': str(family.main.resolve()),
        'sha256': file_sha256(str(family.main)),
        'reference': {'model': str(Path(model_file).resolve()), 'precision': 'fp32',
                      'sha256': file_sha256(model_file)},
        'source': source.describe(),
        'calibration_overlap': overlap,
        'calibration': ({'method': provenance.get('method', {}).get('name'),
                         'frames': provenance.get('frames', {}).get('count'),
                         'frames_sha256': provenance.get('frames', {}).get('sha256'),
                         'kept_float': provenance.get('kept_float', [])}
                        if provenance else None),
        'seconds': round(time.monotonic() - started, 2),
    })
    for name, path in variants:
        row = report['variants'][name]
        row['model'] = path.name
        row['sha256'] = file_sha256(str(path))
        row['execution'] = EXECUTIONS[name]
        row['execution_detail'] = execution.describe(EXECUTIONS[name])
    report['gate'] = _gate_preview(report, cfg)
    if store:
        with artifacts.StagedFiles() as staged:
            staged.write_text(family.evaluation_markdown, markdown(report) + '\n')
            staged.write_text(family.evaluation, json.dumps(report, indent=1) + '\n')
            staged.commit()
        report['stored'] = str(family.evaluation)
    return report


def preprocessed_frames(cfg: InferConfig, source: frames_mod.FrameSource
                        ) -> Tuple[str, np.ndarray]:
    """Return the model's input name and ``source`` through the node's preprocessing, stacked."""
    from jetson_infer_ros.preprocess import Preprocessor
    pipeline = _load(cfg.replace(precision='fp32', backend='onnxruntime', max_batch=1),
                     lambda _m: None)
    spec = pipeline.spec
    pipeline.release()
    pre = Preprocessor(spec.preprocess)
    batch = spec.preprocess.allocate(1)
    tensors = []
    for frame in source.frames():
        pre.run(frame.picture, batch[0])
        tensors.append(batch.copy())
    return spec.input_name, np.concatenate(tensors)


def output_sqnr(cfg: InferConfig, source: frames_mod.FrameSource,
                models: Dict[str, Any]) -> Dict[str, float]:
    """
    Raw-output SQNR (dB) of each model file against the FP32 model on ``source``.

    The agreement numbers count decisions, which near ties make coarse; this measures the
    numeric distance itself, on the tensors the node's preprocessing produces. Q/DQ
    models run in the exact execution, so the number is the same on every CPU.
    """
    from jetson_infer_ros.pipeline import resolve_model
    from . import sensitivity
    input_name, stacked = preprocessed_frames(cfg, source)
    reference = execution.model_outputs(resolve_model(cfg.model_path)[0], input_name, stacked)
    return {name: round(sensitivity.sqnr_db(reference, execution.model_outputs(
                str(path), input_name, stacked)), 2)
            for name, path in models.items() if Path(str(path)).is_file()}


def _provenance(family: artifacts.ArtifactFamily) -> Optional[Dict[str, Any]]:
    try:
        return json.loads(family.provenance.read_text())
    except (OSError, ValueError):
        return None


def _read_truth(labels_path: Optional[str], ref_pipe: Any, source: frames_mod.FrameSource,
                log: Log) -> Optional[Dict[str, Any]]:
    """Read ``--labels``; a file that names none of the evaluation frames is an error."""
    if not labels_path:
        return None
    task = ref_pipe.spec.task
    truth = (metrics.read_classification_truth(labels_path) if task == 'classification'
             else metrics.read_detection_truth(labels_path, list(ref_pipe.labels)))
    refs = source.refs()
    if refs is not None:
        matched = sum(1 for r in refs if r in truth)
        if matched == 0:
            example = next(iter(truth), None)
            raise EvaluationError(
                f'--labels {labels_path}: none of its {len(truth)} entries names one of the '
                f'{len(refs)} evaluation images (labels name e.g. {example!r}, the images are '
                f'e.g. {refs[0]!r}); labels are matched by file name')
        if matched < len(refs):
            log(f'[evaluate] warning: {labels_path} labels {matched} of the {len(refs)} '
                'evaluation images; accuracy is measured on those')
    return truth


def _run(cfg: InferConfig, source: frames_mod.FrameSource, ref_pipe: Any,
         pipes: Dict[str, Any], truth: Optional[Dict[str, Any]], log: Log) -> Dict[str, Any]:
    task = ref_pipe.spec.task
    labels = list(ref_pipe.labels)
    refs: List[str] = []
    hashes: List[str] = []
    sizes: List[tuple] = []
    ref_results: List[Any] = []
    results: Dict[str, List[Any]] = {name: [] for name in pipes}
    total = len(source)
    last = time.monotonic()
    for i, frame in enumerate(source.frames()):
        refs.append(frame.ref)
        hashes.append(frame.sha256)
        sizes.append((frame.picture.array.shape[1], frame.picture.array.shape[0]))
        ref_results.append(ref_pipe.run([frame.picture])[0])
        for name, pipe in pipes.items():
            results[name].append(pipe.run([frame.picture])[0])
        if time.monotonic() - last > 2.0 or i + 1 == total:
            last = time.monotonic()
            log(f'[evaluate] frames {i + 1}/{total}')
    if not refs:
        raise EvaluationError('no evaluation frames')
    report: Dict[str, Any] = {
        'task': task, 'frames': len(refs),
        'frames_sha256': frames_mod.combined_sha256(hashes), '_hashes': hashes,
    }
    if task == 'classification':
        variants = {name: _classification(ref_results, res, refs, truth)
                    for name, res in results.items()}
    else:
        threshold = float(cfg.score_threshold)
        variants = _detection(ref_results, results, refs, sizes, truth, labels, threshold,
                              log)
        report['score_threshold'] = threshold
        report['map_score_threshold'] = min(EVAL_SCORE_THRESHOLD, threshold)
    report['variants'] = variants
    report.update(_worst(variants, task))
    return report


_LOW_IS_WORSE = {'classification': ('top1_agreement', 'top5_agreement'),
                 'detection': ('map_int8', 'box_agreement')}
_HIGH_IS_WORSE = {'classification': ('top1_drop', 'top5_drop'), 'detection': ('map_drop',)}


def _worst(variants: Dict[str, Dict[str, Any]], task: str) -> Dict[str, Any]:
    """Top-level numbers: for each key, the worse value over the layouts."""
    out: Dict[str, Any] = {}
    rows = list(variants.values())
    for keys, pick in ((_LOW_IS_WORSE[task], min), (_HIGH_IS_WORSE[task], max)):
        for key in keys:
            values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
            if values:
                out[key] = pick(values)
    for key in ('accuracy_reference', 'map_reference', 'labelled_frames', 'truth_boxes'):
        if rows and key in rows[0]:
            out[key] = rows[0][key]
    if task == 'classification' and rows and 'accuracy_int8' in rows[0]:
        out['accuracy_int8'] = min((r['accuracy_int8'] for r in rows),
                                   key=lambda a: a.get('top1', 0.0))
    return out


def _margin(scores: Any) -> float:
    return float(scores[0]) - float(scores[1]) if len(scores) > 1 else float(scores[0])


def _rate(hits: np.ndarray) -> Dict[str, Any]:
    """Return a proportion with its Wilson interval."""
    n = len(hits)
    return {'value': float(np.mean(hits)) if n else float('nan'),
            'interval': intervals.rounded(intervals.wilson(int(np.sum(hits)), n))}


def _accuracy(top1: np.ndarray, top5: np.ndarray) -> Dict[str, Any]:
    one, five = _rate(top1), _rate(top5)
    return {'top1': one['value'], 'top1_interval': one['interval'],
            'top5': five['value'], 'top5_interval': five['interval']}


def _drop(ref_right: np.ndarray, test_right: np.ndarray) -> Tuple[float, Any]:
    """Accuracy drop FP32 - INT8 in points, with Newcombe's paired 95 % interval."""
    paired = intervals.paired_difference(ref_right, test_right)
    assert paired is not None
    diff, (lo, hi) = paired
    return round(diff * 100.0, 3), [round(lo * 100.0, 3), round(hi * 100.0, 3)]


def _classification(ref: List[Any], test: List[Any], refs: List[str],
                    truth: Optional[Dict[str, List[int]]]) -> Dict[str, Any]:
    ref_ids = np.stack([r.class_ids[:5] for r in ref])
    test_ids = np.stack([t.class_ids[:5] for t in test])
    out: Dict[str, Any] = dict(metrics.classification_agreement(ref_ids, test_ids))
    same1 = ref_ids[:, 0] == test_ids[:, 0]
    same5 = np.array([r[0] in t[:5] for r, t in zip(ref_ids, test_ids)])
    out['top1_agreement_interval'] = _rate(same1)['interval']
    out['top5_agreement_interval'] = _rate(same5)['interval']
    confident = np.array([float(r.scores[0]) >= CONFIDENT for r in ref])
    out['confident_frames'] = int(confident.sum())
    if confident.any():
        out['top1_agreement_confident'] = float(same1[confident].mean())
    margins = np.array([_margin(r.scores) for r in ref])
    clear = margins >= CLEAR_MARGIN
    out['clear_frames'] = int(clear.sum())
    if clear.any():
        out['top1_agreement_clear'] = float(same1[clear].mean())
    out['disagreements'] = [
        {'frame': refs[i], 'reference': int(ref_ids[i, 0]), 'int8': int(test_ids[i, 0]),
         'reference_score': round(float(ref[i].scores[0]), 4),
         'reference_margin': round(float(margins[i]), 4)}
        for i in np.where(~same1)[0][:50]]
    if truth is not None:
        keep = [i for i, name in enumerate(refs) if name in truth]
        out['labelled_frames'] = len(keep)
        if keep:
            gt = [truth[refs[i]] for i in keep]
            r1, r5 = (metrics.correct(ref_ids[keep], gt, k) for k in (1, 5))
            t1, t5 = (metrics.correct(test_ids[keep], gt, k) for k in (1, 5))
            out['accuracy_reference'] = _accuracy(r1, r5)
            out['accuracy_int8'] = _accuracy(t1, t5)
            out['top1_drop'], out['top1_drop_interval'] = _drop(r1, t1)
            out['top5_drop'], out['top5_drop_interval'] = _drop(r5, t5)
            out['top1_changed'] = {'fp32_right_int8_wrong': int(np.sum(r1 & ~t1)),
                                   'fp32_wrong_int8_right': int(np.sum(~r1 & t1))}
    return out


def _detection(ref: List[Any], tests: Dict[str, List[Any]], refs: List[str],
               sizes: List[tuple], truth: Optional[Dict[str, Any]], labels: List[str],
               threshold: float, log: Log) -> Dict[str, Dict[str, Any]]:
    """Per layout: box agreement, mAP vs FP32's boxes, and the mAP drop with its interval."""
    ref_op = [_Filtered(r, threshold) for r in ref]
    seen = [int(c) for rs in [ref] + list(tests.values()) for r in rs
            for c in np.asarray(r.class_ids).tolist()]
    classes = max(len(labels), 1 + max(seen or [0]))

    def dets(rs: List[Any], keep: List[int]) -> List[tuple]:
        return [(rs[i].boxes, rs[i].scores, rs[i].class_ids) for i in keep]

    everything = list(range(len(refs)))
    as_truth = [(r.boxes, r.class_ids) for r in ref_op]
    if truth is not None:
        keep = [i for i, name in enumerate(refs) if name in truth]
        gt: List[Any] = [truth[refs[i]] for i in keep]
        basis = 'ground truth'
    else:
        keep, gt = everything, as_truth
        basis = 'reference detections (score >= %g) as ground truth' % threshold
    ksizes = [sizes[i] for i in keep]
    ref_set = metrics.DetectionSet(gt, dets(ref, keep), ksizes, classes)
    sets = {name: metrics.DetectionSet(gt, dets(res, keep), ksizes, classes)
            for name, res in tests.items()}
    m_ref = ref_set.score() if keep else None
    rows: Dict[str, Dict[str, Any]] = {}
    for name, res in tests.items():
        test_op = [_Filtered(t, threshold) for t in res]
        out: Dict[str, Any] = metrics.box_agreement(list(zip(ref_op, test_op)), labels)
        vs_reference = metrics.coco_map(as_truth, dets(res, everything), sizes, classes)
        out['map_int8_vs_reference'] = vs_reference['map'] if vs_reference else None
        out['map_basis'] = basis
        if truth is not None:
            out['labelled_frames'] = len(keep)
            out['truth_boxes'] = ref_set.boxes
        m_int8 = sets[name].score() if keep else None
        out['map_reference'] = m_ref['map'] if m_ref else None
        out['map_int8'] = m_int8['map'] if m_int8 else None
        out['map50_reference'] = m_ref['map50'] if m_ref else None
        out['map50_int8'] = m_int8['map50'] if m_int8 else None
        if m_ref and m_int8:
            out['map_drop'] = round(m_ref['map'] - m_int8['map'], 3)
            out['map50_drop'] = round(m_ref['map50'] - m_int8['map50'], 3)
        rows[name] = out
    if m_ref and keep:
        _map_intervals(ref_set, sets, rows, log)
    return rows


def _map_intervals(ref_set: Any, sets: Dict[str, Any], rows: Dict[str, Dict[str, Any]],
                   log: Log) -> None:
    """Paired bootstrap over images: the same resampled images score FP32 and each layout."""
    names = list(sets)
    started = time.monotonic()

    def statistic(idx: np.ndarray) -> List[float]:
        ref = ref_set.resampled(idx) or {'map': float('nan'), 'map50': float('nan')}
        values = [ref['map'], ref['map50']]
        for name in names:
            m = sets[name].resampled(idx) or {'map': float('nan'), 'map50': float('nan')}
            values += [m['map'], m['map50'], ref['map'] - m['map'], ref['map50'] - m['map50']]
        return values
    found = intervals.bootstrap(statistic, len(ref_set))
    log(f'[evaluate] mAP intervals: {intervals.BOOTSTRAP_SAMPLES} bootstrap resamples of '
        f'{len(ref_set)} images in {time.monotonic() - started:.1f} s')
    for k, name in enumerate(names):
        base = 2 + 4 * k
        row = rows[name]
        row['map_reference_interval'] = intervals.rounded(found[0], 3)
        row['map50_reference_interval'] = intervals.rounded(found[1], 3)
        row['map_int8_interval'] = intervals.rounded(found[base], 3)
        row['map50_int8_interval'] = intervals.rounded(found[base + 1], 3)
        row['map_drop_interval'] = intervals.rounded(found[base + 2], 3)
        row['map50_drop_interval'] = intervals.rounded(found[base + 3], 3)


def _gate_preview(report: Dict[str, Any], cfg: InferConfig) -> Dict[str, Any]:
    limits = Thresholds.from_config(cfg)
    out: Dict[str, Any] = {}
    for name, row in report['variants'].items():
        why = judge(row, report, report['task'], limits)
        out[name] = {'passes': why is None, 'reason': why or ''}
    out['thresholds'] = limits.as_dict()
    return out


def _pct(v: Any) -> str:
    return f'{v * 100:.2f}%' if isinstance(v, (int, float)) else 'n/a'


def _num(v: Any) -> str:
    return f'{v:.2f}' if isinstance(v, (int, float)) else 'n/a'


def _ci(v: Any, pct: bool = False) -> str:
    """`` [lo, hi]`` of an interval (fractions as percent), or nothing."""
    if not (isinstance(v, (list, tuple)) and len(v) == 2):
        return ''
    lo, hi = (x * 100 if pct else x for x in v)
    return f' [{lo:.1f}, {hi:.1f}]' if pct else f' [{lo:.2f}, {hi:.2f}]'


def _verdict(gate: Dict[str, Any], name: str) -> str:
    entry = gate.get(name, {})
    return 'pass' if entry.get('passes') else f'refuse: {entry.get("reason", "")}'


def markdown(report: Dict[str, Any]) -> str:
    """Render the report as markdown tables (one row per evaluated layout)."""
    labelled = bool(report.get('ground_truth'))
    lines = [f'INT8 evaluation of `{Path(report.get("artifact", "?")).name}` against FP32: '
             f'{report["frames"]} frames, task {report["task"]}'
             + (f', ground truth {Path(str(report["ground_truth"])).name}' if labelled else
                ', no ground truth (agreement with FP32 only)')
             + '; 95 % intervals in brackets', '']
    gate = report.get('gate', {})
    if report['task'] == 'classification':
        if labelled:
            lines += ['| layout | labelled frames | top-1 FP32 | top-1 INT8 | top-1 drop (points) '
                      '| top-5 FP32 | top-5 INT8 | top-1 agreement | gate |',
                      '|---|---|---|---|---|---|---|---|---|']
            for name, r in report['variants'].items():
                ref, q = r.get('accuracy_reference', {}), r.get('accuracy_int8', {})
                lines.append(
                    f'| {name} | {r.get("labelled_frames", 0)} | '
                    f'{_pct(ref.get("top1"))}{_ci(ref.get("top1_interval"), True)} | '
                    f'{_pct(q.get("top1"))}{_ci(q.get("top1_interval"), True)} | '
                    f'{_num(r.get("top1_drop"))}{_ci(r.get("top1_drop_interval"))} | '
                    f'{_pct(ref.get("top5"))} | {_pct(q.get("top5"))} | '
                    f'{_pct(r["top1_agreement"])}{_ci(r.get("top1_agreement_interval"), True)} '
                    f'| {_verdict(gate, name)} |')
        else:
            lines += ['| layout | model | top-1 agreement | top-5 agreement | confident frames '
                      '(agreement) | clear frames (agreement) | gate |',
                      '|---|---|---|---|---|---|---|']
            for name, r in report['variants'].items():
                lines.append(
                    f'| {name} | {r.get("model", "")} | {_pct(r["top1_agreement"])}'
                    f'{_ci(r.get("top1_agreement_interval"), True)} | '
                    f'{_pct(r["top5_agreement"])} | {r.get("confident_frames", 0)} '
                    f'({_pct(r.get("top1_agreement_confident"))}) | '
                    f'{r.get("clear_frames", 0)} ({_pct(r.get("top1_agreement_clear"))}) | '
                    f'{_verdict(gate, name)} |')
    else:
        lines += ['| layout | boxes to find | mAP FP32 | mAP INT8 | drop (points) | AP50 FP32 | '
                  'AP50 INT8 | mAP INT8 vs FP32 boxes | box agreement | gate |',
                  '|---|---|---|---|---|---|---|---|---|---|']
        for name, r in report['variants'].items():
            boxes = r.get('truth_boxes') if labelled else r.get('reference_boxes')
            lines.append(
                f'| {name} | {boxes} | {_num(r.get("map_reference"))}'
                f'{_ci(r.get("map_reference_interval"))} | {_num(r.get("map_int8"))}'
                f'{_ci(r.get("map_int8_interval"))} | {_num(r.get("map_drop"))}'
                f'{_ci(r.get("map_drop_interval"))} | {_num(r.get("map50_reference"))} | '
                f'{_num(r.get("map50_int8"))} | {_num(r.get("map_int8_vs_reference"))} | '
                f'{_pct(r.get("box_agreement"))} | {_verdict(gate, name)} |')
        first = next(iter(report['variants'].values()))
        lines += ['', f'mAP basis: {first.get("map_basis")}; per class at the operating '
                  'threshold (first layout):', '',
                  '| class | FP32 boxes | INT8 boxes | matched | agreement |',
                  '|---|---|---|---|---|']
        for row in first['per_class'].values():
            lines.append(f'| {row["label"]} | {row["reference"]} | {row["int8"]} | '
                         f'{row["matched"]} | {_pct(row["agreement"])} |')
    lines += ['', 'Execution: ' + '; '.join(
        f'{name}: {r.get("execution_detail", r.get("execution", "?"))}'
        for name, r in report['variants'].items()) + '.']
    if report.get('calibration_overlap'):
        lines += ['', f'Warning: {report["calibration_overlap"]} evaluation frames were '
                  'calibration frames.']
    return '\n'.join(lines)
