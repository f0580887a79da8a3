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
The raw path and the message path give every serialized sample the same verdict.

``zero_copy_input: false`` used to take messages through rclpy, which handed over only
what the middleware could deserialize and decoded some malformed samples as valid
(issue 25 item 6). Both paths now start from the serialized bytes: a frame either gives
the same header and pixels on both, or is refused on both under the same reason.
"""

from __future__ import annotations

import random

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CompressedImage

from jetson_infer_ros.config import load_config
from jetson_infer_ros.image_convert import encode_compressed, ImageFormatError, picture_to_msg
from jetson_infer_ros.pipeline import InferencePipeline
from jetson_infer_ros.testing.fuzz_publisher import cdr_image, REASON, WIRE_DAMAGE, wire_frame


@pytest.fixture(scope='module')
def pipeline():
    return InferencePipeline(load_config(None))   # convert() needs no model


def _verdict(pipeline, payload, raw, compressed=False):
    try:
        header, picture = pipeline.convert(payload, raw=raw, compressed=compressed)
    except ImageFormatError as exc:
        return exc.reason
    return header, picture.color, np.array(picture.array).tobytes()


def _same_on_both_paths(pipeline, payload, compressed=False):
    raw = _verdict(pipeline, payload, True, compressed)
    assert _verdict(pipeline, payload, False, compressed) == raw
    return raw


@pytest.mark.parametrize('kind', WIRE_DAMAGE)
def test_malformed_wire_bytes_get_the_raw_paths_reason_on_the_message_path(pipeline, kind):
    payload = wire_frame(random.Random(kind), kind)
    assert _same_on_both_paths(pipeline, payload) == REASON[kind]


def test_valid_frames_give_the_same_header_and_pixels():
    pipe = InferencePipeline(load_config(None))
    rng = np.random.default_rng(0)
    for encoding in ('bgr8', 'rgb8', 'mono8', 'mono16', 'yuv422', 'bgra8'):
        channels = {'mono8': 1, 'mono16': 1, 'yuv422': 2, 'bgra8': 4}.get(encoding, 3)
        dtype = np.uint16 if encoding == 'mono16' else np.uint8
        array = rng.integers(0, 200, (6, 8, channels)).astype(dtype)
        msg = picture_to_msg(array, encoding)
        msg.header.frame_id = 'cam_é'
        msg.header.stamp.sec, msg.header.stamp.nanosec = 7, 99
        verdict = _same_on_both_paths(pipe, serialize_message(msg))
        assert verdict[0] == (7, 99, 'cam_é')
    hand_written = cdr_image(3, 4, b'mono8\x00', 4, bytes(range(12)), b'f', 5)
    assert _same_on_both_paths(pipe, hand_written)[0] == (5, 0, 'f')
    odd_id = cdr_image(3, 4, b'mono8\x00', 4, bytes(12), b'\xffam', 5)   # invalid UTF-8
    assert _same_on_both_paths(pipe, odd_id)[0] == (5, 0, '\ufffdam')


def test_compressed_inner_nul_and_truncation_are_refused_on_both_paths(pipeline):
    jpeg = encode_compressed(np.full((16, 16, 3), 90, np.uint8), 'jpeg')
    good = serialize_message(CompressedImage(format='jpeg', data=jpeg))
    assert _same_on_both_paths(pipeline, good, compressed=True)[1] == 'bgr'
    nul = serialize_message(CompressedImage(format='jpeg', data=jpeg)).replace(
        b'jpeg\x00', b'jpe\x00\x00')      # same length, the deserializer would read 'jpe'
    assert _same_on_both_paths(pipeline, nul, compressed=True) == 'bad_format'
    assert _same_on_both_paths(pipeline, good[:30], compressed=True) == 'truncated'


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), flips=st.integers(1, 8))
def test_random_corruption_gets_one_verdict(pipeline, seed, flips):
    rng = random.Random(seed)
    pixels = bytes(rng.getrandbits(8) for _ in range(45))
    buffer = bytearray(cdr_image(3, 5, b'rgb8\x00', 15, pixels))
    for _ in range(flips):
        buffer[rng.randrange(len(buffer))] = rng.getrandbits(8)
    _same_on_both_paths(pipeline, bytes(buffer))
