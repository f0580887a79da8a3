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
An FP16 copy of an FP32 ONNX, for strongly typed TensorRT (11, TensorRT-RTX).

A strongly typed network runs every layer in the type its tensors have in the ONNX:
there is no FP16 builder flag to ask for. So ``precision: fp16`` on such a TensorRT
builds from this copy: float16 weights and activations, float32 graph inputs and outputs
(a Cast at each end), so preprocessing writes the same float32 tensor and the decoders
read float32 as on every other path. ONNX Runtime's converter does it (the package
depends on ONNX Runtime anyway); the ops it keeps in float32 by default (Resize's
scales and the like) are cast around. Float32 values beyond FP16's range are clamped to
it, which the converter reports; the user asked for FP16.
"""

from __future__ import annotations

from typing import Tuple


def convert(onnx_bytes: bytes) -> Tuple[bytes, str]:
    """Return (the FP16 model's bytes, one line saying what was converted)."""
    import onnx
    from jetson_infer_ros.backends.base import BackendError
    try:
        from onnxruntime.transformers.float16 import convert_float_to_float16
    except ImportError as exc:
        raise BackendError(f'tensorrt: fp16 on a strongly typed TensorRT needs ONNX '
                           f"Runtime's float16 converter ({exc})") from None
    model = onnx.load_from_string(onnx_bytes)
    if _has_float16(model):
        return onnx_bytes, 'the ONNX already holds float16 tensors; built as it is'
    import logging
    quiet = logging.getLogger('onnxruntime.transformers.float16')
    level = quiet.level
    quiet.setLevel(logging.ERROR)   # it warns about every value clamped to FP16's range
    try:
        half = convert_float_to_float16(model, keep_io_types=True)
    finally:
        quiet.setLevel(level)
    count = sum(1 for t in half.graph.initializer if t.data_type == onnx.TensorProto.FLOAT16)
    return half.SerializeToString(), (f'fp16 built from an FP16 copy of the ONNX ({count} '
                                      'float16 initializers, float32 inputs and outputs)')


def _has_float16(model: object) -> bool:
    import onnx
    graph = model.graph  # type: ignore[attr-defined]
    return any(t.data_type == onnx.TensorProto.FLOAT16 for t in graph.initializer)
