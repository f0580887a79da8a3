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

"""GPTQ weight rounding: im2col is the convolution, rounding beats nearest, scales stay."""

from __future__ import annotations

import json

from hypothesis import given, settings, strategies as st
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto
import onnxruntime as ort
import pytest

from jetson_infer_ros.config import load_config
from jetson_infer_ros.quant import calibrate as cal, frames, rounding


def _conv_model(w, group, pads, strides, dilations):
    x = helper.make_tensor_value_info('x', TensorProto.FLOAT, None)
    y = helper.make_tensor_value_info('y', TensorProto.FLOAT, None)
    node = helper.make_node('Conv', ['x', 'w'], ['y'], name='c', group=group, pads=pads,
                            strides=strides, dilations=dilations)
    graph = helper.make_graph([node], 'g', [x], [y], [numpy_helper.from_array(w, 'w')])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8
    return model, node


@settings(max_examples=25, deadline=None)
@given(group=st.sampled_from([1, 2, 4]), k=st.sampled_from([1, 3, 5]),
       stride=st.integers(1, 2), dilation=st.integers(1, 2),
       pads=st.tuples(*[st.integers(0, 2)] * 4), seed=st.integers(0, 2 ** 16))
def test_im2col_times_the_weights_is_the_convolution(group, k, stride, dilation, pads, seed):
    rng = np.random.default_rng(seed)
    cin, cout = 4, 4
    x = rng.normal(size=(1, cin, 11, 9)).astype(np.float32)
    w = rng.normal(size=(cout, cin // group, k, k)).astype(np.float32)
    model, node = _conv_model(w, group, list(pads), [stride] * 2, [dilation] * 2)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    want = ort.InferenceSession(model.SerializeToString(), so,
                                providers=['CPUExecutionProvider']).run(None, {'x': x})[0]
    geo = rounding.ConvGeometry.of(node, w.shape)
    cols = rounding.im2col(x[0], geo)                         # (g, d, P)
    got = np.matmul(w.reshape(group, cout // group, -1), cols).reshape(want.shape)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def _correlated_inputs(rng, d, n):
    """Draw inputs with a large common mean and correlated columns, like post-ReLU features."""
    base = rng.normal(size=(n, 1)) + 3.0
    return base + 0.3 * rng.normal(size=(n, d))


def test_gptq_rounding_cuts_the_output_error_of_near_cancelling_kernels():
    rng = np.random.default_rng(1)
    d, rows = 9, 64
    w = rng.normal(size=(1, rows, d))
    w -= w.mean(axis=2, keepdims=True)          # edge detectors: weights sum to ~0
    x = _correlated_inputs(rng, d, 4000)
    h = (x.T @ x)[None]
    scale = np.abs(w).max(axis=2) / 127.0
    q = rounding.gptq_round(w, h, scale)
    nearest = np.clip(np.round(w / scale[..., None]), -127, 127)
    y = x @ w[0].T
    err_gptq = np.square(x @ (q[0] * scale[0][:, None]).T - y).mean()
    err_nearest = np.square(x @ (nearest[0] * scale[0][:, None]).T - y).mean()
    assert q.dtype == np.int8 and np.abs(q.astype(int)).max() <= 127
    assert err_gptq < 0.5 * err_nearest, (err_gptq, err_nearest)
    # every value stays on its own channel's grid near the weight (no wild excursions)
    assert np.abs(q - w / scale[..., None]).max() < 8


def test_gptq_leaves_columns_with_no_signal_at_nearest_and_handles_dead_inputs():
    rng = np.random.default_rng(2)
    w = rng.normal(size=(2, 3, 4))
    h = np.zeros((2, 4, 4))                     # group 1: a layer input that never moves
    x = rng.normal(size=(500, 4))
    h[0] = x.T @ x
    scale = np.abs(w).max(axis=2) / 127.0
    q = rounding.gptq_round(w, h, scale)
    nearest = np.clip(np.round(w / scale[..., None]), -127, 127)
    np.testing.assert_array_equal(q[1], nearest[1])
    assert np.isfinite(q.astype(float)).all()


def test_calibrate_with_gptq_keeps_scales_and_changes_only_int8_values(
        tmp_path, tiny_config, photo_dir):
    cfg = load_config(str(tiny_config))
    outs = {}
    for how in ('nearest', 'gptq'):
        out = tmp_path / how / 'tiny.int8.onnx'
        res = cal.calibrate(cfg, frames.ImageFolder(str(photo_dir)), str(out),
                            cal.CalibrationSettings(method='minmax', weight_rounding=how),
                            log=lambda m: None)
        outs[how] = (out, res)
    for layout in ('tiny.int8.onnx', 'tiny.int8.cpu.onnx'):
        a = {i.name: numpy_helper.to_array(i)
             for i in onnx.load(str(outs['nearest'][0].parent / layout)).graph.initializer}
        b = {i.name: numpy_helper.to_array(i)
             for i in onnx.load(str(outs['gptq'][0].parent / layout)).graph.initializer}
        assert a.keys() == b.keys()
        differing = [k for k in a if not np.array_equal(a[k], b[k])]
        assert differing and all(k.endswith('_quantized') and a[k].dtype == np.int8
                                 for k in differing), differing
    prov = json.loads((outs['gptq'][0].parent / 'tiny.int8.calib.json').read_text())
    assert prov['weight_rounding']['method'] == 'gptq'
    assert prov['weight_rounding']['layers'] == 2
    assert prov['weight_rounding']['frames'] == 12 - 3   # 3 held out to judge it
    assert outs['gptq'][1].summary()['weight_rounding']['weights_changed'] > 0
    nearest_prov = json.loads((outs['nearest'][0].parent / 'tiny.int8.calib.json').read_text())
    assert nearest_prov['weight_rounding'] == {'method': 'nearest'}


def test_auto_keeps_nearest_where_gptq_measures_worse(tmp_path, tiny_config, photo_dir,
                                                      monkeypatch):
    cfg = load_config(str(tiny_config))
    nearest = tmp_path / 'nearest' / 'tiny.int8.onnx'
    cal.calibrate(cfg, frames.ImageFolder(str(photo_dir)), str(nearest),
                  cal.CalibrationSettings(method='minmax', weight_rounding='nearest'),
                  log=lambda m: None)
    real_apply = rounding.apply_gptq

    def harmful(path, moments):
        report = real_apply(path, moments)
        model = onnx.load(path)             # then flip the sign of every int8 weight
        for init in model.graph.initializer:
            if init.name.endswith(rounding.QUANTIZED_SUFFIX):
                init.CopyFrom(numpy_helper.from_array(-numpy_helper.to_array(init), init.name))
        onnx.save(model, path)
        return report
    monkeypatch.setattr(rounding, 'apply_gptq', harmful)
    auto = tmp_path / 'auto' / 'tiny.int8.onnx'
    res = cal.calibrate(cfg, frames.ImageFolder(str(photo_dir)), str(auto),
                        cal.CalibrationSettings(method='minmax'), log=lambda m: None)
    layouts = res.weight_rounding['layouts']
    chosen = {k: v['chosen'] for k, v in layouts.items()}
    assert chosen == {'tensorrt': 'nearest', 'onnxruntime': 'nearest'}
    for v in layouts.values():
        assert v['held_out_sqnr_db']['nearest'] > v['held_out_sqnr_db']['gptq']
    for layout in ('tiny.int8.onnx', 'tiny.int8.cpu.onnx'):
        a = onnx.load(str(nearest.parent / layout)).graph.initializer
        b = onnx.load(str(auto.parent / layout)).graph.initializer
        assert all(np.array_equal(numpy_helper.to_array(x), numpy_helper.to_array(y))
                   for x, y in zip(a, b))
    assert not list(auto.parent.glob('*.nearest.onnx'))


@pytest.mark.parametrize('bad', [{'weight_rounding': 'adaround'}, {'rounding_frames': 0}])
def test_bad_rounding_settings_are_one_line_errors(bad):
    with pytest.raises(cal.CalibrationError, match='rounding'):
        cal.CalibrationSettings(method='minmax', **bad).check()
