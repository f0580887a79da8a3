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

r"""
TensorRT calibration cache from our activation ranges, for the legacy INT8 build path.

TensorRT 8.x (a Xavier NX stops at 8.5) and 10.x still build INT8 engines from an FP32
ONNX plus an ``IInt8EntropyCalibrator2`` whose ``readCalibrationCache`` returns a cache;
with a cache present TensorRT skips its own calibration. Writing that cache from the
ranges this package measured keeps one calibration behind both build paths (explicit
Q/DQ and legacy), so a Jetson without our calibration data still gets the same scales.

The format (TensorRT writes and reads it; it is not documented as a stable API):
a first line ``TRT-<version>-EntropyCalibration2``, then one line per tensor
``<tensor name>: <hex>`` where ``<hex>`` is the IEEE-754 bit pattern of the float32
*scale* (amax / 127) written as a big-endian hexadecimal number without ``0x``.
Verified against public code: NVIDIA TAO Toolkit's keras exporter
(``_calibration_cache_from_dict``: header ``"TRT-{}-EntropyCalibration2\n"``, entry
``hex(struct.unpack("i", struct.pack("f", amax / 127.0))[0])[2:]``) and readers that
decode entries with ``struct.unpack("!f", bytes.fromhex(value))`` (network byte order),
plus caches in the wild headed ``TRT-8501-EntropyCalibration2`` (TensorRT 8.5.1) and
``TRT-100900-EntropyCalibration2`` (10.9.0). The version number is
``major * 1000 + minor * 100 + patch`` up to 9.x and ``major * 10000 + minor * 100 +
patch`` from 10.0 on. TensorRT may ignore a cache whose header names another version
(it then calibrates again if it has a calibrator with data), so write it for the
TensorRT the target runs: 8.5.2 on JetPack 5.1 (``8502``), 10.3 on JetPack 6
(``100300``).
"""

from __future__ import annotations

import struct
from typing import Dict, Iterable, Mapping, Tuple

DEFAULT_TRT_VERSION = 8502   # TensorRT 8.5.2, JetPack 5.1 (Xavier NX's last)
ALGORITHM = 'EntropyCalibration2'


def trt_version_number(version: str) -> int:
    """``'8.5.2'`` -> 8502, ``'10.3.0'`` -> 100300 (TensorRT's own encoding)."""
    parts = [int(p) for p in str(version).split('.')[:3]]
    while len(parts) < 3:
        parts.append(0)
    major, minor, patch = parts
    if major >= 10:
        return major * 10000 + minor * 100 + patch
    return major * 1000 + minor * 100 + patch


def scale_hex(scale: float) -> str:
    """Big-endian hex of the float32 bit pattern, as TensorRT writes it."""
    return struct.pack('>f', float(scale)).hex()


def parse_hex(text: str) -> float:
    """Inverse of :func:`scale_hex` (accepts TensorRT's unpadded form too)."""
    return struct.unpack('>f', bytes.fromhex(text.strip().rjust(8, '0')))[0]


def render(amax: Mapping[str, float], version: int = DEFAULT_TRT_VERSION) -> str:
    """Cache text for ``{tensor name: amax}``; scales are amax / 127 (symmetric int8)."""
    lines = [f'TRT-{int(version)}-{ALGORITHM}']
    for name in sorted(amax):
        value = float(amax[name])
        if not value > 0.0:
            continue   # a tensor that was always 0 has no usable scale; TensorRT keeps it
        lines.append(f'{name}: {scale_hex(value / 127.0)}')
    return '\n'.join(lines) + '\n'


def parse(text: str) -> Tuple[str, Dict[str, float]]:
    """Header and ``{tensor: scale}`` of a cache (for tests and inspection)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith('TRT-'):
        raise ValueError('not a TensorRT calibration cache (first line must start with TRT-)')
    scales = {}
    for line in lines[1:]:
        name, sep, value = line.rpartition(': ')
        if not sep:
            raise ValueError(f'calibration cache line without "name: value": {line!r}')
        scales[name] = parse_hex(value)
    return lines[0], scales


def amax_from_ranges(ranges: Iterable[Tuple[str, float, float]]) -> Dict[str, float]:
    """``{name: max(|low|, |high|)}`` from (name, low, high) triples."""
    return {name: max(abs(float(lo)), abs(float(hi))) for name, lo, hi in ranges}
