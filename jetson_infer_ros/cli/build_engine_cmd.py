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
`jetson-infer build-engine`: build the node's TensorRT engine ahead of time.

A Jetson takes minutes to build an engine; a robot should not do it at its first
configure in the field (Autoware's ``build_only``, ``trtexec``). This builds exactly the
engine the node's configure would, through the same code (model, precision choice with
the INT8 gate, BackendOptions, engine cache key), into the engine cache the node reads,
and optionally also to ``--out FILE`` for ``model_path: FILE.engine``. Progress goes to
stderr; stdout gets one JSON object with the key, the path and the size.

With TensorRT the engine is for the GPU of this machine (TensorRT engines are not
portable). With only TensorRT-RTX installed, the build needs no GPU and the engine is for
RTX GPUs (compute capability 8.0, 8.6, 8.9, 12.x), which is said on the terminal: it will
not run on a Jetson or a data-centre GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('--config', required=True, help='ROS parameters YAML (config/*.yaml)')
    parser.add_argument('--model', help='override model_path (ONNX file or default model name)')
    parser.add_argument('--precision', choices=('fp32', 'fp16', 'int8'),
                        help='override precision (int8: the calibrated artefact, if the INT8 '
                             'gate accepts it, as the node would)')
    parser.add_argument('--max-batch', type=int, metavar='N',
                        help='override max_batch (the dynamic-batch profile is 1..N)')
    parser.add_argument('--out', metavar='FILE',
                        help='also write the engine to FILE (.engine or .plan), with a FILE.json '
                             'sidecar naming what built it')


def _say(message: str) -> None:
    print(f'[build-engine] {message}', file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    from jetson_infer_ros.backends.base import BackendError, BackendOptions
    from jetson_infer_ros.backends.tensorrt import engine_source, trt_module
    from jetson_infer_ros.backends.tensorrt.engine_cache import atomic_write
    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.pipeline import InferencePipeline, is_engine_file, resolve_model
    if args.out and not args.out.lower().endswith(('.engine', '.plan')):
        raise ValueError(f'--out must end in .engine or .plan (what model_path loads as a '
                         f'prebuilt engine), got {args.out}')
    cfg = load_config(args.config, model_path=args.model, precision=args.precision,
                      max_batch=args.max_batch, backend='tensorrt')
    _, caps = trt_module.load()          # BackendUnavailable: no TensorRT builder here
    model_file, _labels = resolve_model(cfg.model_path)
    if is_engine_file(model_file):
        raise ValueError(f'{model_file} is already an engine; give the ONNX model')
    if not os.path.isfile(model_file):
        raise ValueError(f'model file not found: {model_file}')
    pipeline = InferencePipeline(cfg, log=_say)
    model_file, precision = pipeline._choose_precision(model_file)   # the node's choice
    for note in pipeline.notes:
        _say(note)
    options = BackendOptions(
        precision=precision, max_batch=cfg.max_batch, dla_core=cfg.dla_core,
        workspace_mb=cfg.workspace_mb, engine_cache_dir=cfg.engine_cache_dir,
        calibration_cache=InferencePipeline._calibration_cache(model_file, precision))
    api = None
    if caps.rtx:
        _say(f'only {caps.display} is installed: building for RTX GPUs (compute capability '
             '8.0, 8.6, 8.9, 12.x), ahead of time, without a GPU; this engine will not run on '
             'a Jetson or a data-centre GPU (build there with its TensorRT)')
    else:
        from jetson_infer_ros.cuda.binding import CudaUnavailable, get_cuda_api
        try:
            api = get_cuda_api(cfg.device_id)
        except CudaUnavailable as exc:
            raise BackendError(f'{caps.display} builds for the GPU that runs the engine, and '
                               f'none is usable here: {exc}') from None
    try:
        target = engine_source.target_for(caps, api)
        _say(f'{caps.display}: {os.path.basename(model_file)} as {precision}, max batch '
             f'{cfg.max_batch}, for {target[0]}')
        result = engine_source.cached_engine(caps, model_file, options, target, _say)
    finally:
        if api is not None:
            api.close()
    summary: Dict[str, Any] = {
        'key': result.key, 'engine': result.path, 'bytes': len(result.data),
        'built': result.built, 'build_seconds': round(result.seconds, 2),
        'builder': caps.display, 'target': target[0], 'model': model_file,
        'precision': precision, 'max_batch': cfg.max_batch,
    }
    if args.out:
        out = os.path.abspath(os.path.expanduser(args.out))
        atomic_write(out, result.data)
        sidecar = dict(result.identity.as_dict(), key=result.key, engine_size=len(result.data))
        atomic_write(out + '.json', json.dumps(sidecar, indent=1, sort_keys=True).encode())
        summary['out'] = out
        _say(f'wrote {out}')
    _say(f'engine key {result.key}')
    _say(f'engine {result.path} ({len(result.data)} bytes, '
         + (f'built in {result.seconds:.2f} s)' if result.built else 'already in the cache)'))
    print(json.dumps(summary), flush=True)
    return 0
