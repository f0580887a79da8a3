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

"""The INT8 gate refuses artefacts whose stored evaluation is missing or too poor."""

from __future__ import annotations

import json

from jetson_infer_ros.quant import gate as G


def _cfg(**kw):
    base = {'task': 'classification', 'backend': 'onnxruntime', 'int8_model_path': '',
            'int8_min_top1_agreement': 0.99, 'int8_max_map_drop': 1.0}
    base.update(kw)
    return base


def test_missing_artifact_falls_back_to_fp32_on_cpu(tmp_path):
    model = tmp_path / 'm.onnx'
    model.write_bytes(b'x')
    d = G.int8_gate(str(model), _cfg())
    assert not d.accepted and d.fallback_precision == 'fp32'
    assert 'no calibrated model' in d.reason and 'm.int8.onnx' in d.reason


def test_missing_evaluation_is_refused(tmp_path):
    model = tmp_path / 'm.onnx'
    (tmp_path / 'm.int8.onnx').write_bytes(b'q')
    d = G.int8_gate(str(model), _cfg())
    assert not d.accepted and 'no evaluation' in d.reason


def _report(task='classification', frames=500, overlap=0, labels=None, **row):
    """Make a current evaluation report with one layout (the TensorRT one) holding ``row``."""
    return {'report_version': G.REPORT_VERSION, 'task': task, 'frames': frames,
            'calibration_overlap': overlap, 'ground_truth': labels,
            'variants': {'tensorrt': row}}


def _decide(tmp_path, report, **cfg):
    model = tmp_path / 'm.onnx'
    (tmp_path / 'm.int8.onnx').write_bytes(b'q')
    (tmp_path / 'm.int8.eval.json').write_text(json.dumps(report))
    return G.int8_gate(str(model), _cfg(backend='tensorrt', **cfg))


def test_agreement_decides_at_the_lower_end_of_its_interval(tmp_path):
    good = _report(top1_agreement=0.998, top1_agreement_interval=[0.992, 1.0])
    d = _decide(tmp_path, good)
    assert d.accepted and d.model_file == str(tmp_path / 'm.int8.onnx')
    # the same point value on fewer frames: the interval's worse end misses 99 %
    weak = _report(top1_agreement=0.998, top1_agreement_interval=[0.985, 1.0])
    d = _decide(tmp_path, weak)
    assert not d.accepted
    assert 'lower end < required 99.00% (int8_min_top1_agreement)' in d.reason
    assert _decide(tmp_path, weak, int8_min_top1_agreement=0.98).accepted


def test_with_labels_the_accuracy_drop_decides_not_agreement(tmp_path):
    row = {'labelled_frames': 500, 'top1_agreement': 0.95,
           'top1_agreement_interval': [0.93, 0.97], 'top1_drop': 0.2,
           'top1_drop_interval': [-0.3, 0.45]}
    assert _decide(tmp_path, _report(labels='gt.json', **row)).accepted
    wide = dict(row, top1_drop_interval=[-0.3, 0.9])
    d = _decide(tmp_path, _report(labels='gt.json', **wide))
    assert not d.accepted and 'top-1 accuracy drop vs FP32 0.20 points' in d.reason
    assert 'upper end > allowed 0.50 (int8_max_top1_drop)' in d.reason
    assert _decide(tmp_path, _report(labels='gt.json', **wide), int8_max_top1_drop=1.0).accepted
    # labelled frames, not all frames, are the evidence
    few = dict(row, labelled_frames=150)
    d = _decide(tmp_path, _report(labels='gt.json', **few))
    assert not d.accepted and '150 labelled evaluation frames < 200 required' in d.reason


def test_detection_needs_enough_boxes_and_the_map_drop_interval(tmp_path):
    row = {'reference_boxes': 800, 'truth_boxes': 430, 'map_drop': 0.2,
           'map_drop_interval': [-0.5, 0.8]}
    d = _decide(tmp_path, _report('detection', frames=64, labels='coco.json', **row),
                task='detection')
    assert not d.accepted and '430 ground-truth boxes < 500 required' in d.reason
    d = _decide(tmp_path, _report('detection', frames=64, labels='coco.json', **row),
                task='detection', int8_min_eval_boxes=400)
    assert d.accepted
    # without ground truth the FP32 boxes are the evidence and the truth
    d = _decide(tmp_path, _report('detection', frames=64, **row), task='detection')
    assert d.accepted and 'map_drop_interval [-0.5, 0.8]' in d.reason
    high = dict(row, map_drop_interval=[0.1, 2.5])
    d = _decide(tmp_path, _report('detection', frames=64, **high), task='detection')
    assert not d.accepted and 'mAP@[.5:.95] drop vs FP32 (FP32 detections as truth)' in d.reason


def test_weak_or_old_evidence_is_refused_whatever_its_numbers(tmp_path):
    perfect = {'top1_agreement': 1.0, 'top1_agreement_interval': [0.995, 1.0]}
    d = _decide(tmp_path, _report(frames=2, **perfect))
    assert not d.accepted
    assert 'too little evidence: 2 evaluation frames < 200 required (int8_min_eval_frames)' \
        in d.reason
    d = _decide(tmp_path, _report(overlap=20, frames=500, **perfect))
    assert not d.accepted and '20 of the 500 evaluation frames were calibration frames' \
        in d.reason
    d = _decide(tmp_path, _report(overlap=None, **perfect))
    assert not d.accepted and 'could not check its frames' in d.reason
    old = dict(_report(**perfect), report_version=1)
    d = _decide(tmp_path, old)
    assert not d.accepted and 'report version 1 predates the evidence checks' in d.reason
    d = _decide(tmp_path, _report(top1_agreement=1.0))
    assert not d.accepted and 'no top-1 agreement interval' in d.reason
    (tmp_path / 'm.int8.eval.json').write_text('{broken')
    assert 'unreadable' in G.int8_gate(str(tmp_path / 'm.onnx'), _cfg()).reason


def test_permissive_thresholds_still_need_fresh_non_overlapping_evidence(tmp_path):
    weak = _report(frames=2, top1_agreement=0.5, top1_agreement_interval=[0.09, 0.91])
    assert _decide(tmp_path, weak, **G.PERMISSIVE).accepted
    assert not _decide(tmp_path, dict(weak, calibration_overlap=2), **G.PERMISSIVE).accepted


def test_tensorrt_absent_means_auto_falls_back_to_fp32(tmp_path):
    d = G.int8_gate(str(tmp_path / 'm.onnx'), _cfg(backend='auto'))
    assert d.fallback_precision == 'fp32'   # no TensorRT on this machine
