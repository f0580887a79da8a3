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
RT-DETR-style exports: image + orig_target_sizes in, labels / boxes / scores out.

The model here is RT-DETR's postprocessor in miniature: fixed normalised boxes (cx, cy,
w, h), shifted by the image mean, converted to corners and multiplied by
``orig_target_sizes`` (width, height), with their scores and class ids. Refused with
the way out; frozen to the network size it is an ordinary single-input end-to-end model.
"""

from __future__ import annotations

import numpy as np
import pytest

from jetson_infer_ros.cli.main import main as cli
from jetson_infer_ros.config import load_config
from jetson_infer_ros.image_convert import Picture
from jetson_infer_ros.model_spec import build_model_spec, ModelSpecError
from jetson_infer_ros.pipeline import InferencePipeline
from jetson_infer_ros.testing import synthetic_onnx

H, W = 96, 128
# cx, cy, w, h normalised; score; class
QUERIES = np.array([[0.25, 0.5, 0.2, 0.3, 0.9, 2], [0.7, 0.4, 0.1, 0.2, 0.6, 0],
                    [0.5, 0.5, 0.5, 0.5, 0.1, 1]], np.float32)


def rtdetr_like(path):
    return synthetic_onnx.rtdetr_like(str(path), QUERIES, H, W)


def test_two_inputs_are_refused_with_the_freeze_command(tmp_path):
    path = rtdetr_like(tmp_path / 'rtdetr.onnx')
    with pytest.raises(ModelSpecError) as err:
        build_model_spec(path, 'detection')
    text = str(err.value)
    assert "'orig_target_sizes' (1, 2) looks like the original-size input" in text
    assert f'`jetson-infer freeze-input rtdetr.onnx --input orig_target_sizes={W},{H}` and ' \
        'set model_path to the rtdetr.frozen.onnx it writes' in text


def test_frozen_to_the_network_size_it_decodes_in_source_pixels(tmp_path, capsys):
    path = rtdetr_like(tmp_path / 'rtdetr.onnx')
    frozen = tmp_path / 'rtdetr.frozen.onnx'
    assert cli(['freeze-input', path, '--input', f'orig_target_sizes={W},{H}']) == 0
    assert "input 'orig_target_sizes' [1, 2] int64 fixed to [[128, 96]]" in capsys.readouterr().out
    lines = []
    cfg = load_config(None, model_path=str(frozen), task='detection', backend='onnxruntime',
                      resize_mode='letterbox', mean=[0.0] * 3, std=[1.0] * 3, pad_value=0.0,
                      score_threshold=0.3)
    pipe = InferencePipeline(cfg, log=lines.append)
    pipe.load()
    try:
        assert pipe.spec.decoder == 'end2end'
        assert any('decoder auto: end2end' in ln for ln in lines)
        # A 256x192 black frame: scale 0.5, no padding; boxes double in source pixels.
        (result,) = pipe.run([Picture(np.zeros((192, 256, 3), np.uint8), 'rgb')])
        q = QUERIES[:2].astype(np.float64)
        expected = np.stack([(q[:, 0] - q[:, 2] / 2) * W, (q[:, 1] - q[:, 3] / 2) * H,
                             (q[:, 0] + q[:, 2] / 2) * W, (q[:, 1] + q[:, 3] / 2) * H], 1) * 2
        np.testing.assert_allclose(result.boxes, expected, atol=1e-3)
        assert result.class_ids.tolist() == [2, 0]
        np.testing.assert_allclose(result.scores, [0.9, 0.6], rtol=1e-6)
    finally:
        pipe.release()


def test_freeze_errors(tmp_path):
    path = rtdetr_like(tmp_path / 'rtdetr.onnx')
    with pytest.raises(ValueError, match="no input 'size'"):
        from jetson_infer_ros.onnx_freeze import freeze_input
        freeze_input(path, tmp_path / 'x.onnx', 'size', [1, 2])
    with pytest.raises(ValueError, match='2 values needed, 3 given'):
        freeze_input(path, tmp_path / 'x.onnx', 'orig_target_sizes', [1, 2, 3])
