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


def test_thresholds_decide(tmp_path):
    model = tmp_path / 'm.onnx'
    art = tmp_path / 'm.int8.onnx'
    art.write_bytes(b'q')
    report = tmp_path / 'm.int8.eval.json'
    report.write_text(json.dumps({'top1_agreement': 0.985}))
    d = G.int8_gate(str(model), _cfg())
    assert not d.accepted and '98.50%' in d.reason and '99.00%' in d.reason
    report.write_text(json.dumps({'top1_agreement': 0.995}))
    d = G.int8_gate(str(model), _cfg())
    assert d.accepted and d.model_file == str(art)
    report.write_text(json.dumps({'map_drop': 2.5}))
    d = G.int8_gate(str(model), _cfg(task='detection'))
    assert not d.accepted and 'mAP' in d.reason
    d = G.int8_gate(str(model), _cfg(task='detection', int8_max_map_drop=3.0))
    assert d.accepted
    report.write_text('{broken')
    assert 'unreadable' in G.int8_gate(str(model), _cfg()).reason


def test_tensorrt_absent_means_auto_falls_back_to_fp32(tmp_path):
    d = G.int8_gate(str(tmp_path / 'm.onnx'), _cfg(backend='auto'))
    assert d.fallback_precision == 'fp32'   # no TensorRT on this machine
