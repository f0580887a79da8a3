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
One value that says how to run a model correctly, checked against the model itself.

Wrong preprocessing or a wrong label file does not crash: it silently gives bad answers.
So whatever can be read from the ONNX file (input name, layout, size, dtype, dynamic
batch, output shapes, class count) is read from it, never assumed (no built-in 224, 416
or 8400), and what the user supplies (labels, decoder, layout) is checked against it
once, at configure time, with a ``ModelSpecError`` that names the mismatch. The node,
the CLI, the evaluator and the benchmarks all build their pipelines from a ``ModelSpec``.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any, cast, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from jetson_infer_ros import decoder_params
from jetson_infer_ros.backends.base import TensorSpec
from jetson_infer_ros.postprocess.decoders import (
    canonical_decoder, DETECTION_DECODERS, make_decoder, POSTPROCESS_OPTIONS)
from jetson_infer_ros.preprocess import PreprocessSpec

TASKS = ('classification', 'detection')
DECODERS = ('softmax',) + DETECTION_DECODERS
CLASSIFY_OPTIONS = ('apply_softmax',)
#: input names of the second input of RT-DETR-style exports (the original image size)
SIZE_INPUT_NAMES = ('orig_target_sizes', 'orig_size', 'im_shape', 'image_size', 'scale_factor')

Labels = Union[str, Sequence[str], None]


class ModelSpecError(ValueError):
    """The model file, or what was said about it, cannot be used as given."""


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """
    Everything needed to run one model: input tensor, preprocessing, decoding, labels.

    ``input_shape`` is the model's declared shape (-1 for dynamic dimensions);
    ``preprocess`` holds the concrete size used. ``outputs`` are the model's outputs as
    declared. ``decoder_options`` is excluded from the hash (dicts are unhashable), not
    from equality.
    """

    model_path: str
    input_name: str
    input_shape: Tuple[int, ...]
    layout: str
    batch_dynamic: bool
    preprocess: PreprocessSpec
    task: str
    decoder: str
    decoder_options: Dict[str, Any] = dataclasses.field(default_factory=dict, hash=False)
    labels: Tuple[str, ...] = ()
    score_threshold: float = 0.35
    nms_iou_threshold: float = 0.5
    max_detections: int = 100
    top_k: int = 5
    outputs: Tuple[TensorSpec, ...] = ()
    num_classes: Optional[int] = None
    #: how the decoder was chosen (decoder auto) and where the labels came from; for the log
    decoder_reason: str = dataclasses.field(default='', compare=False)
    #: output shapes with dynamic dimensions resolved by one probe run (else the declared)
    output_shapes: Tuple[Tuple[str, Tuple[int, ...]], ...] = dataclasses.field(
        default=(), compare=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.task not in TASKS:
            raise ModelSpecError(f'task must be one of {list(TASKS)}, got {self.task!r}')
        allowed = ('softmax',) if self.task == 'classification' else DETECTION_DECODERS
        if self.decoder not in allowed:
            raise ModelSpecError(
                f'decoder {self.decoder!r} does not fit task {self.task!r}; choose one of '
                f'{list(allowed)}')
        if self.layout not in ('NCHW', 'NHWC'):
            raise ModelSpecError(f"layout must be 'NCHW' or 'NHWC', got {self.layout!r}")
        set_(self, 'input_shape', tuple(int(d) for d in self.input_shape))
        set_(self, 'labels', tuple(str(name) for name in self.labels))
        set_(self, 'decoder_options', dict(self.decoder_options or {}))
        set_(self, 'outputs', tuple(self.outputs))
        for name in ('score_threshold', 'nms_iou_threshold'):
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ModelSpecError(f'{name} must be in [0, 1], got {value}')
            set_(self, name, value)
        for name in ('max_detections', 'top_k'):
            value = int(getattr(self, name))
            if value < 1:
                raise ModelSpecError(f'{name} must be >= 1, got {value}')
            set_(self, name, value)
        if self.labels and self.num_classes is not None and len(self.labels) != self.num_classes:
            raise ModelSpecError(
                f'{len(self.labels)} labels given but the model has {self.num_classes} classes')

    @property
    def input_hw(self) -> Tuple[int, int]:
        """Network input (height, width) in pixels."""
        return (self.preprocess.height, self.preprocess.width)

    def label(self, class_id: int) -> str:
        """Name ``class_id``: its label, or its number when there is no label for it."""
        if 0 <= class_id < len(self.labels):
            return self.labels[class_id]
        return str(class_id)


# -- reading the model -------------------------------------------------------------------
def _check_model_file(path: Any, engine: bool = False) -> str:
    if not path:
        raise ModelSpecError('no model path given')
    full = os.path.abspath(os.path.expanduser(str(path)))
    if not os.path.exists(full):
        raise ModelSpecError(f'model file not found: {full}')
    if not os.path.isfile(full):
        raise ModelSpecError(f'model path is not a file: {full}')
    if not engine and not full.lower().endswith('.onnx'):
        raise ModelSpecError(f'model file must be an .onnx file (or a TensorRT .engine/.plan '
                             f'with backend tensorrt), got {full}')
    if os.path.getsize(full) == 0:
        raise ModelSpecError(f'model file is empty: {full}')
    return full


def _one_line(exc: BaseException) -> str:
    text = (str(exc).strip() or type(exc).__name__).splitlines()[0]
    return text if len(text) <= 200 else text[:197] + '...'


def _onnx_np_dtype(onnx, elem_type: int) -> np.dtype:
    helper = getattr(onnx.helper, 'tensor_dtype_to_np_dtype', None)
    try:
        if helper is not None:
            return np.dtype(helper(elem_type))
        return np.dtype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[elem_type])
    except (KeyError, TypeError, ValueError):
        return np.dtype(np.void)


def _value_info_spec(onnx, value_info) -> TensorSpec:
    tensor_type = value_info.type.tensor_type
    dims = []
    for dim in tensor_type.shape.dim:
        dims.append(int(dim.dim_value) if dim.HasField('dim_value') and dim.dim_value > 0
                    else -1)
    return TensorSpec(value_info.name, tuple(dims), _onnx_np_dtype(onnx, tensor_type.elem_type))


_ORT_DTYPES = {'tensor(float)': np.float32, 'tensor(float16)': np.float16,
               'tensor(double)': np.float64, 'tensor(uint8)': np.uint8,
               'tensor(int8)': np.int8, 'tensor(int32)': np.int32, 'tensor(int64)': np.int64}


def _inspect_with_ort(path: str) -> Tuple[List[TensorSpec], List[TensorSpec]]:
    inputs, outputs, _meta = _inspect_with_ort_meta(path)
    return inputs, outputs


def _inspect_with_ort_meta(path: str
                           ) -> Tuple[List[TensorSpec], List[TensorSpec], Dict[str, str]]:
    try:
        import onnxruntime
    except ImportError:
        raise ModelSpecError(
            'reading a model needs the onnx or onnxruntime package; pip install onnx') from None
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(path, options,
                                               providers=['CPUExecutionProvider'])
    except Exception as exc:
        raise ModelSpecError(f'{path} is not a readable ONNX model: {_one_line(exc)}') from None

    def spec(meta):
        dims = tuple(d if isinstance(d, int) and d > 0 else -1 for d in (meta.shape or ()))
        return TensorSpec(meta.name, dims, np.dtype(_ORT_DTYPES.get(meta.type, np.void)))
    try:
        meta = dict(session.get_modelmeta().custom_metadata_map)
    except Exception:   # an ONNX Runtime without model metadata: it is only evidence
        meta = {}
    return ([spec(m) for m in session.get_inputs()], [spec(m) for m in session.get_outputs()],
            meta)


def _has_onnxruntime() -> bool:
    import importlib.util
    return importlib.util.find_spec('onnxruntime') is not None


def inspect_onnx(path: str) -> Tuple[List[TensorSpec], List[TensorSpec]]:
    """Read the graph inputs (initializers excluded) and outputs of an ONNX file."""
    inputs, outputs, _meta = inspect_onnx_metadata(path)
    return inputs, outputs


def inspect_onnx_metadata(path: str
                          ) -> Tuple[List[TensorSpec], List[TensorSpec], Dict[str, str]]:
    """
    Read the graph inputs (initializers excluded) and outputs of an ONNX file.

    With the ``onnx`` package already loaded (tools, the TensorRT builder), reads only the
    graph description (``load_external_data=False``), so a model with gigabytes of
    external weights inspects in milliseconds. Otherwise an unoptimised ONNX Runtime
    session answers: importing ``onnx`` into a node that never needs it again costs
    10.7 MB of resident memory for the rest of its life (docs/benchmarks), and a robot
    may not have it installed at all. The model's metadata (``metadata_props``: what an
    exporter says about itself, e.g. Ultralytics' class names) comes third.
    """
    full = _check_model_file(path)
    if 'onnx' not in sys.modules and _has_onnxruntime():
        return _inspect_with_ort_meta(full)
    try:
        import onnx
    except ImportError:
        return _inspect_with_ort_meta(full)
    try:
        model = onnx.load(full, load_external_data=False)
    except Exception as exc:   # DecodeError, or worse, for text and truncated files
        raise ModelSpecError(f'{full} is not a readable ONNX model: {_one_line(exc)}') from None
    graph = model.graph
    if not model.ir_version or not len(graph.node) or not len(graph.output):
        raise ModelSpecError(f'{full} is not an ONNX model (no graph in it)')
    initializers = {init.name for init in graph.initializer}
    inputs = [_value_info_spec(onnx, vi) for vi in graph.input if vi.name not in initializers]
    outputs = [_value_info_spec(onnx, vi) for vi in graph.output]
    if not inputs:
        raise ModelSpecError(f'{full} has no graph input')
    return inputs, outputs, {p.key: p.value for p in model.metadata_props}


# -- building a spec ---------------------------------------------------------------------
def read_labels(labels: Labels) -> Tuple[str, ...]:
    """Read labels from a sequence of names or a text file with one name per line."""
    if labels is None:
        return ()
    if isinstance(labels, (str, os.PathLike)):
        path = os.path.expanduser(str(labels))
        if not path:
            return ()
        try:
            with open(path, encoding='utf-8') as f:
                lines = [line.strip() for line in f.read().splitlines()]
        except OSError as exc:
            raise ModelSpecError(f'cannot read labels file {path}: {exc.strerror}') from None
        while lines and not lines[-1]:
            lines.pop()
        return tuple(lines)
    return tuple(str(name) for name in labels)


def _layout_of(shape: Tuple[int, ...], layout: Optional[str], name: str) -> str:
    if len(shape) != 4:
        raise ModelSpecError(
            f'input {name!r} has shape {shape}; expected 4 dimensions (N, C, H, W) or '
            '(N, H, W, C)')
    if layout is not None:
        layout = str(layout).upper()
        if layout not in ('NCHW', 'NHWC'):
            raise ModelSpecError(f"layout must be 'NCHW' or 'NHWC', got {layout!r}")
        channels = shape[1] if layout == 'NCHW' else shape[3]
        if channels not in (3, -1):
            raise ModelSpecError(
                f'input {name!r} has shape {shape}: {layout} means {channels} channels; '
                'expected 3')
        return layout
    first, last = shape[1] == 3, shape[3] == 3
    if first and not last:
        return 'NCHW'
    if last and not first:
        return 'NHWC'
    raise ModelSpecError(
        f'cannot tell the layout of input {name!r} {shape} (expected 3 colour channels '
        'first or last); give layout NCHW or NHWC')


def _input_size(input_size: Any) -> Optional[Tuple[int, int]]:
    """(width, height) from None, 0, an int (square) or a pair (width, height)."""
    if input_size is None:
        return None
    size: Tuple[int, ...]
    try:
        if isinstance(input_size, (int, np.integer)):
            size = (int(input_size), int(input_size))
        else:
            size = tuple(int(v) for v in input_size)
    except (TypeError, ValueError):
        size = ()
    if len(size) != 2:
        raise ModelSpecError(
            f'input_size must be an int or (width, height), got {input_size!r}')
    if size == (0, 0):
        return None   # the parameter's "unset" value
    if min(size) < 1:
        raise ModelSpecError(f'input_size must be positive, got {input_size!r}')
    return (size[0], size[1])


def _classifier_classes(outputs: Sequence[TensorSpec]) -> Tuple[TensorSpec, int]:
    for out in outputs:
        dims = out.shape
        if len(dims) == 1:
            classes = dims[0]
        elif len(dims) >= 2 and all(d == 1 for d in dims[2:]):
            classes = dims[1]
        else:
            continue
        return out, classes
    described = ', '.join(f'{o.name!r} {o.shape}' for o in outputs)
    raise ModelSpecError(
        f'no classifier output of shape (N, classes) or (N, classes, 1, 1); outputs: '
        f'{described}')


def build_model_spec(model_path: str, task: str, decoder: Optional[str] = None,
                     input_size: Any = None, layout: Optional[str] = None,
                     color: str = 'rgb', resize: Optional[str] = None,
                     crop_fraction: float = 0.875,
                     mean: Sequence[float] = (0.0, 0.0, 0.0),
                     std: Sequence[float] = (1.0, 1.0, 1.0), pad_value: float = 114.0,
                     interpolation: str = 'linear', labels: Labels = None,
                     decoder_options: Optional[Mapping[str, Any]] = None,
                     score_threshold: float = 0.35, nms_iou_threshold: float = 0.5,
                     max_detections: int = 100, top_k: int = 5,
                     io: Optional[Tuple[Sequence[TensorSpec], Sequence[TensorSpec]]] = None,
                     decoder_settings: Optional[Mapping[str, Any]] = None) -> ModelSpec:
    """
    Read the ONNX model, fill in what it declares, and check the rest against it.

    ``io`` gives the (inputs, outputs) instead, for a model that is not ONNX: a prebuilt
    TensorRT engine, whose loaded backend reports them.

    ``input_size`` (int or (width, height)) is needed only for a model with dynamic
    spatial dimensions; ``resize`` defaults to ``center_crop`` for classification and
    ``letterbox`` for detection; ``decoder`` None, '' or 'auto' means ``softmax`` for
    classification and, for detection, the one layout the output shapes fit
    (``postprocess.layout``; ``spec.decoder_reason`` says why). Labels are names or a
    one-per-line file; their count must equal the model's class count where the outputs
    (or, for end-to-end outputs, the exporter's metadata) declare it. Without labels, class
    names the exporter stored in the model are used. ``decoder_settings`` are the set
    decoder-option ROS parameters (``decoder_params``), translated for the chosen
    decoder; ``decoder_options`` are decoder options given directly.
    """
    task = str(task).strip().lower()
    if task not in TASKS:
        raise ModelSpecError(f'task must be one of {list(TASKS)}, got {task!r}')
    decoder = canonical_decoder(decoder or 'auto')
    if decoder == 'auto' and task == 'classification':
        decoder = 'softmax'
    if decoder not in ('auto',) + DECODERS:
        raise ModelSpecError(f'unknown decoder {decoder!r}; choose one of '
                             f"{['auto'] + list(DECODERS)}")
    metadata: Dict[str, str] = {}
    if io is None:
        inputs, outputs, metadata = inspect_onnx_metadata(model_path)
    else:
        inputs, outputs = list(io[0]), list(io[1])
    full = _check_model_file(model_path, engine=io is not None)
    if len(inputs) != 1:
        raise ModelSpecError(_inputs_error(full, inputs))
    inp = inputs[0]
    if inp.dtype == np.float32:
        dtype = 'float32'
    elif inp.dtype == np.float16:
        dtype = 'float16'
    else:
        raise ModelSpecError(
            f'input {inp.name!r} has dtype {inp.dtype}; float32 or float16 is supported')
    layout = _layout_of(inp.shape, layout, inp.name)
    height, width = (inp.shape[2], inp.shape[3]) if layout == 'NCHW' else \
        (inp.shape[1], inp.shape[2])
    wanted = _input_size(input_size)
    if height < 0 or width < 0:
        if wanted is None:
            raise ModelSpecError(
                f'input {inp.name!r} {inp.shape} has a dynamic size; give input_size')
        width, height = wanted
    elif wanted is not None and wanted != (width, height):
        raise ModelSpecError(
            f'input_size {wanted[0]}x{wanted[1]} differs from the model input '
            f'{inp.name!r} {inp.shape} ({width}x{height}); leave input_size unset')
    if resize is None:
        resize = 'center_crop' if task == 'classification' else 'letterbox'
    try:
        preprocess = PreprocessSpec(
            width=width, height=height, layout=layout, color=str(color).lower(),
            resize=resize, crop_fraction=crop_fraction, mean=cast(Any, tuple(mean)),
            std=cast(Any, tuple(std)),
            pad_value=pad_value, dtype=dtype, interpolation=interpolation)
    except ValueError as exc:
        raise ModelSpecError(str(exc)) from None
    names = read_labels(labels)
    labels_source = f'labels file {labels}' if isinstance(labels, str) and labels else 'labels'
    settings = dict(decoder_settings or {})
    options = dict(decoder_options or {})
    reason = ''
    if task == 'classification':
        try:
            options = dict(decoder_params.to_options('softmax', settings), **options)
        except ValueError as exc:
            raise ModelSpecError(str(exc)) from None
        unknown = sorted(set(options) - set(CLASSIFY_OPTIONS))
        if unknown:
            raise ModelSpecError(
                f'unknown softmax decoder option(s) {unknown}; known: {list(CLASSIFY_OPTIONS)}')
        out, declared = _classifier_classes(outputs)
        classes: Optional[int] = declared if declared >= 0 else None
        if classes is not None and names and len(names) != classes:
            raise ModelSpecError(
                f'{len(names)} labels given but classifier output {out.name!r} {out.shape} '
                f'has {classes} classes')
        shapes = _shape_items(outputs)
    else:
        shapes = _detector_shapes(full, inp, outputs, preprocess, dtype) if io is None else \
            _shape_items(outputs)    # an engine's loaded backend reports concrete shapes
        table = dict(shapes)
        given = len(names) or None
        from jetson_infer_ros.postprocess.layout import choose_decoder, exporter_options

        def options_for(name: str) -> Dict[str, Any]:
            return {**exporter_options(name, metadata),
                    **decoder_params.to_options(name, settings), **options}
        if decoder == 'auto':
            choice = choose_decoder(table, (height, width), given, options_for, metadata,
                                    labels_source=labels_source)
            decoder, reason = choice.decoder, choice.reason
        try:
            options = options_for(decoder)
        except ValueError as exc:
            raise ModelSpecError(str(exc)) from None
        decoder_only = {k: v for k, v in options.items() if k not in POSTPROCESS_OPTIONS}
        dec = make_decoder(decoder, (height, width), given, decoder_only)
        classes = dec.bind(table)   # DecoderShapeError (a ValueError) on any mismatch
        names, classes, note = _labels_against_metadata(
            names, classes if dec.classes_in_shapes else None, metadata, labels_source)
        reason = '; '.join(t for t in (reason, note) if t)
    return ModelSpec(
        model_path=full, input_name=inp.name, input_shape=inp.shape, layout=layout,
        batch_dynamic=inp.shape[0] < 0, preprocess=preprocess, task=task, decoder=decoder,
        decoder_options=options, labels=names, score_threshold=score_threshold,
        nms_iou_threshold=nms_iou_threshold, max_detections=max_detections, top_k=top_k,
        outputs=tuple(outputs), num_classes=classes, decoder_reason=reason,
        output_shapes=tuple(shapes))


def _shape_items(outputs: Sequence[TensorSpec]) -> List[Tuple[str, Tuple[int, ...]]]:
    return [(o.name, tuple(o.shape)) for o in outputs]


def _detector_shapes(full: str, inp: TensorSpec, outputs: Sequence[TensorSpec],
                     preprocess: PreprocessSpec, dtype: str
                     ) -> List[Tuple[str, Tuple[int, ...]]]:
    """Return the declared output shapes, or a probe run's where some are dynamic."""
    from jetson_infer_ros.model_outputs import needs_probe, probe_output_shapes
    if not needs_probe(outputs):
        return _shape_items(outputs)
    item = preprocess.input_shape
    try:
        probed = probe_output_shapes(full, inp.name, (1,) + tuple(item), dtype)
    except ValueError as exc:
        raise ModelSpecError(str(exc)) from None
    if probed is None:
        return _shape_items(outputs)
    return [(o.name, (o.shape[0],) + tuple(probed[o.name][1:])) for o in outputs]


def _labels_against_metadata(names: Tuple[str, ...], classes: Optional[int],
                             metadata: Mapping[str, str], labels_source: str
                             ) -> Tuple[Tuple[str, ...], Optional[int], str]:
    """
    Check labels against the class names the exporter stored; use those when none given.

    The output shapes carry the class count of most layouts; end-to-end rows carry class
    ids as values, so for them the exporter's own list of names is the only count there is.
    """
    from jetson_infer_ros.model_outputs import metadata_labels
    stored = metadata_labels(metadata)
    if not stored or (classes is not None and len(stored) != classes):
        return names, classes if classes is not None else (len(names) or None), ''
    if names and len(names) != len(stored):
        raise ModelSpecError(
            f'{labels_source} has {len(names)} names but the model was exported with '
            f'{len(stored)} classes (its metadata names them); fix the labels file')
    if names:
        return names, len(names), ''
    return stored, len(stored), f'labels: the {len(stored)} class names stored in the model'


def _inputs_error(full: str, inputs: Sequence[TensorSpec]) -> str:
    """Explain a model with more than one input; RT-DETR-style size inputs get a way out."""
    names = [i.name for i in inputs]
    text = (f'{full} has {len(inputs)} inputs {names}; one image input is supported')
    extra = [i for i in inputs[1:] if i.name in SIZE_INPUT_NAMES or
             (len(i.shape) == 2 and i.shape[-1] == 2)]
    if len(inputs) == 2 and extra:
        shape = inputs[0].shape
        size = (f'{shape[3]},{shape[2]}' if len(shape) == 4 and min(shape[2:]) > 0
                else '<width>,<height>')
        base = os.path.basename(full)
        frozen = base[:-5] + '.frozen.onnx' if base.endswith('.onnx') else base + '.frozen.onnx'
        text += (f'. {extra[0].name!r} {extra[0].shape} looks like the original-size input '
                 'of an RT-DETR-style export: fix it to the network input size (width, '
                 f"height: RT-DETR's order) with `jetson-infer freeze-input {base} "
                 f'--input {extra[0].name}={size}` and set model_path to the {frozen} it '
                 'writes; boxes then come out in network pixels and decoder auto reads '
                 'them as end2end')
    return text
