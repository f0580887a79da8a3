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
How far an INT8 model's answers are from the reference's, in numbers the gate can judge.

Classification: top-1 agreement (same best class as the reference), top-5 agreement
(the reference's best class among the INT8 top five) and, with ground truth, accuracy.
Detection: per-class matched-box agreement at the operating threshold (what the node
publishes) and COCO mAP@[.5:.95], computed by faster-coco-eval (the pycocotools
algorithm in C++), either against ground truth or with the reference's own detections
standing in for it.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

MATCH_IOU = 0.5


def classification_agreement(ref_ids: np.ndarray, test_ids: np.ndarray) -> Dict[str, float]:
    """Top-1 and top-5 agreement of (N, k) class-id arrays, best first."""
    ref_ids = np.asarray(ref_ids)
    test_ids = np.asarray(test_ids)
    if len(ref_ids) == 0:
        return {'top1_agreement': float('nan'), 'top5_agreement': float('nan')}
    top1 = ref_ids[:, 0] == test_ids[:, 0]
    top5 = np.array([r[0] in t[:5] for r, t in zip(ref_ids, test_ids)])
    return {'top1_agreement': float(top1.mean()), 'top5_agreement': float(top5.mean())}


def accuracy(ids: np.ndarray, truth: Sequence[Sequence[int]]) -> Dict[str, float]:
    """Top-1 / top-5 accuracy where each frame accepts a set of class ids."""
    if not truth:
        return {'top1': float('nan'), 'top5': float('nan')}
    top1 = [int(row[0]) in set(t) for row, t in zip(ids, truth)]
    top5 = [bool({int(c) for c in row[:5]} & set(t)) for row, t in zip(ids, truth)]
    return {'top1': float(np.mean(top1)), 'top5': float(np.mean(top5))}


def agreement_under_noise(reference: np.ndarray, sqnr_db: Union[Sequence[float], np.ndarray],
                          trials: int = 100, seed: int = 0) -> np.ndarray:
    """
    Top-1 agreement of ``reference`` logits with themselves plus i.i.d. Gaussian noise.

    An INT8 model's logits are the FP32 logits plus an error whose power the output SQNR
    measures; on frames whose two best classes nearly tie, any error of that size flips
    some answers. Modelling the error as independent noise of the same power says how
    many flips a given fidelity costs on *these* frames, and so what SQNR a top-1
    agreement threshold needs. Real quantization error is correlated across classes and
    frames, yet the measured artefacts land around this model's prediction, more often
    below it than above (docs/int8.md): the fidelity it asks for is, if anything, too low.

    Returns a (len(sqnr_db), trials) array of agreements. Every SQNR uses the same noise
    draws, scaled, so the rows differ by fidelity alone.
    """
    ref = np.asarray(reference, dtype=np.float64)
    if ref.ndim != 2 or ref.shape[1] < 2:
        raise ValueError(f'reference logits must be (frames, classes >= 2), got {ref.shape}')
    power = float(np.mean(np.square(ref)))
    sigmas = np.sqrt(power * 10.0 ** (-np.asarray(sqnr_db, dtype=np.float64) / 10.0))
    winners = ref.argmax(axis=1)
    rng = np.random.default_rng(seed)
    out = np.empty((len(sigmas), trials))
    for t in range(trials):
        noise = rng.standard_normal(ref.shape)
        for i, sigma in enumerate(sigmas):
            out[i, t] = np.mean((ref + sigma * noise).argmax(axis=1) == winners)
    return out


NEEDED_GRID = tuple(float(db) for db in np.arange(10.0, 60.01, 0.5))
"""Output SQNRs (dB) ``fidelity_needed`` searches by default."""


def meets(runs: np.ndarray, agreement: float) -> np.ndarray:
    """Which agreements reach ``agreement`` (49/50 is 0.98 even where float says 0.97999...)."""
    return np.asarray(runs) >= agreement - 1e-9


def thresholds_met(runs: np.ndarray, sqnr_db: Sequence[float], agreement: float,
                   confidence: float = 0.9) -> Dict[str, Optional[float]]:
    """
    Lowest of ascending ``sqnr_db`` whose ``agreement_under_noise`` rows meet ``agreement``.

    ``expected``: the mean agreement over the trials reaches it; ``reliable``: at least
    ``confidence`` of the trials reach it (one evaluation run passes that often). None
    where no SQNR does.
    """
    def first(mask: np.ndarray) -> Optional[float]:
        hits = np.nonzero(mask)[0]
        return float(sqnr_db[hits[0]]) if len(hits) else None
    return {'expected': first(meets(np.mean(runs, axis=1), agreement)),
            'reliable': first(meets(runs, agreement).mean(axis=1) >= confidence)}


def fidelity_needed(reference: np.ndarray, agreement: float, confidence: float = 0.9,
                    grid: Optional[Sequence[float]] = None, trials: int = 100,
                    seed: int = 0) -> Dict[str, Optional[float]]:
    """Lowest output SQNR (dB, on ``grid``) at which the noise model meets ``agreement``."""
    dbs = list(NEEDED_GRID if grid is None else grid)
    return thresholds_met(agreement_under_noise(reference, dbs, trials, seed), dbs,
                          agreement, confidence)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Compute the IoU of every box in ``a`` (N, 4) with every box in ``b`` (M, 4), xyxy."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(np.clip(a[:, 2:] - a[:, :2], 0, None), axis=1)
    area_b = np.prod(np.clip(b[:, 2:] - b[:, :2], 0, None), axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def match_boxes(ref_boxes: np.ndarray, ref_cls: np.ndarray, test_boxes: np.ndarray,
                test_cls: np.ndarray, test_scores: np.ndarray,
                iou: float = MATCH_IOU) -> List[Tuple[int, int, float]]:
    """
    Greedy one-to-one matches (ref index, test index, IoU) of the same class.

    Test boxes are taken best score first, each matched to the unmatched reference box
    of its class with the highest IoU, if that IoU reaches ``iou``.
    """
    matches: List[Tuple[int, int, float]] = []
    if len(ref_boxes) == 0 or len(test_boxes) == 0:
        return matches
    ious = iou_matrix(test_boxes, ref_boxes)
    used = np.zeros(len(ref_boxes), bool)
    for t in np.argsort(-np.asarray(test_scores), kind='stable'):
        candidates = np.where((np.asarray(ref_cls) == test_cls[t]) & ~used)[0]
        if not len(candidates):
            continue
        best = candidates[np.argmax(ious[t, candidates])]
        if ious[t, best] >= iou:
            used[best] = True
            matches.append((int(best), int(t), float(ious[t, best])))
    return matches


def box_agreement(frames: Sequence[Tuple[Any, Any]], labels: Sequence[str],
                  iou: float = MATCH_IOU) -> Dict[str, Any]:
    """
    Per-class and overall matched-box agreement over (reference, test) frame pairs.

    Each side is an object with ``boxes``, ``scores`` and ``class_ids``. Agreement is
    ``2 * matched / (reference boxes + test boxes)``: 1.0 when both saw the same boxes,
    lower for misses and for extra boxes alike.
    """
    per: Dict[int, Dict[str, Any]] = {}
    ious: List[float] = []
    for ref, test in frames:
        for c in np.asarray(ref.class_ids).tolist():
            per.setdefault(int(c), {'reference': 0, 'int8': 0, 'matched': 0})['reference'] += 1
        for c in np.asarray(test.class_ids).tolist():
            per.setdefault(int(c), {'reference': 0, 'int8': 0, 'matched': 0})['int8'] += 1
        for r, _t, v in match_boxes(ref.boxes, ref.class_ids, test.boxes, test.class_ids,
                                    test.scores, iou):
            per[int(ref.class_ids[r])]['matched'] += 1
            ious.append(v)
    classes = {}
    for c in sorted(per):
        row = per[c]
        denom = row['reference'] + row['int8']
        row['agreement'] = round(2.0 * row['matched'] / denom, 4) if denom else 1.0
        row['label'] = labels[c] if 0 <= c < len(labels) else str(c)
        classes[str(c)] = row
    total_ref = sum(r['reference'] for r in per.values())
    total_test = sum(r['int8'] for r in per.values())
    matched = sum(r['matched'] for r in per.values())
    denom = total_ref + total_test
    return {
        'iou_threshold': iou,
        'reference_boxes': total_ref,
        'int8_boxes': total_test,
        'matched_boxes': matched,
        'box_agreement': round(2.0 * matched / denom, 4) if denom else 1.0,
        'mean_matched_iou': round(float(np.mean(ious)), 4) if ious else None,
        'per_class': classes,
    }


def coco_map(truth: Sequence[Tuple[np.ndarray, np.ndarray]],
             detections: Sequence[Tuple[np.ndarray, np.ndarray, np.ndarray]],
             sizes: Sequence[Tuple[int, int]], num_classes: int) -> Optional[Dict[str, float]]:
    """
    COCO bbox mAP@[.5:.95] and mAP@.5 (0-100) with faster-coco-eval.

    ``truth[i]`` is (boxes xyxy, class ids) of frame i, ``detections[i]`` is (boxes,
    scores, class ids), ``sizes[i]`` (width, height). None when there is no ground-truth
    box at all (mAP is undefined then).
    """
    from faster_coco_eval import COCO, COCOeval_faster
    images, annotations, results = [], [], []
    ann_id = 1
    for i, ((gt_boxes, gt_cls), (w, h)) in enumerate(zip(truth, sizes)):
        images.append({'id': i + 1, 'width': int(w), 'height': int(h)})
        for box, c in zip(np.asarray(gt_boxes, np.float64).reshape(-1, 4),
                          np.asarray(gt_cls).reshape(-1)):
            bw, bh = float(box[2] - box[0]), float(box[3] - box[1])
            annotations.append({'id': ann_id, 'image_id': i + 1, 'category_id': int(c) + 1,
                                'bbox': [float(box[0]), float(box[1]), bw, bh],
                                'area': bw * bh, 'iscrowd': 0})
            ann_id += 1
    if not annotations:
        return None
    for i, (boxes, scores, cls) in enumerate(detections):
        for box, s, c in zip(np.asarray(boxes, np.float64).reshape(-1, 4),
                             np.asarray(scores).reshape(-1), np.asarray(cls).reshape(-1)):
            results.append({'image_id': i + 1, 'category_id': int(c) + 1,
                            'bbox': [float(box[0]), float(box[1]), float(box[2] - box[0]),
                                     float(box[3] - box[1])], 'score': float(s)})
    if not results:
        return {'map': 0.0, 'map50': 0.0}
    categories = [{'id': c + 1, 'name': str(c)} for c in range(int(num_classes))]
    gt = COCO()
    gt.dataset = {'images': images, 'annotations': annotations, 'categories': categories}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(results)
        ev = COCOeval_faster(gt, dt, iouType='bbox', print_function=lambda *a, **k: None)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = ev.stats
    return {'map': round(max(float(stats[0]), 0.0) * 100.0, 3),
            'map50': round(max(float(stats[1]), 0.0) * 100.0, 3)}


def read_classification_truth(path: str) -> Dict[str, List[int]]:
    """
    File name -> accepted class ids, from JSON ``{name: id | [ids]}`` or CSV lines.

    CSV/TSV/space-separated lines are ``file_name,class_id[,class_id...]``; '#' starts
    a comment.
    """
    import json
    import re
    text = _read_text(path)
    if text.lstrip().startswith('{'):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ValueError(f'labels file {path} is not valid JSON: {exc}') from None
        out = {}
        for name, value in data.items():
            ids = value if isinstance(value, list) else [value]
            try:
                out[str(name)] = [int(v) for v in ids]
            except (TypeError, ValueError):
                raise ValueError(f'labels file {path}: {name!r} must map to class ids, got '
                                 f'{value!r}') from None
        return out
    out = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        parts = [p for p in re.split(r'[,\t ]+', line) if p]
        try:
            out[parts[0]] = [int(p) for p in parts[1:]]
        except ValueError:
            raise ValueError(f'labels file {path} line {n}: expected "file,class_id", got '
                             f'{line!r}') from None
        if not out[parts[0]]:
            raise ValueError(f'labels file {path} line {n}: no class id for {parts[0]}')
    return out


def read_detection_truth(path: str, labels: Sequence[str]
                         ) -> Dict[str, Tuple[np.ndarray, np.ndarray]]:
    """
    File name -> (boxes xyxy, class indices) from a COCO-style JSON.

    Categories are mapped to the model's class indices by name when their names are
    labels of the model, else ``category_id`` is taken as the class index.
    """
    import json
    try:
        data = json.loads(_read_text(path))
        images = {int(im['id']): str(im['file_name']).rsplit('/', 1)[-1]
                  for im in data['images']}
        anns = data.get('annotations', [])
        cats = {int(c['id']): str(c.get('name', '')) for c in data.get('categories', [])}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f'ground truth {path} is not COCO-style JSON (images, annotations, '
                         f'categories): {exc}') from None
    index = {name: i for i, name in enumerate(labels)}
    by_name = bool(cats) and all(name in index for name in cats.values())
    boxes: Dict[str, List[List[float]]] = {name: [] for name in images.values()}
    classes: Dict[str, List[int]] = {name: [] for name in images.values()}
    for a in anns:
        name = images.get(int(a['image_id']))
        if name is None:
            continue
        x, y, w, h = (float(v) for v in a['bbox'])
        cid = int(a['category_id'])
        boxes[name].append([x, y, x + w, y + h])
        classes[name].append(index[cats[cid]] if by_name else cid)
    return {n: (np.array(boxes[n], np.float64).reshape(-1, 4), np.array(classes[n], np.int64))
            for n in images.values()}


def _read_text(path: str) -> str:
    try:
        with open(path, 'r', encoding='utf-8') as f:
            return f.read()
    except OSError as exc:
        raise ValueError(f'labels file {path} unreadable: {exc.strerror}') from None
