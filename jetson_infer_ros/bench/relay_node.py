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
The transport floor: a node that answers every frame at once with an empty result.

It subscribes exactly as the inference node does (``image``, best effort, keep last 1,
raw CDR), reads only the header and publishes an empty ``vision_msgs/Classification``
carrying it on ``classification`` (reliable, depth 10, as the node's output). Camera ->
relay -> listener therefore costs what DDS, rclpy dispatch and two process hops cost
with no work in between; subtracting it from the node's end-to-end latency leaves what
the node itself adds. ``--executor`` swaps the executor so the cost of the inference
node's MultiThreadedExecutor can be measured apart. It keeps frame buffers on the heap
(``heap.keep_frame_buffers``): spun on the main thread it would otherwise fault every
frame's pages in again, which the node's input thread does not, and stop being a floor.
Exists only for the benchmark.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--depth', type=int, default=1, help='input keep-last depth')
    ap.add_argument('--executor', choices=('single', 'multi'), default='single',
                    help="single: rclpy.spin; multi: the inference node's MultiThreadedExecutor "
                    '(4 threads, spin_once loop)')
    args = ap.parse_args(argv)

    from jetson_infer_ros import heap
    heap.keep_frame_buffers()

    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Classification

    from jetson_infer_ros.raw_image import parse_image

    rclpy.init(args=[])
    node = rclpy.create_node('bench_relay')
    pub = node.create_publisher(Classification, 'classification',
                                QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))

    def on_image(data: bytes) -> None:
        img = parse_image(data)
        out = Classification()
        out.header.stamp.sec = img.stamp_sec
        out.header.stamp.nanosec = img.stamp_nanosec
        out.header.frame_id = img.frame_id
        pub.publish(out)

    node.create_subscription(Image, 'image', on_image,
                             QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=max(1, args.depth),
                                        reliability=ReliabilityPolicy.BEST_EFFORT), raw=True)
    executor = _executor(args.executor)
    executor.add_node(node)
    print('relay ready', flush=True)
    try:
        if args.executor == 'multi':
            while rclpy.ok():       # the way infer_node spins
                executor.spin_once(timeout_sec=0.2)
        else:
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _executor(kind: str) -> Any:
    from rclpy.executors import MultiThreadedExecutor, SingleThreadedExecutor
    if kind == 'multi':
        return MultiThreadedExecutor(num_threads=4)
    return SingleThreadedExecutor()


if __name__ == '__main__':
    sys.exit(main())
