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
`jetson-infer predict`: run the configured model on image files, one JSON line each.

Uses the very pipeline the node runs (same config loader, preprocessing, backend and
postprocessing), so a config that predicts right here behaves the same on a robot. Every
line says what ran: the precision asked for and the one in use (``--precision int8``
falls back when the INT8 gate refuses, and says why under ``fallback``), the backend,
the device, and the model file with its sha256. ``--strict`` turns a fallback into exit
code 3 before anything is predicted.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict

STRICT_EXIT = 3
"""``--strict`` and the precision asked for is not the one in use."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('images', nargs='+', help='image files (jpeg, png, ...)')
    parser.add_argument('--config', required=True, help='ROS parameters YAML (config/*.yaml)')
    parser.add_argument('--model', help='override model_path (ONNX file or default model name)')
    parser.add_argument('--precision', choices=('fp32', 'fp16', 'int8'),
                        help='override precision')
    parser.add_argument('--backend',
                        choices=('auto', 'tensorrt', 'onnxruntime', 'onnxruntime_gpu'),
                        help='override backend')
    parser.add_argument('--threshold', type=float, help='override score_threshold')
    parser.add_argument('--top-k', type=int, help='override top_k')
    parser.add_argument('--strict', action='store_true',
                        help='exit 3 (predicting nothing) when the precision asked for is not '
                        'the one that runs, e.g. int8 refused by the INT8 gate')


def load_picture(path: str) -> Any:
    """Read an image file as a bgr Picture; unreadable files are a clear ValueError."""
    import cv2
    import numpy as np
    from jetson_infer_ros.image_convert import Picture
    data = np.fromfile(path, dtype=np.uint8) if _exists(path) else None
    if data is None:
        raise ValueError(f'image not found: {path}')
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f'not a readable image: {path}')
    return Picture(img, 'bgr')


def _exists(path: str) -> bool:
    import os
    return os.path.isfile(path)


def what_ran(pipeline: Any) -> Dict[str, Any]:
    """Precision asked for and in use, backend, device, model file and its sha256."""
    from jetson_infer_ros.assets.cache import file_sha256
    info = pipeline.info()
    out: Dict[str, Any] = {
        'precision_requested': info.get('precision_requested'),
        'precision_in_use': info.get('precision_in_use'),
        'backend': info.get('backend'), 'device': info.get('device', 'cpu'),
        'model': pipeline.model_file, 'model_sha256': file_sha256(pipeline.model_file)}
    if info.get('notes'):
        out['fallback'] = info['notes']
    return out


def result_json(image: str, result: Any, labels: Any, task: str) -> Dict[str, Any]:
    def name(cid: int) -> str:
        return labels[cid] if 0 <= cid < len(labels) else str(cid)
    if task == 'detection':
        dets = [{'class_id': int(c), 'label': name(int(c)), 'score': round(float(s), 5),
                 'bbox': [round(float(v), 2) for v in box]}
                for box, s, c in zip(result.boxes, result.scores, result.class_ids)]
        return {'image': image, 'detections': dets}
    res = [{'class_id': int(c), 'label': name(int(c)), 'score': round(float(s), 5)}
           for c, s in zip(result.class_ids, result.scores)]
    return {'image': image, 'results': res}


def run(args: argparse.Namespace) -> int:
    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.pipeline import InferencePipeline
    cfg = load_config(args.config, model_path=args.model, precision=args.precision,
                      backend=args.backend, score_threshold=args.threshold, top_k=args.top_k)
    pipeline = InferencePipeline(cfg, log=lambda m: print(m, file=sys.stderr))
    pipeline.load()
    failures = 0
    try:
        ran = what_ran(pipeline)
        if args.strict and ran['precision_in_use'] != ran['precision_requested']:
            print(f'jetson-infer predict: --strict: {ran["precision_requested"]} requested, '
                  f'{ran["precision_in_use"]} in use ({ran.get("fallback", "no reason given")})',
                  file=sys.stderr)
            return STRICT_EXIT
        for path in args.images:
            try:
                picture = load_picture(path)
            except ValueError as exc:
                print(f'jetson-infer predict: {exc}', file=sys.stderr)
                failures += 1
                continue
            result = pipeline.run([picture])[0]
            line = result_json(path, result, pipeline.labels, cfg.task)
            line.update(ran)
            print(json.dumps(line), flush=True)
    finally:
        pipeline.release()
    return 1 if failures else 0
