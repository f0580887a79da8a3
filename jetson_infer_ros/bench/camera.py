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
The benchmark's camera: publishes real frames at a set rate and says what it sent.

Run as its own process (``python -m jetson_infer_ros.bench.camera``) under the isolated
environment, so every frame crosses a process boundary as it does on a robot. Each
frame gets a fresh header stamp (now) just before publish; a warm-up phase comes first
and is reported apart, so start-up effects stay out of the measured latencies. A
publish that fails (a reliable writer whose history is full) is counted, never fatal.
The summary JSON lists the stamps sent in each phase, the achieved rate and what each
publish call cost the camera.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import List, Optional


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--topic', default='image')
    ap.add_argument('--width', type=int, default=640)
    ap.add_argument('--height', type=int, default=480)
    ap.add_argument('--rate', type=float, default=30.0, help='frames per second')
    ap.add_argument('--duration', type=float, default=5.0, help='measured seconds')
    ap.add_argument('--warmup', type=float, default=1.0, help='seconds sent before measuring')
    ap.add_argument('--reliable', action='store_true', help='RELIABLE (default BEST_EFFORT)')
    ap.add_argument('--depth', type=int, default=10, help='KEEP_LAST history depth')
    ap.add_argument('--frames', type=int, default=8, help='distinct video frames to cycle')
    ap.add_argument('--wait-subscribers', type=int, default=1)
    ap.add_argument('--wait-timeout', type=float, default=60.0)
    ap.add_argument('--start-delay', type=float, default=0.3,
                    help='seconds between the subscriber match and the first frame')
    ap.add_argument('--summary', required=True, help='write the summary JSON here')
    return ap


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    import rclpy
    from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from jetson_infer_ros.bench.frames import video_rgb_frames
    from jetson_infer_ros.image_convert import picture_to_msg

    msgs = [picture_to_msg(f, 'rgb8') for f in video_rgb_frames(args.width, args.height,
                                                                args.frames)]
    for m in msgs:
        m.header.frame_id = 'camera_optical_frame'
    rclpy.init(args=[])
    node = rclpy.create_node('bench_camera')
    qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=max(1, args.depth),
                     reliability=ReliabilityPolicy.RELIABLE if args.reliable
                     else ReliabilityPolicy.BEST_EFFORT)
    pub = node.create_publisher(Image, args.topic, qos)
    deadline = time.monotonic() + args.wait_timeout
    while pub.get_subscription_count() < args.wait_subscribers and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    matched = pub.get_subscription_count()
    print(f'camera: {matched} subscriber(s), publishing', flush=True)
    time.sleep(max(0.0, args.start_delay))  # the reader side matches a little later
    summary = {'width': args.width, 'height': args.height, 'rate_target': args.rate,
               'reliable': bool(args.reliable), 'depth': args.depth,
               'subscribers': matched, 'warmup_stamps': [], 'stamps': [], 'failed': 0,
               'publish_ms': []}
    period = 1.0 / args.rate if args.rate > 0 else 0.0
    clock = node.get_clock()
    t_start = time.perf_counter()
    t_measure = t_start + args.warmup
    t_stop = t_measure + args.duration
    t_next = t_start
    wall_measure_ns = wall_end_ns = 0
    i = 0
    try:
        while True:
            now = time.perf_counter()
            if now >= t_stop:
                break
            measuring = now >= t_measure
            if measuring and not wall_measure_ns:
                wall_measure_ns = time.time_ns()
            msg = msgs[i % len(msgs)]
            stamp = clock.now()
            msg.header.stamp = stamp.to_msg()
            t0 = time.perf_counter()
            try:
                pub.publish(msg)
            except Exception:  # noqa: B902 - rclpy raises RCLError; count it and go on
                summary['failed'] += 1
            else:
                (summary['stamps'] if measuring else summary['warmup_stamps']).append(
                    stamp.nanoseconds)
            if measuring:
                summary['publish_ms'].append(round((time.perf_counter() - t0) * 1e3, 4))
            i += 1
            if period:
                t_next += period
                delay = t_next - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                else:
                    t_next = time.perf_counter()    # behind: no burst to catch up
        wall_end_ns = time.time_ns()
    except KeyboardInterrupt:
        wall_end_ns = time.time_ns()
    finally:
        measured_s = (wall_end_ns - wall_measure_ns) / 1e9 if wall_measure_ns else 0.0
        summary.update(measure_start_ns=wall_measure_ns, measure_end_ns=wall_end_ns,
                       measured_s=round(measured_s, 4),
                       rate_achieved=round(len(summary['stamps']) / measured_s, 2)
                       if measured_s > 0 else 0.0)
        with open(args.summary, 'w') as f:
            json.dump(summary, f)
        time.sleep(0.2)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
