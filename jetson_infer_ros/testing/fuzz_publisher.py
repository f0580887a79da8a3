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
Malformed wire bytes (``--wire``), written as CDR by hand and published as serialized
data: unknown encapsulation ids, strings without their NUL or with bytes after an
inner NUL, truncated samples and lengths that run past the end.
"""

from __future__ import annotations

import argparse
import json
import random
import struct
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
WIRE_DAMAGE = ('encap_00_07', 'encap_00_02', 'encap_junk', 'encoding_no_nul',
               'encoding_nul_junk', 'frame_id_no_nul', 'cut_in_data', 'cut_in_header',
               'data_length_huge', 'string_length_huge', 'only_encapsulation')
REASON.update({'encap_00_07': 'bad_format', 'encap_00_02': 'bad_format',
               'encap_junk': 'bad_format', 'encoding_no_nul': 'bad_format',
               'encoding_nul_junk': 'bad_encoding', 'frame_id_no_nul': 'bad_format',
               'cut_in_data': 'truncated', 'cut_in_header': 'truncated',
               'data_length_huge': 'truncated', 'string_length_huge': 'truncated',
               'only_encapsulation': 'truncated'})


def cdr_image(height: int, width: int, encoding: bytes, step: int, data: bytes,
              frame_id: bytes = b'fuzz', sec: int = 1, encapsulation: bytes = b'\x00\x01',
              is_bigendian: int = 0) -> bytes:
    """
    Write a little-endian CDR ``sensor_msgs/Image`` field by field.

    ``frame_id`` gets its NUL here; ``encoding`` is written exactly as given, so a
    missing or inner NUL reaches the wire as it would from a broken writer.
    """
    out = bytearray(encapsulation + b'\x00\x00')

    def u32(value: int) -> None:
        out.extend(bytes((-(len(out) - 4)) % 4))
        out.extend(struct.pack('<I', value))
    u32(sec)
    u32(0)
    u32(len(frame_id) + 1)
    out.extend(frame_id + b'\x00')
    u32(height)
    u32(width)
    u32(len(encoding))
    out.extend(encoding)
    out.append(is_bigendian)
    u32(step)
    u32(len(data))
    out.extend(data)
    return bytes(out)


def wire_frame(rng: random.Random, kind: str, frame_id: bytes = b'fuzz', sec: int = 1
               ) -> bytes:
    """Return the bytes of one malformed ``sensor_msgs/Image`` of ``kind`` (WIRE_DAMAGE)."""
    h, w = rng.randint(2, 24), rng.randint(2, 32)
    data = bytes(rng.getrandbits(8) for _ in range(h * w * 3))
    ok = cdr_image(h, w, b'bgr8\x00', w * 3, data, frame_id, sec)
    head = 4 + 8            # the frame_id length follows the encapsulation and the stamp
    if kind == 'encap_00_07':
        return b'\x00\x07' + ok[2:]
    if kind == 'encap_00_02':
        return b'\x00\x02' + ok[2:]
    if kind == 'encap_junk':
        return bytes([rng.randint(1, 255), rng.randint(0, 255)]) + ok[2:]
    if kind == 'encoding_no_nul':
        return cdr_image(h, w, b'bgr8', w * 3, data, frame_id, sec)
    if kind == 'encoding_nul_junk':
        return cdr_image(h, w, b'bgr8\x00junk\x00', w * 3, data, frame_id, sec)
    if kind == 'frame_id_no_nul':
        return ok[:head] + struct.pack('<I', len(frame_id)) + frame_id + \
            ok[head + 4 + len(frame_id) + 1:]
    if kind == 'cut_in_data':
        return ok[:len(ok) - rng.randint(1, len(data))]
    if kind == 'cut_in_header':
        return ok[:rng.randint(5, head + 8)]
    if kind == 'data_length_huge':
        return ok[:len(ok) - len(data) - 4] + struct.pack('<I', 0x7FFFFFFF) + data
    if kind == 'string_length_huge':
        return ok[:head] + struct.pack('<I', 0x7FFFFFF0) + ok[head + 4:]
    if kind == 'only_encapsulation':
        return b'\x00\x01\x00\x00'
    raise ValueError(kind)


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


# valid frames whose aspect ratio made a centre crop resize them to hundreds of MB
EXTREME = ((1, 2500, 'mono8'), (1, 10000, 'mono8'), (2, 10000, 'bgr8'), (100000, 1, 'mono8'),
           (1, 100000, 'mono8'), (3, 7001, 'rgb8'))


def extreme_frame(rng: random.Random) -> Tuple[int, int, str, int, int, bytes]:
    h, w, enc = rng.choice(EXTREME)
    step = w * (3 if enc != 'mono8' else 1)
    return h, w, enc, step, 0, bytes(rng.getrandbits(8) for _ in range(64)) * (step * h // 64) \
        + bytes(step * h % 64)


def _image_msg(Image: Any, fields: Tuple[int, int, str, int, int, bytes], i: int) -> Any:
    msg = Image()
    msg.height, msg.width, msg.encoding, msg.step, msg.is_bigendian, data = fields
    msg.data = data
    msg.header.frame_id = f'fuzz{i}'
    msg.header.stamp.sec = 1 + i
    return msg


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--phase', choices=('mixed', 'stall', 'flood'), default='mixed',
                    help='mixed: seeded valid and damaged frames; stall: valid, valid, a '
                    'zero-length sample, valid x3, a pause, then valid frames; flood: large '
                    'valid frames as fast as the publisher can send them')
    ap.add_argument('--count', type=int, default=10000)
    ap.add_argument('--valid-share', type=float, default=0.3)
    ap.add_argument('--rate', type=float, default=500.0)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--compressed', action='store_true')
    ap.add_argument('--wire', action='store_true', help='mixed: add malformed wire bytes')
    ap.add_argument('--extreme', action='store_true',
                    help='mixed: add valid frames of extreme aspect ratio (EXTREME)')
    ap.add_argument('--stall-wait', type=float, default=6.0,
                    help='stall: seconds to wait after the three frames that follow the '
                    'zero-length sample')
    ap.add_argument('--flood-size', default='768x576', help='flood: WxH of the bgr8 frames')
    ap.add_argument('--first-id', type=int, default=0,
                    help='number of the first frame (frame_id fuzz<N>, stamp N + 1 s)')
    ap.add_argument('--linger', type=float, default=30.0,
                    help='seconds to wait at the end for every reader to acknowledge')
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
    # keep-all reliable, the strongest publisher there is: in lossless mode the node must
    # answer or count every sample it sends
    qos = QoSProfile(history=HistoryPolicy.KEEP_ALL, depth=1000,
                     reliability=ReliabilityPolicy.RELIABLE)
    damage: Tuple[str, ...] = RAW_DAMAGE
    if args.compressed:
        pub = node.create_publisher(CompressedImage, args.topic + '/compressed', qos)
        jpeg = encode_compressed(nrng.integers(0, 256, (48, 64, 3), dtype=np.uint8), 'jpeg')
        damage = ('truncated_jpeg', 'garbage_jpeg', 'bad_format')
    else:
        pub = node.create_publisher(Image, args.topic, qos)
        damage += (WIRE_DAMAGE if args.wire else ()) + (('extreme',) if args.extreme else ())
    wait_for_subscribers(node, pub, 1)
    time.sleep(1.0)
    expected: Dict[str, int] = {}
    kinds: List[str] = []
    errors = 0
    flood_w, flood_h = (int(v) for v in args.flood_size.split('x'))
    flood = nrng.integers(0, 256, (flood_h, flood_w * 3), dtype=np.uint8).tobytes()
    period = 1.0 / args.rate if args.rate > 0 and args.phase != 'flood' else 0.0
    t0 = t_next = time.perf_counter()
    for n in range(args.count):
        i = args.first_id + n
        payload: Any
        if args.phase == 'flood':
            kind = 'ok'
            payload = _image_msg(Image, (flood_h, flood_w, 'bgr8', flood_w * 3, 0, flood), i)
        elif args.phase == 'stall':
            kind = 'empty' if n == 2 else 'ok'
            payload = b'' if kind == 'empty' else _image_msg(
                Image, raw_frame(rng, nrng, 'ok'), i)
        else:
            kind = 'ok' if rng.random() < args.valid_share else rng.choice(damage)
            if args.compressed:
                payload = CompressedImage()
                payload.format, data = compressed_frame(rng, jpeg, kind)
                payload.data = data
                payload.header.frame_id = f'fuzz{i}'
                payload.header.stamp.sec = 1 + i
            elif kind in WIRE_DAMAGE:
                payload = wire_frame(rng, kind, f'fuzz{i}'.encode(), 1 + i)
            else:
                payload = _image_msg(Image, extreme_frame(rng) if kind == 'extreme'
                                     else raw_frame(rng, nrng, kind), i)
        try:
            pub.publish(payload)
        except Exception:  # noqa: B902 - a reliable writer that timed out: counted, go on
            errors += 1
        fate = 'ok' if kind in ('ok', 'extreme') else REASON.get(kind, kind)
        expected[fate] = expected.get(fate, 0) + 1
        kinds.append(kind)
        if args.phase == 'stall' and n == 5:
            time.sleep(args.stall_wait)
            t_next = time.perf_counter()
        if period:
            t_next += period
            delay = t_next - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    elapsed = time.perf_counter() - t0
    with open(args.summary, 'w') as f:
        json.dump({'count': args.count, 'expected': expected, 'publish_errors': errors,
                   'publish_rate_hz': args.count / elapsed if elapsed > 0 else 0.0,
                   'kinds': {k: kinds.count(k) for k in set(kinds)}}, f)
    # a reliable writer that leaves drops what its readers have not acknowledged yet
    wait_acked = getattr(pub, 'wait_for_all_acked', None)
    if wait_acked is not None:
        from rclpy.duration import Duration
        wait_acked(Duration(seconds=args.linger))
    time.sleep(1.0)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
