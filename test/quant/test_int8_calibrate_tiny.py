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

"""Calibration end to end on a tiny conv model: files, formats, provenance, failure modes."""

from __future__ import annotations

import json

import numpy as np
import onnx
from onnx import numpy_helper
import onnxruntime as ort
import pytest

from jetson_infer_ros.config import load_config
from jetson_infer_ros.quant import calibrate as cal, export, frames, trt_cache


def _run(path, x):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(str(path), so, providers=['CPUExecutionProvider'])
    return s.run(None, {'x': x})[0]


def _calibrate(cfg_path, folder, out, **settings):
    cfg = load_config(str(cfg_path))
    return cal.calibrate(cfg, frames.ImageFolder(str(folder)), str(out),
                         cal.CalibrationSettings(**settings), log=lambda m: None)


def test_writes_the_family_with_the_promised_formats(tmp_path, tiny_config, tiny_model,
                                                     photo_dir):
    out = tmp_path / 'out' / 'tiny.int8.onnx'
    res = _calibrate(tiny_config, photo_dir, out, method='minmax')
    assert sorted(p.name for p in out.parent.iterdir()) == [
        'tiny.int8.calib.cache', 'tiny.int8.calib.json', 'tiny.int8.cpu.onnx', 'tiny.int8.onnx']
    trt = export.inspect_qdq(str(out))
    assert trt['symmetric_int8'] and trt['activation_types'] == ['int8']
    assert trt['weight_axes'] == {'conv1': 0, 'dwconv': 0}   # per output channel; fc: head
    cpu = export.inspect_qdq(str(out.parent / 'tiny.int8.cpu.onnx'))
    assert cpu['activation_types'] == ['uint8'] and set(cpu['weight_axes'].values()) == {0}
    for model in (out, out.parent / 'tiny.int8.cpu.onnx'):   # the -inf pad left no NaN/inf
        for init in onnx.load(str(model)).graph.initializer:
            assert np.all(np.isfinite(numpy_helper.to_array(init).astype(np.float64)))
    prov = json.loads((out.parent / 'tiny.int8.calib.json').read_text())
    assert prov['frames']['count'] == 12 and len(prov['frames']['items']) == 12
    assert prov['frames']['sha256'] == res.frames_sha256
    assert prov['source']['kind'] == 'images' and prov['method']['name'] == 'minmax'
    assert prov['non_finite_tensors'] == ['p1'] and 'pad_inf' in prov['graph']
    assert prov['output_head_float'] == ['fc'] and prov['kept_float'] == ['fc']
    assert any('only 12 calibration frames' in w for w in prov['hygiene']['warnings'])
    header, scales = trt_cache.parse((out.parent / 'tiny.int8.calib.cache').read_text())
    assert header == 'TRT-8502-EntropyCalibration2'
    lo, hi = prov['ranges']['c1']
    assert scales['c1'] == pytest.approx(max(abs(lo), abs(hi)) / 127.0, rel=1e-6)
    assert scales['p1'] == scales['r1']   # the -inf pad output borrows its input's scale
    # close to FP32 on the frames it was calibrated on, finite on anything
    assert min(res.sample_sqnr_db.values()) > 30.0, res.sample_sqnr_db
    x = np.random.default_rng(0).uniform(-5, 5, (2, 3, 32, 32)).astype(np.float32)
    assert np.isfinite(_run(tiny_model, x)).all()
    for model in (out, out.parent / 'tiny.int8.cpu.onnx'):
        assert np.isfinite(_run(model, x)).all()


def test_quantize_head_quantizes_the_last_layer_too(tmp_path, tiny_config, photo_dir):
    out = tmp_path / 'tiny.int8.onnx'
    res = _calibrate(tiny_config, photo_dir, out, method='minmax', quantize_head=True)
    assert res.kept_float == []
    assert export.inspect_qdq(str(out))['weight_axes'] == {'conv1': 0, 'dwconv': 0, 'fc': 0}
    cpu = export.inspect_qdq(str(tmp_path / 'tiny.int8.cpu.onnx'))
    assert cpu['weight_axes'] == {'conv1': 0, 'dwconv': 0, 'fc': 0}


@pytest.mark.parametrize('method', ['entropy', 'percentile'])
def test_histogram_methods_survive_non_finite_tensors(tmp_path, tiny_config, photo_dir,
                                                      method):
    out = tmp_path / 'tiny.int8.onnx'
    _calibrate(tiny_config, photo_dir, out, method=method)
    prov = json.loads((tmp_path / 'tiny.int8.calib.json').read_text())
    assert prov['method']['name'] == method and prov['non_finite_tensors'] == ['p1']
    assert export.inspect_qdq(str(out))['symmetric_int8']


def test_kept_float_layer_gets_float_weights_and_a_float_input(tmp_path, tiny_config,
                                                               photo_dir):
    out = tmp_path / 'tiny.int8.onnx'
    res = _calibrate(tiny_config, photo_dir, out, method='minmax', keep_float=['dwconv'])
    assert res.kept_float == ['dwconv', 'fc']   # and the output head
    for model in (out, tmp_path / 'tiny.int8.cpu.onnx'):
        m = onnx.load(str(model))
        producers = {o: n.op_type for n in m.graph.node for o in n.output}
        dw = next(n for n in m.graph.node if n.name == 'dwconv')
        assert producers.get(dw.input[0]) != 'DequantizeLinear'
        assert producers.get(dw.input[1]) is None      # a plain float initializer
    with pytest.raises(cal.CalibrationError, match='unknown nodes: nope'):
        _calibrate(tiny_config, photo_dir, out, method='minmax', keep_float=['nope'])


def test_auto_keep_float_scores_layers(tmp_path, tiny_config, photo_dir):
    res = _calibrate(tiny_config, photo_dir, tmp_path / 't.int8.onnx', method='minmax',
                     keep_float='auto', sensitivity_db=100.0)
    prov = json.loads((tmp_path / 't.int8.calib.json').read_text())
    assert {s['node'] for s in prov['sensitivity']} == {'conv1', 'dwconv', 'fc'}
    assert res.kept_float[0] == prov['sensitivity'][0]['node']   # 10% cap: one of three
    assert res.kept_float[-1] == 'fc'                              # + the output head


def test_refuses_quantized_models_and_bad_out_paths(tmp_path, tiny_config, photo_dir,
                                                    make_config):
    out = tmp_path / 'tiny.int8.onnx'
    _calibrate(tiny_config, photo_dir, out, method='minmax')
    again = make_config(tmp_path / 'q.yaml', out)
    with pytest.raises(export.AlreadyQuantizedError, match='already quantized'):
        _calibrate(again, photo_dir, tmp_path / 'x.int8.onnx', method='minmax')
    cfg = load_config(str(tiny_config))
    with pytest.raises(cal.CalibrationError, match='overwrite the FP32 model'):
        _calibrate(tiny_config, photo_dir, cfg.model_path, method='minmax')
    with pytest.raises(cal.CalibrationError, match='must end in .onnx'):
        _calibrate(tiny_config, photo_dir, tmp_path / 'x.int8', method='minmax')
    with pytest.raises(cal.CalibrationError, match='method must be one of'):
        _calibrate(tiny_config, photo_dir, out, method='kl')


def test_a_bad_frame_midway_leaves_the_previous_artefact_untouched(tmp_path, tiny_config,
                                                                   photo_dir):
    out = tmp_path / 'o' / 'tiny.int8.onnx'
    _calibrate(tiny_config, photo_dir, out, method='minmax')
    (out.parent / 'tiny.int8.eval.json').write_text('{}')
    before = {p.name: p.read_bytes() for p in out.parent.iterdir()}
    (photo_dir / 'zzz_broken.png').write_bytes(b'\x89PNG broken')
    with pytest.raises(frames.FrameSourceError, match='zzz_broken.png'):
        _calibrate(tiny_config, photo_dir, out, method='minmax')
    assert {p.name: p.read_bytes() for p in out.parent.iterdir()} == before
    (photo_dir / 'zzz_broken.png').unlink()
    res = _calibrate(tiny_config, photo_dir, out, method='minmax')
    assert [p.name for p in res.removed_stale] == ['tiny.int8.eval.json']
