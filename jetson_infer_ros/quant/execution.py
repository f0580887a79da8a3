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
How a Q/DQ model is executed when it is measured, and what this CPU's int8 kernels do.

A Q/DQ file means exact arithmetic: int8 codes, products summed in int32 (what TensorRT
and VNNI kernels compute), scaled back. ONNX Runtime's CPU provider with its graph
optimizations on fuses DQ -> Conv -> Q into integer kernels, and on x86 CPUs without
VNNI (AVX2, AVX-512 before Cascade Lake) its u8 x s8 kernels add pairs of products in
16 bits (``vpmaddubsw``), which saturates once |a0 w0 + a1 w1| > 32767: int8 weights
beyond [-64, 63] with uint8 activations overflow it. Measured on an AMD EPYC with AVX2
and no VNNI, EfficientNet-Lite0 percentile artefact, 40 frames, output SQNR against
FP32: TensorRT layout 1.8 dB fused vs 21.6 dB as written, CPU layout 7.4 vs 17.3 dB (on
a VNNI machine the two executions were 27-33 dB apart, both right).

So there are two executions, and each measurement says which one it uses:

``exact``
    graph optimizations off: every DequantizeLinear, float op and QuantizeLinear runs
    as written. The arithmetic the Q/DQ file specifies, to float rounding, on any CPU:
    what calibration's choices, the TensorRT layout's evaluation and every SQNR in the
    docs are measured with.
``deployed``
    what the node runs: all optimizations, plus ONNX Runtime's
    ``session.x64quantprecision``, which on x86 without VNNI converts int8 weights to
    uint8 (Avx2WeightS8ToU8Transformer) so the kernels multiply u8 x u8 without 16-bit
    saturation; elsewhere it changes nothing. Measured here: 17.34 dB (exact 17.31),
    at FP32's speed rather than 1.4-2x faster.
"""

from __future__ import annotations

import functools
from pathlib import Path
import platform
from typing import Any, Dict, List, Tuple, Union

import numpy as np

DEPLOYED_CONFIG: Tuple[Tuple[str, str], ...] = (('session.x64quantprecision', '1'),)
"""ONNX Runtime session config entries every INT8-capable CPU session gets."""

_VNNI_FLAGS = ('avx512_vnni', 'avx_vnni', 'amx_int8')


@functools.lru_cache(maxsize=1)
def cpu_int8() -> Dict[str, Any]:
    """
    Describe this CPU's int8 dot-product support (recorded in every evaluation).

    ``u8s8_saturates``: ONNX Runtime's fast u8 x s8 kernels here add product pairs in 16
    bits (x86 without VNNI), so the deployed session needs its s8 -> u8 weight
    conversion and gains no speed from INT8. None where it cannot be told.
    """
    machine = platform.machine().lower()
    out: Dict[str, Any] = {'machine': machine}
    if machine not in ('x86_64', 'amd64', 'i686', 'i386'):
        out.update({'vnni': None, 'u8s8_saturates': False})
        return out
    flags = _cpu_flags()
    if flags is None:
        out.update({'vnni': None, 'u8s8_saturates': None})
        return out
    vnni = [f for f in _VNNI_FLAGS if f in flags]
    out.update({'vnni': bool(vnni), 'vnni_flags': vnni, 'u8s8_saturates': not vnni})
    return out


def _cpu_flags() -> Any:
    try:
        text = Path('/proc/cpuinfo').read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith('flags'):
            return set(line.split(':', 1)[1].split())
    return None


def describe(execution: str) -> str:
    """One line for reports: how a layout was run."""
    if execution == 'exact':
        return ('ONNX Runtime with graph optimizations off: Q/DQ as written, float math '
                'between them (the arithmetic TensorRT is asked for, on any CPU)')
    facts = cpu_int8()
    kernels = {True: 'no VNNI: s8 weights converted to u8 (exact, no faster than FP32)',
               False: 'VNNI int8 kernels', None: 'int8 kernels'}[facts.get('u8s8_saturates')]
    return f'ONNX Runtime CPU kernels as the node runs them ({facts["machine"]}, {kernels})'


def session_options(ort: Any, exact: bool) -> Any:
    """ONNX Runtime SessionOptions for one of the two executions (warnings silenced)."""
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if exact:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    else:
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        for key, value in DEPLOYED_CONFIG:
            so.add_session_config_entry(key, value)
    return so


def session(model: Union[bytes, str], exact: bool) -> Any:
    """Open a CPU session of ``model`` (bytes or path) in the given execution."""
    import onnxruntime as ort
    data = model if isinstance(model, bytes) else Path(model).read_bytes()
    return ort.InferenceSession(data, session_options(ort, exact),
                                providers=['CPUExecutionProvider'])


def run_frames(sess: Any, input_name: str, frames: np.ndarray) -> List[np.ndarray]:
    """All outputs of all frames, one frame per run (fixed-batch models work too)."""
    outputs: List[np.ndarray] = []
    for i in range(len(frames)):
        outputs.extend(sess.run(None, {input_name: frames[i:i + 1]}))
    return outputs


def model_outputs(path: str, input_name: str, frames: np.ndarray) -> List[np.ndarray]:
    """
    Run the model file at ``path`` over ``frames``; a Q/DQ model exactly.

    An FP32 model runs fully optimized (nothing int8 to get wrong); a quantized one in
    the exact execution, so that a number measured here means the same on every CPU.
    """
    from .export import quantized_op_count
    import onnx
    data = Path(path).read_bytes()
    exact = quantized_op_count(onnx.load_from_string(data)) > 0
    return run_frames(session(data, exact), input_name, frames)
