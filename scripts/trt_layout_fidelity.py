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

r"""
Fidelity of the TensorRT Q/DQ layout, computed the way TensorRT computes it.

On an x86 CPU without VNNI, ONNX Runtime's fused int8 kernels (QLinearConv & co.)
saturate their 16-bit intermediates, so numbers measured through them say nothing about
what TensorRT would answer. Here every ONNX Runtime session runs with graph
optimizations off: each QuantizeLinear/DequantizeLinear is executed as written, in
float, between float kernels, which is the arithmetic explicit quantization asks
TensorRT for (rounding to int8 at each Q, exact dequantization). FP32 runs the same way.

Calibrates both default models on the study's calibration half (``make_split``,
``calibrate`` with its defaults: percentile, auto weight rounding, head in float) and
evaluates through ``evaluate``'s own code on the study's 156 evaluation frames and, with
``--imagenet``/``--coco``, on labelled images. Run it once per code version to compare
(``PYTHONPATH=<checkout>`` picks the package)::

    python scripts/trt_layout_fidelity.py --out out/fidelity-after \\
        --imagenet ../shared/data/imagenet_dev ../shared/data/imagenet_dev_labels.json \\
        --coco ../shared/data/coco_dev/images ../shared/data/coco_dev/instances.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import time

ROOT = Path(__file__).resolve().parent.parent


def unoptimised_sessions() -> None:
    """Make every ONNX Runtime session in this process run its graph as written."""
    import onnxruntime as ort
    real = ort.InferenceSession

    def session(path_or_bytes, sess_options=None, *args, **kwargs):
        options = sess_options or ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        return real(path_or_bytes, options, *args, **kwargs)
    ort.InferenceSession = session  # type: ignore[misc]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument('--out', required=True)
    parser.add_argument('--imagenet', nargs=2, metavar=('DIR', 'LABELS'))
    parser.add_argument('--coco', nargs=2, metavar=('DIR', 'INSTANCES'))
    args = parser.parse_args()
    unoptimised_sessions()
    import jetson_infer_ros
    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.bench.int8 import make_split
    from jetson_infer_ros.quant import calibrate as cal, evaluate as ev, frames
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    folders = make_split(out / 'split')
    quiet = lambda _m: None  # noqa: E731
    results = {'package': str(Path(jetson_infer_ros.__file__).parent), 'models': {}}
    extra = {'infer': args.imagenet, 'detect': args.coco}
    for config in ('infer', 'detect'):
        cfg = load_config(str(ROOT / 'config' / f'{config}.yaml'))
        artefact = out / config / 'model.int8.onnx'
        started = time.monotonic()
        cal.calibrate(cfg, frames.ImageFolder(str(folders['calib'])), str(artefact),
                      cal.CalibrationSettings(method='percentile'), log=quiet)
        row = {'calibration_s': round(time.monotonic() - started, 1)}
        sets = [('study_eval', str(folders['eval']), None)]
        if extra[config]:
            sets.append(('labelled', extra[config][0], extra[config][1]))
        for name, folder, labels in sets:
            report = ev.evaluate(cfg, frames.ImageFolder(folder), int8_model=str(artefact),
                                 labels_path=labels, store=False, log=quiet)
            trt = report['variants']['tensorrt']
            keys = ('top1_agreement', 'top5_agreement', 'accuracy_reference',
                    'accuracy_int8', 'map_reference', 'map_int8', 'map_drop',
                    'box_agreement', 'map50_reference', 'map50_int8', 'labelled_frames')
            row[name] = {'frames': report['frames'],
                         **{k: trt.get(k) for k in keys if trt.get(k) is not None}}
            row[name]['output_sqnr_db'] = ev.output_sqnr(
                cfg, frames.ImageFolder(folder), {'tensorrt': artefact})['tensorrt']
            print(config, name, json.dumps(row[name]), flush=True)
        results['models'][config] = row
    (out / 'fidelity.json').write_text(json.dumps(results, indent=1) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
