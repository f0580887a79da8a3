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
SSDlite320-MobileNetV3-Large exported from torchvision, its own postprocess the reference.

Imported by ``export_detectors.py`` in the tool env.

``torch.onnx.export`` of the whole ``SSD`` module would put torchvision's per-class
filtering and NMS into the graph (a data-dependent detection list). What users export
for an inference engine is the network up to decoded boxes and class scores, with NMS
left to the runtime; this export is exactly that, written with torchvision's own pieces
in torchvision's own order: ``box_coder.decode_single`` on the anchors of a 320x320
input, ``clip_boxes_to_image``, softmax over 91 columns (column 0 background). Outputs
``boxes`` (B, 3234, 4) in network pixels and ``scores`` (B, 3234, 91).

The reference is ``SSD.postprocess_detections`` (per class: score > threshold, top-k,
then ``batched_nms``) and ``GeneralizedRCNNTransform.postprocess`` (boxes scaled to the
source size) on the head outputs of torchvision's own preprocessing of each frame; the
boxes and scores the exported file gives for that same input are stored beside it, so
the node's decoder can be run on the very numbers the reference saw.
"""

from __future__ import annotations

import pathlib
import time
from typing import Any, Dict, List

import numpy as np

NUM_CLASSES = 91
SIZE = 320
LOGIT_STD = 1.0     # class logits' spread after centring
RAW_FLOOR = 0.01    # raw rows below this score are not stored: no threshold reaches them


def _model(job: Dict[str, Any]):
    import torch
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large
    torch.manual_seed(job['seed'])
    return ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=NUM_CLASSES,
        score_thresh=job['conf'], nms_thresh=job['ssd_iou'],
        detections_per_img=job['max_det'], topk_candidates=job['ssd_topk']).eval()


def _tensors(images: List[np.ndarray]) -> List[Any]:
    import torch
    return [torch.from_numpy(np.ascontiguousarray(im[..., ::-1])).permute(2, 0, 1).float()
            / 255.0 for im in images]


def _head(model, batch):
    """Run torchvision's own eval path up to the head; return what postprocess needs."""
    images, _ = model.transform(batch)
    features = list(model.backbone(images.tensors).values())
    head = model.head(features)
    anchors = model.anchor_generator(images, features)
    return images, head, anchors


def make_realistic(model, photos: List[np.ndarray], seed: int, log) -> Dict[str, Any]:
    """Recompute BatchNorm statistics on photos; give class logits a spread and a bias."""
    import torch
    from torch import nn
    rng = np.random.default_rng(seed)
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
        m.train()
    with torch.no_grad():
        _head(model, _tensors(photos))
    for m in bns:
        m.eval()
    images, _, _ = _head(model, _tensors(photos))
    with torch.no_grad():
        feats = list(model.backbone(images.tensors).values())
        cls_head = model.head.classification_head.module_list
        reg_head = model.head.regression_head.module_list
        # Non-negative ReLU6 features give every output channel its own constant offset
        # (mean feature times the sum of its weights): centre each channel, then scale.
        for block, f in zip(reg_head, feats):
            _centre(block[-1], block[:-1](f), 1.0)
        offsets = torch.from_numpy(rng.normal(0.0, 0.5, NUM_CLASSES)).float()
        offsets[0] = 0.0
        pre = []
        for block, f in zip(cls_head, feats):
            x = block[:-1](f)
            _centre(block[-1], x, LOGIT_STD)
            pre.append(block[-1](x))
        fg = (torch.arange(NUM_CLASSES) > 0).float()

        def count(b: float) -> float:
            total = 0
            for z in pre:
                n, _c, h, w = z.shape
                logits = z.view(n, -1, NUM_CLASSES, h, w) + (offsets + b * fg)[
                    None, None, :, None, None]
                total += int(torch.count_nonzero(torch.softmax(logits, dim=2)[:, :, 1:] > 0.25))
            return total / len(photos)
        lo, hi = -30.0, 10.0
        for _ in range(40):
            mid = (lo + hi) / 2
            lo, hi = (lo, mid) if count(mid) > 20.0 else (mid, hi)
        for block in cls_head:
            anchors = block[-1].bias.numel() // NUM_CLASSES
            block[-1].bias.add_((offsets + (lo + hi) / 2 * fg).repeat(anchors))
    facts = {'foreground_bias': round((lo + hi) / 2, 3), 'logit_std': LOGIT_STD}
    log('  ssdlite head tuned: %s' % facts)
    return facts


def _centre(conv, x, std: float) -> None:
    """Set ``conv``'s output on ``x`` to zero mean per channel and ``std`` overall."""
    from torch import nn
    raw = nn.functional.conv2d(x, conv.weight, padding=conv.padding)
    mean = raw.mean(dim=(0, 2, 3))
    scale = std / (float((raw - mean[None, :, None, None]).std()) or 1.0)
    conv.weight.mul_(scale)
    conv.bias.copy_(-mean * scale)


class _Raw:
    """Build the exported module: the network to decoded, clipped boxes and scores."""

    @staticmethod
    def build(model, batch: int):
        import torch
        from torch import nn
        from torchvision.models.detection.image_list import ImageList
        from torchvision.ops import boxes as box_ops

        x = torch.zeros(batch, 3, SIZE, SIZE)
        with torch.no_grad():
            feats = list(model.backbone(x).values())
            anchors = model.anchor_generator(ImageList(x, [(SIZE, SIZE)] * batch), feats)[0]

        class Raw(nn.Module):

            def __init__(self):
                super().__init__()
                self.backbone = model.backbone
                self.head = model.head
                self.box_coder = model.box_coder
                self.register_buffer('anchors', anchors.clone())

            def forward(self, images):
                head = self.head(list(self.backbone(images).values()))
                boxes = [box_ops.clip_boxes_to_image(
                    self.box_coder.decode_single(head['bbox_regression'][i], self.anchors),
                    (SIZE, SIZE)) for i in range(batch)]
                return torch.stack(boxes), torch.softmax(head['cls_logits'], dim=-1)
        return Raw().eval()


def export_ssdlite(job: Dict[str, Any], out_dir: pathlib.Path, log) -> List[Dict[str, Any]]:
    import onnxruntime
    import torch
    import torchvision
    photos = [np.load(p) for p in job['calibration']]
    frames = job['frames']
    images = [np.load(f['path']) for f in frames]
    start = time.monotonic()
    model = _model(job)
    facts = make_realistic(model, photos, job['seed'], log)
    tuned = time.monotonic() - start
    rows = []
    for v in [v for v in job['exports'] if v['family'] == 'ssdlite']:
        batch = int(v['batch'])
        name = v['name']
        folder = out_dir / name
        folder.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        onnx_path = folder / 'model.onnx'
        torch.onnx.export(_Raw.build(model, batch), (torch.zeros(batch, 3, SIZE, SIZE),),
                          str(onnx_path), dynamo=False, opset_version=job['opset'],
                          input_names=['images'], output_names=['boxes', 'scores'])
        exported = time.monotonic() - t0
        session = onnxruntime.InferenceSession(str(onnx_path),
                                               providers=['CPUExecutionProvider'])
        ref: Dict[str, Any] = {'frames': []}
        most = 0
        for first in range(0, len(images) - batch + 1, batch):
            group = list(range(first, first + batch))
            with torch.no_grad():
                tensors = _tensors([images[k] for k in group])
                prepared, head, anchors = _head(model, tensors)
                dets = model.postprocess_detections(head, anchors, prepared.image_sizes)
                dets = model.transform.postprocess(
                    dets, prepared.image_sizes, [tuple(t.shape[-2:]) for t in tensors])
                net = prepared.tensors.numpy()
            boxes, scores = session.run(None, {'images': net})
            for j, k in enumerate(group):
                labels = dets[j]['labels'].numpy()
                per_class = np.bincount(labels, minlength=NUM_CLASSES)
                most = max(most, int(per_class.max()) if per_class.size else 0)
                ref['frames'].append({
                    'name': frames[k]['name'], 'batch_index': j,
                    'boxes': dets[j]['boxes'].numpy().astype(np.float64).tolist(),
                    'scores': dets[j]['scores'].numpy().astype(np.float64).tolist(),
                    'classes': (labels - 1).astype(np.int64).tolist(),   # background dropped
                    'input': net[j], 'raw': {'boxes': boxes[j], 'scores': scores[j]},
                    'keep': np.flatnonzero(scores[j][:, 1:].max(axis=1) > RAW_FLOOR),
                    'axis': {'boxes': 0, 'scores': 0}})
        from export_detectors import write_reference
        write_reference(folder, ref)
        rows.append({'name': name, 'family': 'ssdlite', 'imgsz': [SIZE, SIZE], 'nms': None,
                     'batch': batch, 'model': str(onnx_path),
                     'exporter': 'torchvision %s (torch.onnx.export, legacy)' %
                     torchvision.__version__,
                     'export_seconds': round(exported, 2), 'tune_seconds': round(tuned, 2),
                     'head': facts, 'largest_class_count': most,
                     'detections': [len(f['scores']) for f in ref['frames']]})
        log('  %s: boxes (%d, 3234, 4), scores (%d, 3234, 91) in %.1f s, detections per '
            'frame %s' % (name, batch, batch, exported, rows[-1]['detections']))
    return rows
