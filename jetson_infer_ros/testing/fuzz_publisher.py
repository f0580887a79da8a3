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
Publishes a seeded mix of valid and malformed camera frames (fuzzing the live node).

Every frame's expected fate is written to a JSON summary: 'ok' for a valid frame (the
node must answer it) or the drop reason the node must count it under. Kinds of damage:
unknown encoding, step smaller than a row, data shorter or longer than step*height,
0x0, an absurd size claimed in the header (100000x100000 with a few bytes of data), a bad
is_bigendian flag, an odd-width YUV frame; for CompressedImage: truncated or corrupted
JPEG and unsupported format strings. Big-endian mono16 is valid and must be answered.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from typing import Any, Dict, List, Tuple

import numpy as np

RAW_DAMAGE = ('bad_encoding', 'bad_step', 'short', 'long', 'empty', 'absurd', 'bad_endian',
              'yuv_odd')
REASON = {'bad_encoding': 'bad_encoding', 'bad_step': 'bad_step', 'short': 'bad_length',
          'long': 'bad_length', 'empty': 'bad_size', 'absurd': 'bad_size',
          'bad_endian': 'bad_endian', 'yuv_odd': 'bad_size', 'truncated_jpeg': 'decode_error',
          'garbage_jpeg': 'decode_error', 'bad_format': 'bad_format'}


def raw_frame(rng: random.Random, nrng: np.random.Generator, kind: str
              ) -> Tuple[int, int, str, int, int, bytes]:
    """(height, width, encoding, step, is_bigendian, data) of one frame of ``kind``."""
    h, w = rng.randint(8, 48), rng.randint(8, 64)
    if kind == 'ok':
        enc = rng.choice(['rgb8', 'bgr8', 'mono8', 'rgba8', 'bgra8', 'mono16', 'yuv422',
                          'yuv422_yuy2'])
        if enc.startswith('yuv'):
            w += w % 2
        bpp = {'rgb8': 3, 'bgr8': 3, 'mono8': 1, 'rgba8': 4, 'bgra8': 4, 'mono16': 2,
               'yuv422': 2, 'yuv422_yuy2': 2}[enc]
        pad = rng.choice([0, 0, 1, 3, 8])
        step = w * bpp + pad
        big = 1 if enc == 'mono16' and rng.random() < 0.5 else 0
        return h, w, enc, step, big, nrng.integers(0, 256, step * h, dtype=np.uint8).tobytes()
    step = w * 3
    data = bytes(step * h)
    if kind == 'bad_encoding':
        return h, w, rng.choice(['weird8', 'bayer_unknown', '', 'RGB 8']), step, 0, data
    if kind == 'bad_step':
        return h, w, 'rgb8', w * 3 - rng.randint(1, w), 0, data
    if kind == 'short':
        return h, w, 'rgb8', step, 0, data[:-rng.randint(1, step)]
    if kind == 'long':
        return h, w, 'rgb8', step, 0, data + bytes(rng.randint(1, 64))
    if kind == 'empty':
        return 0, 0, 'rgb8', 0, 0, b''
    if kind == 'absurd':
        return 100000, 100000, 'rgb8', 300000, 0, bytes(16)
    if kind == 'bad_endian':
        return h, w, 'rgb8', step, rng.randint(2, 255), data
    if kind == 'yuv_odd':
        w = w | 1
        return h, w, 'yuv422', w * 2, 0, bytes(w * 2 * h)
    raise ValueError(kind)


def compressed_frame(rng: random.Random, jpeg: bytes, kind: str) -> Tuple[str, bytes]:
    if kind == 'ok':
        return rng.choice(['jpeg', 'bgr8; jpeg compressed bgr8']), jpeg
    if kind == 'truncated_jpeg':
        return 'jpeg', jpeg[:rng.randint(4, len(jpeg) // 2)]
    if kind == 'garbage_jpeg':
        return 'jpeg', b'\xff\xd8\xff' + bytes(rng.getrandbits(8) for _ in range(200))
    if kind == 'bad_format':
        return rng.choice(['bmp', 'tiff; raw', 'rgb8; compressedDepth']), jpeg
    raise ValueError(kind)


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--count', type=int, default=10000)
    ap.add_argument('--valid-share', type=float, default=0.3)
    ap.add_argument('--rate', type=float, default=500.0)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--compressed', action='store_true')
    ap.add_argument('--topic', default='image')
    ap.add_argument('--summary', required=True)
    args = ap.parse_args(argv)

    import rclpy
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage, Image

    from jetson_infer_ros.image_convert import encode_compressed
    from jetson_infer_ros.testing.publisher import wait_for_subscribers

    rng = random.Random(args.seed)
    nrng = np.random.default_rng(args.seed)
    rclpy.init(args=[])
    node = rclpy.create_node('fuzz_publisher')
    # keep-all reliable: the node's lossless mode pushes back instead of losing frames
    qos = QoSProfile(history=HistoryPolicy.KEEP_ALL, depth=1000,
                     reliability=ReliabilityPolicy.RELIABLE)
    if args.compressed:
        pub = node.create_publisher(CompressedImage, args.topic + '/compressed', qos)
        jpeg = encode_compressed(nrng.integers(0, 256, (48, 64, 3), dtype=np.uint8), 'jpeg')
        damage: Tuple[str, ...] = ('truncated_jpeg', 'garbage_jpeg', 'bad_format')
    else:
        pub = node.create_publisher(Image, args.topic, qos)
        damage = RAW_DAMAGE
    wait_for_subscribers(node, pub, 1)
    time.sleep(1.0)
    expected: Dict[str, int] = {}
    kinds: List[str] = []
    period = 1.0 / args.rate
    t_next = time.perf_counter()
    for i in range(args.count):
        kind = 'ok' if rng.random() < args.valid_share else rng.choice(damage)
        if args.compressed:
            msg = CompressedImage()
            msg.format, data = compressed_frame(rng, jpeg, kind)
            msg.data = data
        else:
            msg = Image()
            (msg.height, msg.width, msg.encoding, msg.step, msg.is_bigendian,
             data) = raw_frame(rng, nrng, kind)
            msg.data = data
        msg.header.frame_id = f'fuzz{i}'
        msg.header.stamp.sec = 1 + i
        pub.publish(msg)
        fate = 'ok' if kind == 'ok' else REASON[kind]
        expected[fate] = expected.get(fate, 0) + 1
        kinds.append(kind)
        t_next += period
        delay = t_next - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    with open(args.summary, 'w') as f:
        json.dump({'count': args.count, 'expected': expected,
                   'kinds': {k: kinds.count(k) for k in set(kinds)}}, f)
    time.sleep(1.0)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
