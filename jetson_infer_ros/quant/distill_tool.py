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
Distil the FP32 model into its own Q/DQ artefact: quantization-aware weight tuning.

Post-training rounding (GPTQ) fixes each layer's weights for that layer alone, with
float inputs; the network's error comes from every layer's int8 activations at once.
This tool runs the very Q/DQ graph that calibration wrote as a PyTorch module (each
QuantizeLinear -> DequantizeLinear pair a fake-quantizer with a straight-through
gradient, each int8 weight a float latent fake-quantized with its own per-channel
scale) and nudges the latent weights and the biases so that the int8 network's outputs
match the FP32 network's on unlabelled frames (mean squared error of each output relative
to its power). A weight's latent counts quantization steps of its channel: with Adam
every weight then moves at the same pace in codes, whatever its channel's scale (in float
units the same runs overfitted the calibration frames: 24.0 vs 25.4 dB on unseen ones).
Weights start on the calibrated (GPTQ) codes, so a short run moves only the biases.
Scales and zero points never change, so the artefact keeps its layout and the TensorRT
calibration cache stays true; only the int8 weight values and int32 biases (and the
weights of layers kept in float) inside it move.

Runs inside the ``export_torch`` tool env (it imports torch at top level); the package
never imports it. ``quant/distill.py`` writes a job file, runs this script and reads
its report. Usage: ``python distill_tool.py JOB.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np
import onnx
from onnx import numpy_helper
import onnxruntime
import torch
import torch.nn.functional as F

WEIGHT_SLOTS = {'Conv': (1, 2), 'Gemm': (1, 2), 'MatMul': (1,)}
"""Inputs of these ops that hold learnable weights or biases (float or dequantized)."""

WEIGHT_CODES = (-127.0, 127.0)
"""The exporter's int8 weight range (symmetric, zero point 0)."""


class UnsupportedGraph(ValueError):
    """The Q/DQ graph has an op this interpreter does not run (one line)."""


class _Quantized:
    """A QuantizeLinear output: integer codes in float, with the scale and zero point."""

    __slots__ = ('codes', 'scale', 'zero_point')

    def __init__(self, codes: torch.Tensor, scale: torch.Tensor, zero_point: float) -> None:
        self.codes = codes
        self.scale = scale
        self.zero_point = zero_point


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    """Round forward, identity backward (the straight-through estimator)."""
    return x + (torch.round(x) - x).detach()


def _attr(node: Any, name: str, default: Any = None) -> Any:
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _int_range(dtype: Any) -> Tuple[float, float]:
    info = np.iinfo(dtype)
    return float(info.min), float(info.max)


def _broadcast(scale: np.ndarray, axis: int, ndim: int) -> np.ndarray:
    if scale.ndim == 0:
        return scale
    shape = [1] * ndim
    shape[axis] = -1
    return scale.reshape(shape)


class QdqNet(torch.nn.Module):
    """
    An ONNX Q/DQ graph run by PyTorch, with its weights as trainable latents.

    Int8 weights are kept as float latents in units of their channel's quantization step
    and fake-quantized in the forward pass (rounded, clamped to ``WEIGHT_CODES``, times
    the fixed scale); int32 biases as float latents (``codes * scale``); weights of layers
    kept in float are trained as they are.
    """

    def __init__(self, model: onnx.ModelProto) -> None:
        super().__init__()
        self.model = model
        self.nodes = list(model.graph.node)
        self.consts: Dict[str, np.ndarray] = {
            t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        self.input_name = [i.name for i in model.graph.input if i.name not in self.consts][0]
        self.output_names = [o.name for o in model.graph.output]
        self.latents = torch.nn.ParameterDict()
        self._keys: Dict[str, str] = {}          # initializer name -> ParameterDict key
        self._scales: Dict[str, torch.Tensor] = {}   # int8 weights: per-channel scales
        self._dq_scale: Dict[str, np.ndarray] = {}
        self._start: Dict[str, np.ndarray] = {}  # latents as initialised (exact codes)
        producers = {o: n for n in self.nodes for o in n.output}
        for node in self.nodes:
            if node.op_type not in _OPS:
                raise UnsupportedGraph(f'op {node.op_type} ({node.name}) is not supported by '
                                       'the distillation interpreter')
            for slot in WEIGHT_SLOTS.get(node.op_type, ()):
                if slot < len(node.input) and node.input[slot]:
                    self._learnable(node.input[slot], producers)

    def _learnable(self, name: str, producers: Dict[str, Any]) -> None:
        """Register the initializer behind a weight/bias slot (directly or via a DQ)."""
        dq = producers.get(name)
        if dq is not None and dq.op_type == 'DequantizeLinear' and dq.input[0] in self.consts:
            codes = self.consts[dq.input[0]]
            scale = self.consts[dq.input[1]].astype(np.float32)
            axis = _attr(dq, 'axis', 1)
            scale_b = _broadcast(scale, axis, codes.ndim)
            key = 'p%d' % len(self._keys)
            self._keys[dq.input[0]] = key
            self._dq_scale[dq.input[0]] = scale_b
            if codes.dtype == np.int8:
                # weights: the latent counts quantization steps of its own channel, so
                # one learning rate moves every channel alike whatever its scale
                self._scales[dq.input[0]] = torch.from_numpy(np.ascontiguousarray(scale_b))
                self.latents[key] = torch.nn.Parameter(
                    torch.from_numpy(codes.astype(np.float32)))
            else:
                start = (codes.astype(np.float32) * scale_b).astype(np.float32)
                self._start[dq.input[0]] = start.astype(np.float64)
                self.latents[key] = torch.nn.Parameter(torch.from_numpy(start.copy()))
        elif name in self.consts and self.consts[name].dtype == np.float32:
            key = 'p%d' % len(self._keys)
            self.latents[key] = torch.nn.Parameter(torch.from_numpy(self.consts[name].copy()))
            self._keys[name] = key

    def value(self, name: str) -> Any:
        """Return a weight, bias or constant as the forward pass sees it."""
        key = self._keys.get(name)
        if key is None:
            return self.consts[name]
        latent = self.latents[key]
        if name in self._scales:
            return torch.clamp(_round_ste(latent), *WEIGHT_CODES) * self._scales[name]
        return latent

    def parameter_groups(self, code_lr: float, float_lr: float) -> List[Dict[str, Any]]:
        """Int8 weights step in codes; biases and float weights in their own units."""
        codes = [self.latents[k] for n, k in self._keys.items() if n in self._scales]
        floats = [self.latents[k] for n, k in self._keys.items() if n not in self._scales]
        return [g for g in ({'params': codes, 'lr': code_lr}, {'params': floats, 'lr': float_lr})
                if g['params']]

    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        values: Dict[str, Any] = {self.input_name: x}
        for node in self.nodes:
            if node.op_type == 'DequantizeLinear' and node.input[0] in self._keys:
                values[node.output[0]] = self.value(node.input[0])
                continue
            args = [values[i] if i in values else (self.value(i) if i else None)
                    for i in node.input]
            outs = _OPS[node.op_type](self, node, args)
            if not isinstance(outs, tuple):
                outs = (outs,)
            for name, out in zip(node.output, outs):
                values[name] = out
        return [values[name] for name in self.output_names]

    def export(self) -> onnx.ModelProto:
        """Return the same graph with the trained weights re-quantized into it."""
        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        for tensor in model.graph.initializer:
            key = self._keys.get(tensor.name)
            if key is None:
                continue
            latent = self.latents[key].detach().numpy()
            original = self.consts[tensor.name]
            if tensor.name in self._dq_scale:
                if tensor.name in self._scales:     # int8 weights: as the forward pass
                    codes = np.clip(np.round(latent), *WEIGHT_CODES)
                else:
                    # int32 biases can sit near 2**31 (a channel with a tiny weight
                    # scale), beyond float32's 24-bit mantissa: add the trained change
                    # to the exact codes instead of re-rounding the whole latent
                    step = np.round((latent.astype(np.float64) - self._start[tensor.name])
                                    / self._dq_scale[tensor.name])
                    lo, hi = _int_range(original.dtype)
                    codes = np.clip(original.astype(np.int64) + step, lo, hi)
                codes = codes.astype(original.dtype)
                tensor.CopyFrom(numpy_helper.from_array(codes, tensor.name))
            else:
                tensor.CopyFrom(numpy_helper.from_array(latent.astype(np.float32),
                                                        tensor.name))
        return model


def _t(v: Any) -> torch.Tensor:
    return torch.from_numpy(np.asarray(v)) if isinstance(v, np.ndarray) else v


def _quantize(net: QdqNet, node: Any, a: List[Any]) -> _Quantized:
    scale = _t(np.asarray(a[1], dtype=np.float32))
    zp_array = net.consts.get(node.input[2]) if len(node.input) > 2 else None
    zp = float(zp_array) if zp_array is not None else 0.0
    lo, hi = _int_range(zp_array.dtype if zp_array is not None else np.uint8)
    return _Quantized(torch.clamp(_round_ste(a[0] / scale) + zp, lo, hi), scale, zp)


def _dequantize(net: QdqNet, node: Any, a: List[Any]) -> torch.Tensor:
    q = a[0]
    if isinstance(q, _Quantized):
        return (q.codes - q.zero_point) * q.scale
    codes = _t(np.asarray(q, dtype=np.float32))       # a constant that is not learnable
    scale = np.asarray(a[1], dtype=np.float32)
    zp = np.asarray(a[2], dtype=np.float32) if len(a) > 2 and a[2] is not None else 0.0
    axis = _attr(node, 'axis', 1)
    scale_b = _broadcast(scale, axis, codes.dim())
    zp_b = _broadcast(np.asarray(zp), axis, codes.dim()) if np.ndim(zp) else zp
    return (codes - _t(np.asarray(zp_b, dtype=np.float32))) * _t(scale_b)


def _conv(net: QdqNet, node: Any, a: List[Any]) -> torch.Tensor:
    x, w = a[0], _t(a[1])
    b = _t(a[2]) if len(a) > 2 and a[2] is not None else None
    if _attr(node, 'auto_pad', b'NOTSET') not in (b'NOTSET', 'NOTSET'):
        raise UnsupportedGraph(f'Conv {node.name}: auto_pad is not supported')
    pads = list(_attr(node, 'pads', [0, 0, 0, 0]))
    if any(pads):
        x = F.pad(x, (pads[1], pads[3], pads[0], pads[2]))
    return F.conv2d(x, w, b, stride=list(_attr(node, 'strides', [1, 1])),
                    dilation=list(_attr(node, 'dilations', [1, 1])),
                    groups=_attr(node, 'group', 1))


def _clip(net: QdqNet, node: Any, a: List[Any]) -> torch.Tensor:
    lo = float(a[1]) if len(a) > 1 and a[1] is not None else None
    hi = float(a[2]) if len(a) > 2 and a[2] is not None else None
    return torch.clamp(a[0], lo, hi)


def _gemm(net: QdqNet, node: Any, a: List[Any]) -> torch.Tensor:
    x, w = _t(a[0]), _t(a[1])
    if _attr(node, 'transA', 0):
        x = x.t()
    if _attr(node, 'transB', 0):
        w = w.t()
    y = _attr(node, 'alpha', 1.0) * (x @ w)
    if len(a) > 2 and a[2] is not None:
        y = y + _attr(node, 'beta', 1.0) * _t(a[2])
    return y


def _reshape(net: QdqNet, node: Any, a: List[Any]) -> torch.Tensor:
    shape = [int(s) for s in np.asarray(a[1]).reshape(-1)]
    shape = [a[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return a[0].reshape(shape)


def _pad(net: QdqNet, node: Any, a: List[Any]) -> torch.Tensor:
    if _attr(node, 'mode', b'constant') not in (b'constant', 'constant'):
        raise UnsupportedGraph(f'Pad {node.name}: only constant padding is supported')
    pads = [int(p) for p in np.asarray(a[1])]
    half = len(pads) // 2
    torch_pads: List[int] = []
    for axis in reversed(range(half)):
        torch_pads += [pads[axis], pads[axis + half]]
    value = float(np.asarray(a[2])) if len(a) > 2 and a[2] is not None else 0.0
    return F.pad(a[0], torch_pads, value=value)


def _maxpool(net: QdqNet, node: Any, a: List[Any]) -> torch.Tensor:
    pads = list(_attr(node, 'pads', [0, 0, 0, 0]))
    x = a[0]
    if any(pads):
        x = F.pad(x, (pads[1], pads[3], pads[0], pads[2]), value=-math.inf)
    return F.max_pool2d(x, list(_attr(node, 'kernel_shape')),
                        stride=list(_attr(node, 'strides', [1, 1])),
                        ceil_mode=bool(_attr(node, 'ceil_mode', 0)))


def _resize(net: QdqNet, node: Any, a: List[Any]) -> torch.Tensor:
    mode = _attr(node, 'mode', b'nearest')
    mode = mode.decode() if isinstance(mode, bytes) else mode
    transform = _attr(node, 'coordinate_transformation_mode', b'half_pixel')
    transform = transform.decode() if isinstance(transform, bytes) else transform
    x = a[0]
    sizes = a[3] if len(a) > 3 and a[3] is not None and np.size(a[3]) else None
    scales = a[2] if len(a) > 2 and a[2] is not None and np.size(a[2]) else None
    if sizes is not None:
        size = [int(s) for s in np.asarray(sizes)[2:]]
    elif scales is not None:
        size = [int(math.floor(d * float(s))) for d, s in
                zip(x.shape[2:], np.asarray(scales)[2:])]
    else:
        raise UnsupportedGraph(f'Resize {node.name}: needs scales or sizes')
    if mode == 'linear' and transform in ('half_pixel', 'pytorch_half_pixel'):
        return F.interpolate(x, size=size, mode='bilinear', align_corners=False)
    if mode == 'linear' and transform == 'align_corners':
        return F.interpolate(x, size=size, mode='bilinear', align_corners=True)
    if mode == 'nearest' and transform == 'asymmetric':
        return F.interpolate(x, size=size, mode='nearest')
    raise UnsupportedGraph(f'Resize {node.name}: mode {mode} with {transform} is not supported')


def _split(net: QdqNet, node: Any, a: List[Any]) -> Tuple[torch.Tensor, ...]:
    axis = _attr(node, 'axis', 0)
    parts = a[1] if len(a) > 1 and a[1] is not None else _attr(node, 'split')
    if parts is None:
        return tuple(torch.chunk(a[0], len(node.output), dim=axis))
    return tuple(torch.split(a[0], [int(p) for p in np.asarray(parts)], dim=axis))


_OPS: Dict[str, Any] = {
    'QuantizeLinear': _quantize,
    'DequantizeLinear': _dequantize,
    'Conv': _conv,
    'Clip': _clip,
    'Relu': lambda n, node, a: F.relu(a[0]),
    'LeakyRelu': lambda n, node, a: F.leaky_relu(a[0], _attr(node, 'alpha', 0.01)),
    'Sigmoid': lambda n, node, a: torch.sigmoid(a[0]),
    'Add': lambda n, node, a: _t(a[0]) + _t(a[1]),
    'Mul': lambda n, node, a: _t(a[0]) * _t(a[1]),
    'Sub': lambda n, node, a: _t(a[0]) - _t(a[1]),
    'GlobalAveragePool': lambda n, node, a: a[0].mean(dim=(2, 3), keepdim=True),
    'MaxPool': _maxpool,
    'Pad': _pad,
    'Concat': lambda n, node, a: torch.cat([_t(v) for v in a], dim=_attr(node, 'axis')),
    'Split': _split,
    'Reshape': _reshape,
    'Flatten': lambda n, node, a: a[0].reshape(
        int(np.prod(a[0].shape[:_attr(node, 'axis', 1)])), -1),
    'Transpose': lambda n, node, a: a[0].permute(*_attr(node, 'perm')),
    'Resize': _resize,
    'Gemm': _gemm,
    'MatMul': lambda n, node, a: _t(a[0]) @ _t(a[1]),
    'Softmax': lambda n, node, a: torch.softmax(a[0], dim=_attr(node, 'axis', -1)),
    'Identity': lambda n, node, a: a[0],
}


def _session(model: Any, threads: int, exact: bool = False) -> Any:
    """
    Open a CPU session; ``exact`` runs a Q/DQ model as written (no graph optimizations).

    The fused integer kernels of x86 CPUs without VNNI saturate (quant/execution.py), so
    int8 models are measured, and emulated, in the exact execution.
    """
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    if exact:
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    data = model if isinstance(model, bytes) else str(model)
    return onnxruntime.InferenceSession(data, options, providers=['CPUExecutionProvider'])


def _run(session: Any, name: str, frames: np.ndarray, rows: int = 16) -> List[np.ndarray]:
    parts = [session.run(None, {name: frames[i:i + rows]}) for i in range(0, len(frames), rows)]
    return [np.concatenate([p[k] for p in parts]) for k in range(len(parts[0]))]


def sqnr_db(reference: Sequence[np.ndarray], test: Sequence[np.ndarray]) -> float:
    """Signal-to-quantization-noise ratio over all outputs (dB)."""
    signal = sum(float(np.sum(np.square(r.astype(np.float64)))) for r in reference)
    noise = sum(float(np.sum(np.square(r.astype(np.float64) - t))) for r, t in
                zip(reference, test))
    return float('inf') if noise == 0 else 10.0 * math.log10(signal / noise)


def emulation_sqnr(net: QdqNet, ort_out: Sequence[np.ndarray], frames: np.ndarray) -> float:
    """How closely this interpreter reproduces ONNX Runtime (``ort_out``) on ``frames``."""
    with torch.no_grad():
        torch_out = [o.numpy() for o in net(torch.from_numpy(frames))]
    return sqnr_db(ort_out, torch_out)


def distill(job: Dict[str, Any], log: Any = print) -> Dict[str, Any]:
    """Train, write ``job['out']``, return the report (numbers measured by ONNX Runtime)."""
    torch.manual_seed(int(job.get('seed', 0)))
    threads = max(1, int(job.get('threads', 2)))
    torch.set_num_threads(threads)
    model = onnx.load(job['model'])
    net = QdqNet(model)
    frames = np.load(job['frames'], mmap_mode='r')
    held_out = np.load(job['held_out']) if job.get('held_out') else None
    teacher = _session(job['reference'], threads)
    steps, batch = int(job['steps']), int(job.get('batch', 16))
    code_lr, float_lr = float(job.get('code_lr', 0.01)), float(job.get('lr', 2e-5))
    optimizer = torch.optim.Adam(net.parameter_groups(code_lr, float_lr))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(1, steps))
    rng = np.random.default_rng(int(job.get('seed', 0)))
    report: Dict[str, Any] = {'steps': steps, 'batch': batch, 'code_lr': code_lr,
                              'float_lr': float_lr,
                              'frames': int(len(frames)), 'trainable': int(sum(
                                  p.numel() for p in net.latents.parameters()))}
    if held_out is not None:
        reference = _run(teacher, net.input_name, held_out)
        before = _run(_session(job['model'], threads, exact=True), net.input_name, held_out)
        report['emulation_sqnr_db'] = round(emulation_sqnr(
            net, [b[:8] for b in before], held_out[:8]), 2)
        report['held_out_sqnr_db'] = {'before': round(sqnr_db(reference, before), 3)}
    power: Optional[List[float]] = None
    started = time.monotonic()
    losses: List[float] = []
    for step in range(1, steps + 1):
        pick = np.sort(rng.choice(len(frames), size=min(batch, len(frames)), replace=False))
        x = np.asarray(frames[pick], dtype=np.float32)
        target = _run(teacher, net.input_name, x, rows=len(x))
        if power is None:     # each output's error counts relative to its own size
            power = [float(np.mean(np.square(t))) + 1e-12 for t in target]
        student = net(torch.from_numpy(x))
        loss = sum(F.mse_loss(s, torch.from_numpy(t)) / p
                   for s, t, p in zip(student, target, power))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if step % max(1, steps // 10) == 0 or step == steps:
            log(f'[distill] step {step}/{steps}: loss {np.mean(losses[-20:]):.5f} '
                f'({time.monotonic() - started:.0f} s)')
    tuned = net.export()
    onnx.save(tuned, job['out'])
    report['seconds'] = round(time.monotonic() - started, 1)
    report['loss'] = {'first': round(float(np.mean(losses[:10])), 6),
                      'last': round(float(np.mean(losses[-10:])), 6)}
    if held_out is not None:
        after = _run(_session(job['out'], threads, exact=True), net.input_name, held_out)
        report['held_out_sqnr_db']['after'] = round(sqnr_db(reference, after), 3)
    return report


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('job', help='job JSON written by quant/distill.py')
    args = parser.parse_args(argv)
    job = json.loads(open(args.job).read())

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)
    try:
        report = distill(job, log)
    except UnsupportedGraph as exc:
        report = {'error': str(exc)}
    with open(job['report'], 'w') as f:
        json.dump(report, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
