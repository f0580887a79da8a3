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
INT8 artefacts for the benchmark, made the same way on every machine and cached.

The issue asks for INT8 rows; a bench that depends on whatever someone last calibrated
by hand measures an unknown model. So the bench makes its own: a split of the real
pictures (``make_split``: calibration and evaluation halves that share no frame; the
method comparison ``tools/int8/study.py`` uses it too), the method docs/int8.md
recommends (percentile), then ``evaluate`` on the evaluation half so the accuracy gate
has its evidence. Only the quantisation package's public API is used (``calibrate``,
``CalibrationSettings``, ``evaluate``).

The artefact lives under ``~/.cache/jetson_infer_ros/bench_int8/<model>-<key>/``, where
the key hashes everything that produced it: the FP32 model's sha256, the settings, the
calibration frames' pixel hashes, the quantisation code's source and the versions of
ONNX Runtime and onnx. Change any of them (a better rounding in calibrate.py, a new
onnxruntime) and the next bench calibrates afresh instead of timing a stale model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
import time
from typing import Any, Callable, Dict, List

METHOD = 'percentile'     # docs/int8.md: best or equal on both models and both layouts


def cache_root() -> Path:
    """Return where bench artefacts are kept (beside the model cache)."""
    from jetson_infer_ros.assets.cache import cache_root as root
    return Path(root()) / 'bench_int8'


def _source_sha256() -> str:
    """Hash the quantisation package's source: a changed calibrator is a new artefact."""
    import jetson_infer_ros.quant as quant
    digest = hashlib.sha256()
    for path in sorted(Path(quant.__file__).parent.glob('*.py')):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def artifact_key(model_sha256: str, frame_hashes: List[str], settings: Dict[str, Any]
                 ) -> str:
    """Return the cache key of an artefact from everything that shapes it."""
    import onnxruntime
    try:
        import onnx
        onnx_version = onnx.__version__
    except ImportError:
        onnx_version = ''
    facts = {'model_sha256': model_sha256, 'frames': sorted(frame_hashes),
             'settings': settings, 'quant_source': _source_sha256(),
             'onnxruntime': onnxruntime.__version__, 'onnx': onnx_version}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:12]


def make_split(root: Path) -> Dict[str, Path]:
    """
    Write the calibration and evaluation folders (PNG frames, symlinked photos).

    The bundled pictures, halved: opencv-doc and scikit-image photos alternate, vtest.avi
    frames 0-396 (every 4th) calibrate and 402-794 evaluate; evaluation photos whose
    pixels the calibration half also holds are dropped. Idempotent.
    """
    import cv2
    from jetson_infer_ros.assets.data import cached_data, video_frames
    data = cached_data()
    folders = {'calib': root / 'calib', 'eval': root / 'eval'}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for i, ref in enumerate(data.photos()):
        link = folders['calib' if i % 2 == 0 else 'eval'] / ref.replace('/', '__')
        if not link.exists():
            os.symlink(data.photo(ref), link)
    calib, evaluation = list(range(0, 400, 4)), list(range(402, 795, 4))
    for index, frame in zip(calib + evaluation, video_frames(data.video, calib + evaluation)):
        target = folders['calib' if index < 400 else 'eval'] / f'vtest_{index:03d}.png'
        if not target.exists():
            cv2.imwrite(str(target), frame)
    # the two photo sets share a few pictures: evaluate only on pixels never calibrated on
    from jetson_infer_ros.quant import frames
    seen = {f.sha256 for f in frames.ImageFolder(str(folders['calib'])).frames()}
    for path in sorted(folders['eval'].iterdir()):
        if frames.pixel_sha256(frames.read_image(path)) in seen:
            path.unlink()
    return folders


def prepare(model: str, config: str, log: Callable[[str], None] = print) -> Dict[str, Any]:
    """
    Make (or find cached) the INT8 artefact of a default model and its evaluation.

    Returns what the bench reports: the artefact path, whether it was made now, how long
    calibration and evaluation took, the evaluation's headline numbers and whether the
    accuracy gate accepts the artefact with the model's shipped thresholds.
    """
    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.pipeline import resolve_model
    from jetson_infer_ros.quant import calibrate as cal
    from jetson_infer_ros.quant import evaluate as ev
    from jetson_infer_ros.quant import frames
    from jetson_infer_ros.assets.cache import file_sha256
    cfg = load_config(config)
    model_file, _labels = resolve_model(cfg.model_path)
    folders = make_split(cache_root() / 'split')
    calib = frames.ImageFolder(str(folders['calib']))
    settings = cal.CalibrationSettings(method=METHOD)
    # every field, so that a setting added to the calibrator later is part of the key
    described = json.loads(json.dumps(dataclasses.asdict(settings), default=str))
    hashes = [f.sha256 for f in calib.frames()]
    key = artifact_key(file_sha256(model_file), hashes, described)
    artifact = cache_root() / f'{model}-{key}' / 'model.int8.onnx'
    out: Dict[str, Any] = {'artifact': str(artifact), 'key': key, 'settings': described,
                           'calibration_frames': len(hashes), 'made_now': False}
    evaluation = artifact.with_name('model.int8.eval.json')
    if not artifact.is_file() or not evaluation.is_file():
        artifact.parent.mkdir(parents=True, exist_ok=True)
        quiet = lambda _m: None  # noqa: E731
        log(f'[bench] int8 {model}: calibrating ({METHOD}, {len(hashes)} frames) -> '
            f'{artifact.parent}')
        started = time.monotonic()
        cal.calibrate(cfg, calib, str(artifact), settings, log=quiet)
        out['calibration_s'] = round(time.monotonic() - started, 1)
        log(f'[bench] int8 {model}: evaluating on the held-out half')
        started = time.monotonic()
        ev.evaluate(cfg, frames.ImageFolder(str(folders['eval'])), int8_model=str(artifact),
                    store=True, log=quiet)
        out['evaluation_s'] = round(time.monotonic() - started, 1)
        out['made_now'] = True
    out.update(gate_status(config, str(artifact)))
    return out


def gate_status(config: str, artifact: str) -> Dict[str, Any]:
    """Say whether the node's accuracy gate would run ``artifact`` under ``config``."""
    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.pipeline import resolve_model
    from jetson_infer_ros.quant.gate import evaluation_for, int8_artifact_for, int8_gate
    cfg = load_config(config, precision='int8', backend='onnxruntime',
                      int8_model_path=artifact)
    model_file, _labels = resolve_model(cfg.model_path)
    path = int8_artifact_for(model_file, cfg.int8_model_path)
    decision = int8_gate(model_file, cfg)
    status: Dict[str, Any] = {'exists': path.is_file(), 'evaluation': str(evaluation_for(path)),
                              'gate_accepted': bool(decision.accepted),
                              'reason': decision.reason}
    try:
        report = json.loads(Path(status['evaluation']).read_text())
        status['gate_numbers'] = report.get('gate', {})
    except (OSError, ValueError):
        pass
    return status
