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
What configure knows about a detector before its first frame, and what it refuses.

Its layout, its real output shapes, its class names; and the wrong-task model that used
to slip through.
"""

from __future__ import annotations

import numpy as np
import pytest

from jetson_infer_ros.config import load_config
from jetson_infer_ros.model_spec import build_model_spec, ModelSpecError
from jetson_infer_ros.pipeline import InferencePipeline
from jetson_infer_ros.postprocess.decoders import DecoderShapeError
from jetson_infer_ros.testing import synthetic_onnx

ANCHORS = 24 * 40 + 12 * 20 + 6 * 10     # strides 8, 16, 32 at 192x320


def _edit(path, outputs=None, metadata=None):
    """Rewrite declared output dims (None: symbolic) and add metadata_props."""
    import onnx
    model = onnx.load(path)
    for out in model.graph.output:
        dims = (outputs or {}).get(out.name)
        if dims is None:
            continue
        for dim, value in zip(out.type.tensor_type.shape.dim, dims):
            if value is None:
                dim.dim_param = f'd{id(dim) % 1000}'
            else:
                dim.dim_value = value
    for key, value in (metadata or {}).items():
        model.metadata_props.add(key=key, value=value)
    onnx.save(model, path)
    return path


def yolov8(tmp_path, classes=80, name='v8.onnx'):
    table = np.zeros((1, 4 + classes, ANCHORS), np.float32)
    return synthetic_onnx.shifted_heads(str(tmp_path / name), (1, 3, 192, 320),
                                        {'output0': (table, None)})


def end2end(tmp_path, name='e2e.onnx'):
    table = np.zeros((1, 300, 6), np.float32)
    return synthetic_onnx.shifted_heads(str(tmp_path / name), (1, 3, 192, 320),
                                        {'output0': (table, None)})


def test_auto_chooses_and_records_why(tmp_path):
    spec = build_model_spec(yolov8(tmp_path), 'detection')
    assert spec.decoder == 'yolov8' and spec.num_classes == 80
    assert spec.decoder_reason.startswith(
        "decoder auto: yolov8, from 'output0' (-1, 84, 1260): channels first, 4 box + 80 "
        'classes over 1260 anchors = strides 8/16/32 at 320x192')
    assert build_model_spec(end2end(tmp_path), 'detection', 'auto').decoder == 'end2end'


def test_dynamic_output_dimensions_are_resolved_by_one_probe_run(tmp_path):
    path = _edit(yolov8(tmp_path), {'output0': (None, None, None)})
    spec = build_model_spec(path, 'detection', 'auto')
    assert spec.outputs[0].shape == (-1, -1, -1)             # as declared
    assert dict(spec.output_shapes) == {'output0': (-1, 84, ANCHORS)}   # as it runs
    assert spec.decoder == 'yolov8' and spec.num_classes == 80
    # A classifier whose logits are declared dynamic still fits no detector.
    cls = synthetic_onnx.classifier(str(tmp_path / 'c.onnx'), (1, 3, 32, 48),
                                    weights=np.ones((3, 1000), np.float32))
    cls = _edit(cls, {'scores': (None, None)})
    for decoder in ('auto', 'nanodet', 'yolov5', 'yolov8', 'end2end'):
        with pytest.raises(DecoderShapeError, match=r"'scores' (has shape )?\(-1, 1000\)"):
            build_model_spec(cls, 'detection', decoder)


def test_a_dynamic_size_export_runs_at_the_configured_size(tmp_path):
    """Ultralytics dynamic=True: batch, height, width and the anchor count symbolic."""
    import onnx
    path = yolov8(tmp_path)
    model = onnx.load(path)
    for dim, name in zip(model.graph.input[0].type.tensor_type.shape.dim, 'NCHW'):
        if name in 'HW':
            dim.dim_param = name
    onnx.save(model, path)
    _edit(path, {'output0': (None, None, None)})
    cfg = load_config(None, model_path=path, task='detection', backend='onnxruntime',
                      input_width=320, input_height=192, resize_mode='letterbox')
    pipe = InferencePipeline(cfg)
    pipe.load()
    try:
        assert pipe.spec.decoder == 'yolov8' and pipe.spec.input_hw == (192, 320)
        assert dict(pipe.spec.output_shapes)['output0'] == (-1, 84, ANCHORS)
        from jetson_infer_ros.image_convert import Picture
        (result,) = pipe.run([Picture(np.zeros((96, 160, 3), np.uint8), 'rgb')])
        assert len(result.scores) == 0
    finally:
        pipe.release()
    with pytest.raises(ModelSpecError, match='dynamic size; give input_size'):
        build_model_spec(path, 'detection')


def test_class_names_stored_by_the_exporter_are_the_labels_and_are_checked(tmp_path):
    names = {'names': str({i: f'class{i}' for i in range(80)}), 'author': 'Ultralytics'}
    path = _edit(end2end(tmp_path), metadata=names)
    spec = build_model_spec(path, 'detection')
    assert spec.labels[:2] == ('class0', 'class1') and spec.num_classes == 80
    assert 'labels: the 80 class names stored in the model' in spec.decoder_reason
    labels = tmp_path / 'l.txt'
    labels.write_text('\n'.join(f'c{i}' for i in range(79)) + '\n')
    # End-to-end rows carry class ids as values: the stored names are the only count.
    with pytest.raises(ModelSpecError, match=f'labels file {labels} has 79 names but the '
                                             'model was exported with 80 classes'):
        build_model_spec(path, 'detection', labels=str(labels))
    labels.write_text('\n'.join(f'c{i}' for i in range(80)) + '\n')
    assert build_model_spec(path, 'detection', labels=str(labels)).labels[0] == 'c0'


def test_decoder_settings_are_translated_and_refused_for_the_wrong_decoder(tmp_path):
    path = yolov8(tmp_path)
    spec = build_model_spec(path, 'detection', decoder_settings={
        'yolo_channels': 'first', 'multi_label': True, 'pre_nms_top_k': 50})
    assert spec.decoder_options == {'transposed': False, 'multi_label': True,
                                    'pre_nms_top_k': 50}
    with pytest.raises(ModelSpecError, match='box_order is set but decoder yolov8'):
        build_model_spec(path, 'detection', 'yolov8', decoder_settings={'box_order': 'yxyx'})
    with pytest.raises(DecoderShapeError, match='not a candidate'):
        build_model_spec(path, 'detection', decoder_settings={'box_order': 'yxyx'})


def _wrong_task_cfg(model, decoder):
    return load_config(None, model_path=str(model), task='detection', decoder=decoder,
                       backend='onnxruntime', resize_mode='letterbox')


@pytest.mark.models
@pytest.mark.parametrize('decoder', ['nanodet', 'yolov8', 'yolov5', 'end2end', 'ssd', 'auto'])
def test_a_classifier_given_by_path_with_task_detection_fails_configure(prepared_model,
                                                                        decoder):
    """Issue 25 item 4: EfficientNet's model.onnx by path used to pass configure."""
    path, _meta = prepared_model('efficientnet_lite0')
    pipe = InferencePipeline(_wrong_task_cfg(path, decoder))
    with pytest.raises(ValueError) as err:
        pipe.load()
    text = str(err.value)
    assert "'logits'" in text and '1000' in text and '\n' not in text
    assert pipe.backend is None


def test_ultralytics_rtdetr_rows_are_centre_and_size_in_0_1(tmp_path):
    """
    Read Ultralytics RT-DETR's [1, 300, 6] rows as cx, cy, w, h in 0..1, from its metadata.

    The shape is every end-to-end export's, but RTDETRPredictor converts the rows with
    xywh2xyxy, times the frame's width and height. Read as corners in pixels every box
    had no area: every frame was answered with nothing. The metadata (head
    RTDETRDecoder) tells them apart.
    """
    from jetson_infer_ros.image_convert import Picture
    rows = np.zeros((1, 300, 6), np.float32)
    rows[0, :3] = [[0.25, 0.5, 0.2, 0.3, 0.9, 2], [0.7, 0.4, 0.1, 0.2, 0.6, 0],
                   [0.5, 0.5, 0.5, 0.5, 0.1, 1]]
    path = synthetic_onnx.shifted_heads(str(tmp_path / 'rtdetr-l.onnx'), (1, 3, 192, 320),
                                        {'output0': (rows, None)}, dynamic_batch=False)
    _edit(path, metadata={'author': 'Ultralytics', 'head': 'RTDETRDecoder',
                          'description': 'Ultralytics rtdetr-l model', 'end2end': 'False',
                          'names': str({i: f'c{i}' for i in range(80)})})
    cfg = load_config(None, model_path=path, task='detection', backend='onnxruntime',
                      resize_mode='stretch', mean=[0.0] * 3, std=[255.0] * 3,
                      score_threshold=0.25)
    lines = []
    pipe = InferencePipeline(cfg, log=lines.append)
    pipe.load()
    try:
        assert pipe.spec.decoder == 'end2end'
        assert any("'output0' (1, 300, 6): 300 final rows of cx, cy, w, h (0..1 of the input), "
                   'score, class; no NMS (Ultralytics rtdetr-l model, RTDETRDecoder head)'
                   in ln for ln in lines), lines
        (result,) = pipe.run([Picture(np.zeros((240, 200, 3), np.uint8), 'rgb')])
    finally:
        pipe.release()
    q = rows[0, :2].astype(np.float64)
    expected = np.stack([q[:, 0] - q[:, 2] / 2, q[:, 1] - q[:, 3] / 2,
                         q[:, 0] + q[:, 2] / 2, q[:, 1] + q[:, 3] / 2], 1) * [200, 240, 200, 240]
    np.testing.assert_allclose(result.boxes, expected, atol=1e-3)
    assert result.class_ids.tolist() == [2, 0]
    np.testing.assert_allclose(result.scores, [0.9, 0.6], rtol=1e-6)
