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
GpuPreprocessor's host side (staging, pitch, packed kernel arguments) on a host-memory API.

The fake API executes the kernel with a NumPy transcription that reads the packed
argument struct field by field, so a wrong field order or pitch here fails the test.
The CUDA code itself is checked on a GPU by scripts/gpu_check.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from jetson_infer_ros.gpu import preprocess_kernel as pk
from jetson_infer_ros.testing.fake_cuda import FakeCudaApi

NORM = pk.Normalization((123.675, 116.28, 103.53), (58.395, 57.12, 57.375), 114.0)


def strided(img, pad):
    h, w, c = img.shape
    storage = np.full((h, w * c + pad), 200, np.uint8)
    view = np.lib.stride_tricks.as_strided(storage, (h, w, c), (w * c + pad, c, 1))
    view[...] = img
    return view


@pytest.mark.parametrize('half', [False, True])
@pytest.mark.parametrize('encoding', sorted(pk.ENCODINGS))
@pytest.mark.parametrize('mode', pk.RESIZE_MODES)
def test_run_writes_the_reference_into_the_device_pointer(half, encoding, mode):
    rng = np.random.default_rng(5)
    channels = pk.ENCODINGS[encoding][0]
    img = strided(rng.integers(0, 256, (37, 53, channels), dtype=np.uint8), pad=11)
    api = FakeCudaApi()
    pre = pk.GpuPreprocessor(api, half=half)
    geo = pk.plan_geometry(53, 37, 24, 20, mode)
    nbytes = 3 * 20 * 24 * pre.element_size
    dst = api.malloc(nbytes)
    host = api.malloc_host(nbytes)
    api.memset_async(dst, 0xFF, nbytes, 0)
    pre.run(img, encoding, dst, geo, NORM, 'bgr', 3, stream=0)
    api.memcpy_dtoh_async(host.ptr, dst, nbytes, 0)
    got = host.view(np.float16 if half else np.float32, (3, 20, 24)).astype(np.float64)
    ref = pk.reference_preprocess(img, encoding, geo, NORM, 'bgr', 3)
    assert np.isfinite(got).all()
    assert np.abs(got - ref).max() < (5e-3 if half else 1e-4)
    pre.close()


@pytest.mark.parametrize('shape, encoding', [((1, 1_000_000), 'bgr8'), ((600_000, 2), 'mono8'),
                                             ((2, 10000), 'rgb8')])
def test_extreme_aspect_uploads_the_window_and_samples_it_exactly(shape, encoding):
    """
    A centre crop of a 1x1,000,000 frame reads two pixels half a million pixels in.

    In full-frame coordinates the kernel's float32 positions there are 1/32 px apart and
    its taps land in the wrong place (the emulation reads the packed float32 arguments as
    the GPU does); relative to the uploaded window they are exact. Only the window is
    staged: the smallest staging block, not the 3 MB frame.
    """
    rng = np.random.default_rng(2)
    channels = pk.ENCODINGS[encoding][0]
    img = rng.integers(0, 256, shape + (channels,), dtype=np.uint8)
    api = FakeCudaApi()
    pre = pk.GpuPreprocessor(api)
    geo = pk.plan_geometry(shape[1], shape[0], 224, 224, 'center_crop')
    nbytes = 3 * 224 * 224 * 4
    dst = api.malloc(nbytes)
    host = api.malloc_host(nbytes)
    pre.run(img, encoding, dst, geo, NORM, 'rgb', 3, stream=0)
    api.memcpy_dtoh_async(host.ptr, dst, nbytes, 0)
    got = host.view(np.float32, (3, 224, 224)).astype(np.float64)
    ref = pk.reference_preprocess(img, encoding, geo, NORM, 'rgb', 3)
    assert np.abs(got - ref).max() < 1e-4
    assert pre._capacity == 1 << 20
    pre.close()


def test_window_covers_every_tap_and_keeps_the_mapping():
    rng = np.random.default_rng(4)
    for _ in range(200):
        sw, sh = int(rng.integers(1, 3000)), int(rng.integers(1, 3000))
        dw, dh = int(rng.integers(1, 300)), int(rng.integers(1, 300))
        mode = pk.RESIZE_MODES[int(rng.integers(0, 3))]
        geo = pk.plan_geometry(sw, sh, dw, dh, mode)
        x0, y0, x1, y1 = geo.window()
        assert 0 <= x0 < x1 <= sw and 0 <= y0 < y1 <= sh
        img = rng.integers(0, 256, (sh, sw, 1), dtype=np.uint8)
        full = pk.reference_preprocess(img, 'mono8', geo, NORM, 'rgb', 1)
        part = pk.reference_preprocess(np.ascontiguousarray(img[y0:y1, x0:x1]), 'mono8',
                                       geo.within(x0, y0, x1, y1), NORM, 'rgb', 1)
        assert np.abs(full - part).max() < 1e-6, (sw, sh, dw, dh, mode)


def test_staging_grows_and_launch_checks_geometry():
    api = FakeCudaApi()
    pre = pk.GpuPreprocessor(api)
    small = np.zeros((10, 10, 3), np.uint8)
    big = np.zeros((1200, 1000, 3), np.uint8)
    pre.upload(small, 'rgb8', 0)
    first = pre._capacity
    pre.upload(big, 'rgb8', 0)
    assert pre._capacity >= 1200 * 1000 * 3 > first
    geo = pk.plan_geometry(10, 10, 8, 8, 'stretch')
    with pytest.raises(pk.PreprocessKernelError, match='planned for 10x10'):
        pre.launch(0, 20, 10, 60, 'rgb8', 0, geo, NORM)
    pre.close()
    assert not api.hosts and not api.blocks  # everything freed


def test_graph_capture_of_upload_and_kernel_replays():
    api = FakeCudaApi()
    pre = pk.GpuPreprocessor(api)
    img = np.random.default_rng(1).integers(0, 256, (30, 40, 3), dtype=np.uint8)
    geo = pk.plan_geometry(40, 30, 16, 16, 'letterbox')
    dst = api.malloc(3 * 16 * 16 * 4)
    stream = api.stream_create()
    api.graph_begin_capture(stream)
    pre.run(img, 'rgb8', dst, geo, NORM, 'rgb', 3, stream)
    graph = api.graph_end_capture(stream)
    assert api.launches == 0
    api.graph_launch(graph, stream)
    assert api.launches == 1
    out = np.frombuffer(api.blocks[dst][:3 * 16 * 16 * 4].tobytes(), np.float32)
    ref = pk.reference_preprocess(img, 'rgb8', geo, NORM)
    assert np.abs(out.reshape(3, 16, 16) - ref).max() < 1e-4
    api.graph_destroy(graph)


def test_needs_a_cuda_api():
    with pytest.raises(TypeError, match='CudaApi'):
        pk.GpuPreprocessor(object())
