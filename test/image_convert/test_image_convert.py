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
"""sensor_msgs/Image fields <-> NumPy: zero-copy views, every encoding, every refusal."""

from __future__ import annotations

import array

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from jetson_infer_ros.image_convert import (
    image_to_picture,
    ImageFormatError,
    msg_to_picture,
    Picture,
    picture_to_image_fields,
    picture_to_msg,
    SUPPORTED_ENCODINGS,
)

# encoding -> (channels of the array picture_to_image_fields takes, dtype, Picture colour)
PLAIN = {
    'rgb8': (3, np.uint8, 'rgb'), 'bgr8': (3, np.uint8, 'bgr'),
    'rgba8': (4, np.uint8, 'rgba'), 'bgra8': (4, np.uint8, 'bgra'),
    'mono8': (1, np.uint8, 'mono'), 'mono16': (1, np.uint16, 'mono'),
    '8UC1': (1, np.uint8, 'mono'), '8UC3': (3, np.uint8, 'bgr'),
    '8UC4': (4, np.uint8, 'bgra'), '16UC1': (1, np.uint16, 'mono'),
}
YUV = ('uyvy', 'yuv422', 'yuyv', 'yuv422_yuy2')


def _random(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)


def test_every_supported_encoding_is_covered_here():
    assert {e.lower() for e in PLAIN} | set(YUV) == set(SUPPORTED_ENCODINGS)


@settings(max_examples=150, deadline=None)
@given(encoding=st.sampled_from(sorted(PLAIN)), height=st.integers(1, 9),
       width=st.integers(1, 13), pad=st.integers(0, 9), bigendian=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_round_trip_with_padded_rows_is_a_view(encoding, height, width, pad, bigendian, seed):
    channels, dtype, color = PLAIN[encoding]
    image = _random((height, width, channels), dtype, seed)
    row = width * channels * np.dtype(dtype).itemsize
    fields = picture_to_image_fields(image, encoding, step=row + pad, bigendian=bigendian)
    assert fields[3] == row + pad and len(fields[5]) == (row + pad) * height
    picture = image_to_picture(*fields)
    assert isinstance(picture, Picture)
    assert picture.color == color
    assert picture.array.dtype == dtype and picture.array.dtype.isnative
    np.testing.assert_array_equal(picture.array, image)
    # 16-bit data is copied when big-endian or when an odd step misaligns its rows.
    copied = dtype == np.uint16 and (fields[4] or (row + pad) % 2)
    if not copied:
        assert np.shares_memory(picture.array, np.frombuffer(fields[5], np.uint8))


@pytest.mark.parametrize('kind', ['bytes', 'bytearray', 'memoryview', 'array', 'ndarray',
                                  'ndarray2d', 'memoryview_u16'])
def test_every_buffer_type_rclpy_or_users_hand_over(kind):
    image = _random((4, 5, 3), np.uint8)
    height, width, enc, step, big, data = picture_to_image_fields(image, 'rgb8', step=16)
    buffers = {
        'bytes': lambda: data,
        'bytearray': lambda: bytearray(data),
        'memoryview': lambda: memoryview(bytearray(data)),
        'array': lambda: array.array('B', data),
        'ndarray': lambda: np.frombuffer(data, np.uint8).copy(),
        'ndarray2d': lambda: np.frombuffer(data, np.uint8).reshape(height, step).copy(),
        'memoryview_u16': lambda: memoryview(bytearray(data)).cast('H'),
    }
    buf = buffers[kind]()
    picture = image_to_picture(height, width, enc, step, big, buf)
    np.testing.assert_array_equal(picture.array, image)
    assert np.shares_memory(picture.array, np.frombuffer(memoryview(buf).cast('B'), np.uint8))


def test_big_endian_mono16_is_byteswapped_to_native():
    values = np.array([[0x0102, 0xFF00, 0x00FF]], np.uint16)
    data = b'\x01\x02\xff\x00\x00\xff'
    picture = image_to_picture(1, 3, 'mono16', 6, 1, data)
    np.testing.assert_array_equal(picture.array[:, :, 0], values)
    assert picture.array.dtype == np.uint16 and picture.array.dtype.isnative
    little = image_to_picture(1, 3, 'mono16', 6, 0, data)
    np.testing.assert_array_equal(little.array[:, :, 0], values.byteswap())


def test_mono16_with_odd_step_is_copied_aligned():
    image = _random((3, 4, 1), np.uint16)
    fields = picture_to_image_fields(image, 'mono16', step=9)
    data = bytearray(1) + bytearray(fields[5])  # misalign the buffer as well
    picture = image_to_picture(3, 4, 'mono16', 9, 0, memoryview(data)[1:])
    assert picture.array.flags.aligned
    np.testing.assert_array_equal(picture.array, image)


def test_encoding_names_ignore_case_and_8uc3_is_bgr():
    image = _random((2, 3, 3), np.uint8)
    fields = list(picture_to_image_fields(image, 'BGR8'))
    assert image_to_picture(*fields).color == 'bgr'
    fields[2] = '8uc3'
    assert image_to_picture(*fields).color == 'bgr'


def _yuv_reference(y, u, v):
    """BT.601 limited range, what OpenCV (and cv_bridge through it) uses for 4:2:2."""
    yf = np.maximum(y.astype(np.float64) - 16.0, 0.0) * 1.164
    uf = u.astype(np.float64) - 128.0
    vf = v.astype(np.float64) - 128.0
    rgb = np.stack([yf + 1.596 * vf, yf - 0.813 * vf - 0.391 * uf, yf + 2.018 * uf], axis=-1)
    return np.clip(rgb, 0, 255)


@pytest.mark.parametrize('encoding', YUV)
@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 6), pairs=st.integers(1, 8), pad=st.integers(0, 5),
       seed=st.integers(0, 2**32 - 1))
def test_yuv422_to_rgb_matches_bt601(encoding, height, pairs, pad, seed):
    width = 2 * pairs
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 256, (height, width))
    u = rng.integers(0, 256, (height, pairs))
    v = rng.integers(0, 256, (height, pairs))
    packed = np.zeros((height, width, 2), np.uint8)
    if encoding in ('uyvy', 'yuv422'):  # U0 Y0 V0 Y1
        packed[:, 0::2, 0], packed[:, 1::2, 0], packed[:, :, 1] = u, v, y
    else:  # Y0 U0 Y1 V0
        packed[:, :, 0], packed[:, 0::2, 1], packed[:, 1::2, 1] = y, u, v
    fields = picture_to_image_fields(packed, encoding, step=2 * width + pad)
    picture = image_to_picture(*fields)
    assert picture.color == 'rgb' and picture.array.shape == (height, width, 3)
    expected = _yuv_reference(y, np.repeat(u, 2, axis=1), np.repeat(v, 2, axis=1))
    assert np.abs(picture.array - expected).max() <= 1.0


def _reason(call, *args, **kwargs):
    with pytest.raises(ImageFormatError) as info:
        call(*args, **kwargs)
    assert isinstance(info.value, ValueError)
    return info.value.reason, str(info.value)


def test_refusals_name_the_problem():
    good = picture_to_image_fields(np.zeros((480, 640, 3), np.uint8), 'rgb8')
    height, width, enc, step, big, data = good

    reason, message = _reason(image_to_picture, height, width, enc, 100, big, data)
    assert reason == 'bad_step'
    assert message.startswith('step 100 < width*channels*bytes 1920 for rgb8 640x480')

    assert _reason(image_to_picture, height, width, 'rgb9', step, big, data)[0] == \
        'bad_encoding'
    assert _reason(image_to_picture, height, width, None, step, big, data)[0] == \
        'bad_encoding'
    assert _reason(image_to_picture, 0, width, enc, step, big, b'')[0] == 'bad_size'
    assert _reason(image_to_picture, height, -1, enc, step, big, data)[0] == 'bad_size'
    assert _reason(image_to_picture, height, width, enc, step, 2, data)[0] == 'bad_endian'
    reason, message = _reason(image_to_picture, height, width, enc, step, big, data[:-1])
    assert reason == 'bad_length' and str(len(data) - 1) in message
    assert _reason(image_to_picture, height, width, enc, step, big, data + b'\0')[0] == \
        'bad_length'
    assert _reason(image_to_picture, height, width, enc, step, big, None)[0] == 'bad_data'
    assert _reason(image_to_picture, height, width, enc, step, big, 'text')[0] == 'bad_data'
    strided = np.frombuffer(data * 2, np.uint8)[::2]
    assert _reason(image_to_picture, height, width, enc, step, big, strided)[0] == 'bad_data'
    reason, message = _reason(image_to_picture, height, width, enc, step, big, data,
                              max_pixels=640 * 480 - 1)
    assert reason == 'bad_size' and 'max_pixels' in message
    assert _reason(image_to_picture, 2, 3, 'yuv422', 6, 0, bytes(12))[0] == 'bad_size'
    assert _reason(image_to_picture, 2, 3, 'rgb8', 9.5, 0, bytes(19))[0] == 'bad_step'


def test_absurd_sizes_are_refused_before_any_allocation():
    # 4 G x 4 G pixels with a tiny buffer: must fail on size, not on memory.
    reason, _ = _reason(image_to_picture, 2**32 - 1, 2**32 - 1, 'rgb8', 3 * (2**32 - 1), 0,
                        bytes(16))
    assert reason == 'bad_size'
    # Within max_pixels but data far too short: a length error, no allocation.
    reason, _ = _reason(image_to_picture, 8000, 8000, 'rgba8', 32000, 0, bytes(16))
    assert reason == 'bad_length'


def test_picture_to_image_fields_refuses_mismatched_arrays():
    assert _reason(picture_to_image_fields, np.zeros((2, 2, 3), np.uint16), 'rgb8')[0] == \
        'bad_size'
    assert _reason(picture_to_image_fields, np.zeros((2, 2, 3), np.uint8), 'rgb8',
                   step=5)[0] == 'bad_step'
    fields = picture_to_image_fields(np.zeros((2, 2), np.uint8), 'mono8')
    assert fields[:5] == (2, 2, 'mono8', 2, 0)


def test_sensor_msgs_image_round_trip():
    from std_msgs.msg import Header
    header = Header(frame_id='camera_optical')
    image = _random((6, 5, 3), np.uint8)
    msg = picture_to_msg(image, 'bgr8', header=header, step=17)
    assert (msg.height, msg.width, msg.encoding, msg.step, msg.is_bigendian) == \
        (6, 5, 'bgr8', 17, 0)
    assert msg.header.frame_id == 'camera_optical'
    picture = msg_to_picture(msg)
    assert picture.color == 'bgr'
    np.testing.assert_array_equal(picture.array, image)
    assert np.shares_memory(picture.array, np.frombuffer(msg.data, np.uint8))
