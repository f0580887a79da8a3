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

"""`jetson-infer freeze-input`: fix an extra model input (RT-DETR's size) to a constant."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('model', type=Path, help='ONNX model with an extra input')
    parser.add_argument('--input', required=True, metavar='NAME=V1,V2,...',
                        help='the input and its constant values, e.g. '
                             'orig_target_sizes=640,640 (RT-DETR: width,height of the '
                             'network input)')
    parser.add_argument('-o', '--output', type=Path, default=None,
                        help='where to write (default: <model>.frozen.onnx beside it)')


def run(args: argparse.Namespace) -> int:
    from jetson_infer_ros.onnx_freeze import freeze_input
    name, sep, text = args.input.partition('=')
    if not sep or not name:
        raise ValueError(f'--input must be NAME=V1,V2,..., got {args.input!r}')
    try:
        values = [float(v) for v in text.split(',') if v.strip()]
    except ValueError:
        raise ValueError(f'--input values must be numbers, got {text!r}') from None
    out = args.output or args.model.with_name(args.model.stem + '.frozen.onnx')
    facts = freeze_input(args.model, out, name.strip(), values)
    print(f'{out}: input {facts["input"]!r} {facts["shape"]} {facts["dtype"]} fixed to '
          f'{facts["values"]}')
    return 0
