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
Picture to network input, written straight into the backend's input buffer.

A model is only as accurate as the preprocessing it was trained with (resize policy,
colour order, mean/std), and on a Jetson's CPU the usual ``cv2.resize`` + float64
arithmetic + ``transpose`` + ``ascontiguousarray`` chain costs more than the
inference it feeds. This module does it in few passes over uint8 data and never
allocates per frame once warm: scratch buffers are kept per source size, and the
normalisation ``(x - mean) / std`` is a 256-entry lookup table per channel (exact for
uint8 pixels), applied by ``cv2.LUT`` directly into the output plane, so colour
reordering and HWC->CHW cost nothing extra.

The :class:`Transform` returned with every frame is the exact affine map between
source pixels and network pixels (continuous coordinates, pixel ``i`` covers
``[i, i+1)``), which is what postprocessing needs to put boxes back on the image.

No scratch buffer is larger than the frame itself or twice the network input. A
centre crop resizes the whole frame and crops it while that enlarged frame stays within
twice the network input; beyond that (a tiny frame, or an extreme aspect ratio such as
1x10000, whose short side scaled to 256 would make a 256 x 2.56M image of 655 MB) the
crop window is sampled straight from the source with OpenCV's resize arithmetic
(:class:`_CropSampler`), so the work and memory are bounded by the network input
whatever the aspect ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from .image_convert import Picture

LAYOUTS = ('NCHW', 'NHWC')
RESIZES = ('letterbox', 'center_crop', 'stretch')
INTERPOLATIONS = ('linear', 'nearest', 'area')
DTYPES = ('float32', 'float16')
_SOURCE_COLORS = ('rgb', 'bgr', 'rgba', 'bgra', 'mono')
_MAX_PLANS = 4  # source sizes kept warm at once; a camera rarely alternates between more
# A centre crop enlarging the frame samples the crop window directly once the whole
# enlarged frame would hold more pixels than this many network inputs.
_MAX_ENLARGED_INPUTS = 2


class PreprocessError(ValueError):
    """A spec, picture or output buffer the preprocessor cannot work with."""


def _positive_int(value, name: str) -> int:
    try:
        ok = not isinstance(value, bool) and int(value) == value and int(value) > 0
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise PreprocessError('%s must be a positive integer, got %r' % (name, value))
    return int(value)


def _triple(value, name: str) -> Tuple[float, float, float]:
    try:
        result = tuple(float(v) for v in value)
    except TypeError:
        result = (float(value),) * 3
    if len(result) != 3 or not all(np.isfinite(result)):
        raise PreprocessError('%s must be 3 finite numbers, got %r' % (name, value))
    return result


@dataclass(frozen=True)
class PreprocessSpec:
    """How a model wants its input; mean, std and pad_value are in 0-255 pixel units."""

    width: int
    height: int
    layout: str = 'NCHW'
    color: str = 'rgb'
    resize: str = 'letterbox'
    crop_fraction: float = 0.875
    mean: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: Tuple[float, float, float] = (1.0, 1.0, 1.0)
    pad_value: float = 114.0
    dtype: str = 'float32'
    interpolation: str = 'linear'

    def __post_init__(self):
        set_ = object.__setattr__
        set_(self, 'width', _positive_int(self.width, 'width'))
        set_(self, 'height', _positive_int(self.height, 'height'))
        for name, choices in (('layout', LAYOUTS), ('color', ('rgb', 'bgr')),
                              ('resize', RESIZES), ('dtype', DTYPES),
                              ('interpolation', INTERPOLATIONS)):
            if getattr(self, name) not in choices:
                raise PreprocessError('%s must be one of %s, got %r'
                                      % (name, ', '.join(choices), getattr(self, name)))
        fraction = float(self.crop_fraction)
        if not 0.0 < fraction <= 1.0:
            raise PreprocessError('crop_fraction must be in (0, 1], got %r'
                                  % (self.crop_fraction,))
        set_(self, 'crop_fraction', fraction)
        set_(self, 'mean', _triple(self.mean, 'mean'))
        std = _triple(self.std, 'std')
        if any(s == 0.0 for s in std):
            raise PreprocessError('std must not contain 0, got %r' % (self.std,))
        set_(self, 'std', std)
        pad = float(self.pad_value)
        if not np.isfinite(pad):
            raise PreprocessError('pad_value must be finite, got %r' % (self.pad_value,))
        set_(self, 'pad_value', pad)

    @property
    def input_shape(self) -> Tuple[int, int, int]:
        """Shape of one batch slot: (3, H, W) for NCHW, (H, W, 3) for NHWC."""
        if self.layout == 'NCHW':
            return (3, self.height, self.width)
        return (self.height, self.width, 3)

    def allocate(self, batch: Optional[int] = None) -> np.ndarray:
        """Return a zeroed input buffer, with a leading batch axis when ``batch`` is given."""
        shape = self.input_shape if batch is None else (int(batch),) + self.input_shape
        return np.zeros(shape, np.dtype(self.dtype))


@dataclass(frozen=True)
class Transform:
    """``net = src * scale + offset`` per axis, for boxes in continuous pixel units."""

    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float
    src_width: int
    src_height: int

    def _boxes(self, boxes) -> np.ndarray:
        boxes = np.asarray(boxes, dtype=np.float64)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise PreprocessError('boxes must be an (N, 4) xyxy array, got shape %s'
                                  % (boxes.shape,))
        return boxes

    def to_network(self, boxes) -> np.ndarray:
        """Map (N, 4) xyxy source-pixel boxes into network pixels (no clipping)."""
        boxes = self._boxes(boxes)
        out = np.empty_like(boxes)
        out[:, 0::2] = boxes[:, 0::2] * self.scale_x + self.offset_x
        out[:, 1::2] = boxes[:, 1::2] * self.scale_y + self.offset_y
        return out

    def to_source(self, boxes) -> np.ndarray:
        """Map (N, 4) xyxy network-pixel boxes to source pixels, clipped to the image."""
        boxes = self._boxes(boxes)
        out = np.empty_like(boxes)
        out[:, 0::2] = (boxes[:, 0::2] - self.offset_x) / self.scale_x
        out[:, 1::2] = (boxes[:, 1::2] - self.offset_y) / self.scale_y
        np.clip(out[:, 0::2], 0.0, self.src_width, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0.0, self.src_height, out=out[:, 1::2])
        return out


class Geometry(NamedTuple):
    """
    Where source pixels go; shared with GPU preprocessing so both agree exactly.

    The whole source is resized to ``resized_*``; the window at ``crop_*`` of size
    ``content_*`` is written to the network input at ``pad_*``; the rest of the input
    (letterbox only) is ``pad_value``. The resized image is the reference frame, not
    always a buffer: where it would be large, only its crop window is computed
    (``crops_before_resizing``), and the GPU kernel never builds it.
    """

    resized_width: int
    resized_height: int
    crop_x: int
    crop_y: int
    content_width: int
    content_height: int
    pad_x: int
    pad_y: int
    transform: Transform


def plan_geometry(spec: PreprocessSpec, src_width: int, src_height: int) -> Geometry:
    """Resize/crop/pad sizes for one source size (torchvision conventions for crop)."""
    w = _positive_int(src_width, 'source width')
    h = _positive_int(src_height, 'source height')
    net_w, net_h = spec.width, spec.height
    if spec.resize == 'stretch':
        rw, rh, cx, cy, px, py = net_w, net_h, 0, 0, 0, 0
        cw, ch = net_w, net_h
    elif spec.resize == 'letterbox':
        scale = min(net_w / w, net_h / h)
        rw = min(net_w, max(1, int(round(w * scale))))
        rh = min(net_h, max(1, int(round(h * scale))))
        cx, cy, cw, ch = 0, 0, rw, rh
        px, py = (net_w - rw) // 2, (net_h - rh) // 2
    else:
        # torchvision Resize(short) + CenterCrop: short side to round(min(net)/fraction),
        # long side int(short * long / short_src).
        short = int(round(min(net_w, net_h) / spec.crop_fraction))
        if w <= h:
            rw, rh = short, int(short * h / w)
        else:
            rw, rh = int(short * w / h), short
        if rw < net_w or rh < net_h:  # non-square network: cover it instead
            scale = max(net_w / w, net_h / h) / spec.crop_fraction
            rw = max(net_w, int(round(w * scale)))
            rh = max(net_h, int(round(h * scale)))
        cx = int(round((rw - net_w) / 2.0))
        cy = int(round((rh - net_h) / 2.0))
        cw, ch, px, py = net_w, net_h, 0, 0
    transform = Transform(rw / w, rh / h, float(px - cx), float(py - cy), w, h)
    return Geometry(rw, rh, cx, cy, cw, ch, px, py, transform)


def _interpolation_flag(cv2, name: str) -> int:
    if name == 'nearest':
        # Pixel-centre aligned like 'linear' (INTER_NEAREST is off by half a pixel).
        return getattr(cv2, 'INTER_NEAREST_EXACT', cv2.INTER_NEAREST)
    return {'linear': cv2.INTER_LINEAR, 'area': cv2.INTER_AREA}[name]


def _into(result: np.ndarray, dst: np.ndarray) -> None:
    """Make sure an OpenCV result landed in ``dst`` (old builds may reallocate)."""
    if result is not dst and not np.may_share_memory(result, dst):
        np.copyto(dst, result.reshape(dst.shape))


def crops_before_resizing(spec: PreprocessSpec, g: Geometry) -> bool:
    """
    Tell whether a frame's crop window is sampled from the source instead of resized whole.

    Only a centre crop can ask for an image larger than the network input, and only by
    enlarging the frame on both axes (the scales of the two axes differ by less than one
    pixel in the frame's size): that enlarged frame is never built once it would hold
    more than ``_MAX_ENLARGED_INPUTS`` network inputs.
    """
    t = g.transform
    return (spec.resize == 'center_crop' and t.scale_x >= 1.0 and t.scale_y >= 1.0
            and g.resized_width * g.resized_height
            > _MAX_ENLARGED_INPUTS * spec.width * spec.height)


def _axis_taps(n_src: int, n_resized: int, start: int, count: int, interpolation: str
               ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Source taps (first, second, weight of second) of resized pixels ``start..start+count``.

    The positions are those ``cv2.resize`` to ``n_resized`` pixels uses when it enlarges,
    down to its double-precision scale (``1 / (dst / src)``) and float32 weights, because
    its area rule jumps a whole pixel at exact multiples: half-pixel centres for linear,
    OpenCV's area rule (a linear filter with shifted weights when enlarging), and
    centre-aligned nearest in exact arithmetic (OpenCV's 16.16 fixed point drifts by
    pixels in a million-pixel enlargement). Taps clamp at the edges.
    """
    inv_scale = n_resized / n_src
    scale = 1.0 / inv_scale
    x = np.arange(start, start + count, dtype=np.float64)
    if interpolation == 'nearest':
        first = np.floor((x + 0.5) * n_src / n_resized)
        weight = np.zeros(count, np.float32)
    elif interpolation == 'linear':
        pos = (x + 0.5) * scale - 0.5
        first = np.floor(pos)
        weight = (pos - first).astype(np.float32)
    else:
        first = np.floor(x * scale)
        frac = ((x + 1.0) - (first + 1.0) * inv_scale).astype(np.float32)
        weight = np.where(frac <= 0, np.float32(0), frac - np.floor(frac)).astype(np.float32)
    first_i = first.astype(np.int64)
    edge = (first_i < 0) | (first_i >= n_src - 1)
    weight[edge] = 0.0
    first_i = np.clip(first_i, 0, n_src - 1)
    second_i = np.minimum(first_i + 1, n_src - 1)
    return first_i, second_i, weight


class _CropSampler:
    """
    The centre-crop window of one source size, sampled without resizing the frame.

    Separable: the rows the crop needs are interpolated along x at the crop's columns,
    then along y at its rows, in float32, and rounded back to the source type, which is
    what ``cv2.resize`` followed by the crop computes (within OpenCV's fixed-point
    rounding). Every buffer is the size of the crop, or of its source window (at most
    two pixels more, as the frame is enlarged).
    """

    __slots__ = ('rows', 'cols', 'x0', 'x1', 'wx', 'y0', 'y1', 'wy', 'window', 'across',
                 'across2', 'down', 'down2', 'out', 'limit', 'mono')

    def __init__(self, g: Geometry, interpolation: str, channels: int, dtype: np.dtype):
        t = g.transform
        w, h = t.src_width, t.src_height
        ch, cw = g.content_height, g.content_width
        x0, x1, wx = _axis_taps(w, g.resized_width, g.crop_x, cw, interpolation)
        y0, y1, wy = _axis_taps(h, g.resized_height, g.crop_y, ch, interpolation)
        self.cols = slice(int(x0.min()), int(x1.max()) + 1)
        self.rows = slice(int(y0.min()), int(y1.max()) + 1)
        self.x0, self.x1 = x0 - self.cols.start, x1 - self.cols.start
        self.y0, self.y1 = y0 - self.rows.start, y1 - self.rows.start
        win_h, win_w = self.rows.stop - self.rows.start, self.cols.stop - self.cols.start
        # weights spelled out to the buffers' shapes: a broadcast operand makes NumPy
        # stage it through a 32 KB scratch buffer on every call
        self.wx = np.ascontiguousarray(np.broadcast_to(wx.reshape(1, cw, 1),
                                                       (win_h, cw, channels)))
        self.wy = np.ascontiguousarray(np.broadcast_to(wy.reshape(ch, 1, 1),
                                                       (ch, cw, channels)))
        self.window = np.empty((win_h, win_w, channels), np.float32)
        self.across = np.empty((win_h, cw, channels), np.float32)
        self.across2 = np.empty_like(self.across)
        self.down = np.empty((ch, cw, channels), np.float32)
        self.down2 = np.empty_like(self.down)
        self.out = np.empty((ch, cw, channels), dtype)
        self.limit = float(np.iinfo(dtype).max)
        self.mono = channels == 1

    def sample(self, array: np.ndarray) -> np.ndarray:
        """Return the crop of ``array`` (HxWxC), HxW for one channel like the resize path."""
        np.copyto(self.window, array[self.rows, self.cols])
        a, b = self.across, self.across2
        np.take(self.window, self.x0, axis=1, out=a, mode='clip')
        np.take(self.window, self.x1, axis=1, out=b, mode='clip')
        np.subtract(b, a, out=b)
        np.multiply(b, self.wx, out=b)
        np.add(a, b, out=a)
        c, d = self.down, self.down2
        np.take(a, self.y0, axis=0, out=c, mode='clip')
        np.take(a, self.y1, axis=0, out=d, mode='clip')
        np.subtract(d, c, out=d)
        np.multiply(d, self.wy, out=d)
        np.add(c, d, out=c)
        np.rint(c, out=c)
        np.clip(c, 0.0, self.limit, out=c)
        np.copyto(self.out, c, casting='unsafe')
        return self.out[:, :, 0] if self.mono else self.out


class _Plan:
    """Geometry and scratch buffers for one source size/format."""

    __slots__ = ('geometry', 'resized', 'sampler', 'mono8', 'color3', 'planes', 'src_index',
                 'convert_code')

    def __init__(self, spec: PreprocessSpec, cv2, h: int, w: int, channels: int,
                 dtype: np.dtype, color: str):
        g = plan_geometry(spec, w, h)
        self.geometry = g
        resize_shape: Tuple[int, ...] = (g.resized_height, g.resized_width)
        if channels > 1:
            resize_shape += (channels,)
        same = (g.resized_width, g.resized_height) == (w, h)
        self.sampler: Optional[_CropSampler] = None
        self.resized: Optional[np.ndarray] = None
        if crops_before_resizing(spec, g):
            self.sampler = _CropSampler(g, spec.interpolation, channels, dtype)
        elif not same:
            self.resized = np.empty(resize_shape, dtype)
        content = (g.content_height, g.content_width)
        self.mono8 = np.empty(content, np.uint8) if dtype == np.uint16 else None
        self.color3: Optional[np.ndarray] = None
        self.planes: Optional[List[np.ndarray]] = None
        self.convert_code = 0
        # NCHW: which source plane feeds output channel 0, 1, 2 (mono feeds all three)
        self.src_index = [0, 0, 0]
        if spec.layout == 'NCHW':
            if channels > 1:
                self.planes = [np.empty(content, np.uint8) for _ in range(channels)]
                self.src_index = [color.index(c) for c in spec.color]
        else:
            if color != spec.color:
                self.convert_code = _convert_code(cv2, color, spec.color)
                self.color3 = np.empty(content + (3,), np.uint8)


def _convert_code(cv2, src: str, dst: str) -> int:
    if src == 'mono':
        return cv2.COLOR_GRAY2RGB
    return getattr(cv2, 'COLOR_%s2%s' % (src.upper(), dst.upper()))


class Preprocessor:
    """
    Runs one PreprocessSpec on pictures of any size, reusing its buffers.

    ``out`` is typically one batch slot of the backend's input buffer
    (``buffer[i]``); any strides work, but the fast path writes in place only where
    OpenCV can wrap the slot (each channel plane for NCHW, the image for NHWC)
    and stages the rest through one spare buffer. 16-bit mono is scaled by
    255/65535 and rounded to 8 bits first, like an 8-bit camera would deliver it.
    Not thread-safe: give each worker its own Preprocessor.
    """

    def __init__(self, spec: PreprocessSpec):
        import cv2
        self._cv2 = cv2
        self.spec = spec
        self._interp = _interpolation_flag(cv2, spec.interpolation)
        self._dtype = np.dtype(spec.dtype)
        self._plans: Dict[tuple, _Plan] = {}
        values = np.arange(256, dtype=np.float64)
        tables = [((values - m) / s).astype(self._dtype) for m, s in zip(spec.mean, spec.std)]
        # float16 tables are applied as their uint16 bit patterns: cv2.LUT has no
        # float16 before OpenCV 4.8 but copies 16-bit entries just the same.
        self._lut_dtype = np.dtype(np.uint16) if self._dtype == np.float16 else self._dtype
        self._luts = [t.view(self._lut_dtype).reshape(1, 256) for t in tables]
        self._lut3 = np.ascontiguousarray(np.stack(tables, axis=-1).view(
            self._lut_dtype).reshape(1, 256, 3))
        pad = [(spec.pad_value - m) / s for m, s in zip(spec.mean, spec.std)]
        shape = (3, 1, 1) if spec.layout == 'NCHW' else (3,)
        self._pad = np.array(pad, dtype=self._dtype).reshape(shape)
        self._staging: Optional[np.ndarray] = None

    def _check_out(self, out) -> np.ndarray:
        if not isinstance(out, np.ndarray):
            raise PreprocessError('out must be a numpy array, got %s' % type(out).__name__)
        if out.shape != self.spec.input_shape or out.dtype != self._dtype:
            raise PreprocessError(
                'out must be %s %s for a %s input, got %s %s'
                % (self.spec.input_shape, self._dtype.name, self.spec.layout,
                   out.shape, out.dtype.name))
        if not out.flags.writeable:
            raise PreprocessError('out is read-only')
        return out

    def _mat_compatible(self, out: np.ndarray) -> bool:
        """Tell whether cv2 can write each output plane (NCHW) or the image (NHWC) in place."""
        item = out.itemsize
        if self.spec.layout == 'NCHW':
            return out.strides[2] == item and out.strides[1] >= out.shape[2] * item
        return (out.strides[2] == item and out.strides[1] == 3 * item
                and out.strides[0] >= out.shape[1] * 3 * item)

    def _check_picture(self, picture) -> Tuple[np.ndarray, str]:
        array = getattr(picture, 'array', None)
        color = getattr(picture, 'color', None)
        if not isinstance(array, np.ndarray) or color not in _SOURCE_COLORS:
            raise PreprocessError('expected a Picture (array, color in %s), got %r'
                                  % (_SOURCE_COLORS, type(picture).__name__))
        if array.ndim == 2:
            array = array[:, :, None]
        want = 1 if color == 'mono' else len(color)
        if array.ndim != 3 or array.shape[2] != want:
            raise PreprocessError('%s picture must be HxWx%d, got shape %s'
                                  % (color, want, array.shape))
        if array.dtype != np.uint8 and not (array.dtype == np.uint16 and color == 'mono'):
            raise PreprocessError('picture dtype must be uint8 (or uint16 mono), got %s %s'
                                  % (array.dtype, color))
        if array.shape[0] == 0 or array.shape[1] == 0:
            raise PreprocessError('picture is empty: shape %s' % (array.shape,))
        return array, color

    def _plan_for(self, height: int, width: int, channels: int, dtype: np.dtype,
                  color: str) -> _Plan:
        """Scratch buffers for a source size; created on first use, then reused."""
        key = (height, width, channels, np.dtype(dtype).char, color)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            plan = _Plan(self.spec, self._cv2, height, width, channels, np.dtype(dtype),
                         color)
            self._plans[key] = plan
        return plan

    def run(self, picture: Picture, out: np.ndarray) -> Transform:
        """Write the network input for ``picture`` into ``out``; return its Transform."""
        try:
            return self._run(picture, out)
        except self._cv2.error as exc:  # e.g. OpenCV 4.5 refuses 1x1 multi-channel arrays
            raise PreprocessError('OpenCV failed on a %s picture: %s'
                                  % (getattr(getattr(picture, 'array', None), 'shape', '?'),
                                     exc)) from None

    def _run(self, picture: Picture, out: np.ndarray) -> Transform:
        cv2 = self._cv2
        out = self._check_out(out)
        array, color = self._check_picture(picture)
        if not self._mat_compatible(out):
            # OpenCV writes only into arrays it can wrap as a Mat; stage the rest.
            if self._staging is None:
                self._staging = self.spec.allocate()
            transform = self._run(picture, self._staging)
            np.copyto(out, self._staging)
            return transform
        h, w, channels = array.shape
        plan = self._plan_for(h, w, channels, array.dtype, color)
        g = plan.geometry
        if plan.sampler is not None:
            src = plan.sampler.sample(array)
        else:
            src = array[:, :, 0] if channels == 1 else array
            if plan.resized is not None:
                _into(cv2.resize(src, (g.resized_width, g.resized_height), dst=plan.resized,
                                 interpolation=self._interp), plan.resized)
                src = plan.resized
            src = src[g.crop_y:g.crop_y + g.content_height,
                      g.crop_x:g.crop_x + g.content_width]
        if plan.mono8 is not None:
            _into(cv2.convertScaleAbs(src, dst=plan.mono8, alpha=255.0 / 65535.0), plan.mono8)
            src = plan.mono8
        rows = slice(g.pad_y, g.pad_y + g.content_height)
        cols = slice(g.pad_x, g.pad_x + g.content_width)
        target = out.view(self._lut_dtype)
        if self.spec.layout == 'NCHW':
            sources = [src]
            if plan.planes is not None:
                _split(cv2, src, plan.planes)
                sources = plan.planes
            for c in range(3):
                dst = target[c, rows, cols]
                _into(cv2.LUT(sources[plan.src_index[c]], self._luts[c], dst=dst), dst)
        else:
            if plan.color3 is not None:
                _into(cv2.cvtColor(src, plan.convert_code, dst=plan.color3), plan.color3)
                src = plan.color3
            dst = target[rows, cols]
            _into(cv2.LUT(src, self._lut3, dst=dst), dst)
        if self.spec.resize == 'letterbox':
            self._fill_padding(out, g)
        return g.transform

    def _fill_padding(self, out: np.ndarray, g: Geometry) -> None:
        top, left = g.pad_y, g.pad_x
        bottom, right = top + g.content_height, left + g.content_width
        if self.spec.layout == 'NCHW':
            out[:, :top, :] = self._pad
            out[:, bottom:, :] = self._pad
            out[:, top:bottom, :left] = self._pad
            out[:, top:bottom, right:] = self._pad
        else:
            out[:top] = self._pad
            out[bottom:] = self._pad
            out[top:bottom, :left] = self._pad
            out[top:bottom, right:] = self._pad


def _split(cv2, src: np.ndarray, planes) -> None:
    result = cv2.split(src, planes)
    for got, want in zip(result, planes):
        _into(got, want)
