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
Turn a detector's raw output tensors into boxes, one decoder per output convention.

Detector families disagree on everything after the last convolution: NanoDet predicts
per-level class maps and distance distributions, YOLOv5 an objectness times class score
per anchor row, YOLOv8/YOLO11 class scores with the channels first, SSD-style exports
ready boxes with a score matrix, end-to-end exports final rows (YOLOv10/YOLO26's
NMS-free head, Ultralytics ``nms=True``). Each ``Decoder`` knows one convention, checks the
output shapes against it once (a mismatch is a ``DecoderShapeError`` naming the tensor,
its shape and what was expected, instead of an IndexError deep in NumPy) and decodes one
batch item into boxes in *network* pixels. Every output must keep its batch axis, and a
YOLO row count must be the anchor count of the input size (the grid cells of strides
8/16/32, optionally 4 or 64, once or three times per cell), so a tensor that only
resembles a layout, like an end-to-end ``(1, 300, 6)`` read as two YOLOv8 classes or a
classifier's ``(1, 1000)``, is an error at configure, not a silent misreading.
``DetectionPostprocessor`` then applies the score threshold, class-wise NMS (not for
end-to-end rows), the detection cap and the preprocessing ``Transform`` that maps boxes
back to the source image, so every family shares one tested tail.

Decoders work on the candidates above the score threshold only: the class maximum is a
cheap reduction over the whole map, the box arithmetic (NanoDet's softmax over bins
included) runs on the few cells that survive.
"""

from __future__ import annotations

import abc
import functools
import math
from typing import (Any, Dict, List, Mapping, Optional, Sequence, Tuple)

import numpy as np

from jetson_infer_ros.postprocess.nms import nms
from jetson_infer_ros.postprocess.results import DetectionBatch

Shapes = Mapping[str, Tuple[int, ...]]
Decoded = Tuple[np.ndarray, np.ndarray, np.ndarray]

#: decoder names accepted by ``make_decoder`` (and ModelSpec.decoder for detection)
DETECTION_DECODERS = ('nanodet', 'yolov5', 'yolov8', 'end2end', 'ssd')
#: other names users know the same conventions by
DECODER_ALIASES = {'yolo11': 'yolov8', 'yolov10': 'end2end', 'yolo26': 'end2end'}
#: keys of ModelSpec.decoder_options that configure DetectionPostprocessor, not a decoder
POSTPROCESS_OPTIONS = ('pre_nms_top_k', 'class_agnostic')


class DecoderShapeError(ValueError):
    """The model's outputs do not fit the chosen decoder (or its options are wrong)."""


def _empty() -> Decoded:
    return (np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ('1', 'true', 'yes', 'on')
    return bool(value)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _logit(p: float) -> float:
    """Invert the sigmoid, so a threshold can be compared with raw logits (no exp per cell)."""
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return math.log(p / (1.0 - p))


def _shape_of(value: Any) -> Tuple[int, ...]:
    shape = getattr(value, 'shape', value)
    return tuple(int(d) if d is not None else -1 for d in shape)


def _dim_ok(actual: int, expected: Optional[int]) -> bool:
    return expected is None or actual < 0 or actual == expected


class Decoder(abc.ABC):
    """
    One detector output convention, bound to a network input size.

    ``input_hw`` is the network input (height, width) in pixels; ``num_classes`` comes
    from the label list when known (it resolves layouts that are otherwise ambiguous and
    is checked against the outputs); ``options`` are the decoder's own settings (see each
    subclass). ``bind()`` resolves which outputs to read from their shapes; ``decode()``
    binds on first use if ``bind()`` was not called with concrete shapes.
    """

    name = 'abstract'
    #: option name -> default; unknown option names are rejected
    defaults: Dict[str, Any] = {}
    #: False for outputs that are final detections (end-to-end): never NMS'd again
    needs_nms = True
    #: False where class ids are values, not channels: the shapes say nothing of the count
    classes_in_shapes = True

    def __init__(self, input_hw: Tuple[int, int], num_classes: Optional[int] = None,
                 options: Optional[Mapping[str, Any]] = None) -> None:
        height, width = (int(v) for v in input_hw)
        if height <= 0 or width <= 0:
            raise DecoderShapeError(f'{self.name} decoder: input size {input_hw} must be > 0')
        if num_classes is not None and int(num_classes) <= 0:
            raise DecoderShapeError(f'{self.name} decoder: num_classes must be > 0')
        self.input_hw = (height, width)
        self.num_classes = None if num_classes is None else int(num_classes)
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.defaults))
        if unknown:
            raise DecoderShapeError(
                f'{self.name} decoder: unknown option(s) {unknown}; '
                f'known: {sorted(self.defaults)}')
        self.options = dict(self.defaults)
        self.options.update(options)
        self._bound = False

    # -- binding ----------------------------------------------------------------------
    def bind(self, shapes: Any) -> Optional[int]:
        """
        Resolve outputs from ``{name: shape}`` (or TensorSpecs); return the class count.

        Dynamic dimensions (-1) are accepted where they can be; binding then completes on
        the first ``decode()``. Returns None when the class count cannot be known yet.
        """
        table = self._shape_table(shapes)
        classes, complete = self._bind_impl(table)
        if classes is not None and self.num_classes is not None and classes != self.num_classes:
            raise DecoderShapeError(
                f'{self.name} decoder: the outputs carry {classes} classes but '
                f'{self.num_classes} labels were given')
        if classes is not None and self.num_classes is None and complete:
            self.num_classes = classes
        self._bound = complete
        return classes

    @staticmethod
    def _shape_table(shapes: Any) -> Dict[str, Tuple[int, ...]]:
        if isinstance(shapes, Mapping):
            return {str(k): _shape_of(v) for k, v in shapes.items()}
        return {str(s.name): _shape_of(s.shape) for s in shapes}

    def _ensure_bound(self, outputs: Mapping[str, np.ndarray]) -> None:
        if not self._bound:
            self.bind(outputs)

    def _tensor(self, outputs: Mapping[str, np.ndarray], name: str, index: int,
                ndim: int, expected: str) -> np.ndarray:
        """Return batch item ``index`` of output ``name``, which has ``ndim`` dims per item."""
        try:
            value = outputs[name]
        except KeyError:
            raise DecoderShapeError(
                f'{self.name} decoder: output {name!r} missing; outputs are '
                f'{sorted(outputs)}') from None
        arr = np.asarray(value)
        if arr.ndim == ndim + 1:
            if not 0 <= index < arr.shape[0]:
                raise DecoderShapeError(
                    f'{self.name} decoder: batch item {index} requested but output '
                    f'{name!r} has shape {arr.shape}')
            return arr[index]
        if arr.ndim == ndim and index == 0:
            return arr
        raise DecoderShapeError(
            f'{self.name} decoder: output {name!r} has shape {arr.shape}; expected {expected}')

    def _error(self, name: str, shape: Tuple[int, ...], expected: str) -> DecoderShapeError:
        return DecoderShapeError(
            f'{self.name} decoder: output {name!r} has shape {tuple(shape)}; '
            f'expected {expected}')

    def _pick_output(self, table: Mapping[str, Tuple[int, ...]], option: str,
                     fits, expected: str) -> str:
        """Choose the output named by ``option``, or the only one whose shape ``fits``."""
        wanted = self.options.get(option)
        if wanted:
            if wanted not in table:
                raise DecoderShapeError(
                    f'{self.name} decoder: option {option}={wanted!r} names no output; '
                    f'outputs are {sorted(table)}')
            if not fits(table[wanted]):
                raise self._error(wanted, table[wanted], expected)
            return wanted
        candidates = [n for n, s in table.items() if fits(s)]
        if len(candidates) == 1:
            return candidates[0]
        if len(table) == 1:
            name, shape = next(iter(table.items()))
            raise self._error(name, shape, expected)
        described = ', '.join(f'{n!r} {tuple(s)}' for n, s in table.items())
        if not candidates:
            raise DecoderShapeError(
                f'{self.name} decoder: no output fits {expected}; outputs: {described}')
        raise DecoderShapeError(
            f'{self.name} decoder: outputs {candidates} all fit {expected}; name one with '
            f'the {option!r} option')

    # -- decoding ---------------------------------------------------------------------
    @abc.abstractmethod
    def _bind_impl(self, table: Dict[str, Tuple[int, ...]]) -> Tuple[Optional[int], bool]:
        """Resolve outputs; return (class count or None, binding complete)."""

    @abc.abstractmethod
    def decode(self, outputs: Mapping[str, np.ndarray], index: int,
               score_threshold: float) -> Decoded:
        """
        Return boxes (N, 4) xyxy float32 in network pixels, scores (N,), class ids (N,).

        Only candidates with score > ``score_threshold`` are returned, not yet NMS'd.
        """

    def _select(self, cls: np.ndarray, score_threshold: float,
                scale: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """
        Pick rows, class ids and scores above the threshold from an (N, C) score matrix.

        ``scale`` (N,) multiplies the class scores first (YOLOv5 objectness). With the
        ``multi_label`` option every (row, class) pair above the threshold is a candidate,
        as in mmdet's multiclass NMS; otherwise only each row's best class.
        """
        if _as_bool(self.options.get('multi_label')):
            scores = cls if scale is None else cls * scale[:, None]
            rows, classes = np.nonzero(scores > score_threshold)
            return rows, classes.astype(np.int64), scores[rows, classes]
        best = cls.max(axis=1) if cls.shape[1] else np.zeros(cls.shape[0], cls.dtype)
        if scale is not None:
            best = best * scale
        rows = np.flatnonzero(best > score_threshold)
        classes = cls[rows].argmax(axis=1).astype(np.int64)
        return rows, classes, best[rows]


class NanoDetDecoder(Decoder):
    """
    NanoDet: per stride level a class map (HW, C) and a box map (HW, 4 x bins).

    Box channels are four sides (left, top, right, bottom) times ``bins`` logits; the
    distance is the softmax expectation over bins times the stride, measured from the
    cell centre ``((x + center_offset) * stride, (y + center_offset) * stride)`` with x
    fastest. Two layouts:

    - split (the TF.js-converted model): one class and one box tensor per level. Which
      tensor is which comes from ``levels`` (``[{'stride': 8, 'scores': name, 'boxes':
      name}, ...]``) or, when not given, from the shapes: a level's cell count is
      ``ceil(H / stride) * ceil(W / stride)`` for the ``strides`` tried, the class tensor
      is the one with ``num_classes`` channels (without labels: the larger one).
    - combined (NanoDet-Plus ONNX export): one (N, C + 4 x bins) tensor, levels
      concatenated in ``strides`` order (default 8, 16, 32, 64); set ``center_offset`` 0
      for NanoDet-Plus.

    Class scores are probabilities unless ``apply_sigmoid`` is set.
    """

    name = 'nanodet'
    defaults = {
        'levels': None,
        'strides': None,
        'center_offset': 0.5,
        'apply_sigmoid': False,
        'multi_label': False,
        'output': None,
        'reg_max': None,
    }

    _AUTO_STRIDES = (8, 16, 32, 64, 128)
    _COMBINED_STRIDES = (8, 16, 32, 64)
    #: combined layouts seen: NanoDet-Plus (4 levels), NanoDet-m's own ONNX export (3)
    _COMBINED_RUNS = ((8, 16, 32, 64), (8, 16, 32))

    def __init__(self, input_hw: Tuple[int, int], num_classes: Optional[int] = None,
                 options: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(input_hw, num_classes, options)
        self._levels: List[Tuple[int, str, str]] = []   # (stride, scores name, boxes name)
        self._combined: Optional[str] = None
        self._bins = 0
        self._centers: Dict[int, np.ndarray] = {}
        self._offsets: List[Tuple[int, int, int]] = []  # combined: (stride, start, stop)
        self._apply_sigmoid = _as_bool(self.options['apply_sigmoid'])

    def _cells(self, stride: int) -> int:
        height, width = self.input_hw
        return math.ceil(height / stride) * math.ceil(width / stride)

    def _centers_for(self, stride: int) -> np.ndarray:
        centers = self._centers.get(stride)
        if centers is None:
            height, width = self.input_hw
            gw, gh = math.ceil(width / stride), math.ceil(height / stride)
            off = float(self.options['center_offset'])
            ys, xs = np.meshgrid(np.arange(gh), np.arange(gw), indexing='ij')
            centers = np.stack([(xs.reshape(-1) + off) * stride,
                                (ys.reshape(-1) + off) * stride], axis=1).astype(np.float32)
            self._centers[stride] = centers
        return centers

    def _strides(self, default: Sequence[int]) -> Tuple[int, ...]:
        strides = self.options.get('strides') or default
        try:
            strides = tuple(int(s) for s in strides)
        except (TypeError, ValueError):
            raise DecoderShapeError(
                f'nanodet decoder: strides must be a list of integers, got {strides!r}') from None
        if not strides or any(s <= 0 for s in strides):
            raise DecoderShapeError(f'nanodet decoder: strides must be > 0, got {strides!r}')
        return strides

    def _bind_impl(self, table: Dict[str, Tuple[int, ...]]) -> Tuple[Optional[int], bool]:
        self._levels, self._combined, self._offsets, self._bins = [], None, [], 0
        if self.options.get('levels'):
            return self._bind_levels(table)
        if self.options.get('output'):
            return self._bind_combined(table)
        if len(table) == 1:
            shape = next(iter(table.values()))
            if len(shape) == 3 and self._looks_combined(shape):
                return self._bind_combined(table)
        return self._bind_auto(table)

    def _combined_strides(self, cells: int) -> Tuple[int, ...]:
        """Return the strides option, else the run with ``cells`` cells (default 8..64)."""
        if self.options.get('strides'):
            return self._strides(self._COMBINED_STRIDES)
        for run in self._COMBINED_RUNS:
            if cells == sum(self._cells(s) for s in run):
                return run
        return self._COMBINED_STRIDES

    def _looks_combined(self, shape: Tuple[int, ...]) -> bool:
        cells = shape[-2]
        return cells < 0 or cells == sum(self._cells(s) for s in
                                         self._combined_strides(cells))

    def _check_level_tensor(self, name: str, shape: Tuple[int, ...], stride: int) -> int:
        cells = self._cells(stride)
        expected = f'(batch, {cells}, channels) for stride {stride} at input {self.input_hw}'
        if len(shape) != 3 or not _dim_ok(shape[-2], cells):
            raise self._error(name, shape, expected)
        return shape[-1]

    def _set_bins(self, name: str, shape: Tuple[int, ...], channels: int) -> None:
        if channels < 0:
            return
        if channels % 4 or channels < 8:
            raise self._error(name, shape, 'box channels = 4 sides x bins (a multiple of 4)')
        bins = channels // 4
        if self._bins and bins != self._bins:
            raise self._error(name, shape, f'4 x {self._bins} box channels like the other levels')
        self._bins = bins

    def _bind_levels(self, table: Dict[str, Tuple[int, ...]]) -> Tuple[Optional[int], bool]:
        levels = self.options['levels']
        classes: Optional[int] = None
        complete = True
        for level in levels:
            try:
                stride = int(level['stride'])
                names = (str(level['scores']), str(level['boxes']))
            except (KeyError, TypeError, ValueError):
                raise DecoderShapeError(
                    "nanodet decoder: each entry of 'levels' needs 'stride', 'scores' and "
                    f"'boxes', got {level!r}") from None
            for name in names:
                if name not in table:
                    raise DecoderShapeError(
                        f'nanodet decoder: level stride {stride} names output {name!r}, '
                        f'which the model does not have; outputs are {sorted(table)}')
            cls_ch = self._check_level_tensor(names[0], table[names[0]], stride)
            box_ch = self._check_level_tensor(names[1], table[names[1]], stride)
            self._set_bins(names[1], table[names[1]], box_ch)
            if cls_ch < 0 or box_ch < 0:
                complete = False
            elif classes is not None and cls_ch != classes:
                raise self._error(names[0], table[names[0]], f'{classes} class channels')
            else:
                classes = cls_ch
            self._levels.append((stride, names[0], names[1]))
        self._levels.sort()
        return classes, complete

    def _bind_auto(self, table: Dict[str, Tuple[int, ...]]) -> Tuple[Optional[int], bool]:
        strides = self._strides(self._AUTO_STRIDES)
        by_cells = {self._cells(s): s for s in strides}
        per_stride: Dict[int, List[str]] = {}
        for name, shape in table.items():
            if len(shape) == 3 and shape[-2] in by_cells and shape[-1] > 0:
                per_stride.setdefault(by_cells[shape[-2]], []).append(name)
        if not per_stride:
            described = ', '.join(f'{n!r} {tuple(s)}' for n, s in table.items())
            expected = ', '.join(f'stride {s}: {self._cells(s)} cells' for s in strides)
            raise DecoderShapeError(
                f'nanodet decoder: no output has (batch, cells, channels) with a level cell '
                f'count for input {self.input_hw} ({expected}); outputs: {described}. '
                "Name the tensors with the 'levels' option")
        classes: Optional[int] = None
        for stride in sorted(per_stride):
            names = per_stride[stride]
            if len(names) != 2:
                raise DecoderShapeError(
                    f'nanodet decoder: stride {stride} needs one class and one box tensor of '
                    f'{self._cells(stride)} cells, found {names}; use the levels option')
            (na, ca), (nb, cb) = [(n, table[n][-1]) for n in names]
            if self.num_classes is not None and (ca == self.num_classes) != (
                    cb == self.num_classes):
                cls_name = na if ca == self.num_classes else nb
            elif self.num_classes is not None:
                raise DecoderShapeError(
                    f'nanodet decoder: stride {stride} tensors {na!r} ({ca} channels) and '
                    f'{nb!r} ({cb} channels): exactly one must have {self.num_classes} '
                    f'class channels, as {self.num_classes} labels were given')
            elif ca == cb:
                raise DecoderShapeError(
                    f'nanodet decoder: stride {stride} tensors {na!r} and {nb!r} both have '
                    f'{ca} channels; use the levels option')
            else:
                cls_name = na if ca > cb else nb
            box_name = nb if cls_name == na else na
            cls_ch = table[cls_name][-1]
            self._set_bins(box_name, table[box_name], table[box_name][-1])
            if classes is not None and cls_ch != classes:
                raise self._error(cls_name, table[cls_name], f'{classes} class channels')
            classes = cls_ch
            self._levels.append((stride, cls_name, box_name))
        return classes, True

    def _bind_combined(self, table: Dict[str, Tuple[int, ...]]) -> Tuple[Optional[int], bool]:
        name = self._pick_output(table, 'output', lambda s: len(s) == 3,
                                 '(batch, cells, classes + 4 x bins)')
        shape = table[name]
        strides = self._combined_strides(shape[-2])
        total = sum(self._cells(s) for s in strides)
        expected = (f'(batch, {total}, classes + 4 x bins): strides {list(strides)} at input '
                    f'{self.input_hw}')
        if not _dim_ok(shape[-2], total):
            raise self._error(name, shape, expected)
        channels = shape[-1]
        self._combined = name
        start = 0
        for s in strides:
            self._offsets.append((s, start, start + self._cells(s)))
            start += self._cells(s)
        if channels < 0:
            return None, False
        if self.num_classes is not None:
            box_ch = channels - self.num_classes
        elif self.options.get('reg_max') is not None:
            box_ch = 4 * (int(self.options['reg_max']) + 1)
        else:
            box_ch = 4 * 8   # NanoDet-Plus default reg_max 7
        if box_ch < 8 or box_ch % 4 or box_ch >= channels:
            raise self._error(name, shape, expected + ' (give labels or reg_max)')
        self._bins = box_ch // 4
        return channels - box_ch, True

    def _distances(self, box: np.ndarray, stride: int) -> np.ndarray:
        logits = box.reshape(-1, 4, self._bins).astype(np.float32)
        logits = logits - logits.max(axis=2, keepdims=True)
        e = np.exp(logits)
        proj = np.arange(self._bins, dtype=np.float32)
        return (e @ proj) / e.sum(axis=2) * np.float32(stride)

    def _decode_level(self, cls: np.ndarray, box: np.ndarray, stride: int,
                      centers: np.ndarray, threshold: float, raw_threshold: float
                      ) -> Decoded:
        rows, classes, scores = self._select(cls, raw_threshold)
        if not rows.size:
            return _empty()
        if self._apply_sigmoid:
            scores = _sigmoid(scores.astype(np.float32))
        dist = self._distances(box[rows], stride)
        ctr = centers[rows]
        boxes = np.concatenate([ctr - dist[:, :2], ctr + dist[:, 2:]], axis=1)
        return boxes, scores.astype(np.float32), classes

    def decode(self, outputs: Mapping[str, np.ndarray], index: int,
               score_threshold: float) -> Decoded:
        self._ensure_bound(outputs)
        threshold = float(score_threshold)
        raw = _logit(threshold) if self._apply_sigmoid else threshold
        parts = []
        if self._combined is not None:
            total = self._offsets[-1][2]
            flat = self._tensor(outputs, self._combined, index, 2,
                                f'(batch, {total}, classes + 4 x bins)')
            classes = flat.shape[1] - 4 * self._bins
            if flat.shape[0] != total or classes <= 0:
                raise self._error(self._combined, np.shape(outputs[self._combined]),
                                  f'(batch, {total}, classes + {4 * self._bins})')
            for stride, start, stop in self._offsets:
                part = flat[start:stop]
                parts.append(self._decode_level(part[:, :classes], part[:, classes:], stride,
                                                self._centers_for(stride), threshold, raw))
        else:
            for stride, cls_name, box_name in self._levels:
                cells = self._cells(stride)
                cls = self._tensor(outputs, cls_name, index, 2, f'(batch, {cells}, classes)')
                box = self._tensor(outputs, box_name, index, 2,
                                   f'(batch, {cells}, {4 * self._bins})')
                if cls.shape[0] != cells or (self.num_classes and
                                             cls.shape[1] != self.num_classes):
                    raise self._error(cls_name, np.shape(outputs[cls_name]),
                                      f'(batch, {cells}, {self.num_classes or "classes"})')
                if box.shape != (cells, 4 * self._bins):
                    raise self._error(box_name, np.shape(outputs[box_name]),
                                      f'(batch, {cells}, {4 * self._bins})')
                parts.append(self._decode_level(cls, box, stride, self._centers_for(stride),
                                                threshold, raw))
        return _concat(parts)


def _concat(parts: Sequence[Decoded]) -> Decoded:
    parts = [p for p in parts if len(p[1])]
    if not parts:
        return _empty()
    if len(parts) == 1:
        return parts[0]
    return (np.concatenate([p[0] for p in parts]).astype(np.float32, copy=False),
            np.concatenate([p[1] for p in parts]).astype(np.float32, copy=False),
            np.concatenate([p[2] for p in parts]))


def _cxcywh_to_xyxy(b: np.ndarray, scale_xy: Optional[Tuple[float, float]]) -> np.ndarray:
    b = b.astype(np.float32)
    if scale_xy is not None:
        b = b * np.array([scale_xy[0], scale_xy[1], scale_xy[0], scale_xy[1]], np.float32)
    half = b[:, 2:4] * np.float32(0.5)
    return np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)


#: stride runs a YOLO head's anchor rows come from: P3-P5 (every Ultralytics default),
#: P3-P6 (the -p6 models), P2-P5 (the -p2 models)
YOLO_STRIDE_RUNS = ((8, 16, 32), (8, 16, 32, 64), (4, 8, 16, 32))


def grid_cells(input_hw: Tuple[int, int], strides: Sequence[int]) -> int:
    """Count the cells of stride levels over an input (ceil: a partial cell is a cell)."""
    height, width = input_hw
    return sum(math.ceil(height / s) * math.ceil(width / s) for s in strides)


class _YoloBase(Decoder):
    """
    Shared option handling of the YOLO decoders (boxes are centre x, y, width, height).

    The anchor (row) count is checked against the input size: the cells of one of
    ``YOLO_STRIDE_RUNS`` (or of the ``strides`` option) times one of ``per_cell``.
    """

    per_cell: Tuple[int, ...] = (1,)

    def _scale(self) -> Optional[Tuple[float, float]]:
        if _as_bool(self.options['normalized']):
            height, width = self.input_hw
            return (float(width), float(height))
        return None

    def _anchor_counts(self) -> Dict[int, str]:
        """Map each valid anchor count at this input to how it arises (for messages)."""
        given = self.options.get('strides')
        if given:
            try:
                runs: Sequence[Sequence[int]] = (tuple(int(s) for s in given),)
            except (TypeError, ValueError):
                raise DecoderShapeError(
                    f'{self.name} decoder: strides must be a list of integers, got '
                    f'{given!r}') from None
            if any(s <= 0 for s in runs[0]):
                raise DecoderShapeError(f'{self.name} decoder: strides must be > 0, got '
                                        f'{given!r}')
        else:
            runs = YOLO_STRIDE_RUNS
        counts: Dict[int, str] = {}
        for per in self.per_cell:
            for run in runs:
                n = per * grid_cells(self.input_hw, run)
                text = 'strides ' + '/'.join(str(s) for s in run)
                counts.setdefault(n, text + (f' x {per} per cell' if per > 1 else ''))
        return counts

    def _anchors_ok(self, n: int) -> bool:
        return n < 0 or n in self._anchor_counts()

    def _anchor_text(self) -> str:
        height, width = self.input_hw
        counts = ', '.join(f'{n} ({how})' for n, how in self._anchor_counts().items())
        return f'anchors = one of {counts} for input {width}x{height}'


class YoloV5Decoder(_YoloBase):
    """
    YOLOv5 (and v7-style, YOLOX) ``[B, N, 5 + C]``: cx, cy, w, h, objectness, classes.

    The score of a class is objectness times the class score. Options: ``output`` (name,
    default the only fitting output), ``normalized`` (boxes in 0..1 of the input size),
    ``multi_label``, ``strides``. N is the anchor count: 3 per cell (YOLOv5, v7) or 1
    (YOLOX) over the grid cells of the stride levels.
    """

    name = 'yolov5'
    defaults = {'output': None, 'normalized': False, 'multi_label': False, 'strides': None}
    per_cell = (3, 1)

    def _expected(self) -> str:
        channels = '5 + classes' if self.num_classes is None else str(5 + self.num_classes)
        return f'(batch, anchors, {channels}) with {self._anchor_text()}'

    def _fits(self, shape: Tuple[int, ...]) -> bool:
        if len(shape) != 3 or not self._anchors_ok(shape[1]):
            return False
        wanted = None if self.num_classes is None else 5 + self.num_classes
        return _dim_ok(shape[-1], wanted) and (shape[-1] < 0 or shape[-1] > 5)

    def _bind_impl(self, table: Dict[str, Tuple[int, ...]]) -> Tuple[Optional[int], bool]:
        self._output = self._pick_output(table, 'output', self._fits, self._expected())
        shape = table[self._output]
        channels = shape[-1]
        complete = channels >= 0 and shape[1] >= 0
        return (None, False) if channels < 0 else (channels - 5, complete)

    def decode(self, outputs: Mapping[str, np.ndarray], index: int,
               score_threshold: float) -> Decoded:
        self._ensure_bound(outputs)
        pred = self._tensor(outputs, self._output, index, 2, self._expected())
        if not self._fits((1,) + pred.shape):
            raise self._error(self._output, np.shape(outputs[self._output]), self._expected())
        threshold = float(score_threshold)
        obj = pred[:, 4]
        alive = np.flatnonzero(obj > threshold)   # class scores are <= 1: cheap pre-filter
        if not alive.size:
            return _empty()
        cand = pred[alive].astype(np.float32)
        rows, classes, scores = self._select(cand[:, 5:], threshold, scale=cand[:, 4])
        if not rows.size:
            return _empty()
        boxes = _cxcywh_to_xyxy(cand[rows, :4], self._scale())
        return boxes, scores.astype(np.float32), classes


class YoloV8Decoder(_YoloBase):
    """
    YOLOv8 / YOLO11 / YOLOv5u ``[B, 4 + C, N]`` (cx, cy, w, h, class scores; no objectness).

    Also accepts the transposed ``[B, N, 4 + C]``. The anchor dimension is the one equal
    to the input's anchor count (e.g. 8400 at 640x640), so the layout is never guessed
    from which dimension is larger; ``transposed`` forces it; with labels the channel
    dimension must be ``4 + len(labels)``. YOLOv10 and YOLO26 exported with their
    one-to-many head (Ultralytics' default ``nms`` unset) have this layout too. Options:
    ``output``, ``transposed``, ``normalized``, ``multi_label``, ``strides``.
    """

    name = 'yolov8'
    defaults = {'output': None, 'transposed': None, 'normalized': False,
                'multi_label': False, 'strides': None}

    def _expected(self) -> str:
        channels = '4 + classes' if self.num_classes is None else str(4 + self.num_classes)
        return (f'(batch, {channels}, anchors) or (batch, anchors, {channels}) with '
                f'{self._anchor_text()}')

    def _channels_ok(self, channels: int) -> bool:
        wanted = None if self.num_classes is None else 4 + self.num_classes
        return _dim_ok(channels, wanted) and (channels < 0 or channels > 4)

    def _orientation(self, shape: Tuple[int, ...]) -> Optional[bool]:
        """Return True for channels first, False for channels last, None if it does not fit."""
        if len(shape) != 3:
            return None
        a, b = shape[1], shape[2]
        first = self._channels_ok(a) and self._anchors_ok(b)
        last = self._channels_ok(b) and self._anchors_ok(a)
        forced = self.options.get('transposed')
        if forced is not None:
            want_first = not _as_bool(forced)
            return want_first if (first if want_first else last) else None
        if first:
            return True     # a tie (both dynamic) goes to the Ultralytics layout
        return False if last else None

    def _bind_impl(self, table: Dict[str, Tuple[int, ...]]) -> Tuple[Optional[int], bool]:
        self._output = self._pick_output(
            table, 'output', lambda s: self._orientation(s) is not None, self._expected())
        shape = table[self._output]
        self._channels_first = self._orientation(shape)
        channels, anchors = (shape[1], shape[2]) if self._channels_first else (shape[2], shape[1])
        if channels < 0:
            return None, False
        return channels - 4, anchors >= 0

    def decode(self, outputs: Mapping[str, np.ndarray], index: int,
               score_threshold: float) -> Decoded:
        self._ensure_bound(outputs)
        pred = self._tensor(outputs, self._output, index, 2, self._expected())
        if self._orientation((1,) + pred.shape) != self._channels_first:
            raise self._error(self._output, np.shape(outputs[self._output]), self._expected())
        if self._channels_first:
            cls = pred[4:].T     # (N, C) view; reductions over axis 1 stay vectorised
            box = pred[:4].T
        else:
            cls = pred[:, 4:]
            box = pred[:, :4]
        rows, classes, scores = self._select(cls, float(score_threshold))
        if not rows.size:
            return _empty()
        boxes = _cxcywh_to_xyxy(box[rows], self._scale())
        return boxes, scores.astype(np.float32), classes


class EndToEndDecoder(Decoder):
    """
    Final detections: rows ``[B, K, 6]`` or the same split over three outputs.

    Rows are x1, y1, x2, y2, score, class id; the split form is ``boxes [B, K, 4]``,
    ``scores [B, K]`` and ``labels [B, K]``.

    Rows are what YOLOv10 and YOLO26 export with their NMS-free head (Ultralytics
    ``nms=False``: K = 300 real rows, scores down to a few percent, never zero-padded,
    and some same-class pairs overlapping above IoU 0.7 that the head means to keep), and
    what any Ultralytics family exports with ``nms=True`` (rows kept by its NMS first,
    then zero rows). The split form is RT-DETR's (its export's size input frozen to the
    network size, so boxes come out in network pixels). Either way the rows are already
    the answer: they are thresholded, capped and mapped to source pixels, never NMS'd
    again (``needs_nms`` False), exactly as the exporters' own predictors treat them. The
    class count is not in the shapes (class ids are values), so labels are checked
    against the model's metadata instead, and ids beyond the labels are dropped.
    Ultralytics' RT-DETR exports the same ``[B, 300, 6]`` shape with other numbers in it:
    cx, cy, w, h in 0..1 of the input (its ``RTDETRPredictor`` converts them); only the
    model's metadata tells them apart, so ``layout.exporter_options`` sets
    ``box_format='cxcywh'`` and ``normalized`` from it.
    Options: ``output`` (the rows), ``boxes`` / ``scores`` / ``labels`` (the split form;
    by default found by shape and by name), ``normalized`` (boxes in 0..1 of the input),
    ``box_format`` (``xyxy`` corners, or ``cxcywh`` centre and size).
    """

    name = 'end2end'
    defaults = {'output': None, 'boxes': None, 'scores': None, 'labels': None,
                'normalized': False, 'box_format': 'xyxy'}
    needs_nms = False
    classes_in_shapes = False
    _ROWS = '(batch, detections, 6) rows of x1, y1, x2, y2, score, class'

    @staticmethod
    def _fits(shape: Tuple[int, ...]) -> bool:
        return len(shape) == 3 and shape[2] == 6

    def _bind_impl(self, table: Dict[str, Tuple[int, ...]]) -> Tuple[Optional[int], bool]:
        if self.options['box_format'] not in ('xyxy', 'cxcywh'):
            raise ValueError(f"end2end decoder: box_format {self.options['box_format']!r} is "
                             "not 'xyxy' or 'cxcywh'")
        self._output: Optional[str] = None
        self._split: Optional[Tuple[str, str, str]] = None
        named = [self.options.get(k) for k in ('boxes', 'scores', 'labels')]
        rows = [n for n, s in table.items() if self._fits(s)]
        if self.options.get('output') or (rows and not any(named)):
            self._output = self._pick_output(table, 'output', self._fits, self._ROWS)
        else:
            self._split = self._bind_split(table)
        return self.num_classes, True

    def _bind_split(self, table: Dict[str, Tuple[int, ...]]) -> Tuple[str, str, str]:
        expected = (f'{self._ROWS}, or boxes (batch, K, 4) + scores (batch, K) + labels '
                    '(batch, K)')
        boxes = self._pick_output(table, 'boxes', lambda s: len(s) == 3 and s[2] == 4,
                                  expected)
        k = table[boxes][1]
        flat = {n: s for n, s in table.items() if len(s) == 2 and _dim_ok(s[1], k)}

        def by_name(option: str, words: Tuple[str, ...]) -> str:
            wanted = self.options.get(option)
            if wanted:
                if wanted not in flat:
                    raise DecoderShapeError(
                        f'end2end decoder: option {option}={wanted!r} names no (batch, {k}) '
                        f'output; those are {sorted(flat)}')
                return wanted
            hits = [n for n in flat if any(w in n.lower() for w in words)]
            if len(hits) != 1:
                described = ', '.join(f'{n!r} {tuple(s)}' for n, s in table.items())
                raise DecoderShapeError(
                    f'end2end decoder: boxes {boxes!r} {tuple(table[boxes])} need a '
                    f'(batch, {k}) {option} output; outputs: {described}; name it with '
                    f'the {option!r} option')
            return hits[0]
        scores = by_name('scores', ('score', 'conf', 'prob'))
        labels = by_name('labels', ('label', 'class', 'cls'))
        if scores == labels:
            raise DecoderShapeError(f'end2end decoder: {scores!r} cannot be both the scores '
                                    'and the labels; set the scores and labels options')
        return boxes, scores, labels

    def decode(self, outputs: Mapping[str, np.ndarray], index: int,
               score_threshold: float) -> Decoded:
        self._ensure_bound(outputs)
        if self._split is not None:
            names = self._split
            box = self._tensor(outputs, names[0], index, 2, '(batch, K, 4)')
            score = self._tensor(outputs, names[1], index, 1, '(batch, K)')
            label = self._tensor(outputs, names[2], index, 1, '(batch, K)')
            if box.shape[1] != 4 or not box.shape[0] == score.shape[0] == label.shape[0]:
                raise DecoderShapeError(
                    f'end2end decoder: boxes {np.shape(outputs[names[0]])}, scores '
                    f'{np.shape(outputs[names[1]])} and labels {np.shape(outputs[names[2]])}'
                    ' must be (batch, K, 4), (batch, K), (batch, K)')
            pred = np.concatenate([box.astype(np.float32), score.astype(np.float32)[:, None],
                                   label.astype(np.float32)[:, None]], axis=1)
        else:
            assert self._output is not None
            pred = self._tensor(outputs, self._output, index, 2, '(batch, detections, 6)')
            if pred.shape[1] != 6:
                raise self._error(self._output, np.shape(outputs[self._output]),
                                  '(batch, detections, 6)')
        rows = np.flatnonzero(pred[:, 4] > float(score_threshold))
        if not rows.size:
            return _empty()
        cand = pred[rows].astype(np.float32)
        boxes = cand[:, :4]
        if self.options['box_format'] == 'cxcywh':
            half = boxes[:, 2:] / 2
            boxes = np.concatenate([boxes[:, :2] - half, boxes[:, :2] + half], axis=1)
        if _as_bool(self.options['normalized']):
            height, width = self.input_hw
            boxes = boxes * np.array([width, height, width, height], np.float32)
        classes = np.rint(cand[:, 5]).astype(np.int64)
        valid = classes >= 0
        if self.num_classes is not None:
            valid &= classes < self.num_classes
        if not valid.all():
            boxes, cand, classes = boxes[valid], cand[valid], classes[valid]
        return np.ascontiguousarray(boxes), np.ascontiguousarray(cand[:, 4]), classes


class SsdDecoder(Decoder):
    """
    SSD-style exports with decoded boxes: ``boxes [B, N, 4]`` and ``scores [B, N, C]``.

    Options: ``boxes`` / ``scores`` (output names; default: the output whose last
    dimension is 4 is the boxes), ``normalized`` (default True: boxes in 0..1 of the
    input size; False: network pixels), ``box_order`` ('xyxy' or 'yxyx', the TensorFlow
    order), ``background_class`` (column 0 is background: it is dropped and class ids
    shift down by one, so labels list only real classes), ``score_activation`` ('none',
    'sigmoid' or 'softmax'), ``multi_label``. ``boxes`` may also be ``[B, N, 1, 4]``.
    """

    name = 'ssd'
    defaults = {'boxes': None, 'scores': None, 'normalized': True, 'box_order': 'xyxy',
                'background_class': False, 'score_activation': 'none',
                'multi_label': False}

    def __init__(self, input_hw: Tuple[int, int], num_classes: Optional[int] = None,
                 options: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(input_hw, num_classes, options)
        if self.options['box_order'] not in ('xyxy', 'yxyx'):
            raise DecoderShapeError(
                f"ssd decoder: box_order must be 'xyxy' or 'yxyx', got "
                f"{self.options['box_order']!r}")
        if self.options['score_activation'] not in ('none', 'sigmoid', 'softmax'):
            raise DecoderShapeError(
                "ssd decoder: score_activation must be 'none', 'sigmoid' or 'softmax', got "
                f"{self.options['score_activation']!r}")

    @staticmethod
    def _is_boxes(shape: Tuple[int, ...]) -> bool:
        return (len(shape) == 3 and shape[-1] == 4) or (
            len(shape) == 4 and shape[-1] == 4 and shape[-2] == 1)

    def _bind_impl(self, table: Dict[str, Tuple[int, ...]]) -> Tuple[Optional[int], bool]:
        self._boxes = self._pick_output(table, 'boxes', self._is_boxes,
                                        '(batch, N, 4) boxes')
        bg = 1 if _as_bool(self.options['background_class']) else 0
        wanted = None if self.num_classes is None else self.num_classes + bg
        n_boxes = table[self._boxes][1] if len(table[self._boxes]) >= 3 else \
            table[self._boxes][0]

        def fits(shape):
            return (len(shape) == 3 and _dim_ok(shape[-1], wanted)
                    and _dim_ok(shape[-2], n_boxes))
        others = {n: s for n, s in table.items() if n != self._boxes}
        if not others:
            raise DecoderShapeError(
                f'ssd decoder: needs a scores output besides boxes {self._boxes!r}; outputs '
                f'are {sorted(table)}')
        scores_expected = f'(batch, {n_boxes}, {wanted or "classes"})'
        self._scores = self._pick_output(others, 'scores', fits, scores_expected)
        channels = table[self._scores][-1]
        if channels < 0:
            return None, False
        if channels - bg <= 0:
            raise self._error(self._scores, table[self._scores],
                              'at least one class besides the background column')
        return channels - bg, True

    def decode(self, outputs: Mapping[str, np.ndarray], index: int,
               score_threshold: float) -> Decoded:
        self._ensure_bound(outputs)
        boxes_arr = np.asarray(outputs.get(self._boxes)) if self._boxes in outputs else None
        if boxes_arr is not None and boxes_arr.ndim == 4:
            boxes_arr = boxes_arr.reshape(boxes_arr.shape[0], boxes_arr.shape[1], 4)
            outputs = dict(outputs)
            outputs[self._boxes] = boxes_arr
        box = self._tensor(outputs, self._boxes, index, 2, '(batch, N, 4)')
        cls = self._tensor(outputs, self._scores, index, 2, '(batch, N, classes)')
        if box.shape[1] != 4 or cls.shape[0] != box.shape[0]:
            raise DecoderShapeError(
                f'ssd decoder: boxes {self._boxes!r} {np.shape(outputs[self._boxes])} and '
                f'scores {self._scores!r} {np.shape(outputs[self._scores])} must be '
                '(batch, N, 4) and (batch, N, classes) with the same N')
        activation = self.options['score_activation']
        if activation == 'sigmoid':
            cls = _sigmoid(cls.astype(np.float32))
        elif activation == 'softmax':
            cls = cls.astype(np.float32)
            cls = np.exp(cls - cls.max(axis=1, keepdims=True))
            cls = cls / cls.sum(axis=1, keepdims=True)
        if _as_bool(self.options['background_class']):
            cls = cls[:, 1:]
        rows, classes, scores = self._select(cls, float(score_threshold))
        if not rows.size:
            return _empty()
        b = box[rows].astype(np.float32)
        if self.options['box_order'] == 'yxyx':
            b = b[:, [1, 0, 3, 2]]
        if _as_bool(self.options['normalized']):
            height, width = self.input_hw
            b = b * np.array([width, height, width, height], np.float32)
        return b, scores.astype(np.float32), classes


_DECODERS: Dict[str, Any] = {
    'nanodet': NanoDetDecoder,
    'yolov5': YoloV5Decoder,
    'yolov8': YoloV8Decoder,
    'end2end': EndToEndDecoder,
    'ssd': SsdDecoder,
}


def canonical_decoder(name: str) -> str:
    """Return the decoder name for ``name`` or one of its aliases (yolo11 -> yolov8)."""
    key = str(name).strip().lower()
    return DECODER_ALIASES.get(key, key)


def make_decoder(name: str, input_hw: Tuple[int, int], num_classes: Optional[int] = None,
                 options: Optional[Mapping[str, Any]] = None) -> Decoder:
    """Create the decoder called ``name`` (one of DETECTION_DECODERS or an alias)."""
    key = canonical_decoder(name)
    if key not in _DECODERS:
        raise DecoderShapeError(
            f'unknown detection decoder {name!r}; choose one of {list(DETECTION_DECODERS)}')
    return _DECODERS[key](input_hw, num_classes, options)


class DetectionPostprocessor:
    """
    Decode, threshold, class-wise NMS, cap, map to source pixels: one object per model.

    Build it once (at configure) and call ``run()`` per inference. ``pre_nms_top_k`` caps
    the candidates NMS sees (highest scores kept), which bounds the worst case when a low
    threshold lets thousands of cells through. A decoder whose rows are final detections
    (``needs_nms`` False: end-to-end exports) skips NMS; the IoU threshold then has no
    effect.
    """

    def __init__(self, decoder: Decoder, score_threshold: float = 0.35,
                 iou_threshold: float = 0.5, max_detections: int = 100,
                 pre_nms_top_k: int = 1000, class_agnostic: bool = False) -> None:
        if not 0.0 <= float(score_threshold) <= 1.0:
            raise ValueError(f'score_threshold must be in [0, 1], got {score_threshold}')
        if not 0.0 <= float(iou_threshold) <= 1.0:
            raise ValueError(f'nms_iou_threshold must be in [0, 1], got {iou_threshold}')
        if int(max_detections) < 1:
            raise ValueError(f'max_detections must be >= 1, got {max_detections}')
        if int(pre_nms_top_k) < 1:
            raise ValueError(f'pre_nms_top_k must be >= 1, got {pre_nms_top_k}')
        self.decoder = decoder
        self.score_threshold = float(score_threshold)
        self.iou_threshold = float(iou_threshold)
        self.max_detections = int(max_detections)
        self.pre_nms_top_k = int(pre_nms_top_k)
        self.class_agnostic = bool(class_agnostic)

    def run_one(self, outputs: Mapping[str, np.ndarray], index: int,
                transform: Any = None) -> DetectionBatch:
        """Detect in batch item ``index``; ``transform.to_source`` maps boxes back."""
        boxes, scores, class_ids = self.decoder.decode(outputs, index, self.score_threshold)
        if not len(scores):
            return DetectionBatch.empty()
        if len(scores) > self.pre_nms_top_k:
            top = np.argpartition(-scores, self.pre_nms_top_k - 1)[:self.pre_nms_top_k]
            boxes, scores, class_ids = boxes[top], scores[top], class_ids[top]
        if transform is not None:
            # Map every candidate once; one wholly inside letterbox padding (or outside a
            # centre crop) clips to nothing and must not take a place among the kept.
            source = np.asarray(transform.to_source(boxes), dtype=np.float32).reshape(-1, 4)
            visible = (source[:, 2] > source[:, 0]) & (source[:, 3] > source[:, 1])
            if not visible.all():
                boxes, scores, class_ids = boxes[visible], scores[visible], class_ids[visible]
                source = source[visible]
        if self.decoder.needs_nms:
            keep = nms(boxes, scores, self.iou_threshold,
                       None if self.class_agnostic else class_ids, self.max_detections)
        else:   # final detections: best first, as they came for equal scores
            keep = np.argsort(-scores, kind='stable')[:self.max_detections]
        boxes = boxes[keep] if transform is None else source[keep]
        scores, class_ids = scores[keep], class_ids[keep]
        return DetectionBatch(boxes, scores, class_ids)

    def run(self, outputs: Mapping[str, np.ndarray],
            transforms: Sequence[Any]) -> List[DetectionBatch]:
        """Return one ``DetectionBatch`` per transform (one transform per batch item)."""
        return [self.run_one(outputs, i, t) for i, t in enumerate(transforms)]


def postprocessor_for_spec(spec: Any) -> DetectionPostprocessor:
    """Configure a ``DetectionPostprocessor`` from a detection ``ModelSpec``."""
    if getattr(spec, 'task', 'detection') != 'detection':
        raise ValueError(f'model spec task is {spec.task!r}, not detection')
    options = dict(spec.decoder_options)
    post = {k: options.pop(k) for k in POSTPROCESS_OPTIONS if k in options}
    classes = getattr(spec, 'num_classes', None) or len(spec.labels or ()) or None
    decoder = make_decoder(spec.decoder, (spec.preprocess.height, spec.preprocess.width),
                           classes, options)
    outputs = dict(getattr(spec, 'output_shapes', ()) or ()) or getattr(spec, 'outputs', None)
    if outputs:
        decoder.bind(outputs)   # the probed shapes, where a dynamic export needed a probe
    return DetectionPostprocessor(decoder, spec.score_threshold, spec.nms_iou_threshold,
                                  spec.max_detections, **post)


@functools.lru_cache(maxsize=8)
def _cached_postprocessor(spec: Any) -> DetectionPostprocessor:
    return postprocessor_for_spec(spec)


def detect(outputs: Mapping[str, np.ndarray], transforms: Sequence[Any],
           spec: Any) -> List[DetectionBatch]:
    """
    Decode -> threshold -> class-wise NMS -> cap -> source pixels, per batch item.

    Convenience for one-off callers (CLI, evaluation); the postprocessor is cached per
    (hashable, frozen) spec, so repeated calls do not rebuild it.
    """
    return _cached_postprocessor(spec).run(outputs, transforms)
