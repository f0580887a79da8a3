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
ModelSpec: read what the ONNX declares, check what the user says against it.

Every model here has an unusual size (never 224 or 416) so a hard-coded default would
show, and every mistake a user can make (wrong label file, wrong decoder, wrong layout,
a file that is not a model) must be one clear ValueError.
"""

from __future__ import annotations

import dataclasses
import math
import sys

import numpy as np
import pytest

from jetson_infer_ros.backends.base import TensorSpec
from jetson_infer_ros.model_spec import (
    build_model_spec, inspect_onnx, ModelSpec, ModelSpecError, read_labels)
from jetson_infer_ros.postprocess.decoders import (
    DecoderShapeError, detect, postprocessor_for_spec)
from jetson_infer_ros.testing import synthetic_onnx

WEIGHTS = np.ones((3, 4), np.float32)
LABELS4 = ('cat', 'dog', 'bird', 'fish')


@pytest.fixture
def classifier(tmp_path):
    return synthetic_onnx.classifier(tmp_path / 'cls.onnx', (1, 3, 200, 150), WEIGHTS)


def one_line_error(exc_info, *fragments):
    message = str(exc_info.value)
    assert '\n' not in message
    assert isinstance(exc_info.value, ValueError)
    for fragment in fragments:
        assert fragment in message, message


# -- inspect_onnx -----------------------------------------------------------------------
def test_inspect_reads_inputs_and_outputs(tmp_path, classifier):
    inputs, outputs = inspect_onnx(classifier)
    assert inputs == [TensorSpec('x', (1, 3, 200, 150), np.dtype(np.float32))]
    assert outputs == [TensorSpec('scores', (1, 4), np.dtype(np.float32))]
    dyn = synthetic_onnx.classifier(tmp_path / 'dyn.onnx', (1, 3, -1, -1), WEIGHTS,
                                    dynamic_batch=True, dtype=np.float16)
    inputs, outputs = inspect_onnx(dyn)
    assert inputs[0].shape == (-1, 3, -1, -1) and inputs[0].dtype == np.float16
    assert outputs[0].shape == (-1, 4)


def test_inspect_skips_initializers_listed_as_inputs(tmp_path, classifier):
    import onnx
    model = onnx.load(classifier)
    for init in model.graph.initializer:   # old exporters list weights as graph inputs
        model.graph.input.append(onnx.helper.make_tensor_value_info(
            init.name, init.data_type, list(init.dims)))
    onnx.save(model, str(tmp_path / 'old.onnx'))
    inputs, _ = inspect_onnx(tmp_path / 'old.onnx')
    assert [i.name for i in inputs] == ['x']


def test_inspect_rejects_what_is_not_a_model(tmp_path, classifier):
    data = open(classifier, 'rb').read()
    cases = {
        'missing.onnx': None,
        'text.onnx': b'name: not a model\n' * 30,
        'truncated.onnx': data[:len(data) // 3],
        'empty.onnx': b'',
        'model.txt': data,
    }
    expected = {'missing.onnx': 'not found', 'text.onnx': 'ONNX', 'truncated.onnx': 'ONNX',
                'empty.onnx': 'empty', 'model.txt': '.onnx'}
    for name, content in cases.items():
        if content is not None:
            (tmp_path / name).write_bytes(content)
        with pytest.raises(ModelSpecError) as exc:
            inspect_onnx(tmp_path / name)
        one_line_error(exc, expected[name], name)
    with pytest.raises(ModelSpecError, match='not a file'):
        inspect_onnx(tmp_path)


def test_inspect_without_the_onnx_package_uses_onnxruntime(tmp_path, classifier, monkeypatch):
    """On a robot only onnxruntime may be installed: inspection must still work."""
    expected = inspect_onnx(classifier)
    monkeypatch.setitem(sys.modules, 'onnx', None)   # makes `import onnx` fail
    assert inspect_onnx(classifier) == expected
    (tmp_path / 'bad.onnx').write_text('not a model')
    with pytest.raises(ModelSpecError) as exc:
        inspect_onnx(tmp_path / 'bad.onnx')
    one_line_error(exc, 'not a readable ONNX model', 'bad.onnx')


# -- classification ------------------------------------------------------------------------
def test_classifier_spec_comes_from_the_model(classifier):
    spec = build_model_spec(classifier, 'classification', labels=LABELS4,
                            mean=(127, 127, 127), std=(128, 128, 128))
    assert (spec.preprocess.width, spec.preprocess.height) == (150, 200)
    assert spec.input_hw == (200, 150)
    assert spec.layout == spec.preprocess.layout == 'NCHW'
    assert spec.preprocess.resize == 'center_crop'
    assert spec.preprocess.dtype == 'float32'
    assert spec.input_name == 'x' and spec.input_shape == (1, 3, 200, 150)
    assert not spec.batch_dynamic
    assert spec.decoder == 'softmax' and spec.num_classes == 4
    assert spec.labels == LABELS4 and spec.label(1) == 'dog' and spec.label(9) == '9'


def test_label_count_must_match_the_classifier(classifier, tmp_path):
    with pytest.raises(ModelSpecError) as exc:
        build_model_spec(classifier, 'classification', labels=LABELS4 + ('extra',))
    one_line_error(exc, '5 labels', "'scores'", '4 classes')
    path = tmp_path / 'labels.txt'
    path.write_text('\n'.join(LABELS4) + '\n\n')
    assert build_model_spec(classifier, 'classification', labels=str(path)).labels == LABELS4
    with pytest.raises(ModelSpecError, match='cannot read labels'):
        read_labels(str(tmp_path / 'none.txt'))


def test_nhwc_fp16_and_4d_classifier_outputs(tmp_path):
    path = synthetic_onnx.classifier(tmp_path / 'nhwc.onnx', (1, 40, 72, 3), WEIGHTS,
                                     layout='NHWC', output_4d=True)
    spec = build_model_spec(path, 'classification', labels=LABELS4)
    assert spec.layout == 'NHWC' and spec.input_hw == (40, 72) and spec.num_classes == 4
    with pytest.raises(ModelSpecError, match='NCHW means 40 channels'):
        build_model_spec(path, 'classification', layout='NCHW')
    half = synthetic_onnx.classifier(tmp_path / 'half.onnx', (1, 3, 33, 65), WEIGHTS,
                                     dtype=np.float16)
    assert build_model_spec(half, 'classification').preprocess.dtype == 'float16'


def test_dynamic_size_needs_input_size(tmp_path, classifier):
    path = synthetic_onnx.classifier(tmp_path / 'dyn.onnx', (1, 3, -1, -1), WEIGHTS,
                                     dynamic_batch=True)
    with pytest.raises(ModelSpecError, match='dynamic size; give input_size'):
        build_model_spec(path, 'classification')
    spec = build_model_spec(path, 'classification', input_size=(64, 48))
    assert (spec.preprocess.width, spec.preprocess.height) == (64, 48)
    assert spec.batch_dynamic and spec.input_shape == (-1, 3, -1, -1)
    assert build_model_spec(path, 'classification', input_size=96).input_hw == (96, 96)
    with pytest.raises(ModelSpecError, match='differs from the model input'):
        build_model_spec(classifier, 'classification', input_size=(224, 224))
    assert build_model_spec(classifier, 'classification', input_size=(150, 200)).input_hw == \
        (200, 150)
    assert build_model_spec(classifier, 'classification', input_size=(0, 0)).input_hw == \
        (200, 150)
    with pytest.raises(ModelSpecError, match='input_size'):
        build_model_spec(classifier, 'classification', input_size=(1, 2, 3))


@pytest.mark.parametrize('kwargs, message', [
    ({'task': 'segmentation'}, 'task must be one of'),
    ({'task': 'classification', 'decoder': 'nanodet'}, "decoder 'nanodet' does not fit"),
    ({'task': 'detection'}, r"decoder auto: no detection decoder fits outputs 'scores' \(1, 4\)"),
    ({'task': 'classification', 'decoder_options': {'temperature': 2}}, 'temperature'),
    ({'task': 'classification', 'color': 'grey'}, 'color'),
    ({'task': 'classification', 'score_threshold': 2.0}, 'score_threshold'),
    ({'task': 'classification', 'top_k': 0}, 'top_k'),
])
def test_bad_arguments_are_value_errors(classifier, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_model_spec(classifier, **kwargs)


def test_spec_is_frozen_and_hashable(classifier):
    a = build_model_spec(classifier, 'classification', labels=LABELS4)
    b = build_model_spec(classifier, 'classification', labels=LABELS4)
    assert a == b and hash(a) == hash(b)
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.top_k = 3
    c = dataclasses.replace(a, top_k=3)
    assert c.top_k == 3 and c != a
    with pytest.raises(ModelSpecError, match='5 labels'):
        dataclasses.replace(a, labels=LABELS4 + ('x',))


# -- detection -------------------------------------------------------------------------------
def yolov8_model(tmp_path, classes=80, anchors=1260, size=(1, 3, 192, 320)):
    # 1260 = 24 x 40 + 12 x 20 + 6 x 10: the cells of strides 8, 16, 32 at 192x320
    table = np.zeros((1, 4 + classes, anchors), np.float32)
    return synthetic_onnx.shifted_heads(tmp_path / 'v8.onnx', size,
                                        {'output0': (table, None)}, dynamic_batch=False)


def test_detector_spec_checks_labels_against_class_channels(tmp_path):
    path = yolov8_model(tmp_path)
    coco = tuple(f'c{i}' for i in range(80))
    spec = build_model_spec(path, 'detection', 'yolov8', labels=coco)
    assert spec.num_classes == 80 and spec.preprocess.resize == 'letterbox'
    assert spec.input_hw == (192, 320)
    assert build_model_spec(path, 'detection', 'yolo11').decoder == 'yolov8'
    assert build_model_spec(path, 'detection', 'yolov8').num_classes == 80
    with pytest.raises(DecoderShapeError) as exc:
        build_model_spec(path, 'detection', 'yolov8', labels=coco[:79])
    one_line_error(exc, "'output0'", '(1, 84, 1260)', '83')
    with pytest.raises(ValueError) as exc:
        build_model_spec(path, 'detection', 'yolov5', labels=coco)
    one_line_error(exc, "'output0'", '(1, 84, 1260)', '85')


def nanodet_tfjs_like(tmp_path, size=320, classes=80, bins=11):
    heads = {}
    for i, stride in enumerate((8, 16, 32)):
        cells = math.ceil(size / stride) ** 2
        heads[f'Identity_{2 * i}'] = (np.zeros((1, cells, 4 * bins), np.float32), None)
        heads[f'Identity_{2 * i + 1}'] = (np.zeros((1, cells, classes), np.float32), None)
    return synthetic_onnx.shifted_heads(tmp_path / 'nanodet.onnx', (1, 3, size, size), heads,
                                        dynamic_batch=False)


def test_nanodet_spec_binds_by_shape_and_detect_uses_it(tmp_path):
    coco = tuple(f'c{i}' for i in range(80))
    path = nanodet_tfjs_like(tmp_path)
    spec = build_model_spec(path, 'detection', 'nanodet', labels=coco, color='bgr',
                            mean=(103.53, 116.28, 123.675), std=(57.375, 57.12, 58.395),
                            score_threshold=0.4, max_detections=5,
                            decoder_options={'pre_nms_top_k': 50})
    assert spec.num_classes == 80 and spec.input_hw == (320, 320)
    assert spec.preprocess.color == 'bgr'
    # One strong cell on the stride-16 level: class 7 at cell (x=3, y=2).
    rng = np.random.default_rng(0)
    outputs = {o.name: rng.normal(0, 1, o.shape).astype(np.float32) for o in spec.outputs}
    cls16 = [o.name for o in spec.outputs if o.shape == (1, 400, 80)][0]
    box16 = [o.name for o in spec.outputs if o.shape == (1, 400, 44)][0]
    for o in spec.outputs:
        if o.shape[-1] == 80:
            outputs[o.name] = np.full(o.shape, 0.01, np.float32)
    outputs[cls16][0, 2 * 20 + 3, 7] = 0.9
    outputs[box16][0, 2 * 20 + 3] = -50.0
    for side in range(4):
        outputs[box16][0, 2 * 20 + 3, side * 11 + 2] = 50.0   # distance 2 bins = 32 px
    (result,) = detect(outputs, [None], spec)
    assert result.class_ids.tolist() == [7]
    cx, cy = (3 + 0.5) * 16, (2 + 0.5) * 16
    np.testing.assert_allclose(result.boxes[0], [cx - 32, cy - 32, cx + 32, cy + 32],
                               atol=1e-3)
    post = postprocessor_for_spec(spec)
    assert post.pre_nms_top_k == 50 and post.max_detections == 5
    assert post.score_threshold == pytest.approx(0.4)


def test_nanodet_spec_at_another_size_and_wrong_labels(tmp_path):
    path = nanodet_tfjs_like(tmp_path, size=256, classes=3)
    spec = build_model_spec(path, 'detection', 'nanodet', labels=('a', 'b', 'c'))
    assert spec.num_classes == 3
    with pytest.raises(ValueError, match='exactly one must have 4 class channels'):
        build_model_spec(path, 'detection', 'nanodet', labels=('a', 'b', 'c', 'd'))


def test_model_spec_validates_directly(classifier):
    spec = build_model_spec(classifier, 'classification')
    fields = {f.name: getattr(spec, f.name) for f in dataclasses.fields(ModelSpec)}
    with pytest.raises(ModelSpecError, match="layout must be 'NCHW' or 'NHWC'"):
        ModelSpec(**dict(fields, layout='CHW'))
    with pytest.raises(ModelSpecError, match='nms_iou_threshold'):
        ModelSpec(**dict(fields, nms_iou_threshold=-0.5))


def test_classify_follows_the_spec(classifier):
    from jetson_infer_ros.backends.base import BackendOptions
    from jetson_infer_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
    from jetson_infer_ros.postprocess.classify import classify
    weights = np.array([[1.0, 0.0, 2.0, -1.0]] * 3, np.float32)
    spec = build_model_spec(classifier, 'classification', labels=LABELS4, top_k=2)
    backend = OnnxRuntimeBackend(spec.model_path, BackendOptions())
    backend.load()
    backend.input_buffer()[...] = 0.5
    outputs = backend.infer()
    logits = synthetic_onnx.reference_classifier(np.full((1, 3, 200, 150), 0.5), WEIGHTS)
    (row,) = classify(outputs, spec)
    assert len(row) == 2 and row[0].score == pytest.approx(0.25, rel=1e-5)  # equal logits
    raw = dataclasses.replace(spec, decoder_options={'apply_softmax': False})
    (row,) = classify(outputs, raw)
    assert row[0].score == pytest.approx(float(logits[0, 0]), rel=1e-5)
    (row,) = classify({'other': np.zeros((1, 2, 3)), 'scores': weights[:1]}, spec)
    assert [c.class_id for c in row] == [2, 0]
    with pytest.raises(ValueError, match='no classification output'):
        classify({'other': np.zeros((1, 2, 3))}, spec)
    backend.release()
