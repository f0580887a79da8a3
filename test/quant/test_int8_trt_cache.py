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

"""The TensorRT calibration cache is written in the text form TensorRT reads."""

from __future__ import annotations

import struct

from hypothesis import given, strategies as st
import pytest

from jetson_infer_ros.quant import trt_cache


def test_header_and_entries_are_tensorrt_text_form():
    text = trt_cache.render({'input': 1.0, 'conv_out': 12.7, 'dead': 0.0}, version=8502)
    lines = text.splitlines()
    assert lines[0] == 'TRT-8502-EntropyCalibration2'
    # scale = amax / 127, float32 bits as big-endian hex (1/127 = 0x3c010204)
    assert 'input: 3c010204' in lines
    assert 'conv_out: 3dcccccd' in lines           # 12.7 / 127 = 0.1f
    assert not any(line.startswith('dead') for line in lines)   # no usable scale
    assert text.endswith('\n')


def test_version_numbers_follow_tensorrt_encoding():
    assert trt_cache.trt_version_number('8.5.2') == 8502
    assert trt_cache.trt_version_number('8.6') == 8600
    assert trt_cache.trt_version_number('10.3.0') == 100300
    assert trt_cache.trt_version_number('10.9') == 100900


@given(st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False))
def test_hex_round_trips_float32(amax):
    header, scales = trt_cache.parse(trt_cache.render({'t': amax}))
    expected = struct.unpack('>f', struct.pack('>f', amax / 127.0))[0]
    assert header.startswith('TRT-') and scales['t'] == expected


def test_parse_accepts_unpadded_hex_and_rejects_other_text():
    assert trt_cache.parse_hex('3c010204') == pytest.approx(1 / 127.0)
    assert trt_cache.parse_hex('1') == struct.unpack('>f', bytes.fromhex('00000001'))[0]
    with pytest.raises(ValueError):
        trt_cache.parse('not a cache\nx: 1')
