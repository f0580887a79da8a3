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
`jetson-infer`: one command with a subcommand per job, shared config loading.

Each subcommand lives in its own module (imported only when chosen, so `jetson-infer
models` never pays for ROS or ONNX Runtime imports) with ``add_arguments(parser)`` and
``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, Optional

# subcommand -> (module, one-line help)
SUBCOMMANDS = {
    'models': ('jetson_infer_ros.cli.models_cmd', 'prepare the default models (cached)'),
    'data': ('jetson_infer_ros.cli.data_cmd', 'prepare the real test images and video (cached)'),
    'exports': ('jetson_infer_ros.cli.exports_cmd', 'export YOLO/SSD detectors with their own '
                'exporters, for the tests (cached)'),
    'predict': ('jetson_infer_ros.cli.predict_cmd', 'run a model on images, print JSON'),
    'freeze-input': ('jetson_infer_ros.cli.freeze_input_cmd', 'fix an extra model input '
                     "(RT-DETR's orig_target_sizes) to a constant"),
    'calibrate': ('jetson_infer_ros.cli.calibrate_cmd', 'INT8 calibration: write Q/DQ models'),
    'evaluate': ('jetson_infer_ros.cli.evaluate_cmd', 'INT8 vs FP32 on the same frames'),
    'build-engine': ('jetson_infer_ros.cli.build_engine_cmd',
                     'build the TensorRT engine ahead of time, into the engine cache'),
    'soak': ('jetson_infer_ros.cli.soak_cmd', 'run the node for a long time, watch for leaks'),
    'replay': ('jetson_infer_ros.cli.replay_cmd', 'play a bag: recorded timing, QoS, /clock'),
    'record': ('jetson_infer_ros.cli.record_cmd', 'record topics into a rosbag2 MCAP bag'),
    'regress': ('jetson_infer_ros.cli.regress_cmd', 'bag through the node vs golden answers'),
    'demo': ('jetson_infer_ros.cli.demo_cmd', 'the node on the street video, end to end'),
    'bags': ('jetson_infer_ros.cli.bags_cmd', 'make the standard test bags (cached)'),
    'bench': ('jetson_infer_ros.cli.bench_cmd', 'benchmarks: where the milliseconds go '
              '(JSON, markdown, plots)'),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='jetson-infer', description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    sub.required = True
    for name, (module, help_text) in SUBCOMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(_module=module)
        _module(module).add_arguments(p)
    return parser


def _module(name: str):
    return importlib.import_module(name)


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(_module(args._module).run(args) or 0)
    except KeyboardInterrupt:
        return 130
    except (ValueError, OSError, RuntimeError) as exc:
        print(f'jetson-infer {args.command}: error: {exc}', file=sys.stderr)
        return 2


if __name__ == '__main__':
    sys.exit(main())
