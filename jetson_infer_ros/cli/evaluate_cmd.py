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
`jetson-infer evaluate`: INT8 artefact vs FP32 on the same frames; the gate's evidence.

Prints the JSON report on stdout and a markdown table on stderr, and stores both next to
the artefact (``X.int8.eval.json``, ``X.int8.eval.md``), where ``precision: int8`` looks
before it lets the artefact run.
"""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--config', required=True, help='ROS parameters YAML (config/*.yaml)')
    parser.add_argument('--model', help='override model_path (the FP32 reference model)')
    parser.add_argument('--images', metavar='DIR', required=True,
                        help='evaluation images (frames the calibration did not see)')
    parser.add_argument('--labels', metavar='GT',
                        help='ground truth, matched to the images by file name (none matching '
                        'is an error): classification JSON {file: class id(s)} or '
                        '"file,class_id" lines; detection COCO-style JSON. With it the gate '
                        'judges the accuracy drop, without it agreement with FP32')
    parser.add_argument('--precision', default='int8', choices=('int8',),
                        help='precision under test (int8)')
    parser.add_argument('--reference', default='fp32', choices=('fp32',),
                        help='reference precision (fp32, ONNX Runtime CPU)')
    parser.add_argument('--model-int8', metavar='PATH',
                        help='INT8 artefact (default: <model>.int8.onnx, or int8_model_path)')
    parser.add_argument('--samples', type=int, metavar='N',
                        help='use N images spread evenly over the folder (default: all)')
    parser.add_argument('--no-store', action='store_true',
                        help='print only; do not write X.int8.eval.json (the gate ignores '
                        'such a run)')
    parser.add_argument('--check', action='store_true',
                        help='exit 1 when the INT8 gate would refuse the artefact')


def run(args: argparse.Namespace) -> int:
    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.quant import evaluate as ev
    from jetson_infer_ros.quant import frames
    cfg = load_config(args.config, model_path=args.model)
    source = frames.ImageFolder(args.images, args.samples)
    int8_model = args.model_int8 or cfg.int8_model_path or None
    report = ev.evaluate(cfg, source, int8_model=int8_model, labels_path=args.labels,
                         reference=args.reference, store=not args.no_store)
    print(ev.markdown(report), file=sys.stderr, flush=True)
    print(json.dumps(report), flush=True)
    if args.check and not all(v.get('passes') for k, v in report['gate'].items()
                              if k != 'thresholds'):
        return 1
    return 0
