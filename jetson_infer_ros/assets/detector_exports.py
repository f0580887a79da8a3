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
Detectors as users export them, with their exporters' own answers, for the tests.

Users bring YOLO and SSD models exported by Ultralytics and torchvision; decoders
tested only on synthetic tensors prove the arithmetic, not the conventions. This module
has the real exporters make them: ``EXPORTS`` lists the families x options (YOLOv5u,
YOLOv8, YOLO11, YOLOv10, YOLO26 at 640x640 and 640x384, ``nms`` unset/True/False, batch 1
and 2; SSDlite320), and ``prepare_detector_exports()`` runs ``export_detectors.py`` in
the ``export_detectors`` tool env (CPU torch 2.13.0, torchvision, ultralytics; pinned)
on real frames (street video and photos from the data cache, a few cropped to odd sizes
so letterbox padding is odd), and caches the ONNX files and references under
``<cache>/detector_exports/<key>/``. The key hashes the three tool scripts, the
requirement file (so the exporter versions), the export matrix and settings, and the
frames' bytes: change any and a new folder is made; nothing lives in the repository.
``jetson-infer exports`` prepares it (``make test`` runs it before the tests).
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from typing import Any, Dict, List, Optional

from jetson_infer_ros.assets import cache
from jetson_infer_ros.assets import data
from jetson_infer_ros.assets import toolenv

TOOL_ENV = 'export_detectors'
_HERE = pathlib.Path(__file__).resolve().parent
_SCRIPTS = ('export_detectors.py', 'export_ultralytics.py', 'export_torchvision.py')
PREPARE_HINT = 'run `jetson-infer exports` (make test runs it first)'

#: Ultralytics families, n-size, from the yaml files bundled with ultralytics
ULTRALYTICS_FAMILIES = ('yolov5n', 'yolov8n', 'yolo11n', 'yolov10n', 'yolo26n')
#: families with a one-to-one (NMS-free) head: nms=False exports it
NMS_FREE = ('yolov10n', 'yolo26n')
#: network input sizes, (height, width)
SIZES = ((640, 640), (384, 640))

#: the reference settings: Ultralytics' predict defaults (conf 0.25, iou 0.7, max_det 300),
#: torchvision SSD's IoU 0.55 and per-class top-k 300, threshold raised to 0.25 as above
SETTINGS = {'conf': 0.25, 'iou': 0.7, 'max_det': 300, 'ssd_iou': 0.55, 'ssd_topk': 300,
            'opset': 17, 'seed': 0}

#: frames the references are computed on: (name, source, crop (x, y, w, h) or None)
FRAMES = (
    ('vtest-100', 'video:100', None),
    ('messi5', 'opencv-doc/messi5.jpg', None),
    ('vtest-250-odd', 'video:250', (0, 71, 767, 433)),
    ('baboon-odd', 'opencv-doc/baboon.jpg', (5, 50, 501, 333)),
)
#: photos the BatchNorm statistics and head biases are computed on (not the frames)
CALIBRATION = ('opencv-doc/fruits.jpg', 'opencv-doc/home.jpg', 'opencv-doc/building.jpg',
               'scikit-image/coffee.png', 'scikit-image/rocket.jpg', 'opencv-doc/stuff.jpg',
               'scikit-image/motorcycle_left.png', 'opencv-doc/aero3.jpg')


def variant_name(v: Dict[str, Any]) -> str:
    """Name an export variant: family-WxH-{raw,nms,e2e}-bBATCH (nms unset/True/False)."""
    h, w = v['imgsz']
    nms = {None: 'raw', True: 'nms', False: 'e2e'}[v['nms']]
    return '%s-%dx%d-%s-b%d' % (v['family'], w, h, nms, v['batch'])


def _variants() -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    for family in ULTRALYTICS_FAMILIES:
        options: List[Optional[bool]] = [None, True] + ([False] if family in NMS_FREE else [])
        for size in SIZES:
            for nms in options:
                out.append({'family': family, 'imgsz': list(size), 'nms': nms, 'batch': 1})
        for nms in options:
            out.append({'family': family, 'imgsz': list(SIZES[0]), 'nms': nms, 'batch': 2})
    out.append({'family': 'ssdlite', 'imgsz': [320, 320], 'nms': None, 'batch': 1})
    out.append({'family': 'ssdlite', 'imgsz': [320, 320], 'nms': None, 'batch': 2})
    return [dict(v, name=variant_name(v)) for v in out]


EXPORTS = tuple(_variants())


@dataclasses.dataclass(frozen=True)
class Export:
    """One exported model with its exporter's reference answers."""

    name: str
    family: str
    imgsz: tuple            # (height, width)
    nms: Optional[bool]
    batch: int
    folder: pathlib.Path
    exporter: str

    @property
    def model(self) -> pathlib.Path:
        return self.folder / 'model.onnx'

    def reference(self) -> Dict[str, Any]:
        """reference.json: per frame the exporter's boxes, scores and classes."""
        return json.loads((self.folder / 'reference.json').read_text())

    def arrays(self) -> Any:
        """reference.npz: the network inputs and raw output rows (see write_reference)."""
        import numpy as np
        return np.load(self.folder / 'reference.npz')


@dataclasses.dataclass(frozen=True)
class ExportSet:
    folder: pathlib.Path
    exports: tuple
    report: Dict[str, Any]

    def frame_path(self, name: str) -> pathlib.Path:
        return self.folder / 'frames' / (name + '.npy')

    def get(self, name: str) -> Export:
        for e in self.exports:
            if e.name == name:
                return e
        raise KeyError(name)


def _frames(dataset: data.DataSet) -> Dict[str, Any]:
    import cv2
    indices = sorted({int(src.split(':')[1]) for _n, src, _c in FRAMES
                      if src.startswith('video:')})
    video = dict(zip(indices, data.video_frames(dataset.video, indices)))
    out = {}
    for name, src, crop in FRAMES:
        image: Any
        if src.startswith('video:'):
            image = video[int(src.split(':')[1])]
        else:
            image = cv2.imread(str(dataset.photo(src)), cv2.IMREAD_COLOR)
        if crop is not None:
            x, y, w, h = crop
            image = image[y:y + h, x:x + w]
        out[name] = image.copy()
    return out


def _key(frames: Dict[str, Any], calibration: List[Any]) -> str:
    parts: List[Any] = [(_HERE / s).read_bytes() for s in _SCRIPTS]
    parts.append(toolenv.requirements_file(TOOL_ENV).read_bytes())
    parts.append(json.dumps({'exports': EXPORTS, 'settings': SETTINGS,
                             'frames': FRAMES, 'calibration': CALIBRATION}, sort_keys=True))
    parts += [f.tobytes() + str(f.shape).encode() for f in list(frames.values()) + calibration]
    return cache.digest(*parts)


def export_dir() -> pathlib.Path:
    """Return the cache folder of the current scripts, pins, matrix and frames."""
    dataset = data.cached_data()
    frames = _frames(dataset)
    calibration = [_photo(dataset, p) for p in CALIBRATION]
    return cache.cache_root() / 'detector_exports' / _key(frames, calibration)


def _photo(dataset: data.DataSet, ref: str) -> Any:
    import cv2
    return cv2.imread(str(dataset.photo(ref)), cv2.IMREAD_COLOR)


def _load(folder: pathlib.Path) -> ExportSet:
    report = json.loads((folder / 'report.json').read_text())
    exports = tuple(Export(r['name'], r['family'], tuple(r['imgsz']), r['nms'], r['batch'],
                           folder / r['name'], r['exporter']) for r in report['exports'])
    return ExportSet(folder, exports, report)


def cached_exports() -> ExportSet:
    """Return the prepared exports, or raise AssetError saying how to prepare them."""
    folder = export_dir()
    if not (folder / 'report.json').is_file():
        raise cache.AssetError('the detector exports are not prepared (no %s); %s'
                               % (folder, PREPARE_HINT))
    return _load(folder)


def prepare_detector_exports(log: cache.Log = print) -> ExportSet:
    """Make sure the exports are cached (cold: tool env + every export); return them."""
    import numpy as np
    dataset = data.prepare_data(log)
    frames = _frames(dataset)
    calibration = [_photo(dataset, p) for p in CALIBRATION]
    final = cache.cache_root() / 'detector_exports' / _key(frames, calibration)
    if (final / 'report.json').is_file():
        return _load(final)
    with cache.locked(final):
        if (final / 'report.json').is_file():
            return _load(final)
        cache.sweep_stale(final)
        start = time.monotonic()
        python = toolenv.ensure_toolenv(TOOL_ENV, log)
        env_seconds = time.monotonic() - start
        log('[exports] exporting %d detector variants into %s' % (len(EXPORTS), final))
        with cache.building(final) as tmp:
            (tmp / 'frames').mkdir()
            job_frames = []
            for name, image in frames.items():
                path = tmp / 'frames' / (name + '.npy')
                np.save(path, image)
                job_frames.append({'name': name, 'path': str(path)})
            cal = []
            for k, image in enumerate(calibration):
                path = tmp / 'frames' / ('calibration-%d.npy' % k)
                np.save(path, image)
                cal.append(str(path))
            job = dict(SETTINGS, frames=job_frames, calibration=cal, exports=list(EXPORTS),
                       out=str(tmp), threads=0)
            job_path = tmp / 'job.json'
            job_path.write_text(json.dumps(job, indent=1) + '\n')
            env = cache.clean_env({'YOLO_OFFLINE': '1', 'YOLO_CONFIG_DIR': str(tmp / '.yolo'),
                                   'YOLO_VERBOSE': 'False'})
            cache.run_logged([str(python), str(_HERE / 'export_detectors.py'), str(job_path)],
                             'exporting detectors in tool env %s' % TOOL_ENV, log, env=env)
            report = json.loads((tmp / 'report.json').read_text())
            report['toolenv_seconds'] = round(env_seconds, 1)
            report['total_seconds'] = round(time.monotonic() - start, 1)
            report['key'] = final.name
            (tmp / 'report.json').write_text(json.dumps(report, indent=1) + '\n')
        log('[exports] %d exports ready in %.0f s (tool env %.0f s): %s'
            % (len(EXPORTS), time.monotonic() - start, env_seconds, final))
    return _load(final)
