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
The ONNX Runtime backend on real sessions of tiny models built in the test.

What matters beyond "it runs": results equal an independent NumPy computation, the
input buffer really is what the session reads (IO binding, no copy), outputs land in the
same preallocated memory every call, partial batches of a dynamic-batch model run on a
view, and every bad model fails with one readable line.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from jetson_infer_ros.backends.base import BackendError, BackendOptions
from jetson_infer_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from jetson_infer_ros.testing import synthetic_onnx

WEIGHTS = np.array([[1.0, -2.0, 0.5, 0.0], [0.25, 1.0, -1.0, 2.0], [-0.5, 0.0, 1.5, 1.0]],
                   np.float32)


def loaded(path, **options):
    backend = OnnxRuntimeBackend(str(path), BackendOptions(**options))
    backend.load()
    return backend


def test_results_match_numpy_and_buffers_are_reused(tmp_path):
    path = synthetic_onnx.classifier(tmp_path / 'c.onnx', (1, 3, 24, 40), WEIGHTS)
    backend = loaded(path, intra_op_threads=1)
    buf = backend.input_buffer()
    assert buf.shape == (1, 3, 24, 40) and buf.dtype == np.float32
    assert buf.flags['C_CONTIGUOUS']
    assert backend.input_spec.shape == (1, 3, 24, 40)
    assert [o.shape for o in backend.output_specs] == [(1, 4)]

    rng = np.random.default_rng(0)
    addresses = set()
    for _ in range(3):
        # Preprocessing writes into the buffer in place; the session must see it.
        buf[...] = rng.uniform(-1, 1, buf.shape)
        out = backend.infer(1)
        np.testing.assert_allclose(out['scores'], synthetic_onnx.reference_classifier(
            buf, WEIGHTS), rtol=1e-5, atol=1e-6)
        addresses.add(out['scores'].__array_interface__['data'][0])
    assert len(addresses) == 1, 'outputs must land in one preallocated array'
    assert backend.input_buffer() is buf


def test_dynamic_batch_runs_partial_batches_on_views(tmp_path):
    path = synthetic_onnx.classifier(tmp_path / 'd.onnx', (1, 3, 16, 16), WEIGHTS,
                                     dynamic_batch=True, softmax=True)
    backend = loaded(path, max_batch=4)
    buf = backend.input_buffer()
    assert buf.shape == (4, 3, 16, 16)
    assert backend.input_spec.shape == (-1, 3, 16, 16)
    assert backend.output_specs[0].shape == (-1, 4)
    rng = np.random.default_rng(1)
    buf[...] = rng.uniform(0, 1, buf.shape)
    expected = synthetic_onnx.reference_classifier(buf, WEIGHTS, softmax=True)
    for batch in (1, 3, 4, 2):
        out = backend.infer(batch)['scores']
        assert out.shape == (batch, 4)
        np.testing.assert_allclose(out, expected[:batch], rtol=1e-5, atol=1e-6)
    # Changing a row the partial batch does not cover changes nothing in its result.
    before = backend.infer(2)['scores'].copy()
    buf[3] += 5.0
    np.testing.assert_array_equal(backend.infer(2)['scores'], before)


def test_fixed_batch_model_refuses_a_larger_max_batch(tmp_path):
    path = synthetic_onnx.classifier(tmp_path / 'f.onnx', (1, 3, 8, 8), WEIGHTS)
    backend = OnnxRuntimeBackend(path, BackendOptions(max_batch=2))
    with pytest.raises(BackendError, match='model is fixed at batch 1'):
        backend.load()
    assert not backend.loaded


def test_fixed_batch_two_model_runs_whole_and_returns_rows_asked_for(tmp_path):
    path = synthetic_onnx.classifier(tmp_path / 'f2.onnx', (2, 3, 8, 8), WEIGHTS)
    backend = loaded(path, max_batch=1)
    buf = backend.input_buffer()
    assert buf.shape == (2, 3, 8, 8)
    buf[...] = np.random.default_rng(2).uniform(0, 1, buf.shape)
    out = backend.infer(1)['scores']
    assert out.shape == (1, 4)
    np.testing.assert_allclose(out, synthetic_onnx.reference_classifier(buf, WEIGHTS)[:1],
                               rtol=1e-5, atol=1e-6)


def test_fp16_input_gets_an_fp16_buffer(tmp_path):
    path = synthetic_onnx.classifier(tmp_path / 'h.onnx', (1, 3, 8, 8), WEIGHTS,
                                     dtype=np.float16)
    backend = loaded(path)
    assert backend.input_buffer().dtype == np.float16
    assert backend.info()['precision'] == 'fp16'
    backend.input_buffer()[...] = 0.5
    np.testing.assert_allclose(backend.infer()['scores'],
                               synthetic_onnx.reference_classifier(
                                   np.full((1, 3, 8, 8), 0.5), WEIGHTS), rtol=1e-3)


def test_nhwc_model(tmp_path):
    path = synthetic_onnx.classifier(tmp_path / 'n.onnx', (1, 20, 30, 3), WEIGHTS,
                                     layout='NHWC')
    backend = loaded(path)
    buf = backend.input_buffer()
    assert buf.shape == (1, 20, 30, 3)
    buf[...] = np.random.default_rng(3).uniform(0, 1, buf.shape)
    np.testing.assert_allclose(backend.infer()['scores'], synthetic_onnx.reference_classifier(
        buf, WEIGHTS, layout='NHWC'), rtol=1e-5, atol=1e-6)


def test_dynamic_spatial_size_needs_input_shape(tmp_path):
    path = synthetic_onnx.classifier(tmp_path / 's.onnx', (1, 3, -1, -1), WEIGHTS)
    with pytest.raises(BackendError, match='dynamic dimensions.*input_shape'):
        loaded(path)
    backend = loaded(path, extra=(('input_shape', (3, 12, 20)),))
    assert backend.input_buffer().shape == (1, 3, 12, 20)
    backend.input_buffer()[...] = 1.0
    np.testing.assert_allclose(backend.infer()['scores'][0], WEIGHTS.sum(axis=0), rtol=1e-6)
    with pytest.raises(BackendError, match='input_shape'):
        loaded(path, extra=(('input_shape', (4, 12, 20)),))


def test_data_dependent_output_is_left_to_onnxruntime(tmp_path):
    import onnx
    from onnx import helper, TensorProto
    graph = helper.make_graph(
        [helper.make_node('Greater', ['x', 'half'], ['g']),
         helper.make_node('NonZero', ['g'], ['idx'])],
        'nz', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 3, 2, 2])],
        [helper.make_tensor_value_info('idx', TensorProto.INT64, [4, 'K'])],
        [helper.make_tensor('half', TensorProto.FLOAT, [], [0.5])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / 'nz.onnx'))
    backend = loaded(tmp_path / 'nz.onnx')
    buf = backend.input_buffer()
    for hits in (0, 3, 7):
        buf[...] = 0.0
        buf.reshape(-1)[:hits] = 1.0
        out = backend.infer()['idx']
        assert out.shape == (4, hits)
        np.testing.assert_array_equal(out, np.stack(np.nonzero(buf > 0.5)))


def test_info_reports_cpu_hash_and_threads(tmp_path):
    path = synthetic_onnx.classifier(tmp_path / 'i.onnx', (1, 3, 8, 8), WEIGHTS)
    backend = loaded(path, intra_op_threads=2, precision='fp16',
                     extra=(('allow_spinning', True),))
    info = backend.info()
    with open(path, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    assert info['backend'] == 'onnxruntime'
    assert info['device'] == 'cpu'
    assert info['model_sha256'] == digest[:12]
    assert info['precision'] == 'fp32' and info['requested_precision'] == 'fp16'
    assert info['intra_op_threads'] == '2' and info['allow_spinning'] == 'true'


def assert_one_line(exc_info, *fragments):
    message = str(exc_info.value)
    assert '\n' not in message and 'Traceback' not in message
    for fragment in fragments:
        assert fragment in message
    assert exc_info.value.__cause__ is None


def test_missing_model_is_one_clear_line(tmp_path):
    backend = OnnxRuntimeBackend(str(tmp_path / 'nope.onnx'))
    with pytest.raises(BackendError) as exc:
        backend.load()
    assert_one_line(exc, 'not found', 'nope.onnx')


def test_corrupt_models_are_one_clear_line(tmp_path):
    text = tmp_path / 'text.onnx'
    text.write_text('this is not a model\n' * 20)
    good = synthetic_onnx.classifier(tmp_path / 'g.onnx', (1, 3, 8, 8), WEIGHTS)
    data = open(good, 'rb').read()
    truncated = tmp_path / 'truncated.onnx'
    truncated.write_bytes(data[:len(data) // 2])
    for path in (text, truncated):
        with pytest.raises(BackendError) as exc:
            loaded(path)
        assert_one_line(exc, 'cannot load', path.name)


def test_two_inputs_are_refused(tmp_path):
    path = synthetic_onnx.shifted_heads(
        tmp_path / 'two.onnx', (1, 3, 8, 8), {'o': (np.zeros((1, 2, 2)), None)},
        extra_input=True)
    with pytest.raises(BackendError, match=r"2 inputs \['x', 'y'\]"):
        loaded(path)


def test_life_cycle_errors(tmp_path):
    path = synthetic_onnx.classifier(tmp_path / 'l.onnx', (1, 3, 8, 8), WEIGHTS)
    backend = OnnxRuntimeBackend(path)
    with pytest.raises(BackendError, match='before load'):
        backend.infer()
    with pytest.raises(BackendError, match='not loaded'):
        backend.input_buffer()
    backend.load()
    with pytest.raises(BackendError, match='batch 2 outside 1..1'):
        backend.infer(2)
    backend.release()
    backend.release()
    assert not backend.loaded
    with pytest.raises(BackendError):
        backend.infer()
    backend.load()     # a released backend loads again
    assert backend.infer()['scores'].shape == (1, 4)


def test_symbolic_output_that_changes_with_content_falls_back(tmp_path):
    """Declared (N, K) with K = max(x): zeros at warm-up give K = 0, later runs do not."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    nodes = [
        helper.make_node('Gather', ['x', 'zero'], ['col'], axis=1),
        helper.make_node('ReduceMax', ['x'], ['m'], keepdims=0),
        helper.make_node('Cast', ['m'], ['k'], to=TensorProto.INT64),
        helper.make_node('Unsqueeze', ['k', 'axis0'], ['k1']),
        helper.make_node('Concat', ['one', 'k1'], ['reps'], axis=0),
        helper.make_node('Tile', ['col', 'reps'], ['y']),
    ]
    inits = [numpy_helper.from_array(np.array([0], np.int64), 'zero'),
             numpy_helper.from_array(np.array([0], np.int64), 'axis0'),
             numpy_helper.from_array(np.array([1], np.int64), 'one')]
    graph = helper.make_graph(
        nodes, 'tile', [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['N', 4])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, ['N', 'K'])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / 'tile.onnx'))
    backend = loaded(tmp_path / 'tile.onnx', max_batch=2)
    buf = backend.input_buffer()
    for k in (0, 3, 2):
        buf[...] = [[0.25, 0, 0, k], [0.5, 0, 0, 0]]
        out = backend.infer(2)['y']
        np.testing.assert_array_equal(out, np.tile(buf[:, :1], (1, k)))


@pytest.mark.parametrize('extra, arena', [((), False), ((('cpu_mem_arena', True),), True),
                                          ((('cpu_mem_arena', 'false'),), False)])
def test_memory_arena_is_off_unless_asked_and_results_do_not_change(tmp_path, extra, arena):
    import onnxruntime as ort
    path = synthetic_onnx.classifier(tmp_path / 'c.onnx', (1, 3, 24, 40), WEIGHTS)
    backend = loaded(path, intra_op_threads=1, extra=extra)
    assert backend._session_options(ort).enable_cpu_mem_arena is arena
    buf = backend.input_buffer()
    buf[...] = np.random.default_rng(1).uniform(-1, 1, buf.shape)
    np.testing.assert_allclose(backend.infer(1)['scores'], synthetic_onnx.reference_classifier(
        buf, WEIGHTS), rtol=1e-5, atol=1e-6)


def test_loading_asks_glibc_to_release_the_freed_heap(tmp_path, monkeypatch):
    from jetson_infer_ros import heap
    calls = []
    monkeypatch.setattr(heap, 'release_freed', lambda: calls.append(1) or True)
    loaded(synthetic_onnx.classifier(tmp_path / 'h.onnx', (1, 3, 8, 8), WEIGHTS))
    assert calls == [1]


def _per_axis_dq_without_zero_point(path):
    """Write a Q/DQ conv whose per-axis DequantizeLinear has no zero point (valid ONNX)."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto as T
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.integers(-100, 100, (4, 3, 3, 3)).astype(np.int8), 'wq'),
        numpy_helper.from_array(np.full(4, 0.01, np.float32), 'ws'),
        numpy_helper.from_array(rng.normal(0, 0.1, 4).astype(np.float32), 'b'),
    ]
    nodes = [
        helper.make_node('DequantizeLinear', ['wq', 'ws'], ['w'], axis=0),
        helper.make_node('Conv', ['x', 'w', 'b'], ['c'], pads=[1, 1, 1, 1]),
        helper.make_node('GlobalAveragePool', ['c'], ['g']),
        helper.make_node('Flatten', ['g'], ['logits']),
    ]
    graph = helper.make_graph(
        nodes, 'dq_no_zero_point', [helper.make_tensor_value_info('x', T.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info('logits', T.FLOAT, [1, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_a_qdq_model_the_weight_conversion_rejects_runs_exactly(tmp_path):
    """
    A per-axis DQ without a zero point breaks ORT's s8 -> u8 weight conversion.

    The node's deployed session has that conversion on (x86 without VNNI needs it); such a
    model must still load, run as written, and give the exact execution's answer.
    """
    from jetson_infer_ros.quant import execution
    path = _per_axis_dq_without_zero_point(tmp_path / 'q.onnx')
    zeros = {'x': np.zeros((1, 3, 8, 8), np.float32)}
    try:
        execution.session(str(path), exact=False).run(None, zeros)
        deployed_fails = False
    except Exception as exc:       # ORT 1.2x on x86: "x_zero_point must be null or 1D"
        assert 'zero_point' in str(exc)
        deployed_fails = True
    backend = loaded(path)
    assert backend.execution == ('exact' if deployed_fails else 'deployed')
    frame = np.random.default_rng(1).uniform(-1, 1, (1, 3, 8, 8)).astype(np.float32)
    backend.input_buffer()[...] = frame
    out = backend.infer(1)['logits']
    want = execution.session(str(path), exact=True).run(None, {'x': frame})[0]
    np.testing.assert_allclose(out, want, rtol=1e-6)
    plain = loaded(synthetic_onnx.classifier(tmp_path / 'c.onnx', (1, 3, 24, 40), WEIGHTS))
    assert plain.execution == 'deployed'
