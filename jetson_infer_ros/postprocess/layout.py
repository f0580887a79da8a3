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
``decoder: auto``: find the one output convention a detector's outputs fit, or refuse.

Every decoder checks shapes strictly when it binds (batch axis, anchor counts of the
input size, level cell counts, class channels against the labels), so "fits" is
decided by the decoders themselves, not by a second set of rules that could drift. Each
candidate binds the output shapes; the ones that bind are the fits. One fit is chosen
and described in one log line (what, from which output shapes, and the evidence: the
anchor count, the class count, an Ultralytics export's own metadata); none or several
is a ``LayoutError`` that lists the shapes and each decoder's verdict and tells the user
which parameter settles it. The labels are evidence too: when only the label count
stops an otherwise fitting decoder, the error says so instead of "nothing fits".
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from jetson_infer_ros.postprocess.decoders import (
    DecoderShapeError, DETECTION_DECODERS, make_decoder, POSTPROCESS_OPTIONS)

Shapes = Mapping[str, Tuple[int, ...]]
#: decoder name -> its option dict for the user's settings (raises ValueError if it takes
#: none of them): lets the caller keep parameter translation in one place
OptionsFor = Callable[[str], Dict[str, Any]]


class LayoutError(DecoderShapeError):
    """The outputs fit no decoder, or more than one: configure must not guess."""


@dataclasses.dataclass(frozen=True)
class LayoutChoice:
    """The decoder chosen, the class count it reads, and the log line saying why."""

    decoder: str
    num_classes: Optional[int]
    reason: str


def shapes_text(shapes: Shapes) -> str:
    return ', '.join(f'{name!r} {tuple(shape)}' for name, shape in shapes.items())


def _short(exc: BaseException) -> str:
    """Shorten a decoder's objection to what the message does not say already."""
    text = str(exc).split(' decoder: ', 1)[-1]
    if '; expected ' in text:
        text = 'expects ' + text.split('; expected ', 1)[1]
    if len(text) <= 120:
        return text
    # cut after a whole clause (a comma outside brackets, else any comma), never mid-number
    depth, outside, anywhere = 0, 0, 0
    for i, ch in enumerate(text[:118]):
        depth += (ch in '([') - (ch in ')]')
        if text.startswith(', ', i):
            anywhere = i
            outside = i if depth == 0 else outside
    cut = outside if outside > 40 else anywhere
    return (text[:cut] if cut > 40 else text[:115]) + ', ...'


def _bind(name: str, input_hw: Tuple[int, int], classes: Optional[int],
          options: Mapping[str, Any], shapes: Shapes) -> Tuple[Optional[Any], str]:
    """Bind decoder ``name``; return (decoder or None, verdict text)."""
    decoder_only = {k: v for k, v in options.items() if k not in POSTPROCESS_OPTIONS}
    try:
        decoder = make_decoder(name, input_hw, classes, decoder_only)
        decoder.bind(shapes)
    except DecoderShapeError as exc:
        return None, _short(exc)
    return decoder, 'fits'


def _evidence(name: str, decoder: Any, shapes: Shapes,
              metadata: Mapping[str, str]) -> str:
    """Say what made ``decoder`` fit, for the log line."""
    height, width = decoder.input_hw
    parts = []
    if name in ('yolov5', 'yolov8'):
        shape = shapes[decoder._output]
        if name == 'yolov8':
            first = decoder._channels_first
            anchors, channels = (shape[2], shape[1]) if first else (shape[1], shape[2])
            parts.append(f"'{decoder._output}' {tuple(shape)}: channels "
                         f"{'first' if first else 'last'}, 4 box + {channels - 4} classes "
                         f'over {anchors} anchors')
        else:
            parts.append(f"'{decoder._output}' {tuple(shape)}: 4 box + objectness + "
                         f'{shape[2] - 5} classes over {shape[1]} anchors')
        how = decoder._anchor_counts().get(shape[2] if name == 'yolov8' and first
                                           else shape[1])
        if how:
            parts.append(f'= {how} at {width}x{height}')
    elif name == 'end2end' and decoder._split is not None:
        boxes, scores, labels = decoder._split
        parts.append(f'boxes {boxes!r} {tuple(shapes[boxes])}, scores {scores!r}, labels '
                     f'{labels!r}: {shapes[boxes][1]} final detections; no NMS')
    elif name == 'end2end':
        shape = shapes[decoder._output]
        box = 'cx, cy, w, h' if decoder.options.get('box_format') == 'cxcywh' else \
            'x1, y1, x2, y2'
        scale = ' (0..1 of the input)' if decoder.options.get('normalized') else ''
        parts.append(f"'{decoder._output}' {tuple(shape)}: {shape[1]} final rows of {box}"
                     f'{scale}, score, class; no NMS')
        kind = ultralytics_kind(metadata)
        if kind:
            parts.append(f'({kind})')
    elif name == 'nanodet':
        if decoder._combined is not None:
            shape = shapes[decoder._combined]
            strides = [s for s, _a, _b in decoder._offsets]
            parts.append(f"'{decoder._combined}' {tuple(shape)}: strides {strides} combined, "
                         f'{decoder.num_classes} classes + 4 x {decoder._bins} box bins')
        else:
            levels = ', '.join(f'stride {s}: {c!r}/{b!r}' for s, c, b in decoder._levels)
            parts.append(f'{len(decoder._levels)} levels ({levels}), '
                         f'{decoder.num_classes} classes, 4 x {decoder._bins} box bins')
    elif name == 'ssd':
        parts.append(f'boxes {decoder._boxes!r} {tuple(shapes[decoder._boxes])}, scores '
                     f'{decoder._scores!r} {tuple(shapes[decoder._scores])}')
    return ' '.join(parts)


def exporter_options(name: str, metadata: Mapping[str, str]) -> Dict[str, Any]:
    """
    Return the decoder options an exporter's metadata implies (the user's own override).

    Ultralytics' RT-DETR export has the shape of every other end-to-end export,
    ``[B, 300, 6]``, but its rows are cx, cy, w, h in 0..1 of the input (its
    ``RTDETRPredictor`` converts them), not corners in pixels: read as corners every box
    has no area and every frame is answered with nothing. Its metadata names the head.
    """
    if name == 'end2end' and metadata.get('author') == 'Ultralytics' and \
            metadata.get('head') == 'RTDETRDecoder':
        return {'box_format': 'cxcywh', 'normalized': True}
    return {}


def ultralytics_kind(metadata: Mapping[str, str]) -> Optional[str]:
    """Name an Ultralytics export from its ONNX metadata (None for other exporters)."""
    if metadata.get('author') != 'Ultralytics':
        return None
    head = metadata.get('head', '')
    description = metadata.get('description', 'Ultralytics model').strip()
    if str(metadata.get('end2end', '')).lower() == 'true':
        return f'{description}, {head} NMS-free head'
    args = metadata.get('args', '')
    if "'nms': True" in args:
        return f'{description}, exported with nms=True: NMS inside the model'
    return f'{description}, {head} head'


def choose_decoder(shapes: Shapes, input_hw: Tuple[int, int], num_classes: Optional[int],
                   options_for: OptionsFor, metadata: Optional[Mapping[str, str]] = None,
                   candidates: Sequence[str] = DETECTION_DECODERS,
                   labels_source: str = 'labels') -> LayoutChoice:
    """
    Return the one decoder the output ``shapes`` fit; raise LayoutError otherwise.

    ``num_classes`` is the label count (None without labels); ``options_for(name)``
    returns the decoder's options for the user's settings or raises ValueError when the
    decoder does not take one of them (it is then no candidate).
    """
    metadata = dict(metadata or {})
    verdicts: Dict[str, str] = {}
    fits: List[Tuple[str, Any]] = []
    options: Dict[str, Dict[str, Any]] = {}
    for name in candidates:
        try:
            options[name] = options_for(name)
        except ValueError as exc:
            verdicts[name] = f'not a candidate: {exc}'
            continue
        decoder, verdict = _bind(name, input_hw, num_classes, options[name], shapes)
        verdicts[name] = verdict
        if decoder is not None:
            fits.append((name, decoder))
    height, width = input_hw
    where = f'outputs {shapes_text(shapes)} at input {width}x{height}'
    if len(fits) == 1:
        name, decoder = fits[0]
        evidence = _evidence(name, decoder, shapes, metadata)
        others = ', '.join(n for n in verdicts if n != name)
        return LayoutChoice(name, decoder.num_classes,
                            f'decoder auto: {name}, from {evidence}; no other layout fits '
                            f'({others})')
    if len(fits) > 1:
        names = [n for n, _d in fits]
        described = '; '.join(f'{n}: {_evidence(n, d, shapes, metadata)}' for n, d in fits)
        raise LayoutError(
            f'decoder auto: {where} fit {len(fits)} layouts ({described}); set decoder to '
            f'one of {names}' + ('' if num_classes is not None else
                                 ' or give labels_file (the class count decides)'))
    if num_classes is not None:
        loose = [n for n in options if _bind(n, input_hw, None, options[n], shapes)[0]]
        if len(loose) == 1:
            decoder, _v = _bind(loose[0], input_hw, None, options[loose[0]], shapes)
            read = decoder.num_classes if decoder is not None else None
            raise LayoutError(
                f'{labels_source} has {num_classes} names but the {loose[0]} layout of '
                f'{where} carries {read} classes; fix the labels file (one name per class, '
                'in class order)')
    described = '; '.join(f'{n}: {v}' for n, v in verdicts.items())
    raise LayoutError(f'decoder auto: no detection decoder fits {where} ({described})')
