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

"""`jetson-infer soak`: run the node for a long time on the looping street video."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--config', default='config/detect.yaml')
    parser.add_argument('--duration', type=float, default=1800.0, help='seconds (default 30 min)')
    parser.add_argument('--warmup', type=float, default=120.0, help='seconds ignored at start')
    parser.add_argument('--rate', type=float, default=30.0)
    parser.add_argument('--out', default='out/soak')


def run(args: argparse.Namespace) -> int:
    from jetson_infer_ros.soak import run_soak
    report = run_soak(args.config, args.duration, args.warmup, args.rate, Path(args.out))
    summary = {k: v for k, v in report.items() if k != 'samples'}
    print(json.dumps(summary, indent=2))
    return 0
