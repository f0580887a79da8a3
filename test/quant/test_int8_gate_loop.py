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

"""calibrate -> evaluate -> gate -> pipeline, on a tiny model: the loop and its refusals."""

from __future__ import annotations

import json

import onnx
import pytest

from jetson_infer_ros.config import load_config
from jetson_infer_ros.pipeline import InferencePipeline
from jetson_infer_ros.quant import calibrate as cal, evaluate as ev, frames, gate


@pytest.fixture
def loop(tmp_path, tiny_config, tiny_model, photo_dir, make_photos):
    """Return a calibrated, evaluated tiny artefact: (cfg, fp32 path, artefact, report)."""
    cfg = load_config(str(tiny_config))
    out = tmp_path / 'art' / 'tiny.int8.onnx'
    cal.calibrate(cfg, frames.ImageFolder(str(photo_dir)), str(out),
                  cal.CalibrationSettings(method='minmax'), log=lambda m: None)
    eval_dir = tmp_path / 'eval'
    make_photos(eval_dir, 6, seed=7)
    report = ev.evaluate(cfg, frames.ImageFolder(str(eval_dir)), int8_model=str(out),
                         log=lambda m: None)
    return cfg.replace(int8_model_path=str(out)), str(tiny_model), out, report


def _set_numbers(report_path, layout, **numbers):
    report = json.loads(report_path.read_text())
    report['variants'][layout].update(numbers)
    report_path.write_text(json.dumps(report))


def test_report_is_stored_with_hashes_and_per_layout_numbers(loop):
    cfg, fp32, out, report = loop
    stored = json.loads(out.with_name('tiny.int8.eval.json').read_text())
    assert stored['task'] == 'classification' and stored['frames'] == 6
    assert set(stored['variants']) == {'tensorrt', 'onnxruntime'}
    assert stored['variants']['onnxruntime']['model'] == 'tiny.int8.cpu.onnx'
    assert stored['top1_agreement'] == min(v['top1_agreement']
                                           for v in stored['variants'].values())
    assert stored['calibration']['frames'] == 12 and stored['calibration_overlap'] == 0
    assert len(stored['frames_sha256']) == 64 and stored['created_utc'].endswith('Z')
    assert out.with_name('tiny.int8.eval.md').read_text().startswith('INT8 evaluation')


def test_gate_runs_the_cpu_layout_on_onnxruntime_and_the_qdq_model_on_tensorrt(loop):
    cfg, fp32, out, _ = loop
    easy = cfg.replace(int8_min_top1_agreement=0.0)
    d = gate.int8_gate(fp32, easy)
    assert d.accepted and d.model_file.endswith('tiny.int8.cpu.onnx')
    d = gate.int8_gate(fp32, easy.replace(backend='tensorrt'))
    assert d.accepted and d.model_file == str(out)


def test_gate_refuses_with_the_numbers_and_the_pipeline_falls_back(loop):
    cfg, fp32, out, _ = loop
    _set_numbers(out.with_name('tiny.int8.eval.json'), 'onnxruntime', top1_agreement=0.42)
    strict = cfg.replace(precision='int8', int8_min_top1_agreement=0.9)
    d = gate.int8_gate(fp32, strict)
    assert not d.accepted and d.model_file == fp32 and d.fallback_precision == 'fp32'
    assert '42.00% < required 90.00%' in d.reason
    lines = []
    pipe = InferencePipeline(strict, log=lines.append)
    pipe.load()
    try:
        info = pipe.info()
        assert pipe.precision_in_use == 'fp32' and info['model'] == 'tiny.onnx'
        assert 'INT8 refused' in info['notes'] and any('42.00%' in x for x in lines)
    finally:
        pipe.release()
    ok = InferencePipeline(strict.replace(int8_min_top1_agreement=0.0))
    ok.load()
    try:
        assert ok.precision_in_use == 'int8' and ok.info()['model'] == 'tiny.int8.cpu.onnx'
    finally:
        ok.release()


def test_an_evaluation_of_another_artefact_is_stale(loop):
    cfg, fp32, out, _ = loop
    cpu = out.with_name('tiny.int8.cpu.onnx')
    model = onnx.load(str(cpu))
    model.doc_string = 'changed after evaluation'
    onnx.save(model, str(cpu))
    d = gate.int8_gate(fp32, cfg.replace(int8_min_top1_agreement=0.0))
    assert not d.accepted and 'sha256 differs' in d.reason


def test_a_qdq_model_given_as_the_model_is_the_artefact(loop):
    cfg, fp32, out, _ = loop
    easy = cfg.replace(model_path=str(out), int8_model_path='', int8_min_top1_agreement=0.0)
    d = gate.int8_gate(str(out), easy)           # not tiny.int8.int8.onnx
    assert d.accepted and d.model_file.endswith('tiny.int8.cpu.onnx')
    _set_numbers(out.with_name('tiny.int8.eval.json'), 'onnxruntime', top1_agreement=0.1)
    d = gate.int8_gate(str(out), easy.replace(int8_min_top1_agreement=0.5))
    assert not d.accepted and d.model_file == fp32   # FP32 named by the provenance
    out.with_name('tiny.int8.calib.json').unlink()
    with pytest.raises(ValueError, match='itself quantized'):
        gate.int8_gate(str(out), easy.replace(int8_min_top1_agreement=0.5))
