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
Which decoder takes which ROS parameter, and what each parameter becomes among its options.

Decoder options are plain ROS parameters (typed, validated, listed in the one table in
``params.py``), but each decoder reads only some of them: a SSD box order means nothing
to YOLOv8. A parameter left at its table default is "not set" and every decoder then uses
its own default; a parameter that is set must be one the decoder takes, with a value it
accepts, or configure fails naming the parameter, the decoder and what it does take. The
same table decides which decoders ``decoder: auto`` may choose from (one that does not
take a set parameter is not a candidate). No NumPy here: ``params`` imports this module.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

#: every decoder-option parameter, in table order
OPTION_PARAMS = (
    'decoder_output', 'decoder_boxes_output', 'decoder_scores_output',
    'decoder_labels_output', 'box_units',
    'box_order', 'yolo_channels', 'score_activation', 'background_class', 'multi_label',
    'decoder_strides', 'nanodet_center_offset', 'nanodet_reg_max', 'nanodet_levels',
    'class_agnostic_nms', 'pre_nms_top_k')

_NMS = ('class_agnostic_nms', 'pre_nms_top_k')

#: decoder -> the parameters it takes
TAKES: Dict[str, Tuple[str, ...]] = {
    'softmax': ('score_activation',),
    'nanodet': ('decoder_output', 'score_activation', 'multi_label', 'decoder_strides',
                'nanodet_center_offset', 'nanodet_reg_max', 'nanodet_levels') + _NMS,
    'yolov5': ('decoder_output', 'box_units', 'multi_label', 'decoder_strides') + _NMS,
    'yolov8': ('decoder_output', 'box_units', 'yolo_channels', 'multi_label',
               'decoder_strides') + _NMS,
    'end2end': ('decoder_output', 'decoder_boxes_output', 'decoder_scores_output',
                'decoder_labels_output', 'box_units'),
    'ssd': ('decoder_boxes_output', 'decoder_scores_output', 'box_units', 'box_order',
            'score_activation', 'background_class', 'multi_label') + _NMS,
}

#: values of score_activation each decoder accepts (besides 'auto')
_ACTIVATIONS = {'softmax': ('none', 'softmax'), 'nanodet': ('none', 'sigmoid'),
                'ssd': ('none', 'sigmoid', 'softmax')}


class DecoderParameterError(ValueError):
    """A decoder-option parameter is set that the chosen decoder does not take."""


def _levels(value: List[str]) -> List[Dict[str, Any]]:
    levels = []
    for entry in value:
        parts = str(entry).split(':')
        if len(parts) != 3 or not all(p.strip() for p in parts):
            raise DecoderParameterError(
                f"nanodet_levels: {entry!r} is not 'stride:scores_output:boxes_output'")
        try:
            stride = int(parts[0])
        except ValueError:
            raise DecoderParameterError(
                f'nanodet_levels: stride {parts[0]!r} in {entry!r} is not an integer') from None
        levels.append({'stride': stride, 'scores': parts[1].strip(),
                       'boxes': parts[2].strip()})
    return levels


# parameter -> (option name, value -> option value), per decoder where it differs
_Convert = Callable[[Any], Any]
_SAME: _Convert = lambda v: v    # noqa: E731 - a table of small converters
_OPTIONS: Dict[str, Dict[str, Tuple[str, _Convert]]] = {
    'decoder_output': {'*': ('output', _SAME)},
    'decoder_boxes_output': {'*': ('boxes', _SAME)},
    'decoder_scores_output': {'*': ('scores', _SAME)},
    'decoder_labels_output': {'*': ('labels', _SAME)},
    'box_units': {'*': ('normalized', lambda v: v == 'normalized')},
    'box_order': {'*': ('box_order', _SAME)},
    'yolo_channels': {'*': ('transposed', lambda v: v == 'last')},
    'score_activation': {
        'softmax': ('apply_softmax', lambda v: 'true' if v == 'softmax' else 'false'),
        'nanodet': ('apply_sigmoid', lambda v: v == 'sigmoid'),
        'ssd': ('score_activation', _SAME)},
    'background_class': {'*': ('background_class', _SAME)},
    'multi_label': {'*': ('multi_label', _SAME)},
    'decoder_strides': {'*': ('strides', lambda v: [int(s) for s in v])},
    'nanodet_center_offset': {'*': ('center_offset', float)},
    'nanodet_reg_max': {'*': ('reg_max', int)},
    'nanodet_levels': {'*': ('levels', _levels)},
    'class_agnostic_nms': {'*': ('class_agnostic', _SAME)},
    'pre_nms_top_k': {'*': ('pre_nms_top_k', int)},
}


def set_parameters(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> Dict[str, Any]:
    """Return the decoder-option parameters whose value differs from the table default."""
    out = {}
    for name in OPTION_PARAMS:
        if name in values and values[name] != defaults.get(name):
            out[name] = values[name]
    return out


def problems(decoder: str, settings: Mapping[str, Any]) -> List[str]:
    """Return why ``decoder`` cannot take ``settings`` (empty: it can), one text each."""
    takes = TAKES.get(decoder)
    if takes is None:
        return [f'unknown decoder {decoder!r}']
    out = []
    for name, value in settings.items():
        if name not in takes:
            out.append(f'{name} is set but decoder {decoder} does not take it (it takes: '
                       f'{", ".join(takes)})')
        elif name == 'score_activation' and value not in _ACTIVATIONS.get(decoder, ()):
            out.append(f'score_activation {value!r} does not apply to decoder {decoder} '
                       f'(it takes: auto, {", ".join(_ACTIVATIONS.get(decoder, ()))})')
    return out


def check(decoder: str, settings: Mapping[str, Any]) -> None:
    """Raise DecoderParameterError with every problem of ``settings`` for ``decoder``."""
    found = problems(decoder, settings)
    if found:
        raise DecoderParameterError('; '.join(found))


def to_options(decoder: str, settings: Mapping[str, Any]) -> Dict[str, Any]:
    """Translate checked parameter settings into ``decoder``'s option dict."""
    check(decoder, settings)
    options: Dict[str, Any] = {}
    for name, value in settings.items():
        table = _OPTIONS[name]
        option, convert = table.get(decoder) or table['*']
        options[option] = convert(value)
    return options


def describe(settings: Mapping[str, Any]) -> Optional[str]:
    """Render the set parameters for a log line (None when nothing is set)."""
    if not settings:
        return None
    return ', '.join(f'{k}={v!r}' for k, v in settings.items())
