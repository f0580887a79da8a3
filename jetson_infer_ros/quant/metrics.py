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
from typing import Any, Dict, List, Optional, Sequence, Tuple

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


def correct(ids: np.ndarray, truth: Sequence[Sequence[int]], k: int) -> np.ndarray:
    """Per frame: is one of the ``k`` best classes among the frame's accepted class ids."""
    return np.array([bool({int(c) for c in row[:k]} & {int(c) for c in t})
                     for row, t in zip(ids, truth)], dtype=bool)


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


IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAX_DETS = 100


class DetectionSet:
    """
    Ground truth and one model's detections per frame, COCO-scored on any frame subset.

    ``truth[i]`` is (boxes xyxy, class ids[, crowd flags]) of frame i, ``detections[i]``
    (boxes, scores, class ids), ``sizes[i]`` (width, height). Crowd boxes are COCO's
    "ignore" regions: a detection on one is neither a hit nor a false positive, and they
    do not count as boxes to find.

    ``score()`` runs faster-coco-eval on all frames. ``resampled(indices)`` scores the
    frames at ``indices`` (repeats allowed, each draw its own image), as a bootstrap over
    images needs, without re-running the evaluator: COCO matches detections to boxes
    within each image and category, so those matches are computed once here
    (``_match``, COCOeval.evaluateImg's rules: score order, at most 100 per image and
    class, non-crowd boxes first, crowd IoU = intersection / detection area) and a
    resample only re-accumulates them (COCOeval.accumulate's 101-point interpolated
    precision). On all frames the two give the same numbers (tested).
    """

    def __init__(self, truth: Sequence[Tuple[np.ndarray, ...]],
                 detections: Sequence[Tuple[np.ndarray, np.ndarray, np.ndarray]],
                 sizes: Sequence[Tuple[int, int]], num_classes: int) -> None:
        self.sizes = [(int(w), int(h)) for w, h in sizes]
        self.num_classes = int(num_classes)
        self.truth = []
        for item in truth:
            boxes = np.asarray(item[0], np.float64).reshape(-1, 4)
            cls = np.asarray(item[1], np.int64).reshape(-1)
            crowd = (np.asarray(item[2], bool).reshape(-1) if len(item) > 2
                     else np.zeros(len(cls), bool))
            self.truth.append((boxes, cls, crowd))
        self.detections = [(np.asarray(b, np.float64).reshape(-1, 4),
                            np.asarray(s, np.float64).reshape(-1),
                            np.asarray(c, np.int64).reshape(-1)) for b, s, c in detections]
        self._by_class: Optional[Dict[int, Tuple[np.ndarray, ...]]] = None

    def __len__(self) -> int:
        return len(self.truth)

    @property
    def boxes(self) -> int:
        """Ground-truth boxes to find (crowd regions excluded)."""
        return int(sum(int(np.sum(~crowd)) for _b, _c, crowd in self.truth))

    def score(self) -> Optional[Dict[str, float]]:
        """COCO bbox mAP@[.5:.95] and mAP@.5 (0-100) by faster-coco-eval; None without boxes."""
        from faster_coco_eval import COCO, COCOeval_faster
        images: List[Dict[str, Any]] = []
        annotations: List[Dict[str, Any]] = []
        results: List[Dict[str, Any]] = []
        for image_id, ((gt, cls, crowd), (w, h)) in enumerate(zip(self.truth, self.sizes), 1):
            images.append({'id': image_id, 'width': w, 'height': h})
            for b, c, k in zip(gt, cls, crowd):
                annotations.append({'id': len(annotations) + 1, 'image_id': image_id,
                                    'category_id': int(c) + 1, 'bbox': _xywh(b),
                                    'area': float((b[2] - b[0]) * (b[3] - b[1])),
                                    'iscrowd': int(k)})
        for image_id, (boxes, scores, cls) in enumerate(self.detections, 1):
            results.extend({'image_id': image_id, 'category_id': int(c) + 1, 'bbox': _xywh(b),
                            'score': float(s)} for b, s, c in zip(boxes, scores, cls))
        if not any(not a['iscrowd'] for a in annotations):
            return None
        if not results:
            return {'map': 0.0, 'map50': 0.0}
        categories = [{'id': c + 1, 'name': str(c)} for c in range(self.num_classes)]
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

    def resampled(self, indices: Sequence[int]) -> Optional[Dict[str, float]]:
        """mAP@[.5:.95] and mAP@.5 (0-100) of the frames at ``indices``; None without boxes."""
        if self._by_class is None:
            self._by_class = self._gather()
        counts = np.bincount(np.asarray(indices, np.int64), minlength=len(self.truth))
        per_class = []
        for frame_of, hit, miss, positives in self._by_class.values():
            total = int(np.dot(counts, positives))
            if total == 0:
                continue
            weight = counts[frame_of].astype(np.float64)
            per_class.append(_interpolated_ap(np.cumsum(hit * weight, axis=1),
                                              np.cumsum(miss * weight, axis=1), total))
        if not per_class:
            return None
        ap = np.asarray(per_class)      # (classes, IoU thresholds)
        return {'map': round(float(ap.mean()) * 100.0, 3),
                'map50': round(float(ap[:, 0].mean()) * 100.0, 3)}

    def _gather(self) -> Dict[int, Tuple[np.ndarray, ...]]:
        """
        Per class, every frame's matched detections in COCO's order, and boxes per frame.

        (frame of each detection, true-positive and false-positive (T, n) masks, boxes to
        find per frame); a resample weights each detection by how often its frame was
        drawn, which is what repeating the frame would do.
        """
        matches = [self._match(i) for i in range(len(self.truth))]
        out: Dict[int, Tuple[np.ndarray, ...]] = {}
        for c in sorted({c for m in matches for c in m}):
            frames = [i for i, m in enumerate(matches) if c in m]
            scores = np.concatenate([matches[i][c][0] for i in frames])
            frame_of = np.concatenate([np.full(len(matches[i][c][0]), i) for i in frames])
            hit = np.concatenate([matches[i][c][1] for i in frames], axis=1)
            ignored = np.concatenate([matches[i][c][2] for i in frames], axis=1)
            order = np.argsort(-scores, kind='mergesort')
            hit, ignored = hit[:, order], ignored[:, order]
            positives = np.zeros(len(self.truth), np.int64)
            for i in frames:
                positives[i] = matches[i][c][3]
            out[c] = (frame_of[order].astype(np.int64), (hit & ~ignored).astype(np.float64),
                      (~hit & ~ignored).astype(np.float64), positives)
        return out

    def _match(self, frame: int) -> Dict[int, Tuple[Any, ...]]:
        """Per class of one frame: (scores, hit, ignored (T, n) masks, boxes to find)."""
        gt, gt_cls, crowd = self.truth[frame]
        boxes, scores, cls = self.detections[frame]
        out: Dict[int, Tuple[Any, ...]] = {}
        for c in set(gt_cls.tolist()) | set(cls.tolist()):
            g_sel = np.where(gt_cls == c)[0]
            g_sel = g_sel[np.argsort(crowd[g_sel], kind='mergesort')]  # non-crowd first
            g, g_ign = gt[g_sel], crowd[g_sel]
            d_sel = np.where(cls == c)[0]
            d_sel = d_sel[np.argsort(-scores[d_sel], kind='mergesort')][:MAX_DETS]
            d = boxes[d_sel]
            ious = _coco_iou(d, g, g_ign)
            hit = np.zeros((len(IOU_THRESHOLDS), len(d)), bool)
            ignored = np.zeros_like(hit)
            for t, threshold in enumerate(IOU_THRESHOLDS):
                taken = np.zeros(len(g), bool)
                for k in range(len(d)):
                    best, best_iou = -1, min(float(threshold), 1 - 1e-10)
                    for j in range(len(g)):
                        if taken[j] and not g_ign[j]:
                            continue
                        if best > -1 and not g_ign[best] and g_ign[j]:
                            break
                        if ious[k, j] < best_iou:
                            continue
                        best, best_iou = j, ious[k, j]
                    if best > -1:
                        hit[t, k] = True
                        ignored[t, k] = bool(g_ign[best])
                        taken[best] = True
            out[int(c)] = (scores[d_sel], hit, ignored, int(np.sum(~g_ign)))
        return out


def _coco_iou(d: np.ndarray, g: np.ndarray, crowd: np.ndarray) -> np.ndarray:
    """Box IoU as COCO computes it: against a crowd box, intersection over detection area."""
    if len(d) == 0 or len(g) == 0:
        return np.zeros((len(d), len(g)))
    lt = np.maximum(d[:, None, :2], g[None, :, :2])
    rb = np.minimum(d[:, None, 2:], g[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_d = np.prod(d[:, 2:] - d[:, :2], axis=1)[:, None]
    area_g = np.prod(g[:, 2:] - g[:, :2], axis=1)[None, :]
    union = np.where(crowd[None, :], area_d, area_d + area_g - inter)
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _interpolated_ap(tp: np.ndarray, fp: np.ndarray, positives: int) -> np.ndarray:
    """
    Average COCO's 101-point interpolated precision over recall points, per IoU row.

    ``tp``/``fp`` are (T, n) cumulative counts in score order; returns (T,) APs.
    """
    if tp.shape[1] == 0:
        return np.zeros(tp.shape[0])
    recall = tp / positives
    precision = tp / (tp + fp + np.spacing(1))
    precision = np.maximum.accumulate(precision[:, ::-1], axis=1)[:, ::-1]
    # searchsorted(recall_row, RECALL_POINTS, 'left') for every row at once
    where = np.sum(recall[:, :, None] < RECALL_POINTS[None, None, :], axis=1)   # (T, 101)
    n = precision.shape[1]
    q = np.where(where < n, np.take_along_axis(precision, np.minimum(where, n - 1), axis=1),
                 0.0)
    return q.mean(axis=1)


def _xywh(box: np.ndarray) -> List[float]:
    return [float(box[0]), float(box[1]), float(box[2] - box[0]), float(box[3] - box[1])]


def coco_map(truth: Sequence[Tuple[np.ndarray, ...]],
             detections: Sequence[Tuple[np.ndarray, np.ndarray, np.ndarray]],
             sizes: Sequence[Tuple[int, int]], num_classes: int) -> Optional[Dict[str, float]]:
    """COCO bbox mAP@[.5:.95] and mAP@.5 (0-100) of all frames (see DetectionSet)."""
    return DetectionSet(truth, detections, sizes, num_classes).score()


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
                         ) -> Dict[str, Tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """
    File name -> (boxes xyxy, class indices, crowd flags) from a COCO-style JSON.

    Categories are mapped to the model's class indices by name when their names are
    labels of the model, else ``category_id`` is taken as the class index. ``iscrowd``
    annotations are kept as crowd regions (COCO ignores detections on them).
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
    crowd: Dict[str, List[bool]] = {name: [] for name in images.values()}
    for a in anns:
        name = images.get(int(a['image_id']))
        if name is None:
            continue
        x, y, w, h = (float(v) for v in a['bbox'])
        cid = int(a['category_id'])
        boxes[name].append([x, y, x + w, y + h])
        classes[name].append(index[cats[cid]] if by_name else cid)
        crowd[name].append(bool(a.get('iscrowd', 0)))
    return {n: (np.array(boxes[n], np.float64).reshape(-1, 4), np.array(classes[n], np.int64),
                np.array(crowd[n], bool))
            for n in images.values()}


def _read_text(path: str) -> str:
    try:
        with open(path, 'r', encoding='utf-8') as f:
            return f.read()
    except OSError as exc:
        raise ValueError(f'labels file {path} unreadable: {exc.strerror}') from None
