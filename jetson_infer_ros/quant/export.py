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
Measured activation ranges -> quantized ONNX, in the two layouts the two runtimes want.

ONNX Runtime's ``quantize_static`` does the quantization (Q/DQ insertion, per-channel
weight scales, int32 biases); this module only chooses its settings and re-uses one set
of ranges (``calibration_cache_path``) for both outputs:

``tensorrt``
    ``QuantizeLinear``/``DequantizeLinear`` pairs, int8 activations with symmetric
    scales and zero-point 0, int8 weights per output channel (axis 0 of Conv and of
    Gemm with ``transB=1``), Q/DQ on the *inputs* of Conv/Gemm/MatMul and not on their
    outputs (TensorRT fuses Conv+activation and picks the output precision itself; a Q
    between a Conv and its ReLU6 would quantize the pre-activation range). Biases stay
    float (``QuantizeBias`` off: TensorRT's parser takes only 8-bit and smaller types
    into a DequantizeLinear, refuses the int32 bias DQ, and fuses a float bias into the
    layer itself), and a quantized constant may only feed a weight's DequantizeLinear:
    any other DQ of a constant (a Pad's fill value) is folded into the float it stands
    for (:func:`fold_constant_dequantize`). This is what TensorRT 8.5-11 build as
    explicit quantization; TensorRT-RTX's builder checks it in CI.
``onnxruntime``
    Q/DQ with uint8 activations (asymmetric, so ReLU/Clip fold into the range) and
    int8 per-channel weights: the U8S8 layout whose DQ->Conv->Q groups ONNX Runtime's
    CPU provider fuses into ``QLinearConv`` (VNNI ``vpdpbusd`` multiplies u8 by s8). The
    symmetric int8 layout above runs *slower* than FP32 there: with int8 activations a
    ReLU6 cannot be folded away, so the Conv->Clip->Q chains stay float with extra
    Q/DQ work around them.

Layers kept in float (``keep_float``: chosen by sensitivity, named by the user, and by
default the output head, see :func:`output_head`) get no Q/DQ on their weights, and
their input is re-wired to the float tensor (the Q/DQ pair in front of them is
bypassed): ONNX Runtime's ``WeightBiasQuantization`` graph transformer otherwise
re-quantizes the weights of any float Conv fed by a DequantizeLinear, per tensor, which
wrecks exactly the depthwise layers one keeps in float (measured: 16 -> 7 dB output
SQNR). TensorRT runs such a layer in FP16/FP32 either way.
"""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path
from typing import Any, Collection, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

TARGETS = ('tensorrt', 'onnxruntime')
WEIGHTED_OPS = ('Conv', 'ConvTranspose', 'Gemm', 'MatMul')
QUANT_OPS = ('QuantizeLinear', 'DequantizeLinear', 'QLinearConv', 'QLinearMatMul',
             'ConvInteger', 'MatMulInteger', 'DynamicQuantizeLinear', 'QGemm',
             'QLinearAdd', 'QLinearMul', 'QLinearConcat', 'QLinearGlobalAveragePool')


class AlreadyQuantizedError(ValueError):
    """The model given for calibration is already quantized."""


def quantized_op_count(model: Any) -> int:
    """How many quantization operators a ModelProto holds (0 for an FP32 model)."""
    return sum(1 for n in model.graph.node if n.op_type in QUANT_OPS)


def is_quantized_file(path: str) -> bool:
    """Tell whether an ONNX file holds Q/DQ (or QOperator) nodes; unreadable -> False."""
    try:
        import onnx
        model = onnx.load(str(path), load_external_data=False)
    except Exception:   # not ONNX (e.g. a TensorRT engine): not ours to judge here
        return False
    return quantized_op_count(model) > 0


def check_float_model(path: str) -> None:
    """Raise AlreadyQuantizedError when ``path`` is already quantized."""
    import onnx
    model = onnx.load(str(path), load_external_data=False)
    count = quantized_op_count(model)
    if count:
        raise AlreadyQuantizedError(
            f'{Path(path).name} is already quantized ({count} quantization nodes); '
            'calibrate the FP32 model it was made from')


def _settings(target: str, keep_float: Sequence[str]) -> Dict[str, Any]:
    from onnxruntime.quantization import QuantFormat, QuantType
    if target == 'tensorrt':
        return {
            'quant_format': QuantFormat.QDQ, 'per_channel': True, 'reduce_range': False,
            'activation_type': QuantType.QInt8, 'weight_type': QuantType.QInt8,
            'nodes_to_exclude': list(keep_float),
            'extra_options': {
                'ActivationSymmetric': True,
                'WeightSymmetric': True,
                'OpTypesToExcludeOutputQuantization': list(WEIGHTED_OPS),
                'QDQKeepRemovableActivations': True,
                'QuantizeBias': False,
            }}
    if target == 'onnxruntime':
        return {
            'quant_format': QuantFormat.QDQ, 'per_channel': True, 'reduce_range': False,
            'activation_type': QuantType.QUInt8, 'weight_type': QuantType.QInt8,
            'nodes_to_exclude': list(keep_float),
            # Keep Relu/Clip in the graph: ONNX Runtime's ClipQuantFusion drops them again
            # at session start where the uint8 range makes them redundant, and a kept-float
            # layer re-wired to the float tensor still sees the clipped values.
            'extra_options': {'WeightSymmetric': True, 'QDQKeepRemovableActivations': True}}
    raise ValueError(f'unknown target {target!r}; one of {TARGETS}')


def prepare_for_quantization(model_path: str, out_path: str, measured: Collection[str],
                             keep_float: Sequence[str] = ()) -> Tuple[str, str]:
    """
    Return (model to quantize, what was done): ONNX Runtime's quantization pre-processing.

    ``quant_pre_process`` (ONNX Runtime's basic graph optimizations plus shape
    inference) folds the explicit Pad nodes of TF-style "same" padding into the Conv
    that follows, and constant subgraphs away. Without that every Pad stays a float
    island between a DequantizeLinear and a QuantizeLinear: EfficientNet-Lite0's CPU
    model measured 3.0 ms with its 17 Pads and 1.9 ms without. The ranges were measured
    on the original graph, so the prepared graph is only used if every tensor it needs
    a range for was measured and the kept-float nodes still exist; else the original.
    """
    import onnx
    from onnxruntime.quantization.shape_inference import quant_pre_process
    try:
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                quant_pre_process(model_path, out_path, skip_symbolic_shape=True)
        finally:
            root.setLevel(level)
        model = onnx.load(out_path)
    except Exception as exc:   # ORT's optimizer raises its own types; the original works
        return model_path, f'original (pre-processing failed: {str(exc).splitlines()[0]})'
    inits = {i.name for i in model.graph.initializer}
    needed = {t for n in model.graph.node for t in list(n.input) + list(n.output)
              if t and t not in inits}
    missing = sorted(t for t in needed if t not in measured)
    names = {n.name for n in model.graph.node}
    if missing or any(k not in names for k in keep_float):
        what = f'{len(missing)} tensors without a measured range' if missing else \
            'kept-float nodes renamed'
        return model_path, f'original (pre-processed graph has {what})'
    before = len(onnx.load(model_path, load_external_data=False).graph.node)
    return out_path, (f'ONNX Runtime quant_pre_process: {before} -> {len(model.graph.node)} '
                      'nodes')


def output_head(model_path: str) -> List[str]:
    """
    Return the nodes of the output head: from the graph outputs back to the last weighted ops.

    These are the weighted layers whose results reach a graph output through
    non-weighted ops only (a detector's class/box convolutions, a classifier's final
    Gemm) plus those ops (Split, Sigmoid, Reshape, Transpose, Concat...). Their ranges
    depend most on what the calibration frames happened to contain: NanoDet calibrated
    on street video alone saw stride-32 class scores up to 0.07, so quantized it could
    never score a large object above the 0.35 threshold again (mAP against FP32 on
    mixed frames 41 with the head quantized, 87 with it in float).
    """
    import onnx
    model = onnx.load(model_path, load_external_data=False)
    producers = {o: n for n in model.graph.node for o in n.output}
    head: List[str] = []
    seen = set()
    stack = [o.name for o in model.graph.output]
    while stack:
        node = producers.get(stack.pop())
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        head.append(node.name)
        if node.op_type not in WEIGHTED_OPS:
            stack.extend(i for i in node.input if i)
    return [n for n in head if n]


def finite_pad_values(model_path: str, out_path: str,
                      ranges: Mapping[str, Sequence[float]]) -> List[str]:
    """
    Replace -inf/+inf Pad constants by the low end of the padded tensor's range.

    TF-style "same" MaxPool pads with -inf; a quantizer must quantize that constant with
    the tensor's scale, which gives NaN (0 * inf) in ONNX Runtime's output and is refused
    by TensorRT. Any value at or below the tensor's minimum loses every max just as
    -inf does, and the range's low end is exactly representable. Writes ``out_path``
    only when something changed; returns the patched Pad nodes.
    """
    import onnx
    from onnx import numpy_helper
    model = onnx.load(model_path)
    inits = {i.name: i for i in model.graph.initializer}
    constants = {n.output[0]: n for n in model.graph.node if n.op_type == 'Constant'}
    patched = []
    for node in model.graph.node:
        if node.op_type != 'Pad' or len(node.input) < 3 or not node.input[2]:
            continue
        name = node.input[2]
        tensor = inits.get(name)
        if tensor is None and name in constants:
            tensor = next((a.t for a in constants[name].attribute if a.name == 'value'), None)
        if tensor is None:
            continue
        value = numpy_helper.to_array(tensor)
        if np.all(np.isfinite(value)) or node.input[0] not in ranges:
            continue
        low = float(ranges[node.input[0]][0])
        tensor.CopyFrom(numpy_helper.from_array(np.full_like(value, low), tensor.name))
        patched.append(node.name)
    if patched:
        onnx.save(model, out_path)
    return patched


def write_quantized(model_path: str, ranges_json: str, method: Any, out_path: str,
                    target: str, keep_float: Sequence[str] = ()) -> None:
    """Quantize ``model_path`` with the stored ranges into ``out_path`` for ``target``."""
    import onnx
    from onnxruntime.quantization import quantize_static
    settings = _settings(target, keep_float)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)   # quantize_static logs a pre-processing hint at WARNING
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            quantize_static(model_path, out_path, None, calibrate_method=method,
                            calibration_cache_path=ranges_json, **settings)
    finally:
        root.setLevel(level)
    model = onnx.load(out_path)
    changed = bool(keep_float) and float_inputs_for_kept_layers(model, keep_float) > 0
    if target == 'tensorrt':
        changed = bool(fold_constant_dequantize(model)) or changed
    if changed:
        onnx.save(model, out_path)


def fold_constant_dequantize(model: Any) -> List[str]:
    """
    Replace every DequantizeLinear of a constant that is not a layer's weight by its float value.

    TensorRT takes a quantized constant only as the input of a weight DQ (the weight of a
    Conv/Gemm/MatMul); ONNX Runtime's quantizer also quantizes constants such as a Pad's
    fill value with the tensor's scale, which TensorRT refuses ("Quantized constant ... is
    only allowed before DQ", NanoDet's -inf MaxPool padding). The float written is what
    the DequantizeLinear computed, so the model's arithmetic does not change. Returns the
    folded DequantizeLinear nodes.
    """
    from onnx import numpy_helper
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    users: Dict[str, List[Any]] = {}
    for node in graph.node:
        for name in node.input:
            users.setdefault(name, []).append(node)
    folded = []
    for node in list(graph.node):
        if node.op_type != 'DequantizeLinear' or node.input[0] not in inits:
            continue
        consumers = users.get(node.output[0], [])
        if consumers and all(c.op_type in WEIGHTED_OPS and len(c.input) > 1
                             and c.input[1] == node.output[0] for c in consumers):
            continue   # a weight DQ: TensorRT fuses it into the layer
        if any(i not in inits for i in node.input[1:] if i):
            continue   # a scale computed at run time: not a constant
        codes = numpy_helper.to_array(inits[node.input[0]]).astype(np.float64)
        scale = numpy_helper.to_array(inits[node.input[1]]).astype(np.float64)
        zero = (numpy_helper.to_array(inits[node.input[2]]).astype(np.float64)
                if len(node.input) > 2 and node.input[2] else np.zeros_like(scale))
        axis = next((a.i for a in node.attribute if a.name == 'axis'), 1)
        if scale.ndim == 1 and scale.size > 1:
            shape = [1] * codes.ndim
            shape[axis % codes.ndim] = scale.size
            scale, zero = scale.reshape(shape), zero.reshape(shape)
        value = ((codes - zero) * scale).astype(np.float32)
        graph.initializer.append(numpy_helper.from_array(value, node.output[0]))
        graph.node.remove(node)
        folded.append(node.name)
    if folded:
        _drop_unused_initializers(model)
    return folded


def _drop_unused_initializers(model: Any) -> None:
    graph = model.graph
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    for init in [i for i in graph.initializer if i.name not in used]:
        graph.initializer.remove(init)


def float_inputs_for_kept_layers(model: Any, keep_float: Sequence[str]) -> int:
    """Feed kept-float nodes the float tensor instead of a DQ(Q(x)) of it; return count."""
    keep = set(keep_float)
    producers = {o: n for n in model.graph.node for o in n.output}
    changed = 0
    for node in model.graph.node:
        if node.name not in keep or not node.input:
            continue
        dq = producers.get(node.input[0])
        if dq is None or dq.op_type != 'DequantizeLinear':
            continue
        q = producers.get(dq.input[0])
        if q is None or q.op_type != 'QuantizeLinear':
            continue
        node.input[0] = q.input[0]
        changed += 1
    if changed:
        _drop_dead_nodes(model)
    return changed


def _drop_dead_nodes(model: Any) -> None:
    graph = model.graph
    while True:
        used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            return
        for n in dead:
            graph.node.remove(n)


def inspect_qdq(path: str) -> Dict[str, Any]:
    """
    Facts about a Q/DQ model: node counts, activation dtypes, symmetry, weight axes.

    ``symmetric_int8`` is True when every activation QuantizeLinear is int8 with
    zero-point 0; ``weight_axes`` maps weighted node -> axis of its per-channel weight
    DequantizeLinear (None for per-tensor).
    """
    import onnx
    from onnx import numpy_helper
    model = onnx.load(str(path))
    inits = {i.name: i for i in model.graph.initializer}
    producers = {o: n for n in model.graph.node for o in n.output}
    counts: Dict[str, int] = {}
    for n in model.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    zero_points: List[int] = []
    act_types = set()
    for n in model.graph.node:
        if n.op_type != 'QuantizeLinear':
            continue
        if len(n.input) > 2 and n.input[2] in inits:
            zp = numpy_helper.to_array(inits[n.input[2]])
            act_types.add(str(zp.dtype))
            zero_points.extend(int(v) for v in zp.ravel())
    weight_axes: Dict[str, Optional[int]] = {}
    for n in model.graph.node:
        if n.op_type not in WEIGHTED_OPS or len(n.input) < 2:
            continue
        dq = producers.get(n.input[1])
        if dq is None or dq.op_type != 'DequantizeLinear' or dq.input[0] not in inits:
            continue
        scale = numpy_helper.to_array(inits[dq.input[1]])
        axis = next((a.i for a in dq.attribute if a.name == 'axis'), 1)
        weight_axes[n.name] = axis if scale.size > 1 else None
    return {
        'nodes': counts,
        'activation_types': sorted(act_types),
        'symmetric_int8': act_types == {'int8'} and all(z == 0 for z in zero_points),
        'weight_axes': weight_axes,
        'opset': max((o.version for o in model.opset_import if o.domain in ('', 'ai.onnx')),
                     default=0),
    }
