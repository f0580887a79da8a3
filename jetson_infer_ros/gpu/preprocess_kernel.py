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
Camera image to network input in one CUDA kernel, written into the engine's input.

On a Jetson the CPU is the bottleneck: resize + colour swap + normalise + HWC->NCHW in
NumPy costs more than a small network's inference. One fused kernel does all of it,
one thread per output pixel computing every channel, reading the uint8 camera image
(any row pitch, as ``sensor_msgs/Image.step`` allows) and writing float32 or float16
NCHW straight into a device pointer (the TensorRT input binding), so the frame is
uploaded once and never comes back to the host.

The geometry is an affine map ``net = src * scale + offset`` per axis (the same
``Transform`` the CPU preprocessor returns) plus the rectangle of the network image the
picture covers (outside it: the pad value). Sampling is bilinear with half-pixel
centres and clamped edges, i.e. ``cv2.resize(INTER_LINEAR)`` semantics.

Only the source window the taps can reach is uploaded, and the kernel's coordinates
are relative to it (``Geometry.window`` / ``Geometry.within``): a centre crop of a
1x1,000,000 frame reads two pixels half a million pixels in, where float32 positions
are 1/32 px apart, so full-frame coordinates would put the taps in the wrong place.
``reference_preprocess`` is the same arithmetic in float64 NumPy: the kernel is checked
against it on the GPU, and it is checked against ``jetson_infer_ros.preprocess`` in CI.
"""

from __future__ import annotations

import dataclasses
import math
import struct
from typing import Dict, List, Optional, Sequence, Tuple, TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from jetson_infer_ros.cuda.binding import CudaApi, HostBuffer

#: encoding -> (channels in the message, colour order of those channels)
ENCODINGS: Dict[str, Tuple[int, str]] = {
    'rgb8': (3, 'rgb'), 'bgr8': (3, 'bgr'), 'rgba8': (4, 'rgb'), 'bgra8': (4, 'bgr'),
    'mono8': (1, 'mono'),
}
RESIZE_MODES = ('letterbox', 'center_crop', 'stretch')

KERNEL_NAME_F32 = 'jir_preprocess_f32'
KERNEL_NAME_F16 = 'jir_preprocess_f16'
BLOCK = (32, 8, 1)

KERNEL_SOURCE = r"""
// jetson_infer_ros fused preprocessing: uint8 HWC (any pitch) -> normalised NCHW.
// One thread per output pixel; every channel computed from the same 4 taps.
struct JirParams {
    int src_w, src_h, src_pitch, src_c;   // source image, pitch in bytes
    int ch0, ch1, ch2, out_c;             // source channel feeding network channel c
    int dst_w, dst_h;                     // network plane size
    float ax, bx, ay, by;                 // src = dst * a + b (pixel centres included)
    int box_x0, box_y0, box_x1, box_y1;   // covered part of the network image
    float mul0, mul1, mul2;               // 1 / std
    float add0, add1, add2;               // -mean / std
    float pad0, pad1, pad2;               // normalised value outside the box
};

__device__ __forceinline__ void jir_store(float* p, float v) { *p = v; }
__device__ __forceinline__ void jir_store(unsigned short* p, float v) {
    unsigned short h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
    *p = h;
}

template <typename T>
__device__ __forceinline__ void jir_body(const unsigned char* __restrict__ src,
                                         T* __restrict__ dst, const JirParams& p) {
    const int x = blockIdx.x * blockDim.x + threadIdx.x;
    const int y = blockIdx.y * blockDim.y + threadIdx.y;
    if (x >= p.dst_w || y >= p.dst_h) return;
    const int plane = p.dst_w * p.dst_h;
    T* out = dst + y * p.dst_w + x;
    const int chs[3] = {p.ch0, p.ch1, p.ch2};
    const float muls[3] = {p.mul0, p.mul1, p.mul2};
    const float adds[3] = {p.add0, p.add1, p.add2};
    const float pads[3] = {p.pad0, p.pad1, p.pad2};
    if (x < p.box_x0 || x >= p.box_x1 || y < p.box_y0 || y >= p.box_y1) {
#pragma unroll
        for (int c = 0; c < 3; ++c) {
            if (c < p.out_c) jir_store(out + c * plane, pads[c]);
        }
        return;
    }
    const float sx = fmaf((float)x, p.ax, p.bx);
    const float sy = fmaf((float)y, p.ay, p.by);
    const float fx0 = floorf(sx), fy0 = floorf(sy);
    const float wx = sx - fx0, wy = sy - fy0;
    int x0 = (int)fx0, y0 = (int)fy0;
    int x1 = x0 + 1, y1 = y0 + 1;
    x0 = min(max(x0, 0), p.src_w - 1); x1 = min(max(x1, 0), p.src_w - 1);
    y0 = min(max(y0, 0), p.src_h - 1); y1 = min(max(y1, 0), p.src_h - 1);
    const unsigned char* r0 = src + (size_t)y0 * p.src_pitch;
    const unsigned char* r1 = src + (size_t)y1 * p.src_pitch;
    const int o00 = x0 * p.src_c, o01 = x1 * p.src_c;
#pragma unroll
    for (int c = 0; c < 3; ++c) {
        if (c < p.out_c) {
            const int k = chs[c];
            const float top = fmaf(wx, (float)r0[o01 + k] - (float)r0[o00 + k],
                                   (float)r0[o00 + k]);
            const float bot = fmaf(wx, (float)r1[o01 + k] - (float)r1[o00 + k],
                                   (float)r1[o00 + k]);
            const float v = fmaf(wy, bot - top, top);
            jir_store(out + c * plane, fmaf(v, muls[c], adds[c]));
        }
    }
}

extern "C" __global__ void jir_preprocess_f32(const unsigned char* __restrict__ src,
                                              float* __restrict__ dst, JirParams p) {
    jir_body<float>(src, dst, p);
}

extern "C" __global__ void jir_preprocess_f16(const unsigned char* __restrict__ src,
                                              unsigned short* __restrict__ dst, JirParams p) {
    jir_body<unsigned short>(src, dst, p);
}
"""


class PreprocessKernelError(ValueError):
    """The image or geometry handed to the GPU preprocessor is unusable (says why)."""


@dataclasses.dataclass(frozen=True)
class Geometry:
    """
    Where the source lands in the network image: ``net = src * scale + offset``.

    ``box`` is the (x0, y0, x1, y1) part of the network image the source covers; pixels
    outside it (letterbox bars) get the pad value.
    """

    src_w: int
    src_h: int
    dst_w: int
    dst_h: int
    scale_x: float
    scale_y: float
    offset_x: float
    offset_y: float
    box: Tuple[int, int, int, int]

    def sampling(self) -> Tuple[float, float, float, float]:
        """(ax, bx, ay, by) with ``src = dst * a + b`` at pixel centres."""
        ax = 1.0 / self.scale_x
        ay = 1.0 / self.scale_y
        return (ax, (0.5 - self.offset_x) * ax - 0.5, ay, (0.5 - self.offset_y) * ay - 0.5)

    def window(self) -> Tuple[int, int, int, int]:
        """
        (x0, y0, x1, y1): the source pixels the bilinear taps inside ``box`` can read.

        One pixel of margin on each side absorbs the kernel's float32 rounding of a
        position onto the neighbouring pixel; clamped to the image.
        """
        ax, bx, ay, by = self.sampling()
        bx0, by0, bx1, by1 = self.box
        if bx1 <= bx0 or by1 <= by0:
            return (0, 0, 1, 1)
        x_lo = math.floor(bx0 * ax + bx) - 1
        x_hi = math.floor((bx1 - 1) * ax + bx) + 2
        y_lo = math.floor(by0 * ay + by) - 1
        y_hi = math.floor((by1 - 1) * ay + by) + 2
        x0 = min(max(x_lo, 0), self.src_w - 1)
        y0 = min(max(y_lo, 0), self.src_h - 1)
        return (x0, y0, min(max(x_hi, x0), self.src_w - 1) + 1,
                min(max(y_hi, y0), self.src_h - 1) + 1)

    def within(self, x0: int, y0: int, x1: int, y1: int) -> 'Geometry':
        """Return the same mapping for the sub-image ``[y0:y1, x0:x1]`` of the source."""
        return dataclasses.replace(
            self, src_w=int(x1 - x0), src_h=int(y1 - y0),
            offset_x=self.offset_x + x0 * self.scale_x,
            offset_y=self.offset_y + y0 * self.scale_y)


def plan_geometry(src_w: int, src_h: int, dst_w: int, dst_h: int, mode: str,
                  crop_fraction: float = 0.875) -> Geometry:
    """
    Geometry of one resize mode, taken from the CPU preprocessor's own planner.

    ``jetson_infer_ros.preprocess.plan_geometry`` is the single source of truth for
    rounding, centring and torchvision's crop convention, so the GPU and CPU paths put
    every source pixel in the same place. Modes: letterbox | center_crop (centre_crop
    accepted) | stretch.
    """
    from jetson_infer_ros import preprocess
    if mode == 'centre_crop':
        mode = 'center_crop'
    if mode not in preprocess.RESIZES:
        raise PreprocessKernelError(f'resize mode {mode!r} is not one of {RESIZE_MODES}')
    try:
        spec = preprocess.PreprocessSpec(width=dst_w, height=dst_h, resize=mode,
                                         crop_fraction=crop_fraction)
        g = preprocess.plan_geometry(spec, src_w, src_h)
    except preprocess.PreprocessError as exc:
        raise PreprocessKernelError(str(exc)) from None
    return from_preprocess_geometry(g, dst_w, dst_h)


def from_preprocess_geometry(g: object, dst_w: int, dst_h: int) -> Geometry:
    """Convert ``jetson_infer_ros.preprocess.Geometry`` into the kernel's parameters."""
    t = g.transform  # type: ignore[attr-defined]
    x0, y0 = int(g.pad_x), int(g.pad_y)  # type: ignore[attr-defined]
    box = (x0, y0, x0 + int(g.content_width), y0 + int(g.content_height))  # type: ignore
    return Geometry(int(t.src_width), int(t.src_height), int(dst_w), int(dst_h),
                    float(t.scale_x), float(t.scale_y), float(t.offset_x), float(t.offset_y),
                    box)


@dataclasses.dataclass(frozen=True)
class Normalization:
    """Per network channel ``(x - mean) / std`` in 0..255 units, and the raw pad value."""

    mean: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: Tuple[float, float, float] = (255.0, 255.0, 255.0)
    pad_value: float = 114.0

    def coefficients(self) -> Tuple[Sequence[float], Sequence[float], Sequence[float]]:
        """(mul, add, pad) per channel so that ``y = x * mul + add``."""
        if any(float(s) == 0.0 for s in self.std):
            raise PreprocessKernelError(f'std must be non-zero, got {self.std}')
        mul = [1.0 / float(s) for s in self.std]
        add = [-float(m) / float(s) for m, s in zip(self.mean, self.std)]
        pad = [self.pad_value * m + a for m, a in zip(mul, add)]
        return mul, add, pad


def source_channels(encoding: str, network_order: str, out_channels: int) -> Tuple[int, int, int]:
    """Which source channel feeds each network channel (colour swap, alpha dropped)."""
    if encoding not in ENCODINGS:
        raise PreprocessKernelError(
            f'encoding {encoding!r} is not one of {sorted(ENCODINGS)}')
    if network_order not in ('rgb', 'bgr'):
        raise PreprocessKernelError(f'network colour order must be rgb or bgr, '
                                    f'got {network_order!r}')
    if out_channels not in (1, 3):
        raise PreprocessKernelError(f'network must take 1 or 3 channels, got {out_channels}')
    channels, order = ENCODINGS[encoding]
    if channels == 1:
        return (0, 0, 0)
    if out_channels == 1:
        raise PreprocessKernelError(f'{encoding} into a 1-channel network is not supported')
    return (0, 1, 2) if order == network_order else (2, 1, 0)


def _check_image(image: np.ndarray, encoding: str) -> Tuple[int, int, int, int]:
    """Return (width, height, channels, row pitch in bytes) of a uint8 HWC image view."""
    if encoding not in ENCODINGS:
        raise PreprocessKernelError(f'encoding {encoding!r} is not one of {sorted(ENCODINGS)}')
    channels = ENCODINGS[encoding][0]
    if image.dtype != np.uint8:
        raise PreprocessKernelError(f'{encoding} image must be uint8, got {image.dtype}')
    if image.ndim == 2 and channels == 1:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] != channels:
        raise PreprocessKernelError(
            f'{encoding} image must be HxWx{channels}, got shape {image.shape}')
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        raise PreprocessKernelError(f'image is empty: shape {image.shape}')
    if ((channels > 1 and image.strides[2] != 1) or image.strides[1] != channels
            or image.strides[0] < w * channels):
        raise PreprocessKernelError(
            f'image rows must be packed pixels with a row pitch >= width*channels; '
            f'strides {image.strides}')
    return w, h, channels, int(image.strides[0])


def reference_preprocess(image: np.ndarray, encoding: str, geometry: Geometry,
                         norm: Normalization, network_order: str = 'rgb',
                         out_channels: int = 3) -> np.ndarray:
    """
    Compute the kernel's arithmetic in float64 NumPy; returns (C, H, W) float64.

    What the GPU result is compared against, and what CI compares with the CPU
    preprocessor, so the kernel and the CPU path provably compute the same function.
    """
    w, h, channels, _ = _check_image(image, encoding)
    img = image.reshape(h, w, channels).astype(np.float64)
    chs = source_channels(encoding, network_order, out_channels)
    mul, add, pad = norm.coefficients()
    ax, bx, ay, by = geometry.sampling()
    xs = np.arange(geometry.dst_w, dtype=np.float64) * ax + bx
    ys = np.arange(geometry.dst_h, dtype=np.float64) * ay + by
    fx0, fy0 = np.floor(xs), np.floor(ys)
    wx, wy = (xs - fx0)[None, :], (ys - fy0)[:, None]
    x0 = np.clip(fx0.astype(np.int64), 0, w - 1)
    x1 = np.clip(fx0.astype(np.int64) + 1, 0, w - 1)
    y0 = np.clip(fy0.astype(np.int64), 0, h - 1)
    y1 = np.clip(fy0.astype(np.int64) + 1, 0, h - 1)
    bx0, by0, bx1, by1 = geometry.box
    inside = np.zeros((geometry.dst_h, geometry.dst_w), dtype=bool)
    inside[by0:by1, bx0:bx1] = True
    out = np.empty((out_channels, geometry.dst_h, geometry.dst_w), dtype=np.float64)
    for c in range(out_channels):
        plane = img[:, :, chs[c]]
        top = plane[y0][:, x0] + wx * (plane[y0][:, x1] - plane[y0][:, x0])
        bot = plane[y1][:, x0] + wx * (plane[y1][:, x1] - plane[y1][:, x0])
        value = (top + wy * (bot - top)) * mul[c] + add[c]
        out[c] = np.where(inside, value, pad[c])
    return out


#: JirParams field layout: 10 int, 4 float, 4 int, 9 float (all 4 bytes, no padding)
_PARAMS_FORMAT = '<10i4f4i9f'


def kernel_args(src_ptr: int, w: int, h: int, pitch: int, channels: int,
                dst_ptr: int, geometry: Geometry, norm: Normalization,
                chs: Tuple[int, int, int], out_channels: int) -> List[Tuple[str, object]]:
    """Argument list for CudaApi.launch: source pointer, output pointer, JirParams bytes."""
    ax, bx, ay, by = geometry.sampling()
    mul, add, pad = norm.coefficients()
    params = struct.pack(
        _PARAMS_FORMAT, w, h, pitch, channels, chs[0], chs[1], chs[2], out_channels,
        geometry.dst_w, geometry.dst_h, ax, bx, ay, by, *geometry.box, *mul, *add, *pad)
    return [('ptr', src_ptr), ('ptr', dst_ptr), ('bytes', params)]


class GpuPreprocessor:
    """
    Compiles the kernel once per CudaApi and runs it: upload + one launch per image.

    The uint8 image is copied into a pinned staging buffer, uploaded with one async
    copy, and the kernel writes the network input at ``dst_ptr`` on the same stream.
    The staging buffers are reused: synchronise the stream before the next ``run``.
    """

    def __init__(self, api: 'CudaApi', half: bool = False) -> None:
        """Compile and load the kernel on ``api``'s device (once per preprocessor)."""
        from jetson_infer_ros.cuda import binding
        if not isinstance(api, binding.CudaApi):
            raise TypeError('GpuPreprocessor needs a jetson_infer_ros.cuda.CudaApi')
        self.api = api
        self.half = bool(half)
        self.image = api.compile_kernel(KERNEL_SOURCE, 'jir_preprocess', ['-std=c++14'])
        self._module = api.module_load(self.image)
        self._function = api.module_get_function(
            self._module, KERNEL_NAME_F16 if self.half else KERNEL_NAME_F32)
        self._host: Optional['HostBuffer'] = None
        self._device = 0
        self._capacity = 0

    @property
    def element_size(self) -> int:
        """Bytes per output element (4 for float32, 2 for float16)."""
        return 2 if self.half else 4

    def _reserve(self, nbytes: int) -> None:
        if nbytes <= self._capacity:
            return
        self._free_staging()
        capacity = 1 << max(20, math.ceil(math.log2(nbytes)))
        self._host = self.api.malloc_host(capacity)
        self._device = self.api.malloc(capacity)
        self._capacity = capacity

    def upload(self, image: np.ndarray, encoding: str, stream: int, pack: bool = False
               ) -> Tuple[int, int, int, int]:
        """
        Stage and upload ``image``; returns (device ptr, width, height, pitch).

        The image's own row pitch is kept, unless ``pack``: a window of a larger frame
        has its rows a whole frame's pitch apart, and is staged row after row.
        """
        w, h, channels, pitch = _check_image(image, encoding)
        row = w * channels
        staged = row if pack else pitch
        nbytes = staged * (h - 1) + row
        self._reserve(nbytes)
        host = self._host
        assert host is not None
        flat = host.view(np.uint8, (self._capacity,))
        as_strided = np.lib.stride_tricks.as_strided
        np.copyto(as_strided(flat, shape=(h, row), strides=(staged, 1)),
                  as_strided(image, shape=(h, row), strides=(pitch, 1)))
        self.api.memcpy_htod_async(self._device, host.ptr, nbytes, stream)
        return self._device, w, h, staged

    def launch(self, src_ptr: int, w: int, h: int, pitch: int, encoding: str, dst_ptr: int,
               geometry: Geometry, norm: Normalization, network_order: str = 'rgb',
               out_channels: int = 3, stream: int = 0) -> None:
        """Launch on an image already on the device (e.g. from a camera's CUDA buffer)."""
        if (geometry.src_w, geometry.src_h) != (w, h):
            raise PreprocessKernelError(
                f'geometry was planned for {geometry.src_w}x{geometry.src_h}, '
                f'image is {w}x{h}')
        channels = ENCODINGS[encoding][0] if encoding in ENCODINGS else 0
        chs = source_channels(encoding, network_order, out_channels)
        x0, y0, x1, y1 = geometry.window()
        if (x0, y0, x1, y1) != (0, 0, w, h):   # kernel coordinates relative to the window
            src_ptr += y0 * pitch + x0 * channels
            w, h, geometry = x1 - x0, y1 - y0, geometry.within(x0, y0, x1, y1)
        args = kernel_args(src_ptr, w, h, pitch, channels, dst_ptr, geometry, norm, chs,
                           out_channels)
        grid = ((geometry.dst_w + BLOCK[0] - 1) // BLOCK[0],
                (geometry.dst_h + BLOCK[1] - 1) // BLOCK[1], 1)
        self.api.launch(self._function, grid, BLOCK, args, stream)

    def run(self, image: np.ndarray, encoding: str, dst_ptr: int, geometry: Geometry,
            norm: Normalization, network_order: str = 'rgb', out_channels: int = 3,
            stream: int = 0) -> None:
        """Upload the part of ``image`` the kernel reads; write NCHW planes at ``dst_ptr``."""
        if (geometry.src_w, geometry.src_h) != tuple(image.shape[1::-1]):
            raise PreprocessKernelError(
                f'geometry was planned for {geometry.src_w}x{geometry.src_h}, '
                f'image is {image.shape[1]}x{image.shape[0]}')
        x0, y0, x1, y1 = geometry.window()
        whole = (x0, y0, x1, y1) == (0, 0, geometry.src_w, geometry.src_h)
        src, w, h, pitch = self.upload(image[y0:y1, x0:x1], encoding, stream, pack=not whole)
        self.launch(src, w, h, pitch, encoding, dst_ptr, geometry.within(x0, y0, x1, y1),
                    norm, network_order, out_channels, stream)

    def _free_staging(self) -> None:
        if self._host is not None:
            self.api.free_host(self._host)
            self._host = None
        if self._device:
            self.api.free(self._device)
            self._device = 0
        self._capacity = 0

    def close(self) -> None:
        """Free the staging buffers and unload the module."""
        self._free_staging()
        if self._module:
            self.api.module_unload(self._module)
            self._module = 0
