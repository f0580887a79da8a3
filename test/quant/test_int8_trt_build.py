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
The TensorRT layout ``calibrate`` writes is built by a real TensorRT builder.

The builder is the test (TensorRT-RTX 1.7, the TensorRT 10/11 ONNX parser): an int32
bias behind a DequantizeLinear, or a quantized constant that feeds anything but a
weight's DQ, makes it refuse the model, as TensorRT 8.5/10.x on a Jetson would. The
tiny model has the pattern that broke NanoDet (a Pad before MaxPool whose fill value
the quantizer quantizes); both earlier layouts are rebuilt here to show the builder
refuses them.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from jetson_infer_ros.backends.base import BackendError
from jetson_infer_ros.config import load_config
from jetson_infer_ros.quant import calibrate as cal, export, frames
from jetson_infer_ros.testing import trt_builds

ROOT = Path(__file__).resolve().parents[2]


def _quiet(_msg: str) -> None:
    pass


def _calibrate(cfg_path, picture_dir, out, **settings):
    cfg = load_config(str(cfg_path))
    cal.calibrate(cfg, frames.ImageFolder(str(picture_dir)), str(out),
                  cal.CalibrationSettings(**settings), log=_quiet)
    return out


def _pads_fed_by_a_constant_dq(path):
    import onnx
    model = onnx.load(str(path))
    inits = {i.name for i in model.graph.initializer}
    dq_of_const = {n.output[0] for n in model.graph.node
                   if n.op_type == 'DequantizeLinear' and n.input[0] in inits}
    return [n.name for n in model.graph.node
            if n.op_type == 'Pad' and any(i in dq_of_const for i in n.input[1:])]


def test_tiny_int8_layout_builds(tiny_config, photo_dir, tmp_path):
    out = _calibrate(tiny_config, photo_dir, tmp_path / 'tiny.int8.onnx', method='minmax',
                     weight_rounding='nearest', write_cpu_model=False)
    assert export.inspect_qdq(str(out))['symmetric_int8']
    assert not _pads_fed_by_a_constant_dq(out)
    result = trt_builds.build('tiny.int8.onnx (TensorRT layout)', str(out),
                              str(tmp_path / 'engines'), precision='int8')
    assert result.built and len(result.data) > 0


def test_the_int32_bias_layout_is_refused_by_the_builder(tiny_config, photo_dir, tmp_path,
                                                         monkeypatch):
    """The layout before the fix: ONNX Runtime's default int32 biases behind a DQ."""
    settings = export._settings
    monkeypatch.setattr(export, 'fold_constant_dequantize', lambda model: [])

    def int32_biases(target, keep_float):
        chosen = settings(target, keep_float)
        chosen['extra_options'] = dict(chosen['extra_options'], QuantizeBias=True)
        return chosen
    monkeypatch.setattr(export, '_settings', int32_biases)
    out = _calibrate(tiny_config, photo_dir, tmp_path / 'old.int8.onnx', method='minmax',
                     weight_rounding='nearest', write_cpu_model=False)
    with pytest.raises(BackendError, match='input has type Int32 but must have type'):
        trt_builds.build('tiny.int8.onnx (int32 biases, the old layout)', str(out),
                         str(tmp_path / 'engines'), precision='int8')


def test_a_quantized_pad_value_is_refused_by_the_builder(tiny_config, photo_dir, tmp_path,
                                                         monkeypatch):
    """Float biases alone were not enough: the Pad's quantized fill value must be folded."""
    monkeypatch.setattr(export, 'fold_constant_dequantize', lambda model: [])
    out = _calibrate(tiny_config, photo_dir, tmp_path / 'unfolded.int8.onnx',
                     method='minmax', weight_rounding='nearest', write_cpu_model=False)
    assert _pads_fed_by_a_constant_dq(out) == ['pad_inf']
    with pytest.raises(BackendError, match='Quantized constant .* is only allowed before DQ'):
        trt_builds.build('tiny.int8.onnx (quantized Pad value)', str(out),
                         str(tmp_path / 'engines'), precision='int8')


def test_folding_a_constant_dq_keeps_the_arithmetic(tiny_config, photo_dir, tmp_path,
                                                    monkeypatch):
    """The folded float is what the DequantizeLinear computed: same outputs, bit for bit."""
    from jetson_infer_ros.quant import execution
    folded = _calibrate(tiny_config, photo_dir, tmp_path / 'a.int8.onnx', method='minmax',
                        weight_rounding='nearest', write_cpu_model=False)
    monkeypatch.setattr(export, 'fold_constant_dequantize', lambda model: [])
    kept = _calibrate(tiny_config, photo_dir, tmp_path / 'b.int8.onnx', method='minmax',
                      weight_rounding='nearest', write_cpu_model=False)
    x = np.random.default_rng(3).uniform(0, 1, (4, 3, 32, 32)).astype(np.float32)
    outs = [execution.run_frames(execution.session(p.read_bytes(), exact=True), 'x', x)
            for p in (folded, kept)]
    assert np.array_equal(outs[0][0], outs[1][0])


@pytest.mark.parametrize('config, name', [('infer.yaml', 'efficientnet_lite0'),
                                          ('detect.yaml', 'nanodet')])
def test_calibrate_output_of_both_default_models_builds(config, name, vtest_frames,
                                                        real_data, tmp_path):
    """Default calibration (percentile, auto rounding) on real frames, built as INT8."""
    folder = tmp_path / 'calib'
    folder.mkdir()
    for i, frame in enumerate(vtest_frames[:12]):
        cv2.imwrite(str(folder / f'v{i:02d}.png'), frame)
    for i, ref in enumerate(real_data.photos()[:8]):
        cv2.imwrite(str(folder / f'p{i:02d}.png'), cv2.imread(str(real_data.photo(ref))))
    out = _calibrate(ROOT / 'config' / config, folder, tmp_path / f'{name}.int8.onnx',
                     method='percentile')
    lines = []
    int8 = trt_builds.build(f'{name}.int8.onnx (calibrate, TensorRT layout)', str(out),
                            str(tmp_path / 'engines'), precision='int8', log=lines)
    assert int8.built and len(int8.data) > 1_000_000
    # strongly typed: INT8 exists only through the Q/DQ layers the parser found
    assert any('runs in the precision of its ONNX (int8: the Q/DQ nodes)' in ln for ln in lines)
