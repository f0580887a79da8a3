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
The one parameter table: every ROS parameter of the node, declared once.

Declaration (with ParameterDescriptors), validation (at configure and on every live
change), the shipped config/*.yaml and the README's parameter table are all derived from
PARAMETERS, and a test checks that they agree. Parameters marked ``runtime=True`` change
live (``ros2 param set``); the others shape the engine or the subscriptions, so they are
rejected while the node is configured and take effect at the next configure.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

BOOL = 'bool'
INT = 'int'
DOUBLE = 'double'
STRING = 'string'
DOUBLE_ARRAY = 'double_array'
STRING_ARRAY = 'string_array'
INT_ARRAY = 'integer_array'


@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter: what it is, what it may be, and whether it can change live."""

    name: str
    type: str  # noqa: A003 - the parameter type, as ROS names it
    default: Any
    description: str
    choices: Tuple[str, ...] = ()
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    runtime: bool = False
    length: Optional[int] = None       # fixed array length (mean/std)
    group: str = 'model'


PARAMETERS: Tuple[Param, ...] = (
    # --- model -------------------------------------------------------------------------
    Param('model_path', STRING, 'efficientnet_lite0',
          'ONNX model (or serialized TensorRT engine) path, or the name of a default model '
          'prepared by `jetson-infer models` (efficientnet_lite0, nanodet).'),
    Param('task', STRING, 'classification', 'What the model does.',
          choices=('classification', 'detection')),
    Param('decoder', STRING, 'auto',
          'Output decoder: softmax classifier, NanoDet, YOLOv5 [B,N,5+C], YOLOv8/YOLO11 '
          '[B,4+C,N], end2end [B,K,6] (YOLOv10/YOLO26 NMS-free, Ultralytics nms=True), '
          'SSD-style boxes+scores; auto: softmax for classification, for detection the one '
          'layout the output shapes fit (logged; none or several fail configure).',
          choices=('auto', 'softmax', 'nanodet', 'yolov5', 'yolov8', 'end2end', 'ssd')),
    Param('labels_file', STRING, '',
          "Class names, one per line; '' uses the default model's bundled labels."),
    Param('input_width', INT, 0, 'Network input width; 0 reads it from the ONNX.',
          min_value=0, max_value=8192),
    Param('input_height', INT, 0, 'Network input height; 0 reads it from the ONNX.',
          min_value=0, max_value=8192),
    Param('color_order', STRING, 'rgb', 'Channel order the network expects.',
          choices=('rgb', 'bgr')),
    Param('resize_mode', STRING, 'center_crop',
          'How a camera frame becomes the network input: letterbox (keep aspect, pad), '
          'center_crop (resize the short side, crop the centre), stretch.',
          choices=('letterbox', 'center_crop', 'stretch')),
    Param('crop_fraction', DOUBLE, 0.875,
          'center_crop: network size / resized short side (224/256 = 0.875).',
          min_value=0.1, max_value=1.0),
    Param('mean', DOUBLE_ARRAY, [127.0, 127.0, 127.0],
          'Per-channel mean subtracted from 0-255 pixels, in network channel order.', length=3),
    Param('std', DOUBLE_ARRAY, [128.0, 128.0, 128.0],
          'Per-channel divisor applied after the mean, in network channel order.', length=3),
    Param('pad_value', DOUBLE, 114.0, 'Letterbox fill, in 0-255 pixel units.',
          min_value=0.0, max_value=255.0),
    # --- decoder options: each decoder takes some (decoder_params.TAKES); a set one the
    # --- chosen decoder does not take fails configure
    Param('decoder_output', STRING, '',
          "Output the decoder reads (yolov5, yolov8, end2end, combined nanodet); '' = the "
          'one whose shape fits.', group='decoder'),
    Param('decoder_boxes_output', STRING, '',
          "ssd, split end2end: the boxes output; '' = the one whose last dimension is 4.",
          group='decoder'),
    Param('decoder_scores_output', STRING, '',
          "ssd, split end2end: the scores output; '' = the other one that fits (end2end: "
          'its name says score).', group='decoder'),
    Param('decoder_labels_output', STRING, '',
          "split end2end (RT-DETR): the class ids output; '' = the one whose name says "
          'label or class.', group='decoder'),
    Param('box_units', STRING, 'auto',
          'Box coordinates in network-input pixels or normalized 0..1 (yolov5, yolov8, '
          'end2end, ssd); auto = the decoder default (ssd normalized, the others pixels).',
          choices=('auto', 'pixels', 'normalized'), group='decoder'),
    Param('box_order', STRING, 'xyxy', 'ssd: box corner order (yxyx: TensorFlow).',
          choices=('xyxy', 'yxyx'), group='decoder'),
    Param('yolo_channels', STRING, 'auto',
          'yolov8: the 4+C channels first [B,4+C,N] (Ultralytics) or last [B,N,4+C]; auto = '
          'the dimension that is not the anchor count.',
          choices=('auto', 'first', 'last'), group='decoder'),
    Param('score_activation', STRING, 'auto',
          'Applied to raw class scores: softmax decoder none/softmax, nanodet none/sigmoid, '
          'ssd none/sigmoid/softmax; auto = the decoder default (softmax: judged from the '
          'numbers; detection: none).',
          choices=('auto', 'none', 'sigmoid', 'softmax'), group='decoder'),
    Param('background_class', BOOL, False,
          'ssd: score column 0 is background (dropped; class ids shift down by one).',
          group='decoder'),
    Param('multi_label', BOOL, False,
          'Every class above the threshold is a candidate, not only the best one per box '
          '(nanodet, yolov5, yolov8, ssd).', group='decoder'),
    Param('decoder_strides', INT_ARRAY, [],
          'Strides of the output levels (nanodet, yolov5, yolov8); empty = found from the '
          'output shapes.', group='decoder'),
    Param('nanodet_center_offset', DOUBLE, 0.5,
          'nanodet: cell centres at (x + offset) * stride; 0 for NanoDet-Plus exports.',
          min_value=0.0, max_value=1.0, group='decoder'),
    Param('nanodet_reg_max', INT, 0,
          'nanodet combined output: box bins - 1 (NanoDet-Plus 7); 0 = from the labels, '
          'else 7.', min_value=0, max_value=64, group='decoder'),
    Param('nanodet_levels', STRING_ARRAY, [],
          "nanodet: 'stride:scores_output:boxes_output' per level; empty = found by shape.",
          group='decoder'),
    Param('class_agnostic_nms', BOOL, False,
          'NMS across classes: a box suppresses overlapping boxes of any class.',
          group='decoder'),
    Param('pre_nms_top_k', INT, 1000,
          'Most candidates NMS sees per frame (highest scores kept).',
          min_value=1, max_value=100000, group='decoder'),
    # --- backend -----------------------------------------------------------------------
    Param('backend', STRING, 'auto',
          'Inference backend: tensorrt, onnxruntime (CPU) or onnxruntime_gpu (ONNX Runtime '
          'on CUDA, TensorRT EP where present); auto takes TensorRT, else onnxruntime_gpu, '
          'else the CPU (logged once).',
          choices=('auto', 'tensorrt', 'onnxruntime', 'onnxruntime_gpu'), group='backend'),
    Param('precision', STRING, 'fp32',
          'Requested precision; int8 runs the calibrated model only if its stored evaluation '
          'passes the INT8 gate, else falls back (fp16 on GPU, fp32 on CPU).',
          choices=('fp32', 'fp16', 'int8'), group='backend'),
    Param('int8_model_path', STRING, '',
          "Calibrated Q/DQ ONNX for precision int8; '' looks for <model>.int8.onnx.",
          group='backend'),
    Param('int8_min_top1_agreement', DOUBLE, 0.99,
          'INT8 gate (classification, evaluated without labels): minimum top-1 agreement '
          'with FP32, at the lower end of its 95% interval.',
          min_value=0.0, max_value=1.0, group='backend'),
    Param('int8_max_top1_drop', DOUBLE, 0.5,
          'INT8 gate (classification, evaluated with labels): largest top-1 accuracy drop '
          'vs FP32, in points, at the upper end of its 95% interval.',
          min_value=0.0, max_value=100.0, group='backend'),
    Param('int8_max_map_drop', DOUBLE, 1.0,
          'INT8 gate (detection): largest mAP@[.5:.95] drop vs FP32, in points, at the upper '
          'end of its 95% bootstrap interval.',
          min_value=0.0, max_value=100.0, group='backend'),
    Param('int8_min_eval_frames', INT, 200,
          'INT8 gate (classification): fewest evaluation frames (labelled ones with labels).',
          min_value=1, max_value=1000000, group='backend'),
    Param('int8_min_eval_boxes', INT, 500,
          'INT8 gate (detection): fewest boxes to find in the evaluation (ground truth, or '
          'FP32 boxes without labels).', min_value=1, max_value=10000000, group='backend'),
    Param('max_batch', INT, 1, 'Engine/session batch size (several cameras share one batch).',
          min_value=1, max_value=64, group='backend'),
    Param('cpu_threads', INT, 0, 'ONNX Runtime intra-op threads; 0 = runtime default.',
          min_value=0, max_value=256, group='backend'),
    Param('dla_core', INT, -1, 'TensorRT DLA core (Jetson); -1 = GPU.',
          min_value=-1, max_value=7, group='backend'),
    Param('workspace_mb', INT, 1024, 'TensorRT builder memory pool limit, MiB.',
          min_value=16, max_value=65536, group='backend'),
    Param('engine_cache_dir', STRING, '',
          "Where built TensorRT engines are cached; '' = ~/.cache/jetson_infer_ros/engines.",
          group='backend'),
    Param('use_cuda_graph', BOOL, False,
          'Capture the TensorRT enqueue / the onnxruntime_gpu run as a CUDA graph.',
          group='backend'),
    Param('gpu_preprocess', BOOL, True,
          'tensorrt and onnxruntime_gpu: resize/normalise on the GPU straight into the '
          'bound input (fused CUDA kernel); the CPU path is used otherwise.', group='backend'),
    # --- input -------------------------------------------------------------------------
    Param('image_topics', STRING_ARRAY, ['image'],
          'Camera topics this node serves with one engine; outputs go under each '
          'topic namespace (front/image -> front/detections).', group='input'),
    Param('output_namespaces', STRING_ARRAY, [],
          'Output namespace per camera (same length as image_topics); empty derives it '
          'from the topic.', group='input'),
    Param('max_batch_wait_ms', DOUBLE, 5.0,
          'Several cameras: longest a frame waits for partners before its batch runs.',
          min_value=0.0, max_value=1000.0, group='input'),
    Param('input_type', STRING, 'raw',
          'raw: sensor_msgs/Image on `image`; compressed: sensor_msgs/CompressedImage on '
          '`image/compressed`.', choices=('raw', 'compressed'), group='input'),
    Param('zero_copy_input', BOOL, True,
          'Read images straight from the serialized CDR bytes (no Python message); false '
          'builds the message from the same bytes after the same checks.',
          group='input'),
    Param('qos_reliability', STRING, 'best_effort', 'Input subscription reliability.',
          choices=('best_effort', 'reliable'), group='input'),
    Param('qos_depth', INT, 1, 'Input subscription history depth.',
          min_value=1, max_value=1000, group='input'),
    Param('lossless', BOOL, False,
          'Process every frame in order (bag replay) instead of only the newest; implies '
          'reliable QoS.', group='input'),
    Param('lossless_queue_size', INT, 256,
          'Lossless mode: frames the middleware holds waiting (reliable keep-last depth, so '
          'memory is at most this many frames); older ones a publisher overwrites are '
          'counted as dropped (queue_full). At most 5000: Fast DDS holds no more per reader.',
          min_value=1, max_value=5000, group='input'),
    Param('max_image_pixels', INT, 33177600,
          'Larger frames (by their header) are rejected before any allocation (8K = 33.2 MP).',
          min_value=1, max_value=1 << 30, group='input'),
    # --- output (live) ---------------------------------------------------------------
    Param('score_threshold', DOUBLE, 0.35, 'Detections below this score are dropped.',
          min_value=0.0, max_value=1.0, runtime=True, group='output'),
    Param('nms_iou_threshold', DOUBLE, 0.6, 'Class-wise NMS IoU threshold.',
          min_value=0.0, max_value=1.0, runtime=True, group='output'),
    Param('max_detections', INT, 100, 'Most detections published per frame.',
          min_value=1, max_value=10000, runtime=True, group='output'),
    Param('top_k', INT, 5, 'Classes published per frame (classification).',
          min_value=1, max_value=1000, runtime=True, group='output'),
    Param('publish_debug_image', BOOL, False,
          'Publish `debug_image` with boxes/labels drawn (costs nothing when off).',
          runtime=True, group='output'),
    # --- diagnostics (live) -----------------------------------------------------------
    Param('diagnostics_period', DOUBLE, 1.0, 'Seconds between /diagnostics messages.',
          min_value=0.1, max_value=60.0, group='diagnostics'),
    Param('warn_output_rate_hz', DOUBLE, 0.0,
          'WARN when the output rate falls below this while input arrives; 0 = off.',
          min_value=0.0, max_value=1000.0, runtime=True, group='diagnostics'),
    Param('warn_latency_ms', DOUBLE, 0.0,
          'WARN when the p99 end-to-end latency in the window exceeds this; 0 = off.',
          min_value=0.0, max_value=100000.0, runtime=True, group='diagnostics'),
    Param('error_latency_ms', DOUBLE, 0.0,
          'ERROR when the p99 end-to-end latency in the window exceeds this; 0 = off.',
          min_value=0.0, max_value=100000.0, runtime=True, group='diagnostics'),
    # --- bond with a nav2 lifecycle manager ------------------------------------------
    Param('bond_heartbeat_period', DOUBLE, 0.1,
          'Seconds between heartbeats of the bond with a nav2 lifecycle manager (formed at '
          'activate, id = node name, topic `bond`); 0 = no bond, and the manager then needs '
          'bond_timeout: 0.0. nav2 Jazzy and Kilted default to 0.1.',
          min_value=0.0, max_value=10.0, group='lifecycle'),
    Param('bond_heartbeat_timeout', DOUBLE, 4.0,
          'Heartbeat timeout the bond announces (nav2 nodes: 4.0). The manager breaks the bond '
          'after its own bond_timeout; the node never does, it logs a manager quiet this long.',
          min_value=0.1, max_value=600.0, group='lifecycle'),
)

BY_NAME: Dict[str, Param] = {p.name: p for p in PARAMETERS}


class ParameterError(ValueError):
    """A parameter value is not allowed; the message names the parameter and the rule."""


def defaults() -> Dict[str, Any]:
    return {p.name: _copy(p.default) for p in PARAMETERS}


def _copy(value: Any) -> Any:
    return list(value) if isinstance(value, (list, tuple)) else value


def coerce(param: Param, value: Any) -> Any:
    """Check one value against its table entry and return it in canonical Python type."""
    name = param.name
    t = param.type
    if t == BOOL:
        if not isinstance(value, bool):
            raise ParameterError(f'{name}: expected a bool, got {value!r}')
        return value
    if t == INT:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParameterError(f'{name}: expected an integer, got {value!r}')
        _check_range(param, value)
        return int(value)
    if t == DOUBLE:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParameterError(f'{name}: expected a number, got {value!r}')
        value = float(value)
        if not math.isfinite(value):
            raise ParameterError(f'{name}: must be finite, got {value!r}')
        _check_range(param, value)
        return value
    if t == STRING:
        if not isinstance(value, str):
            raise ParameterError(f'{name}: expected a string, got {value!r}')
        if param.choices and value not in param.choices:
            raise ParameterError(f'{name}: {value!r} is not one of {", ".join(param.choices)}')
        return value
    if t == DOUBLE_ARRAY:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) and not hasattr(
                value, 'tolist'):
            raise ParameterError(f'{name}: expected a list of numbers, got {value!r}')
        items = list(value.tolist() if hasattr(value, 'tolist') else value)
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                   for v in items):
            raise ParameterError(f'{name}: expected finite numbers, got {items!r}')
        if param.length is not None and len(items) != param.length:
            raise ParameterError(f'{name}: expected {param.length} values, got {len(items)}')
        if name == 'std' and any(v == 0 for v in items):
            raise ParameterError('std: values must be non-zero')
        return [float(v) for v in items]
    if t == STRING_ARRAY:
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ParameterError(f'{name}: expected a list of strings, got {value!r}')
        if not all(isinstance(v, str) for v in value):
            raise ParameterError(f'{name}: expected strings, got {value!r}')
        return list(value)
    if t == INT_ARRAY:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) and not hasattr(
                value, 'tolist'):
            raise ParameterError(f'{name}: expected a list of integers, got {value!r}')
        items = list(value.tolist() if hasattr(value, 'tolist') else value)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
            raise ParameterError(f'{name}: expected integers, got {items!r}')
        if any(v <= 0 for v in items):
            raise ParameterError(f'{name}: values must be > 0, got {items!r}')
        return [int(v) for v in items]
    raise ParameterError(f'{name}: unknown parameter type {t}')


def _check_range(param: Param, value: float) -> None:
    if param.min_value is not None and value < param.min_value:
        raise ParameterError(f'{param.name}: {value} is below the minimum {param.min_value}')
    if param.max_value is not None and value > param.max_value:
        raise ParameterError(f'{param.name}: {value} is above the maximum {param.max_value}')


def validate(values: Mapping[str, Any], partial: bool = False) -> Dict[str, Any]:
    """
    Validate a full (or, with ``partial``, any subset of a) parameter set.

    Unknown names are errors, so a typo in a YAML file is reported, not ignored.
    """
    unknown = sorted(set(values) - set(BY_NAME))
    if unknown:
        raise ParameterError(f'unknown parameter(s): {", ".join(unknown)}')
    out = {} if partial else defaults()
    for name, value in values.items():
        out[name] = coerce(BY_NAME[name], value)
    if not partial:
        _check_combinations(out)
    return out


def _check_combinations(v: Mapping[str, Any]) -> None:
    if v['task'] == 'classification' and v['decoder'] not in ('softmax', 'auto'):
        raise ParameterError(f"decoder: {v['decoder']!r} is a detection decoder but task is "
                             'classification (use softmax or auto)')
    if v['task'] == 'detection' and v['decoder'] == 'softmax':
        raise ParameterError("decoder: 'softmax' is a classifier; task detection needs "
                             'auto, nanodet, yolov5, yolov8, end2end or ssd')
    _check_decoder_options(v)
    topics = v['image_topics']
    if not topics:
        raise ParameterError('image_topics: at least one camera topic is needed')
    if len(set(topics)) != len(topics):
        dup = sorted({t for t in topics if topics.count(t) > 1})
        raise ParameterError(f'image_topics: duplicate topic(s) {", ".join(dup)}')
    if any(not t.strip() for t in topics):
        raise ParameterError('image_topics: empty topic name')
    if v['output_namespaces'] and len(v['output_namespaces']) != len(topics):
        raise ParameterError(f"output_namespaces: {len(v['output_namespaces'])} given for "
                             f'{len(topics)} image_topics')
    if (v['input_width'] == 0) != (v['input_height'] == 0):
        raise ParameterError('input_width/input_height: set both or neither (0 = from the ONNX)')


def _check_decoder_options(v: Mapping[str, Any]) -> None:
    """Refuse a set decoder option the named decoder does not take (auto: at configure)."""
    from jetson_infer_ros import decoder_params
    decoder = v['decoder']
    if decoder == 'auto' and v['task'] == 'classification':
        decoder = 'softmax'
    if decoder == 'auto':
        return
    found = decoder_params.problems(decoder, decoder_params.set_parameters(v, defaults()))
    if found:
        raise ParameterError('; '.join(found))


def runtime_names() -> List[str]:
    return [p.name for p in PARAMETERS if p.runtime]


def ros_parameter_type(param: Param):
    """Map a table entry to its rclpy ParameterType (imports rclpy lazily)."""
    from rcl_interfaces.msg import ParameterType
    return {
        BOOL: ParameterType.PARAMETER_BOOL, INT: ParameterType.PARAMETER_INTEGER,
        DOUBLE: ParameterType.PARAMETER_DOUBLE, STRING: ParameterType.PARAMETER_STRING,
        DOUBLE_ARRAY: ParameterType.PARAMETER_DOUBLE_ARRAY,
        STRING_ARRAY: ParameterType.PARAMETER_STRING_ARRAY,
        INT_ARRAY: ParameterType.PARAMETER_INTEGER_ARRAY,
    }[param.type]


def empty_list_type(param: Param):
    """Return the rclpy Parameter.Type to declare an entry whose default is [] with."""
    from rclpy.parameter import Parameter
    return Parameter.Type.INTEGER_ARRAY if param.type == INT_ARRAY else \
        Parameter.Type.STRING_ARRAY


def descriptor(param: Param):
    """Build a ParameterDescriptor with the description, choices and range from the table."""
    from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
    text = param.description
    if param.choices:
        text += ' One of: ' + ', '.join(param.choices) + '.'
    if not param.runtime:
        text += ' Takes effect at the next configure.'
    d = ParameterDescriptor(name=param.name, type=ros_parameter_type(param), description=text,
                            dynamic_typing=False)
    if param.choices:
        d.additional_constraints = 'one of: ' + ', '.join(param.choices)
    lo, hi = param.min_value, param.max_value
    if param.type == INT and lo is not None and hi is not None:
        d.integer_range = [IntegerRange(from_value=int(lo), to_value=int(hi), step=0)]
    if param.type == DOUBLE and lo is not None and hi is not None:
        d.floating_point_range = [FloatingPointRange(from_value=float(lo), to_value=float(hi),
                                                     step=0.0)]
    return d


def markdown_table(params: Iterable[Param] = PARAMETERS) -> str:
    """Render the README's parameter table, generated so it cannot drift from the code."""
    rows = ['| name | type | default | allowed | live | description |',
            '|---|---|---|---|---|---|']
    for p in params:
        allowed = ', '.join(p.choices) if p.choices else _range_text(p)
        default = repr(p.default) if p.type == STRING else _yaml_scalar(p.default)
        rows.append(f'| `{p.name}` | {p.type} | `{default}` | {allowed} | '
                    f'{"yes" if p.runtime else "no"} | {p.description} |')
    return '\n'.join(rows) + '\n'


def _range_text(p: Param) -> str:
    if p.min_value is None and p.max_value is None:
        return ''
    return f'{_num(p.min_value)} .. {_num(p.max_value)}'


def _num(v: Optional[float]) -> str:
    if v is None:
        return ''
    return str(int(v)) if float(v).is_integer() else str(v)


def _yaml_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return 'true' if v else 'false'
    if isinstance(v, list):
        return '[' + ', '.join(_yaml_scalar(x) for x in v) + ']'
    return str(v)
