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
    """
    Return a calibrated, evaluated tiny artefact: (cfg, fp32 path, artefact, report).

    Six evaluation frames are far too few for the gate's defaults; the returned config
    accepts one frame of evidence so that these tests exercise the other rules.
    """
    cfg = load_config(str(tiny_config))
    out = tmp_path / 'art' / 'tiny.int8.onnx'
    cal.calibrate(cfg, frames.ImageFolder(str(photo_dir)), str(out),
                  cal.CalibrationSettings(method='minmax'), log=lambda m: None)
    eval_dir = tmp_path / 'eval'
    make_photos(eval_dir, 6, seed=7)
    report = ev.evaluate(cfg, frames.ImageFolder(str(eval_dir)), int8_model=str(out),
                         log=lambda m: None)
    return (cfg.replace(int8_model_path=str(out), int8_min_eval_frames=1), str(tiny_model),
            out, report)


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
    # TensorRT's layout as the file's arithmetic, the CPU layout as the node runs it here
    assert stored['variants']['tensorrt']['execution'] == 'exact'
    assert stored['variants']['onnxruntime']['execution'] == 'deployed'
    assert 'u8s8_saturates' in stored['cpu']


def test_gate_runs_the_cpu_layout_on_onnxruntime_and_the_qdq_model_on_tensorrt(loop):
    cfg, fp32, out, _ = loop
    easy = cfg.replace(int8_min_top1_agreement=0.0)
    d = gate.int8_gate(fp32, easy)
    assert d.accepted and d.model_file.endswith('tiny.int8.cpu.onnx')
    d = gate.int8_gate(fp32, easy.replace(backend='tensorrt'))
    assert d.accepted and d.model_file == str(out)


def test_gate_refuses_with_the_numbers_and_the_pipeline_falls_back(loop):
    cfg, fp32, out, _ = loop
    _set_numbers(out.with_name('tiny.int8.eval.json'), 'onnxruntime', top1_agreement=0.42,
                 top1_agreement_interval=[0.15, 0.75])
    strict = cfg.replace(precision='int8', int8_min_top1_agreement=0.9)
    d = gate.int8_gate(fp32, strict)
    assert not d.accepted and d.model_file == fp32 and d.fallback_precision == 'fp32'
    assert '42.00% (95% interval 15.00-75.00%): lower end < required 90.00%' in d.reason
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
    _set_numbers(out.with_name('tiny.int8.eval.json'), 'onnxruntime', top1_agreement=0.1,
                 top1_agreement_interval=[0.02, 0.4])
    d = gate.int8_gate(str(out), easy.replace(int8_min_top1_agreement=0.5))
    assert not d.accepted and d.model_file == fp32   # FP32 named by the provenance
    out.with_name('tiny.int8.calib.json').unlink()
    with pytest.raises(ValueError, match='itself quantized'):
        gate.int8_gate(str(out), easy.replace(int8_min_top1_agreement=0.5))


def test_a_two_frame_evaluation_is_refused(tmp_path, tiny_config, photo_dir, make_photos):
    """`evaluate --samples 2` used to store 100 % agreement, and the gate accepted it."""
    cfg = load_config(str(tiny_config))
    out = tmp_path / 'art' / 'tiny.int8.onnx'
    cal.calibrate(cfg, frames.ImageFolder(str(photo_dir)), str(out),
                  cal.CalibrationSettings(method='minmax'), log=lambda m: None)
    make_photos(tmp_path / 'eval', 30, seed=7)
    report = ev.evaluate(cfg, frames.ImageFolder(str(tmp_path / 'eval'), 2),
                         int8_model=str(out), log=lambda m: None)
    assert report['frames'] == 2 and report['calibration_overlap'] == 0
    cfg = cfg.replace(int8_model_path=str(out))
    d = gate.int8_gate(cfg.model_path, cfg)
    assert not d.accepted
    assert 'too little evidence: 2 evaluation frames < 200 required' in d.reason
    assert not report['gate']['onnxruntime']['passes']
    # were the minimum waived, two agreeing frames still prove little: Wilson's lower end
    for row in report['variants'].values():
        low, high = row['top1_agreement_interval']
        assert high == 1.0 and low < 0.7
    if all(r['top1_agreement'] == 1.0 for r in report['variants'].values()):
        d = gate.int8_gate(cfg.model_path, cfg.replace(int8_min_eval_frames=1))
        assert not d.accepted and 'lower end < required 99.00%' in d.reason


def test_an_evaluation_on_the_calibration_frames_is_refused(tmp_path, tiny_config, photo_dir):
    cfg = load_config(str(tiny_config))
    out = tmp_path / 'art' / 'tiny.int8.onnx'
    cal.calibrate(cfg, frames.ImageFolder(str(photo_dir)), str(out),
                  cal.CalibrationSettings(method='minmax'), log=lambda m: None)
    lines = []
    report = ev.evaluate(cfg, frames.ImageFolder(str(photo_dir)), int8_model=str(out),
                         log=lines.append)
    assert report['calibration_overlap'] == 12 == report['frames']
    assert any('12 of 12 evaluation frames were calibration frames' in x for x in lines)
    # whatever the thresholds, evidence from the calibration frames is no evidence
    easy = cfg.replace(int8_model_path=str(out), **gate.PERMISSIVE)
    d = gate.int8_gate(cfg.model_path, easy)
    assert not d.accepted
    assert '12 of the 12 evaluation frames were calibration frames' in d.reason
    # without the provenance the overlap cannot be checked, and that is refused too
    out.with_name('tiny.int8.calib.json').unlink()
    report = ev.evaluate(cfg, frames.ImageFolder(str(photo_dir)), int8_model=str(out),
                         log=lambda m: None)
    assert report['calibration_overlap'] is None
    assert 'could not check its frames' in gate.int8_gate(cfg.model_path, easy).reason


def test_labels_make_accuracy_and_its_drop_the_measure(loop, tmp_path):
    cfg, fp32, out, report = loop
    eval_dir = tmp_path / 'eval'
    # ground truth: FP32's own answer on four frames, a wrong class on the fifth; one
    # frame unlabelled
    names = sorted(p.name for p in eval_dir.iterdir())
    pipe = InferencePipeline(cfg.replace(precision='fp32'))
    pipe.load()
    try:
        truth = {n: int(pipe.run([frames.read_image(eval_dir / n)])[0].class_ids[0])
                 for n in names[:5]}
    finally:
        pipe.release()
    truth[names[4]] = (truth[names[4]] + 1) % 10
    labels = tmp_path / 'gt.json'
    labels.write_text(json.dumps(truth))
    lines = []
    rep = ev.evaluate(cfg, frames.ImageFolder(str(eval_dir)), int8_model=str(out),
                      labels_path=str(labels), log=lines.append)
    assert any('labels 5 of the 6 evaluation images' in x for x in lines)
    for row in rep['variants'].values():
        assert row['labelled_frames'] == 5
        assert row['accuracy_reference']['top1'] == pytest.approx(0.8)
        lo, hi = row['accuracy_reference']['top1_interval']
        assert lo < 0.8 < hi
        drop = 80.0 - row['accuracy_int8']['top1'] * 100.0
        assert row['top1_drop'] == pytest.approx(drop, abs=1e-3)
        lo, hi = row['top1_drop_interval']
        assert lo <= row['top1_drop'] <= hi and hi - lo > 10.0    # 5 frames: wide
    # with labels the gate judges the drop, at the worse end of its interval
    d = gate.int8_gate(fp32, cfg)
    assert not d.accepted and 'top-1 accuracy drop vs FP32' in d.reason
    assert 'upper end > allowed 0.50 (int8_max_top1_drop)' in d.reason
    assert gate.int8_gate(fp32, cfg.replace(int8_max_top1_drop=100.0)).accepted
    d = gate.int8_gate(fp32, cfg.replace(int8_min_eval_frames=200))
    assert not d.accepted and '5 labelled evaluation frames < 200 required' in d.reason


def test_labels_that_name_no_evaluation_image_are_an_error(loop, tmp_path):
    cfg, _fp32, out, _report = loop
    labels = tmp_path / 'gt.json'
    labels.write_text(json.dumps({'n01440764_tench.JPEG': 0}))
    with pytest.raises(ev.EvaluationError, match='none of its 1 entries names one of the 6 '
                       "evaluation images .*'n01440764_tench.JPEG'.*'img_000.png'"):
        ev.evaluate(cfg, frames.ImageFolder(str(tmp_path / 'eval')), int8_model=str(out),
                    labels_path=str(labels), log=lambda m: None)
