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
`jetson-infer regress`: a bag through the node, the answers held against a golden file.

For your own model and recordings too: give the node config you deploy, a bag of what
the camera saw, and a golden file; ``--update`` (re)writes the golden from this run.
Exit status: 0 the answers match, 1 they differ, 2 the run could not be made.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--config', required=True, help='node parameters YAML (config/*.yaml)')
    parser.add_argument('--bag', required=True, help='rosbag2 folder, .mcap or .db3 file')
    parser.add_argument('--topic', help="the bag's camera topic (default: its only image topic)")
    parser.add_argument('--golden', required=True, help='golden answers (JSON)')
    parser.add_argument('--update', action='store_true',
                        help='write the golden file from this run instead of comparing')
    parser.add_argument('--set', action='append', default=[], metavar='NAME=VALUE',
                        help='override a node parameter (YAML value), e.g. --set precision=fp16')
    parser.add_argument('--score-tol', type=float, help='score tolerance (default: the golden '
                                                        "file's, else 0.02)")
    parser.add_argument('--box-tol', type=float, help='box corner tolerance in pixels '
                                                      "(default: the golden file's, else 2)")
    parser.add_argument('--strict', action='store_true',
                        help='borderline detections (score within the tolerance of the '
                             'threshold) must match too')
    parser.add_argument('--work-dir', help='keep logs and the recorded answers here '
                                           '(default: a temporary folder, kept on failure)')
    parser.add_argument('--json', action='store_true', help='print the result as JSON')


def parse_sets(values: list) -> dict:
    """``['a=1', 'b=[1, 2]']`` -> ``{'a': 1, 'b': [1, 2]}`` (values read as YAML)."""
    import yaml
    out = {}
    for item in values:
        name, sep, value = item.partition('=')
        if not sep or not name:
            raise ValueError(f'--set {item!r}: expected NAME=VALUE')
        out[name.strip()] = yaml.safe_load(value)
    return out


def run(args: argparse.Namespace) -> int:
    from jetson_infer_ros.regression import golden_tolerances, regress, Tolerances
    tolerances = None
    if args.score_tol is not None or args.box_tol is not None or args.strict:
        base = Tolerances() if args.update else golden_tolerances(args.golden)
        tolerances = Tolerances(
            score=base.score if args.score_tol is None else args.score_tol,
            box_px=base.box_px if args.box_tol is None else args.box_tol,
            borderline=not args.strict)
    result = regress(args.config, args.bag, args.golden, topic=args.topic, update=args.update,
                     tolerances=tolerances, overrides=parse_sets(args.set),
                     work_dir=args.work_dir,
                     log=lambda m: print(m, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(result.report())
    if result.ok and not args.work_dir:
        shutil.rmtree(result.run.work_dir, ignore_errors=True)
    elif not result.ok:
        print(f'logs and recorded answers kept in {result.run.work_dir}', file=sys.stderr)
    return 0 if result.ok else 1
