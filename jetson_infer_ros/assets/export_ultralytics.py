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
Ultralytics' detectors exported by Ultralytics, with its own predictor as the reference.

Imported by ``export_detectors.py`` in the tool env. Each family (n-size, built from the
bundled yaml: no download) gets realistic random weights once (below); each variant
(size, ``nms`` None/True/False, batch) is written by ``YOLO.export(format='onnx')``; then
Ultralytics' own predictor runs the exported file on the job's frames (its LetterBox, ONNX
Runtime through its AutoBackend, its ``non_max_suppression`` and ``scale_boxes``). Its
boxes in source pixels, scores and classes are the reference, stored with the network
input it built and the raw outputs it decoded.

Why the weights are changed: a randomly initialised network's activations shrink layer
by layer, so every output is a near-constant and nothing is detected. BatchNorm
statistics are recomputed on a few real photos (activations stay O(1) through the
network), then the last box and class convolutions are rescaled (box distributions of
varied widths; class logits of unit spread) and the class biases set, per stride level,
so that a handful of cells per photo pass a 0.25 threshold. Same seed, same weights.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import time
from typing import Any, Dict, List

from export_detectors import RAW_FLOOR, write_reference   # beside this script
import numpy as np


def _letterbox_batch(images: List[np.ndarray], hw) -> 'Any':
    import torch
    from ultralytics.data.augment import LetterBox
    box = LetterBox(tuple(hw), auto=False, stride=32)
    arr = np.stack([box(image=im)[..., ::-1] for im in images])   # BGR -> RGB
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float() / 255.0


def _head_branches(det) -> List[Any]:
    names = ('cv2', 'cv3', 'one2one_cv2', 'one2one_cv3')
    return [(n, getattr(det, n)) for n in names if getattr(det, n, None) is not None]


def _fit_scores(z: Any, target: float, photos: int) -> Any:
    """
    Return (a, b) so that a * z + b gives trained-looking scores.

    ``target`` cells per photo end above a 0.25 score and the best cell at 0.98: a real
    detector's spread, with no score saturated at 1.0 (ties there would make the NMS
    order a coin toss between implementations).
    """
    best = z.amax(dim=1).flatten().sort(descending=True).values
    k = min(int(round(target * photos)), best.numel() - 1)
    hi, at = float(best[0]), float(best[k])
    lo_logit, hi_logit = math.log(0.25 / 0.75), math.log(0.98 / 0.02)
    a = (hi_logit - lo_logit) / (hi - at) if hi > at else 1.0
    return a, lo_logit - a * at


def make_realistic(model, photos: List[np.ndarray], seed: int, log) -> Dict[str, Any]:
    """Recompute BatchNorm statistics on photos, then tune the head's last layers."""
    import torch
    from torch import nn
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    batch = _letterbox_batch(photos, (640, 640))
    model.eval()
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None     # cumulative average: one batch gives its exact statistics
        m.train()
    with torch.no_grad():
        model(batch)
    for m in bns:
        m.eval()
    det = model.model[-1]
    seen: Dict[str, Any] = {}
    hook = det.register_forward_pre_hook(lambda m, a: seen.__setitem__('x', a[0]))
    with torch.no_grad():
        model(batch)
    hook.remove()
    feats = [f.detach() for f in seen['x']]
    reg_max = int(det.reg_max)
    targets = (14.0, 8.0, 4.0, 2.0)   # cells per photo above 0.25 per level (stride 8 first)
    facts: Dict[str, Any] = {'reg_max': reg_max, 'levels': len(feats)}
    with torch.no_grad():
        for name, branch in _head_branches(det):
            is_box = name.endswith('cv2')
            for i, seq in enumerate(branch):
                conv = seq[-1]
                pre = seq[:-1](feats[i])
                # SiLU features are mostly positive, which gives every output channel its
                # own constant offset (mean feature times its weight sum): centre each
                # channel, then scale the spread.
                raw = nn.functional.conv2d(pre, conv.weight)
                mean = raw.mean(dim=(0, 2, 3))
                std = float((raw - mean[None, :, None, None]).std()) or 1.0
                want = (1.5 if reg_max > 1 else 0.25) if is_box else 1.0
                conv.weight.mul_(want / std)
                centred = -mean * (want / std)
                if is_box:
                    # DFL bins: any common bias cancels in the softmax; direct distances
                    # (reg_max 1, in strides): 1..3 per side
                    extra = torch.from_numpy(rng.uniform(1.0, 3.0, 4)).float() \
                        if reg_max == 1 else torch.zeros_like(centred)
                    conv.bias.copy_(centred + extra)
                    continue
                offsets = torch.from_numpy(rng.normal(0.0, 0.5, conv.bias.numel())).float()
                z = nn.functional.conv2d(pre, conv.weight) + (centred + offsets)[
                    None, :, None, None]
                a, b = _fit_scores(z, targets[min(i, len(targets) - 1)], len(photos))
                conv.weight.mul_(a)
                conv.bias.copy_(a * (centred + offsets) + b)
                facts['%s[%d]' % (name, i)] = [round(a, 3), round(b, 3)]
    log('  head tuned: %s' % json.dumps(facts))
    return facts


# -- Ultralytics ------------------------------------------------------------------------
def _reference_predictor():
    from ultralytics.models.yolo.detect import DetectionPredictor

    class RecordingPredictor(DetectionPredictor):
        """Ultralytics' own predictor, keeping the input tensor and raw outputs it saw."""

        def setup_model(self, *args, **kwargs):
            super().setup_model(*args, **kwargs)
            self.recorded = []

        def postprocess(self, preds, img, orig_imgs, **kwargs):
            raw = preds[0] if isinstance(preds, (list, tuple)) else preds
            self.recorded.append((img.detach().cpu().numpy().copy(),
                                  raw.detach().cpu().numpy().copy()))
            return super().postprocess(preds, img, orig_imgs, **kwargs)

    return RecordingPredictor


def reference_ultralytics(onnx_path: pathlib.Path, variant: Dict[str, Any],
                          frames: List[Dict[str, Any]], job: Dict[str, Any]) -> Dict[str, Any]:
    """Run Ultralytics' predictor on the frames; return its detections, inputs and outputs."""
    from ultralytics import YOLO
    model = YOLO(str(onnx_path), task='detect')
    batch = int(variant['batch'])
    count = len(frames) - len(frames) % batch      # a fixed-batch model needs full batches
    images = [np.load(f['path']) for f in frames[:count]]
    results = model.predict(images, imgsz=list(variant['imgsz']), conf=job['conf'],
                            iou=job['iou'], max_det=job['max_det'], batch=batch, device='cpu',
                            verbose=False, predictor=_reference_predictor())
    recorded = [(img[j], raw[j], j) for img, raw in model.predictor.recorded
                for j in range(len(img))]
    if len(recorded) != count or len(results) != count:
        raise SystemExit('%s: the predictor saw %d inputs for %d frames'
                         % (onnx_path, len(recorded), count))
    out: Dict[str, Any] = {'frames': []}
    for frame, r, (img, raw, j) in zip(frames, results, recorded):
        boxes = r.boxes
        out['frames'].append({
            'name': frame['name'],
            'boxes': boxes.xyxy.numpy().astype(np.float64).tolist(),
            'scores': boxes.conf.numpy().astype(np.float64).tolist(),
            'classes': boxes.cls.numpy().astype(np.int64).tolist(),
            'batch_index': j, 'input': img, 'raw': {'output0': raw},
            'keep': _worth_keeping(raw), 'axis': {'output0': _anchor_axis(raw)}})
    return out


def _anchor_axis(raw: np.ndarray) -> int:
    """Rows of (300, 6) end-to-end outputs; columns of the (4 + C, N) raw head."""
    return 0 if raw.shape[-1] == 6 else 1


def _worth_keeping(raw: np.ndarray) -> np.ndarray:
    if raw.shape[-1] == 6:
        return np.arange(raw.shape[0])
    return np.flatnonzero(raw[4:].max(axis=0) > RAW_FLOOR)


def export_ultralytics(job: Dict[str, Any], out_dir: pathlib.Path, log) -> List[Dict[str, Any]]:
    import torch
    from ultralytics import YOLO
    import ultralytics
    photos = [np.load(p) for p in job['calibration']]
    frames = job['frames']
    rows = []
    families: Dict[str, List[Dict[str, Any]]] = {}
    for v in job['exports']:
        if v['family'] != 'ssdlite':
            families.setdefault(v['family'], []).append(v)
    for family, variants in families.items():
        start = time.monotonic()
        torch.manual_seed(job['seed'])
        yolo = YOLO(family + '.yaml', task='detect')
        facts = make_realistic(yolo.model, photos, job['seed'], log)
        tuned = time.monotonic() - start
        for v in variants:
            name = v['name']
            folder = out_dir / name
            folder.mkdir(parents=True, exist_ok=True)
            t0 = time.monotonic()
            with _quiet_cwd(folder):
                path = yolo.export(format='onnx', imgsz=list(v['imgsz']), nms=v['nms'],
                                   batch=int(v['batch']), opset=job['opset'], simplify=True,
                                   dynamic=False, device='cpu', verbose=False)
            onnx_path = folder / 'model.onnx'
            os.replace(folder / path, onnx_path)   # a path relative to the export's cwd
            exported = time.monotonic() - t0
            t0 = time.monotonic()
            ref = reference_ultralytics(onnx_path, v, frames, job)
            write_reference(folder, ref)
            row = {'name': name, 'family': family, 'imgsz': v['imgsz'], 'nms': v['nms'],
                   'batch': v['batch'], 'model': str(onnx_path),
                   'exporter': 'ultralytics %s' % ultralytics.__version__,
                   'export_seconds': round(exported, 2),
                   'reference_seconds': round(time.monotonic() - t0, 2),
                   'tune_seconds': round(tuned, 2), 'head': facts,
                   'detections': [len(f['scores']) for f in ref['frames']]}
            log('  %s: %s in %.1f s, detections per frame %s'
                % (name, _shape_text(onnx_path), exported, row['detections']))
            rows.append(row)
    return rows


def _shape_text(path: pathlib.Path) -> str:
    import onnx
    g = onnx.load(str(path), load_external_data=False).graph
    dims = [[d.dim_value or d.dim_param for d in o.type.tensor_type.shape.dim] for o in g.output]
    return ', '.join('%s %s' % (o.name, tuple(d)) for o, d in zip(g.output, dims))


@contextlib.contextmanager
def _quiet_cwd(folder: pathlib.Path):
    old = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old)
