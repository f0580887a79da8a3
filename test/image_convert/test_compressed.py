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
"""CompressedImage decoding: format strings, header checks before decode, corrupt data."""

from __future__ import annotations

import struct
import zlib

import cv2
from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from jetson_infer_ros.image_convert import (
    compressed_size,
    decode_compressed,
    encode_compressed,
    ImageFormatError,
    parse_compressed_format,
)


def _photo_like(height=48, width=64, seed=0):
    """Smooth gradients plus a little noise: compresses like a camera frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([xx * 255 / width, yy * 255 / height, (xx + yy) * 127 / (width + height)],
                    axis=-1)
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


@pytest.mark.parametrize('fmt, codec', [
    ('jpeg', 'jpeg'), ('JPEG', 'jpeg'), ('jpg', 'jpeg'), ('png', 'png'),
    ('bgr8; jpeg compressed bgr8', 'jpeg'), ('rgb8; jpeg compressed bgr8', 'jpeg'),
    ('mono8; png compressed mono8', 'png'), ('16UC1; png compressed', 'png'),
    (' bgr8 ; png compressed bgr8 ', 'png'), ('', None),
])
def test_format_strings(fmt, codec):
    assert parse_compressed_format(fmt) == codec


@pytest.mark.parametrize('fmt', ['tiff', 'bgr8; tiff compressed bgr8', 'jpegxl',
                                 '16UC1; compressedDepth png', 'bgr8; jpeg uncompressed',
                                 None, 3])
def test_unknown_formats_are_bad_format(fmt):
    with pytest.raises(ImageFormatError) as info:
        decode_compressed(fmt, encode_compressed(_photo_like()))
    assert info.value.reason == 'bad_format'


def test_png_round_trip_is_exact_for_bgr_mono_bgra_and_16_bit():
    bgr = _photo_like()
    picture = decode_compressed('bgr8; png compressed bgr8', encode_compressed(bgr, 'png'))
    assert picture.color == 'bgr'
    np.testing.assert_array_equal(picture.array, bgr)

    mono = bgr[:, :, 1]
    picture = decode_compressed('mono8; png compressed mono8', encode_compressed(mono, 'png'))
    assert picture.color == 'mono' and picture.array.shape == mono.shape + (1,)
    np.testing.assert_array_equal(picture.array[:, :, 0], mono)

    bgra = np.dstack([bgr, mono])
    picture = decode_compressed('png', encode_compressed(bgra, 'png'))
    assert picture.color == 'bgra'
    np.testing.assert_array_equal(picture.array, bgra)

    depth = (mono.astype(np.uint16) * 257)[:, :, None]
    picture = decode_compressed('16UC1; png compressed', encode_compressed(depth, 'png'))
    assert picture.color == 'mono' and picture.array.dtype == np.uint16
    np.testing.assert_array_equal(picture.array, depth)


@pytest.mark.parametrize('fmt', ['jpeg', 'rgb8; jpeg compressed bgr8', ''])
def test_jpeg_round_trip_is_close(fmt):
    bgr = _photo_like()
    picture = decode_compressed(fmt, encode_compressed(bgr, 'jpeg', quality=95))
    assert picture.color == 'bgr' and picture.array.shape == bgr.shape
    assert np.abs(picture.array.astype(int) - bgr).mean() < 4.0


def test_every_buffer_type_decodes():
    data = encode_compressed(_photo_like(), 'png')
    import array
    for buf in (data, bytearray(data), memoryview(data), array.array('B', data),
                np.frombuffer(data, np.uint8)):
        assert decode_compressed('png', buf).array.shape == (48, 64, 3)


def test_header_sizes_are_read_without_decoding():
    assert compressed_size('jpeg', encode_compressed(_photo_like(30, 70))) == (70, 30)
    assert compressed_size('png', encode_compressed(_photo_like(31, 71), 'png')) == (71, 31)


def _forge_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    sof = data.index(b'\xff\xc0')
    return data[:sof + 5] + struct.pack('>HH', height, width) + data[sof + 9:]


def _forge_png_size(data: bytes, width: int, height: int) -> bytes:
    ihdr = bytearray(data[12:29])
    ihdr[4:12] = struct.pack('>II', width, height)
    return data[:16] + bytes(ihdr[4:]) + struct.pack('>I', zlib.crc32(bytes(ihdr))) + data[33:]


@pytest.mark.parametrize('codec, forge', [('jpeg', _forge_jpeg_size), ('png', _forge_png_size)])
def test_huge_header_is_refused_before_opencv_allocates(codec, forge, monkeypatch):
    data = forge(encode_compressed(_photo_like(), codec), 60000, 60000)
    assert compressed_size(codec, data) == (60000, 60000)

    def must_not_decode(*args):
        raise AssertionError('cv2.imdecode called for a 60000x60000 header')

    monkeypatch.setattr(cv2, 'imdecode', must_not_decode)
    with pytest.raises(ImageFormatError) as info:
        decode_compressed(codec, data)
    assert info.value.reason == 'bad_size' and '60000x60000' in str(info.value)
    with pytest.raises(ImageFormatError) as info:
        decode_compressed(codec, encode_compressed(_photo_like(), codec), max_pixels=100)
    assert info.value.reason == 'bad_size'


@pytest.mark.parametrize('fmt, data', [
    ('jpeg', encode_compressed(_photo_like(), 'png')),
    ('png', encode_compressed(_photo_like(), 'jpeg')),
    ('jpeg', b''), ('png', b'\x89PNG'), ('', b'GIF89a....'),
    ('jpeg', b'\xff\xd8\xff\xd9'),
])
def test_wrong_or_empty_data_is_decode_error(fmt, data):
    with pytest.raises(ImageFormatError) as info:
        decode_compressed(fmt, data)
    assert info.value.reason == 'decode_error'


@settings(max_examples=60, deadline=None)
@given(codec=st.sampled_from(['jpeg', 'png']), cut=st.floats(0.0, 0.999))
def test_truncated_files_are_decode_errors(codec, cut):
    data = encode_compressed(_photo_like(), codec)
    keep = int(len(data) * cut)
    with pytest.raises(ImageFormatError) as info:
        decode_compressed(codec, data[:keep])
    assert info.value.reason == 'decode_error'


@settings(max_examples=150, deadline=None)
@given(codec=st.sampled_from(['jpeg', 'png']), seed=st.integers(0, 2**32 - 1),
       flips=st.integers(1, 20))
def test_corrupted_bytes_decode_or_raise_image_format_error_only(codec, seed, flips):
    data = bytearray(encode_compressed(_photo_like(), codec))
    rng = np.random.default_rng(seed)
    for pos in rng.integers(0, len(data), flips):
        data[pos] = int(rng.integers(0, 256))
    try:
        picture = decode_compressed(codec, bytes(data))
    except ImageFormatError as exc:
        assert exc.reason in ('decode_error', 'bad_size')
    else:
        assert picture.array.ndim == 3 and picture.color in ('bgr', 'bgra', 'mono')


@pytest.mark.parametrize('codec', ['jpeg', 'png'])
@pytest.mark.parametrize('missing', [1, 2, 12, 100])
def test_files_missing_their_last_bytes_are_decode_errors(codec, missing):
    data = encode_compressed(_photo_like(), codec)
    with pytest.raises(ImageFormatError) as info:
        decode_compressed(codec, data[:-missing])
    assert info.value.reason == 'decode_error'
