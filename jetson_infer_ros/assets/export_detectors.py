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
Export real detectors with their own exporters, and record what their own code says.

Runs inside the ``export_detectors`` tool env only (torch, torchvision, ultralytics,
pinned in ``requirements/export_detectors.txt``); ``assets/detector_exports.py`` writes
the job file, runs this script and reads the results back. ``export_ultralytics.py``
handles the Ultralytics families (YOLOv5u, YOLOv8, YOLO11, YOLOv10, YOLO26),
``export_torchvision.py`` torchvision's SSDlite; for each export variant the folder
``<out>/<variant>/`` receives ``model.onnx`` and the reference (``write_reference``).

torchvision's PyPI wheel is a CUDA build whose C++ ops (``torchvision/_C.so``) need
libtorch_cuda, absent beside CPU torch, so ``import torchvision`` fails. Ultralytics
needs it (its ``nms=True`` export traces ``torchvision.ops.nms``; its predictor imports
it) and so does SSDlite. ``install_torchvision_nms()`` defines the ``torchvision::nms``
operator before the import, implemented with Ultralytics' own ``TorchNMS.nms`` (written
to match torchvision's kernel exactly), so tracing still exports ONNX
``NonMaxSuppression`` through torchvision's own symbolic, and every reference NMS is
code the exporters ship. Nothing else of torchvision's C++ is used.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time
from typing import Any, Dict, List

import numpy as np

RAW_FLOOR = 0.01

_KEEP: List[Any] = []   # the torch.library.Library objects must outlive the import


def install_torchvision_nms() -> str:
    """Make ``import torchvision`` work beside CPU torch; return what was done."""
    import importlib.util
    import torch
    spec = importlib.util.find_spec('torchvision')
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit('torchvision is not installed in this tool env')
    ext = pathlib.Path(list(spec.submodule_search_locations)[0]) / '_C.so'
    try:
        torch.ops.load_library(str(ext))
        import torchvision
        return 'torchvision %s with its own C++ ops' % torchvision.__version__
    except OSError:   # libtorch_cuda.so / libc10_cuda.so: not beside CPU torch
        pass
    lib = torch.library.Library('torchvision', 'DEF')
    lib.define('nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')
    lib.define('qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')

    def nms(dets, scores, iou_threshold):
        from ultralytics.utils.nms import TorchNMS
        return TorchNMS.nms(dets, scores, float(iou_threshold))

    lib.impl('nms', nms, 'CPU')
    _KEEP.append(lib)
    import torchvision
    import torchvision.extension
    torchvision.extension._has_ops = lambda: True
    return ('torchvision %s: its C++ ops need CUDA libraries, so torchvision::nms is defined '
            "with Ultralytics' TorchNMS.nms" % torchvision.__version__)


def write_reference(folder: pathlib.Path, ref: Dict[str, Any]) -> None:
    """
    Write reference.json (detections in source pixels) and reference.npz (what they came from).

    Per frame the npz holds the network input the exporter's preprocessing built
    (``input_<k>``; uint8 where it was a 0-255 image over 255, else float32) and, of each
    raw output, the rows (along ``axis``) of the anchors whose best class score is above
    ``RAW_FLOOR`` (``raw_<k>_<output>``, with ``keep_<k>`` and ``shape_<k>_<output>``).
    Rows below it cannot reach any threshold a test uses, so a tensor rebuilt with zeros
    there decodes to the same detections; keeping every row would cost hundreds of MB.
    """
    arrays: Dict[str, Any] = {}
    frames = []
    for k, f in enumerate(ref['frames']):
        net = np.asarray(f.pop('input'), np.float32)
        as_bytes = np.round(net * 255.0)
        if np.array_equal(as_bytes / 255.0, net.astype(np.float64)) or np.allclose(
                as_bytes / 255.0, net, atol=1e-7, rtol=0):
            arrays['input_%d' % k] = as_bytes.astype(np.uint8)
        else:
            arrays['input_%d' % k] = net
        keep = np.asarray(f.pop('keep'), np.int64)
        axes = f.pop('axis')
        arrays['keep_%d' % k] = keep
        for name, raw in f.pop('raw').items():
            raw = np.asarray(raw, np.float32)
            arrays['shape_%d_%s' % (k, name)] = np.array(raw.shape, np.int64)
            arrays['raw_%d_%s' % (k, name)] = np.take(raw, keep, axis=axes[name])
        f['raw_axes'] = axes
        frames.append(f)
    np.savez_compressed(folder / 'reference.npz', **arrays)
    (folder / 'reference.json').write_text(json.dumps({'frames': frames}, indent=1) + '\n')


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument('job', type=pathlib.Path)
    args = ap.parse_args(argv)
    job = json.loads(args.job.read_text())
    sys.modules.setdefault('export_detectors', sys.modules[__name__])   # for its helpers
    out_dir = pathlib.Path(job['out'])
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault('YOLO_OFFLINE', '1')
    import torch
    torch.set_num_threads(int(job.get('threads') or os.cpu_count() or 1))

    def log(msg):
        print(msg, flush=True)

    start = time.monotonic()
    shim = install_torchvision_nms()
    log('[export] ' + shim)
    from export_ultralytics import export_ultralytics   # beside this script
    rows = export_ultralytics(job, out_dir, log)
    if any(v['family'] == 'ssdlite' for v in job['exports']):
        from export_torchvision import export_ssdlite
        rows += export_ssdlite(job, out_dir, log)
    report = {'exports': rows, 'torchvision': shim, 'torch': torch.__version__,
              'seconds': round(time.monotonic() - start, 1)}
    (out_dir / 'report.json').write_text(json.dumps(report, indent=1) + '\n')
    log('[export] %d exports in %.0f s' % (len(rows), report['seconds']))
    return 0


if __name__ == '__main__':
    sys.exit(main())
