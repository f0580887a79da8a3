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
`jetson-infer demo --config CONFIG`: the node on the street video (or the photos).

What `make demo` runs: prepares the default model, data and bag, starts the node with
the config, replays the bag at the recorded pace and prints what the node saw, how
fast each stage ran and what it dropped; writes a contact sheet and a JSON summary.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--config', required=True, help='node parameters YAML (config/*.yaml)')
    parser.add_argument('--out', default='out/demo', help='output folder (default out/demo)')
    parser.add_argument('--bag', help='play this bag instead of the standard one')
    parser.add_argument('--topic', help="the bag's camera topic (default: its only image topic)")
    parser.add_argument('--rate', type=float, default=1.0,
                        help='replay speed factor (1 = recorded pace, 0 = as fast as possible)')
    parser.add_argument('--limit', type=int, default=0, help='play only the first N frames')
    parser.add_argument('--every', type=int, default=0,
                        help='print a line every N frames (default 50; every photo)')
    parser.add_argument('--tiles', type=int, default=9, help='frames on the contact sheet')
    parser.add_argument('--docs-png', help='also write a small (< 300 KB) copy of the sheet')


def run(args: argparse.Namespace) -> int:
    from jetson_infer_ros.bags import exit_process
    from jetson_infer_ros.demo import DemoOptions, run_demo
    options = DemoOptions(config=Path(args.config), out_dir=Path(args.out),
                          bag=Path(args.bag) if args.bag else None, topic=args.topic,
                          rate=args.rate, limit=args.limit, every=args.every,
                          sheet_tiles=args.tiles,
                          docs_png=Path(args.docs_png) if args.docs_png else None)
    try:
        summary = run_demo(options, log=lambda m: print(m, flush=True))
        code = 0 if summary['frames_answered'] else 1
    except (ValueError, OSError, RuntimeError) as exc:
        if 'rclpy' not in sys.modules:
            raise
        print(f'jetson-infer demo: error: {exc}', file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    if 'rclpy' in sys.modules:
        exit_process(code)   # no DDS participant teardown (see bags.exit_process)
    return code
