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
The CPU reference the CUDA kernel is checked against computes the CPU preprocessor's function.

On the GPU, scripts/gpu_check.py compares the kernel with ``reference_preprocess``
(max abs error ~1e-4 in float32). Here, without a GPU, the reference is compared with
``jetson_infer_ros.preprocess`` (OpenCV, uint8 resize then a lookup table): the only
difference allowed is the CPU path's rounding of resized pixels to uint8, i.e. under
one 0-255 step. Together: kernel == reference == CPU preprocessor.
"""

from __future__ import annotations

import cv2
from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from jetson_infer_ros import preprocess
from jetson_infer_ros.gpu import preprocess_kernel as pk
from jetson_infer_ros.image_convert import Picture

NORM = pk.Normalization((123.675, 116.28, 103.53), (58.395, 57.12, 57.375), 114.0)
PICTURE_COLOR = {'rgb8': 'rgb', 'bgr8': 'bgr', 'rgba8': 'rgba', 'bgra8': 'bgra',
                 'mono8': 'mono'}


def photo(w, h, seed=0):
    """Make a smooth, photo-like image (blurred noise): bilinear differences show on edges."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (max(8, h // 4), max(8, w // 4), 3), dtype=np.uint8)
    return cv2.resize(cv2.GaussianBlur(base, (3, 3), 0), (w, h),
                      interpolation=cv2.INTER_CUBIC)


def encode(rgb, encoding, pitch_pad=0):
    if encoding == 'rgb8':
        img = rgb
    elif encoding == 'bgr8':
        img = rgb[:, :, ::-1]
    elif encoding == 'rgba8':
        img = np.dstack([rgb, rgb[:, :, :1]])
    elif encoding == 'bgra8':
        img = np.dstack([rgb[:, :, ::-1], rgb[:, :, 1:2]])
    else:
        img = cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)[:, :, None]
    h, w, c = img.shape
    storage = np.full((h, w * c + pitch_pad), 77, np.uint8)
    view = np.lib.stride_tricks.as_strided(storage, (h, w, c), (w * c + pitch_pad, c, 1))
    view[...] = img
    return view


def cpu_preprocessor(img, encoding, w, h, mode, order, crop=0.875):
    spec = preprocess.PreprocessSpec(width=w, height=h, color=order, resize=mode,
                                     crop_fraction=crop, mean=NORM.mean, std=NORM.std,
                                     pad_value=NORM.pad_value)
    out = spec.allocate()
    preprocess.Preprocessor(spec).run(Picture(np.ascontiguousarray(img),
                                              PICTURE_COLOR[encoding]), out)
    return out


def steps(diff, order):
    std = np.array(NORM.std if order == 'rgb' else NORM.std[::-1])[:, None, None]
    return np.abs(diff) * std


@pytest.mark.parametrize('src, dst', [((640, 480), (224, 224)), ((1280, 720), (416, 416)),
                                      ((451, 300), (320, 256)), ((200, 500), (256, 320))])
@pytest.mark.parametrize('encoding', sorted(pk.ENCODINGS))
@pytest.mark.parametrize('mode', pk.RESIZE_MODES)
def test_reference_matches_cpu_preprocessor(src, dst, encoding, mode):
    rgb = photo(*src)
    img = encode(rgb, encoding, pitch_pad=12)
    for order in ('rgb', 'bgr'):
        geo = pk.plan_geometry(src[0], src[1], dst[0], dst[1], mode, 0.875)
        ref = pk.reference_preprocess(img, encoding, geo, NORM, order, 3)
        cpu = cpu_preprocessor(img, encoding, dst[0], dst[1], mode, order)
        gap = steps(ref - cpu, order)
        assert gap.max() < 1.0, (order, gap.max())     # CPU rounds resized pixels
        assert gap.mean() < 0.35, (order, gap.mean())


@pytest.mark.parametrize('mode', pk.RESIZE_MODES)
def test_geometry_is_the_cpu_preprocessors(mode):
    g = preprocess.plan_geometry(
        preprocess.PreprocessSpec(width=416, height=320, resize=mode), 1920, 1080)
    k = pk.plan_geometry(1920, 1080, 416, 320, mode)
    assert (k.scale_x, k.scale_y) == (g.transform.scale_x, g.transform.scale_y)
    assert (k.offset_x, k.offset_y) == (g.transform.offset_x, g.transform.offset_y)
    assert k.box == (g.pad_x, g.pad_y, g.pad_x + g.content_width, g.pad_y + g.content_height)


def test_stretch_reference_is_cv2_bilinear_in_float():
    rgb = photo(640, 480, seed=3)
    geo = pk.plan_geometry(640, 480, 300, 200, 'stretch')
    ident = pk.Normalization((0, 0, 0), (1, 1, 1), 0.0)
    ref = pk.reference_preprocess(rgb, 'rgb8', geo, ident)
    cv = cv2.resize(rgb.astype(np.float32), (300, 200), interpolation=cv2.INTER_LINEAR)
    assert np.abs(ref - cv.transpose(2, 0, 1)).max() < 1e-3


def test_mono_into_one_channel_network():
    rgb = photo(320, 240)
    img = encode(rgb, 'mono8')
    geo = pk.plan_geometry(320, 240, 160, 120, 'stretch')
    ident = pk.Normalization((0, 0, 0), (1, 1, 1), 0.0)
    out = pk.reference_preprocess(img, 'mono8', geo, ident, 'rgb', 1)
    expect = cv2.resize(img[:, :, 0].astype(np.float32), (160, 120),
                        interpolation=cv2.INTER_LINEAR)
    assert out.shape == (1, 120, 160)
    assert np.abs(out[0] - expect).max() < 1e-3


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(1, 300), st.integers(1, 96), st.integers(1, 96),
       st.sampled_from(pk.RESIZE_MODES), st.sampled_from(sorted(pk.ENCODINGS)))
def test_reference_stays_in_range_and_pads_outside_the_box(sw, sh, dw, dh, mode, encoding):
    rgb = photo(sw, sh, seed=sw * 7 + sh)
    img = encode(rgb, encoding, pitch_pad=sw % 5)
    geo = pk.plan_geometry(sw, sh, dw, dh, mode)
    out = pk.reference_preprocess(img, encoding, geo, NORM, 'rgb', 3)
    mul, add, pad = NORM.coefficients()
    for c in range(3):
        assert out[c].min() >= add[c] - 1e-9
        assert out[c].max() <= 255 * mul[c] + add[c] + 1e-9
    x0, y0, x1, y1 = geo.box
    assert 0 <= x0 < x1 <= dw and 0 <= y0 < y1 <= dh
    mask = np.ones((dh, dw), bool)
    mask[y0:y1, x0:x1] = False
    for c in range(3):
        assert np.all(out[c][mask] == pad[c])


@pytest.mark.parametrize('image, encoding, match', [
    (np.zeros((4, 4, 3), np.float32), 'rgb8', 'uint8'),
    (np.zeros((4, 4, 4), np.uint8), 'rgb8', 'HxWx3'),
    (np.zeros((4, 4, 3), np.uint8), 'yuv422', 'encoding'),
    (np.zeros((0, 4, 3), np.uint8), 'rgb8', 'empty'),
    (np.zeros((4, 4, 3), np.uint8)[:, ::2], 'rgb8', 'packed pixels'),
])
def test_bad_images_are_clear_value_errors(image, encoding, match):
    geo = pk.plan_geometry(4, 4, 4, 4, 'stretch')
    with pytest.raises(pk.PreprocessKernelError, match=match):
        pk.reference_preprocess(image, encoding, geo, NORM)
    assert issubclass(pk.PreprocessKernelError, ValueError)


@pytest.mark.parametrize('args, match', [
    ((0, 10, 10, 10, 'stretch'), 'width'), ((10, 10, 10, 10, 'fill'), 'resize mode'),
    ((10, 10, 10, 10, 'center_crop', 1.5), 'crop_fraction')])
def test_bad_geometry_is_a_clear_value_error(args, match):
    with pytest.raises(pk.PreprocessKernelError, match=match):
        pk.plan_geometry(*args)


def test_zero_std_is_rejected():
    with pytest.raises(pk.PreprocessKernelError, match='std'):
        pk.Normalization((0, 0, 0), (1, 0, 1)).coefficients()


def test_source_channels_swap_and_drop_alpha():
    assert pk.source_channels('bgra8', 'rgb', 3) == (2, 1, 0)
    assert pk.source_channels('rgba8', 'rgb', 3) == (0, 1, 2)
    assert pk.source_channels('bgr8', 'bgr', 3) == (0, 1, 2)
    assert pk.source_channels('mono8', 'bgr', 3) == (0, 0, 0)
    with pytest.raises(pk.PreprocessKernelError, match='1-channel'):
        pk.source_channels('rgb8', 'rgb', 1)
