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
An image subscriber that only notes what arrived: the transport half of issue 11.

Subscribes to ``image`` with the node's own input QoS (best effort, keep last 1 by
default) on the raw CDR path, reads just the header stamp, and writes one JSON line per
frame (stamp, receipt time, size) so the bench can count delivered/sent and measure
camera -> subscriber latency with and without the large-data Fast DDS profile. It spins
on its main thread, so it keeps frame buffers on the heap (``heap.keep_frame_buffers``)
to cost what the node's input thread costs, unless ``--glibc-heap`` asks for glibc's
defaults (what a plain Python subscriber pays; see heap.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--topic', default='image')
    ap.add_argument('--out', required=True)
    ap.add_argument('--reliable', action='store_true')
    ap.add_argument('--depth', type=int, default=1)
    ap.add_argument('--kind', default='',
                    help="add 'kind': KIND to every line (the bench's wire runs read them "
                    'like answers)')
    ap.add_argument('--glibc-heap', action='store_true',
                    help="leave glibc's allocator defaults (no heap.keep_frame_buffers)")
    args = ap.parse_args(argv)

    if not args.glibc_heap:
        from jetson_infer_ros import heap
        heap.keep_frame_buffers()

    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from jetson_infer_ros.raw_image import parse_image

    rclpy.init(args=[])
    node = rclpy.create_node('bench_image_sink')
    out = open(args.out, 'w')

    def on_image(data: bytes) -> None:
        received = time.time_ns()
        img = parse_image(data)
        record = {'stamp_ns': img.stamp_sec * 1_000_000_000 + img.stamp_nanosec,
                  'received_ns': received, 'bytes': len(data)}
        if args.kind:
            record['kind'] = args.kind
        out.write(json.dumps(record) + '\n')
        out.flush()

    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=max(1, args.depth),
                     reliability=ReliabilityPolicy.RELIABLE if args.reliable
                     else ReliabilityPolicy.BEST_EFFORT)
    node.create_subscription(Image, args.topic, on_image, qos, raw=True)
    print('sink ready', flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        out.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
