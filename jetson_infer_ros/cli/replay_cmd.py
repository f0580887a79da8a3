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
`jetson-infer replay BAG`: publish a bag's messages with their recorded timing.

``ros2 bag play`` is not installable from a registry; this plays rosbag2 bags (folders,
.mcap or .db3 files, ours or any other tool's) with the recorded spacing scaled by
``--rate``, the recorded QoS, an optional ``/clock`` for ``use_sim_time`` nodes, and
flow control against a consumer's answers for lossless regression runs.
"""

from __future__ import annotations

import argparse
import sys
from typing import Dict, List


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('bag', help='rosbag2 folder, .mcap or .db3 file')
    parser.add_argument('--topic', action='append', default=[],
                        help='topic to play (repeatable; default: every topic)')
    parser.add_argument('--rate', type=float, default=1.0,
                        help='speed factor on the recorded timing; 0 = as fast as possible '
                             '(paced by --ack-topic if given)')
    parser.add_argument('--clock', action='store_true',
                        help='publish /clock with the bag time (for use_sim_time nodes)')
    parser.add_argument('--clock-hz', type=float, default=40.0,
                        help='/clock rate between messages (default 40)')
    parser.add_argument('--loop', action='store_true', help='start over at the end, until ^C')
    parser.add_argument('--limit', type=int, default=0,
                        help='play only the first N messages (0: all)')
    parser.add_argument('--remap', action='append', default=[], metavar='FROM:=TO',
                        help='publish topic FROM under the name TO (repeatable)')
    parser.add_argument('--reliability', choices=('auto', 'reliable', 'best_effort'),
                        default='auto', help='publisher reliability; auto = as recorded '
                                             '(reliable when the bag does not say)')
    parser.add_argument('--wait-subscribers', type=int, default=0, metavar='N',
                        help='wait until every topic has N subscribers before playing')
    parser.add_argument('--wait-timeout', type=float, default=60.0,
                        help='seconds to wait for subscribers / the ack publisher')
    parser.add_argument('--ack-topic', default='',
                        help="a consumer's output topic (header stamps = the input's): keep "
                             'at most --max-in-flight camera frames unanswered')
    parser.add_argument('--max-in-flight', type=int, default=4)
    parser.add_argument('--ack-timeout', type=float, default=30.0,
                        help='give up when no answer came for this long')
    parser.add_argument('--start-delay', type=float, default=0.0,
                        help='seconds to wait after subscribers are there')
    parser.add_argument('--no-dds-profile', action='store_true',
                        help="don't apply the shipped Fast DDS large-data profile")


def parse_remaps(values: List[str]) -> Dict[str, str]:
    """Turn ``['/a:=/b']`` into ``{'/a': '/b'}``; a malformed rule is a ValueError."""
    out = {}
    for v in values:
        src, sep, dst = v.partition(':=')
        if not sep or not src or not dst:
            raise ValueError(f'--remap {v!r}: expected FROM:=TO')
        out['/' + src.lstrip('/')] = dst
    return out


def run(args: argparse.Namespace) -> int:
    from jetson_infer_ros.bags import exit_process, use_large_data_profile
    from jetson_infer_ros.bags.reader import open_bag
    if not args.no_dds_profile:
        use_large_data_profile()
    from jetson_infer_ros.bags.replay import Player, ReplayOptions
    options = ReplayOptions(
        topics=args.topic, rate=args.rate, clock=args.clock, clock_hz=args.clock_hz,
        loop=args.loop, limit=args.limit, remap=parse_remaps(args.remap),
        reliability=args.reliability, wait_subscribers=args.wait_subscribers,
        wait_timeout=args.wait_timeout, ack_topic=args.ack_topic,
        max_in_flight=args.max_in_flight, ack_timeout=args.ack_timeout,
        start_delay=args.start_delay)
    options.check()
    with open_bag(args.bag) as bag:      # bag problems: an ordinary error, before any ROS
        player = Player(bag, options, log=lambda m: print(m, flush=True))
        try:
            stats = player.run(keep_participant=True)
            code = 1 if stats.unacked else 0
        except (ValueError, OSError, RuntimeError) as exc:
            print(f'jetson-infer replay: error: {exc}', file=sys.stderr)
            code = 2
    exit_process(code)
    return code
