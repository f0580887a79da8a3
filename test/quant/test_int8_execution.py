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
INT8 results do not depend on the CPU: the node's CPU kernels compute the Q/DQ file.

The model here is built to overflow 16-bit sums of u8 x s8 products (uint8 activations
near 255 times int8 weights near 127 in neighbouring input channels), which is what
ONNX Runtime's fused kernels do on x86 without VNNI. Measured: on an AVX2 EPYC without
the weight conversion 24.7 dB against FP32 where the file's arithmetic gives 57.3 dB; on
an AVX512-VNNI/AMX Xeon (ONNX Runtime 1.30) 57.3 dB either way and bit-identical with
the conversion on. So these tests pass on both kinds of CPU and fail on the first kind
if the conversion is dropped.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from jetson_infer_ros.backends.base import BackendOptions
from jetson_infer_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from jetson_infer_ros.quant import execution
from jetson_infer_ros.quant.sensitivity import sqnr_db


@pytest.fixture(scope='module')
def saturating(tmp_path_factory):
    """(FP32 path, U8S8 Q/DQ path, input frames) of one 64-channel 3x3 Conv."""
    from onnx import helper, numpy_helper, TensorProto as T
    from onnxruntime.quantization import (
        CalibrationDataReader, quantize_static, QuantFormat, QuantType)
    root = tmp_path_factory.mktemp('saturating')
    rng = np.random.default_rng(0)
    w = rng.uniform(0.5, 1.0, (64, 64, 3, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node('Conv', ['x', 'w'], ['y'], pads=[1, 1, 1, 1])], 'conv',
        [helper.make_tensor_value_info('x', T.FLOAT, [1, 64, 16, 16])],
        [helper.make_tensor_value_info('y', T.FLOAT, [1, 64, 16, 16])],
        [numpy_helper.from_array(w, 'w')])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8
    fp32, qdq = root / 'conv.onnx', root / 'conv.int8.cpu.onnx'
    onnx.save(model, str(fp32))
    frames = np.stack([rng.uniform(0, 1, (64, 16, 16)).astype(np.float32) for _ in range(8)])

    class Reader(CalibrationDataReader):

        def __init__(self):
            self._it = iter(frames)

        def get_next(self):
            x = next(self._it, None)
            return None if x is None else {'x': x[None]}
    quantize_static(str(fp32), str(qdq), Reader(), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    per_channel=True)
    return str(fp32), str(qdq), frames


def test_exact_execution_is_the_files_arithmetic(saturating):
    fp32, qdq, frames = saturating
    ref = execution.model_outputs(fp32, 'x', frames)
    exact = execution.model_outputs(qdq, 'x', frames)   # a Q/DQ file: run as written
    assert sqnr_db(ref, exact) > 50.0


def test_the_nodes_cpu_backend_matches_the_exact_execution_on_this_cpu(saturating):
    fp32, qdq, frames = saturating
    exact = execution.run_frames(execution.session(qdq, exact=True), 'x', frames)
    backend = OnnxRuntimeBackend(qdq, BackendOptions(precision='int8', max_batch=1))
    backend.load()
    try:
        got = []
        for frame in frames:
            backend.input_buffer()[0] = frame
            got.append(next(iter(backend.infer(1).values())).copy())
    finally:
        backend.release()
    assert sqnr_db(exact, got) > 45.0, execution.cpu_int8()
    # and the same through a plain deployed session (what speed and the study time)
    deployed = execution.run_frames(execution.session(qdq, exact=False), 'x', frames)
    assert sqnr_db(exact, deployed) > 45.0, execution.cpu_int8()


def test_session_options_of_the_two_executions():
    import onnxruntime as ort
    exact = execution.session_options(ort, exact=True)
    assert exact.graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    deployed = execution.session_options(ort, exact=False)
    assert deployed.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    assert deployed.get_session_config_entry('session.x64quantprecision') == '1'


def test_cpu_facts_say_whether_u8s8_saturates(monkeypatch):
    monkeypatch.setattr(execution.platform, 'machine', lambda: 'x86_64')
    for flags, saturates in (({'avx2', 'fma'}, True), ({'avx2', 'avx512_vnni'}, False),
                             ({'avx2', 'avx_vnni'}, False)):
        monkeypatch.setattr(execution, '_cpu_flags', lambda f=flags: f)
        execution.cpu_int8.cache_clear()
        facts = execution.cpu_int8()
        assert facts['u8s8_saturates'] is saturates and facts['vnni'] is not saturates
    monkeypatch.setattr(execution.platform, 'machine', lambda: 'aarch64')
    execution.cpu_int8.cache_clear()
    assert execution.cpu_int8()['u8s8_saturates'] is False
    execution.cpu_int8.cache_clear()
