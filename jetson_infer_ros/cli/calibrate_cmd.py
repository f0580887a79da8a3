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
`jetson-infer calibrate`: measure INT8 ranges on real frames, write the quantized models.

Frames come from an image folder or a rosbag2 bag topic and pass through the node's own
preprocessing for the given config. Writes ``--out`` (TensorRT Q/DQ model) and its
siblings (CPU model, TensorRT calibration cache, provenance); progress and warnings go
to stderr, a JSON summary to stdout. See docs/int8.md.
"""

from __future__ import annotations

import argparse
import json
from typing import Sequence, Union


METHODS = ('entropy', 'minmax', 'percentile')   # quant.calibrate.METHODS, kept import-free


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.usage = ('%(prog)s --config CONFIG (--images DIR | --bag BAG --topic TOPIC) '
                    '[--method {entropy,minmax,percentile}] [--samples N] '
                    '[--out MODEL.int8.onnx] [--eval-images DIR] [--trt-version V] '
                    '[advanced options]')
    parser.add_argument('--config', required=True, help='ROS parameters YAML (config/*.yaml)')
    parser.add_argument('--model', help='override model_path (the FP32 ONNX to calibrate)')
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--images', metavar='DIR', help='folder of calibration images')
    source.add_argument('--bag', help='rosbag2 bag (MCAP or sqlite3 folder or file)')
    parser.add_argument('--topic', help='image topic in --bag (sensor_msgs/Image or '
                        'CompressedImage)')
    parser.add_argument('--method', default='percentile', choices=METHODS,
                        help='activation range method (ONNX Runtime calibrators; default '
                        '%(default)s, the best or equal in docs/int8.md)')
    parser.add_argument('--samples', type=int, metavar='N',
                        help='use N frames spread evenly over the source (default: all)')
    parser.add_argument('--out', metavar='MODEL.int8.onnx',
                        help='TensorRT Q/DQ model to write (default: <model>.int8.onnx beside '
                        'the FP32 model, where the INT8 gate looks)')
    parser.add_argument('--eval-images', metavar='DIR',
                        help='evaluation folder: warn if calibration frames are among them')
    parser.add_argument('--trt-version', default='8.5.2',
                        help='TensorRT version the calibration cache header names '
                        '(default %(default)s, JetPack 5.1; JetPack 6: 10.3.0)')
    advanced = parser.add_argument_group(
        'advanced', 'research knobs behind the docs/int8.md tables; the defaults are the '
        'measured best')
    advanced.add_argument('--keep-float', default='none', metavar='auto|none|NODE,...',
                          help='layers that stay float: auto = those whose int8 weights alone '
                          'cost the most (output SQNR < --sensitivity-db); default none')
    advanced.add_argument('--quantize-head', action='store_true',
                          help='quantize the output head too (the last weighted layers and '
                          'the ops after them); by default it stays float, its ranges depend '
                          'most on what the calibration frames contain')
    advanced.add_argument('--sensitivity-db', type=float, default=25.0,
                          help='--keep-float auto threshold in dB (default %(default)s)')
    advanced.add_argument('--bins', type=int, help='histogram bins for entropy/percentile '
                          "(default: ONNX Runtime's, 128 entropy / 2048 percentile)")
    advanced.add_argument('--percentile', type=float, default=99.999,
                          help='percentile method: kept share of |x| (default %(default)s)')
    advanced.add_argument('--weight-rounding', choices=('auto', 'gptq', 'nearest'),
                          default='auto',
                          help='int8 weight rounding: gptq = chosen by its effect on each '
                          "layer's output on the calibration frames, nearest = round each "
                          'weight alone, auto (default) = gptq for each layout where it beats '
                          'nearest on held-out calibration frames')
    advanced.add_argument('--rounding-frames', type=int, default=128, metavar='N',
                          help='frames (spread evenly over the set) whose layer inputs steer '
                          'gptq rounding (default %(default)s)')
    advanced.add_argument('--distill-steps', type=int, default=0, metavar='N',
                          help='after rounding, tune the int8 weights for N steps so that the '
                          "int8 model's outputs match FP32's on the calibration frames and "
                          'crops of them (PyTorch in the export_torch tool env; EfficientNet-'
                          'Lite0: 400 steps, about 8 min per layout on 2 cores); kept per '
                          'layout only if better on held-out frames (default 0: off)')
    advanced.add_argument('--distill-lr', type=float, default=0.01,
                          help='distillation step of the int8 weights, in quantization steps '
                          'of their channel (Adam, cosine decay; default %(default)s)')
    advanced.add_argument('--distill-augment', type=int, default=4, metavar='K',
                          help='random crops/mirror images per calibration frame for '
                          'distillation (default %(default)s)')
    advanced.add_argument('--no-cpu-model', action='store_true',
                          help='skip the ONNX Runtime CPU layout (X.int8.cpu.onnx)')


def run(args: argparse.Namespace) -> int:
    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.quant import calibrate as cal
    from jetson_infer_ros.quant import frames
    from jetson_infer_ros.quant.distill import DistillSettings
    from jetson_infer_ros.quant.trt_cache import trt_version_number
    if args.topic and not args.bag:
        raise ValueError('--topic goes with --bag')
    cfg = load_config(args.config, model_path=args.model)
    keep = args.keep_float.strip()
    keep_float: Union[str, Sequence[str]]
    if keep in ('', 'none'):
        keep_float = ()
    elif keep == 'auto':
        keep_float = 'auto'
    else:
        keep_float = [k for k in keep.split(',') if k]
    try:
        version = trt_version_number(args.trt_version)
    except ValueError:
        raise ValueError(f'--trt-version {args.trt_version!r}: expected like 8.5.2') from None
    settings = cal.CalibrationSettings(
        method=args.method, histogram_bins=args.bins, percentile=args.percentile,
        keep_float=keep_float, quantize_head=args.quantize_head,
        sensitivity_db=args.sensitivity_db, trt_version=version,
        write_cpu_model=not args.no_cpu_model, weight_rounding=args.weight_rounding,
        rounding_frames=args.rounding_frames,
        distill=DistillSettings(steps=args.distill_steps, lr=args.distill_lr,
                                augment=args.distill_augment))
    source = frames.open_source(images=args.images, bag=args.bag, topic=args.topic,
                                samples=args.samples, max_pixels=int(cfg.max_image_pixels))
    eval_hashes = []
    if args.eval_images:
        eval_hashes = [f.sha256 for f in frames.ImageFolder(args.eval_images).frames()]
    result = cal.calibrate(cfg, source, args.out, settings, evaluation_hashes=eval_hashes)
    print(json.dumps(result.summary()), flush=True)
    return 0
