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
exists is evaluated: the TensorRT Q/DQ model (on ONNX Runtime's CPU kernels, which
compute the same int8 arithmetic TensorRT is asked for) and the CPU model. The report
(``<artefact>.eval.json``) has the numbers per layout under ``variants`` and, at top
level, the worse of them, so a reader that knows nothing of layouts stays on the safe
side. It is tied to the artefact by sha256: re-calibrating makes it stale, and the
gate then refuses until `jetson-infer evaluate` runs again.

Report keys the gate reads: ``task``, ``top1_agreement`` (classification), ``map_drop``
in points (detection); per layout under ``variants.<tensorrt|onnxruntime>`` with the
evaluated file's ``sha256``.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import artifacts, export, frames as frames_mod, hygiene, metrics
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
REPORT_VERSION = 1

Log = Callable[[str], None]


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


def _load(cfg: InferConfig, log: Log):
    from jetson_infer_ros.pipeline import InferencePipeline
    pipeline = InferencePipeline(cfg, log=log)
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
        for name, path in variants:
            pipes[name] = _load(cfg.replace(model_path=str(path), **common), log)
        report = _run(cfg, source, ref_pipe, pipes, labels_path, log)
    finally:
        ref_pipe.release()
        for p in pipes.values():
            p.release()

    provenance = _provenance(family)
    calib_hashes = [it.get('sha256', '') for it in
                    (provenance or {}).get('frames', {}).get('items', [])]
    overlap = hygiene.overlap_count(calib_hashes, report.pop('_hashes'))
    if overlap:
        log(f'[evaluate] warning: {overlap} evaluation frames were calibration frames; '
            'the agreement numbers are flattered')
    report.update({
        'report_version': REPORT_VERSION,
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
        report['variants'][name]['model'] = path.name
        report['variants'][name]['sha256'] = file_sha256(str(path))
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
    numeric distance itself, on the tensors the node's preprocessing produces.
    """
    from jetson_infer_ros.pipeline import resolve_model
    from . import sensitivity
    input_name, stacked = preprocessed_frames(cfg, source)
    reference = sensitivity.model_outputs(resolve_model(cfg.model_path)[0], input_name,
                                          stacked)
    return {name: round(sensitivity.sqnr_db(reference, sensitivity.model_outputs(
                str(path), input_name, stacked)), 2)
            for name, path in models.items() if Path(str(path)).is_file()}


def _provenance(family: artifacts.ArtifactFamily) -> Optional[Dict[str, Any]]:
    try:
        return json.loads(family.provenance.read_text())
    except (OSError, ValueError):
        return None


def _run(cfg: InferConfig, source: frames_mod.FrameSource, ref_pipe: Any,
         pipes: Dict[str, Any], labels_path: Optional[str], log: Log) -> Dict[str, Any]:
    task = ref_pipe.spec.task
    labels = list(ref_pipe.labels)
    truth: Optional[Dict[str, Any]] = None
    if labels_path:
        truth = (metrics.read_classification_truth(labels_path) if task == 'classification'
                 else metrics.read_detection_truth(labels_path, labels))
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
        keys_low = ('top1_agreement', 'top5_agreement')
    else:
        threshold = float(cfg.score_threshold)
        variants = {name: _detection(ref_results, res, refs, sizes, truth, labels, threshold)
                    for name, res in results.items()}
        keys_low = ('map_int8', 'box_agreement')
        report['score_threshold'] = threshold
        report['map_score_threshold'] = min(EVAL_SCORE_THRESHOLD, threshold)
    report['variants'] = variants
    report['ground_truth'] = labels_path
    worst = _worst(variants, keys_low, task)
    report.update(worst)
    return report


def _worst(variants: Dict[str, Dict[str, Any]], keys_low: Sequence[str],
           task: str) -> Dict[str, Any]:
    """Top-level numbers: for each key, the worse value over the layouts."""
    out: Dict[str, Any] = {}
    rows = list(variants.values())
    for key in keys_low:
        values = [r[key] for r in rows if isinstance(r.get(key), (int, float))]
        if values:
            out[key] = min(values)
    if task == 'detection':
        drops = [r['map_drop'] for r in rows if isinstance(r.get('map_drop'), (int, float))]
        if drops:
            out['map_drop'] = max(drops)
        refs = [r['map_reference'] for r in rows
                if isinstance(r.get('map_reference'), (int, float))]
        if refs:
            out['map_reference'] = refs[0]
    else:
        for key in ('accuracy_reference', 'accuracy_int8'):
            if rows and key in rows[0]:
                out[key] = rows[0][key] if key == 'accuracy_reference' else \
                    min((r[key] for r in rows), key=lambda a: a.get('top1', 0.0))
    return out


def _margin(scores: Any) -> float:
    return float(scores[0]) - float(scores[1]) if len(scores) > 1 else float(scores[0])


def _classification(ref: List[Any], test: List[Any], refs: List[str],
                    truth: Optional[Dict[str, List[int]]]) -> Dict[str, Any]:
    ref_ids = np.stack([r.class_ids[:5] for r in ref])
    test_ids = np.stack([t.class_ids[:5] for t in test])
    out: Dict[str, Any] = dict(metrics.classification_agreement(ref_ids, test_ids))
    confident = np.array([float(r.scores[0]) >= CONFIDENT for r in ref])
    out['confident_frames'] = int(confident.sum())
    if confident.any():
        out['top1_agreement_confident'] = float(
            (ref_ids[confident, 0] == test_ids[confident, 0]).mean())
    margins = np.array([_margin(r.scores) for r in ref])
    clear = margins >= CLEAR_MARGIN
    out['clear_frames'] = int(clear.sum())
    if clear.any():
        out['top1_agreement_clear'] = float((ref_ids[clear, 0] == test_ids[clear, 0]).mean())
    out['disagreements'] = [
        {'frame': refs[i], 'reference': int(ref_ids[i, 0]), 'int8': int(test_ids[i, 0]),
         'reference_score': round(float(ref[i].scores[0]), 4),
         'reference_margin': round(float(margins[i]), 4)}
        for i in np.where(ref_ids[:, 0] != test_ids[:, 0])[0][:50]]
    if truth is not None:
        keep = [i for i, name in enumerate(refs) if name in truth]
        gt = [truth[refs[i]] for i in keep]
        out['labelled_frames'] = len(keep)
        if keep:
            out['accuracy_reference'] = metrics.accuracy(ref_ids[keep], gt)
            out['accuracy_int8'] = metrics.accuracy(test_ids[keep], gt)
    return out


def _detection(ref: List[Any], test: List[Any], refs: List[str], sizes: List[tuple],
               truth: Optional[Dict[str, Any]], labels: List[str],
               threshold: float) -> Dict[str, Any]:
    ref_op = [_Filtered(r, threshold) for r in ref]
    test_op = [_Filtered(t, threshold) for t in test]
    out: Dict[str, Any] = metrics.box_agreement(list(zip(ref_op, test_op)), labels)
    seen = [int(c) for r in ref + test for c in np.asarray(r.class_ids).tolist()]
    classes = max(len(labels), 1 + max(seen or [0]))

    def dets(rs: List[Any], keep: List[int]) -> List[tuple]:
        return [(rs[i].boxes, rs[i].scores, rs[i].class_ids) for i in keep]

    everything = list(range(len(refs)))
    vs_reference = metrics.coco_map([(r.boxes, r.class_ids) for r in ref_op],
                                    dets(test, everything), sizes, classes)
    out['map_int8_vs_reference'] = vs_reference['map'] if vs_reference else None
    if truth is not None:
        keep = [i for i, name in enumerate(refs) if name in truth]
        out['labelled_frames'] = len(keep)
        gt = [truth[refs[i]] for i in keep]
        ksizes = [sizes[i] for i in keep]
        m_ref = metrics.coco_map(gt, dets(ref, keep), ksizes, classes) if keep else None
        m_int8 = metrics.coco_map(gt, dets(test, keep), ksizes, classes) if keep else None
        out['map_basis'] = 'ground truth'
    else:
        m_ref = metrics.coco_map([(r.boxes, r.class_ids) for r in ref_op],
                                 dets(ref, everything), sizes, classes)
        m_int8 = vs_reference
        out['map_basis'] = 'reference detections (score >= %g) as ground truth' % threshold
    out['map_reference'] = m_ref['map'] if m_ref else None
    out['map_int8'] = m_int8['map'] if m_int8 else None
    out['map50_reference'] = m_ref['map50'] if m_ref else None
    out['map50_int8'] = m_int8['map50'] if m_int8 else None
    if m_ref and m_int8:
        out['map_drop'] = round(m_ref['map'] - m_int8['map'], 3)
    return out


def _gate_preview(report: Dict[str, Any], cfg: InferConfig) -> Dict[str, Any]:
    from jetson_infer_ros.quant.gate import judge
    out = {}
    for name, row in report['variants'].items():
        why = judge({**row, 'task': report['task']}, report['task'],
                    float(cfg.int8_min_top1_agreement), float(cfg.int8_max_map_drop))
        out[name] = {'passes': why is None, 'reason': why or ''}
    out['thresholds'] = {'int8_min_top1_agreement': float(cfg.int8_min_top1_agreement),
                         'int8_max_map_drop': float(cfg.int8_max_map_drop)}
    return out


def _pct(v: Any) -> str:
    return f'{v * 100:.2f}%' if isinstance(v, (int, float)) else 'n/a'


def _num(v: Any) -> str:
    return f'{v:.2f}' if isinstance(v, (int, float)) else 'n/a'


def markdown(report: Dict[str, Any]) -> str:
    """Render the report as markdown tables (one row per evaluated layout)."""
    lines = [f'INT8 evaluation of `{Path(report.get("artifact", "?")).name}` against FP32: '
             f'{report["frames"]} frames, task {report["task"]}', '']
    gate = report.get('gate', {})
    if report['task'] == 'classification':
        lines += ['| layout | model | top-1 agreement | top-5 agreement | confident frames '
                  '(agreement) | clear frames (agreement) | top-1 acc FP32 | top-1 acc INT8 '
                  '| gate |', '|---|---|---|---|---|---|---|---|---|']
        for name, r in report['variants'].items():
            acc_r = r.get('accuracy_reference', {}).get('top1')
            acc_i = r.get('accuracy_int8', {}).get('top1')
            verdict = 'pass' if gate.get(name, {}).get('passes') else 'refuse'
            lines.append(f'| {name} | {r.get("model", "")} | {_pct(r["top1_agreement"])} | '
                         f'{_pct(r["top5_agreement"])} | {r.get("confident_frames", 0)} '
                         f'({_pct(r.get("top1_agreement_confident"))}) | '
                         f'{r.get("clear_frames", 0)} ({_pct(r.get("top1_agreement_clear"))}) | '
                         f'{_pct(acc_r)} | {_pct(acc_i)} | {verdict} |')
    else:
        lines += ['| layout | model | mAP FP32 | mAP INT8 | drop (points) | mAP INT8 vs FP32 '
                  '| box agreement | matched / FP32 / INT8 boxes | gate |',
                  '|---|---|---|---|---|---|---|---|---|']
        for name, r in report['variants'].items():
            verdict = 'pass' if gate.get(name, {}).get('passes') else 'refuse'
            lines.append(
                f'| {name} | {r.get("model", "")} | {_num(r.get("map_reference"))} | '
                f'{_num(r.get("map_int8"))} | {_num(r.get("map_drop"))} | '
                f'{_num(r.get("map_int8_vs_reference"))} | {_pct(r.get("box_agreement"))} | '
                f'{r["matched_boxes"]} / {r["reference_boxes"]} / {r["int8_boxes"]} | '
                f'{verdict} |')
        first = next(iter(report['variants'].values()))
        lines += ['', f'mAP basis: {first.get("map_basis")}; per class (first layout):', '',
                  '| class | FP32 boxes | INT8 boxes | matched | agreement |',
                  '|---|---|---|---|---|']
        for row in first['per_class'].values():
            lines.append(f'| {row["label"]} | {row["reference"]} | {row["int8"]} | '
                         f'{row["matched"]} | {_pct(row["agreement"])} |')
    if report.get('calibration_overlap'):
        lines += ['', f'Warning: {report["calibration_overlap"]} evaluation frames were '
                  'calibration frames.']
    return '\n'.join(lines)
