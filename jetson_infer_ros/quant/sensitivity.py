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
Which layers INT8 hurts most, measured one layer at a time on calibration frames.

A network's INT8 error is rarely spread evenly. In EfficientNet-Lite0 rounding the
weights of the first depthwise convolution alone (per channel, 46 dB weight SQNR)
drops the logits to 18-20 dB SQNR, worse than all other 48 layers together; no choice
of activation range fixes that. So each weighted layer's weights are rounded to int8
(symmetric, per output channel, exactly as the exporter will) in an otherwise FP32
model, and the SQNR of the model outputs against FP32 over a few calibration frames is
that layer's score. The lowest-scoring layers can then stay in float
(``--keep-float``), at a known cost in speed.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

WEIGHTED_OPS = ('Conv', 'ConvTranspose', 'Gemm', 'MatMul')


@dataclasses.dataclass(frozen=True)
class LayerScore:
    """Output SQNR (dB) with only this layer's weights in int8; lower is worse."""

    node: str
    op_type: str
    sqnr_db: float


def fake_quant_per_channel(w: np.ndarray, axis: int = 0) -> np.ndarray:
    """Round to symmetric int8 per channel along ``axis`` and back to float."""
    moved = np.moveaxis(w, axis, 0)
    amax = np.abs(moved.reshape(moved.shape[0], -1)).max(axis=1)
    scale = np.where(amax > 0, amax / 127.0, 1.0).reshape((-1,) + (1,) * (moved.ndim - 1))
    q = np.clip(np.round(moved / scale), -127, 127) * scale
    return np.moveaxis(q, 0, axis).astype(w.dtype)


def sqnr_db(reference: Sequence[np.ndarray], test: Sequence[np.ndarray]) -> float:
    """Signal-to-quantization-noise ratio over all outputs together, in dB."""
    signal = sum(float(np.square(r.astype(np.float64)).sum()) for r in reference)
    noise = sum(float(np.square(r.astype(np.float64) - t).sum())
                for r, t in zip(reference, test))
    if noise == 0.0:
        return float('inf')
    if signal == 0.0:
        return float('-inf')
    return 10.0 * float(np.log10(signal / noise))


def _weight_axis(node: Any, shape: Sequence[int]) -> int:
    if node.op_type == 'Gemm':
        trans_b = next((a.i for a in node.attribute if a.name == 'transB'), 0)
        return 0 if trans_b else 1
    if node.op_type == 'MatMul':
        return len(shape) - 1
    if node.op_type == 'ConvTranspose':
        return 1
    return 0


def layer_scores(model_path: str, input_name: str, batch: np.ndarray,
                 progress: Optional[Callable[[int, int], None]] = None) -> List[LayerScore]:
    """Score every weighted layer (lowest SQNR first) on ``batch`` (N preprocessed frames)."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(model_path)
    inits = {init.name: i for i, init in enumerate(model.graph.initializer)}
    targets = [n for n in model.graph.node
               if n.op_type in WEIGHTED_OPS and len(n.input) > 1 and n.input[1] in inits]
    from .execution import run_frames, session
    reference = run_frames(session(model.SerializeToString(), exact=False), input_name, batch)
    scores = []
    for k, node in enumerate(targets):
        index = inits[node.input[1]]
        original = model.graph.initializer[index]
        w = numpy_helper.to_array(original)
        if w.ndim < 2:
            continue
        saved = onnx.TensorProto()
        saved.CopyFrom(original)
        quantized = fake_quant_per_channel(w, _weight_axis(node, w.shape))
        original.CopyFrom(numpy_helper.from_array(quantized, original.name))
        try:
            outputs = run_frames(session(model.SerializeToString(), exact=False), input_name,
                                 batch)
        finally:
            model.graph.initializer[index].CopyFrom(saved)
        scores.append(LayerScore(node.name, node.op_type, round(sqnr_db(reference, outputs), 2)))
        if progress is not None:
            progress(k + 1, len(targets))
    return sorted(scores, key=lambda s: s.sqnr_db)


def choose_float_layers(scores: Sequence[LayerScore], threshold_db: float,
                        max_share: float = 0.1) -> List[str]:
    """Layers scoring below ``threshold_db``, worst first, at most ``max_share`` of them."""
    limit = max(1, int(len(scores) * max_share)) if scores else 0
    return [s.node for s in scores if s.sqnr_db < threshold_db][:limit]


def as_dicts(scores: Sequence[LayerScore], limit: int = 12) -> List[Dict[str, Any]]:
    """Return the worst ``limit`` scores as dicts, for provenance files."""
    return [dataclasses.asdict(s) for s in list(scores)[:limit]]
