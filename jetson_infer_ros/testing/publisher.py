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
A camera stand-in: publishes real frames as sensor_msgs/Image at a set rate.

Run as its own process (``python -m jetson_infer_ros.testing.publisher``) so that tests
and benchmarks cross a real process boundary. Frames come from image files or a video;
each gets a fresh header stamp (now) so a listener can measure end-to-end latency, and
the stamps of what was sent are written to a JSON-lines log.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, List

import numpy as np


def load_frames(paths: List[str], video: str, count: int, width: int, height: int
                ) -> List[np.ndarray]:
    import cv2
    frames: List[np.ndarray] = []
    if video:
        cap = cv2.VideoCapture(video)
        while len(frames) < count:
            ok, img = cap.read()
            if not ok:
                break
            frames.append(img)
        cap.release()
    for p in paths:
        still: Any = cv2.imread(p, cv2.IMREAD_COLOR)
        if still is None:
            raise ValueError(f'unreadable image {p}')
        frames.append(still)
    if not frames:
        raise ValueError('no frames to publish')
    if width and height:
        frames = [cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in frames]
    return frames


def pace(t_next: float, period: float) -> float:
    """Sleep until the next frame is due; a late camera restarts its clock, never bursts."""
    t_next += period
    delay = t_next - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
        return t_next
    return time.perf_counter()


def wait_for_subscribers(node: Any, pub: Any, count: int, timeout: float = 30.0) -> None:
    """Spin ``node`` until ``pub`` has ``count`` subscribers, or ``timeout`` s have passed."""
    import rclpy
    deadline = time.monotonic() + timeout
    while pub.get_subscription_count() < count and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)


def stream_video(args) -> int:
    """Publish a video in a loop, decoding each frame when it is due (soak runs)."""
    import cv2
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import Image

    from jetson_infer_ros.image_convert import picture_to_msg

    rclpy.init(args=[])
    node = rclpy.create_node('camera_publisher')
    qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE if args.reliable
                     else ReliabilityPolicy.BEST_EFFORT)
    pub = node.create_publisher(Image, args.topic, qos)
    cap = cv2.VideoCapture(args.video)
    if not cap.isOpened():
        raise ValueError(f'cannot open video {args.video}')
    loops = 0
    period = 1.0 / args.rate
    t_next = time.perf_counter()
    sent = 0
    try:
        while rclpy.ok() and (args.count <= 0 or sent < args.count):
            ok, img = cap.read()
            if not ok:
                # reopen rather than seek: seeking back was seen to stall some backends
                cap.release()
                cap = cv2.VideoCapture(args.video)
                loops += 1
                if not cap.isOpened() or loops > 1_000_000:
                    raise ValueError(f'cannot reopen video {args.video}')
                continue
            msg = picture_to_msg(img, 'bgr8')
            msg.header.frame_id = args.frame_id
            msg.header.stamp = node.get_clock().now().to_msg()
            pub.publish(msg)
            sent += 1
            t_next = pace(t_next, period)
    except KeyboardInterrupt:
        pass
    finally:
        cap.release()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--topic', default='image')
    ap.add_argument('--images', nargs='*', default=[])
    ap.add_argument('--video', default='')
    ap.add_argument('--video-frames', type=int, default=30)
    ap.add_argument('--stream', action='store_true',
                    help='decode --video on the fly and loop it (long runs, little memory)')
    ap.add_argument('--encoding', default='bgr8',
                    choices=('bgr8', 'rgb8', 'mono8', 'bgra8', 'rgba8'))
    ap.add_argument('--compressed', action='store_true', help='publish CompressedImage jpeg')
    ap.add_argument('--width', type=int, default=0)
    ap.add_argument('--height', type=int, default=0)
    ap.add_argument('--rate', type=float, default=30.0)
    ap.add_argument('--count', type=int, default=100)
    ap.add_argument('--frame-id', default='camera_optical_frame')
    ap.add_argument('--reliable', action='store_true')
    ap.add_argument('--wait-subscribers', type=int, default=1)
    ap.add_argument('--start-delay', type=float, default=0.5)
    ap.add_argument('--log', default='')
    args = ap.parse_args(argv)

    import cv2
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import CompressedImage, Image

    from jetson_infer_ros.image_convert import encode_compressed, picture_to_msg

    if args.stream:
        return stream_video(args)
    frames = load_frames(args.images, args.video, args.video_frames, args.width, args.height)
    conv = {'bgr8': None, 'rgb8': cv2.COLOR_BGR2RGB, 'mono8': cv2.COLOR_BGR2GRAY,
            'bgra8': cv2.COLOR_BGR2BGRA, 'rgba8': cv2.COLOR_BGR2RGBA}[args.encoding]
    rclpy.init(args=[])
    node = rclpy.create_node('camera_publisher')
    qos = QoSProfile(depth=1 if not args.reliable else 10,
                     reliability=ReliabilityPolicy.RELIABLE if args.reliable
                     else ReliabilityPolicy.BEST_EFFORT)
    if args.compressed:
        pub = node.create_publisher(CompressedImage, args.topic + '/compressed'
                                    if not args.topic.endswith('compressed') else args.topic, qos)
        msgs = []
        for f in frames:
            m = CompressedImage()
            m.format = 'bgr8; jpeg compressed bgr8'
            m.data = encode_compressed(f, 'jpeg', 90)
            msgs.append(m)
    else:
        pub = node.create_publisher(Image, args.topic, qos)
        msgs = [picture_to_msg(cv2.cvtColor(f, conv) if conv is not None else f,
                               args.encoding) for f in frames]
    log = open(args.log, 'w') if args.log else None
    wait_for_subscribers(node, pub, args.wait_subscribers)
    time.sleep(args.start_delay)
    period = 1.0 / args.rate if args.rate > 0 else 0.0
    t_next = time.perf_counter()
    try:
        for i in range(args.count):
            msg = msgs[i % len(msgs)]
            msg.header.frame_id = args.frame_id
            now = node.get_clock().now()
            msg.header.stamp = now.to_msg()
            pub.publish(msg)
            if log:
                log.write(json.dumps({'i': i, 'frame': i % len(msgs),
                                      'stamp_ns': now.nanoseconds}) + '\n')
            if period:
                t_next = pace(t_next, period)
    except KeyboardInterrupt:
        pass
    finally:
        if log:
            log.close()
        time.sleep(0.3)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
