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
"""The CDR reader agrees with rclpy's own deserializer, and refuses broken buffers."""

from __future__ import annotations

import struct

from hypothesis import given, HealthCheck, settings, strategies as st
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import CompressedImage, Image

from jetson_infer_ros.image_convert import (
    encode_compressed,
    ImageFormatError,
    msg_to_picture,
    picture_to_msg,
)
from jetson_infer_ros.raw_image import parse_compressed_image, parse_image

ENCODINGS = ['rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', 'mono16', '8UC3', 'uyvy', 'yuv422',
             'yuyv', 'yuv422_yuy2', '32FC1', '']
BYTES_PER_PIXEL = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1, 'mono16': 2,
                   '8UC3': 3, 'uyvy': 2, 'yuv422': 2, 'yuyv': 2, 'yuv422_yuy2': 2, '32FC1': 4,
                   '': 1}
# Exercise every alignment: odd byte counts, multi-byte UTF-8, no NUL inside (CDR strings
# cannot carry one).
FRAME_IDS = st.text(st.characters(blacklist_categories=('Cs',), blacklist_characters='\x00'),
                    max_size=13)


def _image_msg(frame_id, sec, nanosec, encoding, height, width, pad, big, seed):
    msg = Image()
    msg.header.frame_id = frame_id
    msg.header.stamp.sec = sec
    msg.header.stamp.nanosec = nanosec
    msg.height, msg.width, msg.encoding = height, width, encoding
    msg.is_bigendian = big
    msg.step = width * BYTES_PER_PIXEL[encoding] + pad
    rng = np.random.default_rng(seed)
    msg.data = rng.integers(0, 256, msg.step * height, dtype=np.uint8).tobytes()
    return msg


def _assert_same_image(raw, msg):
    assert (raw.stamp_sec, raw.stamp_nanosec, raw.frame_id) == \
        (msg.header.stamp.sec, msg.header.stamp.nanosec, msg.header.frame_id)
    assert (raw.height, raw.width, raw.encoding, raw.is_bigendian, raw.step) == \
        (msg.height, msg.width, msg.encoding, msg.is_bigendian, msg.step)
    assert isinstance(raw.data, memoryview)
    assert raw.data.tobytes() == msg.data.tobytes()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame_id=FRAME_IDS, sec=st.integers(-2**31, 2**31 - 1),
       nanosec=st.integers(0, 2**32 - 1), encoding=st.sampled_from(ENCODINGS),
       height=st.integers(0, 7), width=st.integers(0, 9), pad=st.integers(0, 7),
       big=st.integers(0, 1), seed=st.integers(0, 2**32 - 1))
def test_matches_rclpy_deserialize(frame_id, sec, nanosec, encoding, height, width, pad, big,
                                   seed):
    msg = _image_msg(frame_id, sec, nanosec, encoding, height, width, pad, big, seed)
    buffer = serialize_message(msg)
    expected = deserialize_message(buffer, Image)
    raw = parse_image(buffer)
    _assert_same_image(raw, expected)
    # zero copy: the pixels are a view into the serialized buffer
    if len(raw.data):
        assert np.shares_memory(np.frombuffer(raw.data, np.uint8),
                                np.frombuffer(buffer, np.uint8))


@pytest.mark.parametrize('width, height', [(640, 480), (1920, 1080)])
def test_camera_sized_frames_convert_like_the_standard_path(width, height):
    yy, xx = np.mgrid[0:height, 0:width]
    frame = np.stack([xx % 256, yy % 256, (xx * yy) % 251], axis=-1).astype(np.uint8)
    msg = picture_to_msg(frame, 'rgb8', step=width * 3 + 64)
    msg.header.frame_id = 'camera_color_optical_frame'
    buffer = serialize_message(msg)
    raw = parse_image(buffer)
    standard = msg_to_picture(deserialize_message(buffer, Image))
    fast = raw.to_picture()
    assert fast.color == standard.color == 'rgb'
    np.testing.assert_array_equal(fast.array, standard.array)
    np.testing.assert_array_equal(fast.array, frame)


@settings(max_examples=100, deadline=None)
@given(frame_id=FRAME_IDS, fmt=st.sampled_from(['jpeg', 'png', 'bgr8; jpeg compressed bgr8',
                                                'mono8; png compressed mono8', '']),
       sec=st.integers(-2**31, 2**31 - 1), data=st.binary(max_size=40))
def test_compressed_matches_rclpy_deserialize(frame_id, fmt, sec, data):
    msg = CompressedImage()
    msg.header.frame_id = frame_id
    msg.header.stamp.sec = sec
    msg.format = fmt
    msg.data = data
    buffer = serialize_message(msg)
    expected = deserialize_message(buffer, CompressedImage)
    raw = parse_compressed_image(buffer)
    assert (raw.stamp_sec, raw.stamp_nanosec, raw.frame_id, raw.format) == \
        (expected.header.stamp.sec, expected.header.stamp.nanosec, expected.header.frame_id,
         expected.format)
    assert raw.data.tobytes() == expected.data.tobytes()


def test_compressed_decodes_from_the_raw_view():
    frame = np.zeros((24, 32, 3), np.uint8)
    frame[4:12, 8:20] = (10, 200, 30)
    msg = CompressedImage(format='png', data=encode_compressed(frame, 'png'))
    picture = parse_compressed_image(serialize_message(msg)).decode()
    assert picture.color == 'bgr'
    np.testing.assert_array_equal(picture.array, frame)


# --- a reference CDR writer, checked against rclpy, to produce big-endian buffers ------

def _cdr_image(msg, order):
    out = bytearray(b'\x00\x01\x00\x00' if order == '<' else b'\x00\x00\x00\x00')

    def align4():
        out.extend(b'\0' * ((-(len(out) - 4)) % 4))

    def u32(value, fmt='I'):
        align4()
        out.extend(struct.pack(order + fmt, value))

    def string(text):
        raw = text.encode('utf-8') + b'\0'
        u32(len(raw))
        out.extend(raw)

    u32(msg.header.stamp.sec, 'i')
    u32(msg.header.stamp.nanosec)
    string(msg.header.frame_id)
    u32(msg.height)
    u32(msg.width)
    string(msg.encoding)
    out.append(msg.is_bigendian)
    u32(msg.step)
    u32(len(msg.data))
    out.extend(bytes(msg.data))
    return bytes(out)


@settings(max_examples=100, deadline=None)
@given(frame_id=FRAME_IDS, encoding=st.sampled_from(ENCODINGS), height=st.integers(0, 5),
       width=st.integers(0, 5), pad=st.integers(0, 3), sec=st.integers(-2**31, 2**31 - 1))
def test_big_endian_cdr(frame_id, encoding, height, width, pad, sec):
    msg = _image_msg(frame_id, sec, 12345, encoding, height, width, pad, 0, 1)
    little = _cdr_image(msg, '<')
    # the reference writer is right: rclpy reads its little-endian output back
    assert deserialize_message(little, Image) == msg
    big = parse_image(_cdr_image(msg, '>'))
    assert big == parse_image(little)
    _assert_same_image(big, msg)


# --- refusals -------------------------------------------------------------------------

def _small_buffer():
    msg = _image_msg('cam', 1, 2, 'rgb8', 2, 3, 1, 0, 0)
    return serialize_message(msg)


def _reason(buffer, parse=parse_image):
    with pytest.raises(ImageFormatError) as info:
        parse(buffer)
    return info.value.reason


def test_every_truncation_is_refused():
    buffer = _small_buffer()
    for end in range(len(buffer)):
        assert _reason(buffer[:end]) == 'truncated', end
    compressed = serialize_message(CompressedImage(format='jpeg', data=b'\xff\xd8\xff'))
    for end in range(len(compressed)):
        assert _reason(compressed[:end], parse_compressed_image) == 'truncated', end


@pytest.mark.parametrize('field', ['frame_id', 'encoding', 'data'])
def test_lengths_past_the_end_are_refused_without_allocating(field):
    buffer = bytearray(_small_buffer())
    raw = parse_image(bytes(buffer))
    offsets = {'frame_id': 4 + 8,  # right after the stamp
               'encoding': 4 + 8 + 4 + 4 + 8,  # after 'cam\0', height and width
               'data': len(buffer) - len(raw.data) - 4}
    pos = offsets[field]
    assert struct.unpack_from('<I', buffer, pos)[0] in (4, 5, len(raw.data))
    buffer[pos:pos + 4] = struct.pack('<I', 0xFFFFFFFF)
    assert _reason(bytes(buffer)) == 'truncated'


def test_unknown_encapsulation_and_missing_nul_are_bad_format():
    buffer = bytearray(_small_buffer())
    for kind in (b'\x00\x07', b'\x00\x02', b'\x01\x01'):
        assert _reason(bytes(kind + buffer[2:])) == 'bad_format'
    buffer[4 + 8 + 4 + 3] = ord('x')  # the NUL terminating 'cam'
    assert _reason(bytes(buffer)) == 'bad_format'
    assert _reason(None) == 'bad_data'


def test_invalid_utf8_frame_id_is_replaced_not_fatal():
    buffer = bytearray(_small_buffer())
    buffer[4 + 8 + 4] = 0xFF
    assert parse_image(bytes(buffer)).frame_id == '\ufffdam'


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 8))
def test_random_corruption_parses_or_raises_image_format_error_only(seed, flips):
    buffer = bytearray(_small_buffer())
    rng = np.random.default_rng(seed)
    for pos in rng.integers(0, len(buffer), flips):
        buffer[pos] = int(rng.integers(0, 256))
    try:
        raw = parse_image(bytes(buffer))
    except ImageFormatError as exc:
        assert exc.reason in ('truncated', 'bad_format')
        return
    try:
        picture = raw.to_picture(max_pixels=10**6)
    except ImageFormatError as exc:
        assert exc.reason in ('bad_encoding', 'bad_size', 'bad_step', 'bad_length',
                              'bad_endian')
    else:
        assert picture.array.shape[:2] == (raw.height, raw.width)
