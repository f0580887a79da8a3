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
A consumer of the node's output: writes every message it receives as a JSON line.

Each line has the output's header (stamp, frame_id), the receipt time and the results,
so tests can check headers, classes and boxes and benchmarks can compute latency from
the input stamp to receipt in another process.

The receipt time is taken when the serialized message reaches the callback (a raw
subscription), before it becomes a Python message: building a ``Detection2DArray`` of
Python objects (each detection with its own header and a 36-double covariance) took
2-4 ms on the bench machine, which is the listener's cost, not the transport's or the
node's. The message is deserialized right after.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def to_record(msg, kind: str, received_ns: int) -> dict:
    rec = {'stamp_ns': msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec,
           'frame_id': msg.header.frame_id, 'received_ns': received_ns}
    if kind == 'classification':
        rec['results'] = [[int(r.class_id), float(r.score)] for r in msg.results]
    elif kind == 'detections':
        rec['detections'] = [
            [int(d.results[0].hypothesis.class_id) if d.results else -1,
             float(d.results[0].hypothesis.score) if d.results else 0.0,
             d.bbox.center.position.x - d.bbox.size_x / 2,
             d.bbox.center.position.y - d.bbox.size_y / 2,
             d.bbox.center.position.x + d.bbox.size_x / 2,
             d.bbox.center.position.y + d.bbox.size_y / 2,
             d.header.frame_id] for d in msg.detections]
    elif kind == 'label_info':
        rec['classes'] = [[c.class_id, c.class_name] for c in msg.class_map]
        rec['threshold'] = float(msg.threshold)
    elif kind == 'image':
        rec['image'] = [msg.width, msg.height, msg.encoding, msg.step, len(msg.data)]
    elif kind == 'diagnostics':
        rec['status'] = [{'name': s.name, 'level': s.level[0] if isinstance(
            s.level, (bytes, bytearray)) else int(s.level), 'message': s.message,
            'hardware_id': s.hardware_id, 'values': {kv.key: kv.value for kv in s.values},
            'keys': [kv.key for kv in s.values]}
            for s in msg.status]
    return rec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--topic', action='append', required=True,
                    help='KIND=TOPIC; KIND: classification, detections, label_info, diagnostics, '
                    'image')
    ap.add_argument('--out', required=True)
    ap.add_argument('--duration', type=float, default=0.0, help='stop after N s (0: until ^C)')
    ap.add_argument('--count', type=int, default=0, help='stop after N outputs (0: never)')
    args = ap.parse_args(argv)

    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image
    from vision_msgs.msg import Classification, Detection2DArray, LabelInfo

    types = {'classification': Classification, 'detections': Detection2DArray,
             'label_info': LabelInfo, 'diagnostics': DiagnosticArray, 'image': Image}
    rclpy.init(args=[])
    node = rclpy.create_node('result_listener')
    out = open(args.out, 'w')
    counted = {'n': 0}

    def callback_for(kind, topic):
        msg_type = types[kind]

        def cb(data: bytes):
            received_ns = time.time_ns()
            rec = to_record(deserialize_message(data, msg_type), kind, received_ns)
            rec['kind'] = kind
            rec['topic'] = topic
            out.write(json.dumps(rec) + '\n')
            out.flush()
            if kind in ('classification', 'detections'):
                counted['n'] += 1
        return cb

    for spec in args.topic:
        kind, topic = spec.split('=', 1)
        if kind == 'label_info':
            qos = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        elif kind == 'image':
            qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
        else:
            qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(types[kind], topic, callback_for(kind, topic), qos, raw=True)
    print('listener ready', flush=True)
    t_end = time.monotonic() + args.duration if args.duration else None
    try:
        while rclpy.ok():
            rclpy.spin_once(node, timeout_sec=0.05)
            if t_end is not None and time.monotonic() > t_end:
                break
            if args.count and counted['n'] >= args.count:
                break
    except KeyboardInterrupt:
        pass
    finally:
        out.close()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
