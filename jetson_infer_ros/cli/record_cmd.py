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
`jetson-infer record --topics ... --out BAG`: record topics into a rosbag2 MCAP bag.

The counterpart of `replay` for what a node answers: raw (serialized) subscriptions
written by rosbags, with the publishers' QoS in the metadata. Stops on Ctrl-C, after
``--count`` messages on the first topic, ``--duration`` or ``--idle-timeout``.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--topics', nargs='+', required=True,
                        help='topics to record (space or comma separated)')
    parser.add_argument('--out', required=True, help='bag folder to create (must not exist)')
    parser.add_argument('--count', type=int, default=0,
                        help='stop after N messages on the first topic (0: no limit)')
    parser.add_argument('--duration', type=float, default=0.0,
                        help='stop N s after the first message (0: no limit)')
    parser.add_argument('--idle-timeout', type=float, default=0.0,
                        help='stop when nothing arrived for N s, once something did')
    parser.add_argument('--no-dds-profile', action='store_true',
                        help="don't apply the shipped Fast DDS large-data profile")


def run(args: argparse.Namespace) -> int:
    from jetson_infer_ros.bags import exit_process, use_large_data_profile
    if not args.no_dds_profile:
        use_large_data_profile()
    from jetson_infer_ros.bags.record import RecordOptions, Recorder, topic_list
    options = RecordOptions(topics=topic_list(args.topics), out=args.out, count=args.count,
                            duration=args.duration, idle_timeout=args.idle_timeout)
    recorder = Recorder(options, log=lambda m: print(m, flush=True))
    try:
        recorder.run(keep_participant=True)
        code = 0
    except (ValueError, OSError, RuntimeError) as exc:
        print(f'jetson-infer record: error: {exc}', file=sys.stderr)
        code = 2
    exit_process(code)
    return code
