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
Distillation of calibrated artefacts (quant/distill.py, quant/distill_tool.py).

The lesson bank and crops are tested alone; the tool runs in its torch tool env on the
real models: its interpreter must reproduce ONNX Runtime on both layouts of both
models, a zero-step run must write the artefact back unchanged, tuning must raise the
output fidelity on frames it never saw, and the scales (hence the TensorRT calibration
cache) must not move.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import onnx
from onnx import numpy_helper
import pytest

from jetson_infer_ros.config import load_config
from jetson_infer_ros.image_convert import Picture
from jetson_infer_ros.pipeline import resolve_model
from jetson_infer_ros.preprocess import Preprocessor
from jetson_infer_ros.quant import calibrate as cal, distill, evaluate as ev, frames

ROOT = Path(__file__).resolve().parents[2]


def _quiet(_msg: str) -> None:
    pass


def _contains(big: np.ndarray, small: np.ndarray) -> bool:
    """Whether ``small`` is a contiguous block of ``big`` (brute force, small arrays)."""
    h, w = small.shape[:2]
    for y in range(big.shape[0] - h + 1):
        for x in range(big.shape[1] - w + 1):
            if np.array_equal(big[y:y + h, x:x + w], small):
                return True
    return False


def test_augmented_frames_are_crops_and_mirrored_crops():
    rng = np.random.default_rng(3)
    array = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    crops = list(distill.augmented(Picture(array, 'rgb'), 6, np.random.default_rng(0)))
    assert len(crops) == 6
    for k, crop in enumerate(crops):
        assert crop.color == 'rgb'
        h, w = crop.array.shape[:2]
        assert 18 <= h <= 30 and 24 <= w <= 40
        source = array[:, ::-1] if k % 2 else array
        assert _contains(source, crop.array), k
    sizes = {c.array.shape for c in crops}
    assert len(sizes) > 1          # random sizes, not one fixed crop


class _FakePreprocess:
    """What FrameBank asks of a preprocessing spec: buffers of the input's shape."""

    def allocate(self, batch=None):
        return np.zeros((batch or 1, 3, 4, 4), np.float32)


def _mean_run(picture, out):
    """Stand-in preprocessing: a 4x4 field of the frame's mean, per channel."""
    out[...] = picture.array.reshape(-1, 3).mean(axis=0)[:, None, None] / 255.0


def test_frame_bank_fills_caps_and_trims(tmp_path):
    path = tmp_path / 'lessons.npy'
    bank = distill.FrameBank(path, 7, _FakePreprocess(), _mean_run, augment=2, seed=0)
    pictures = [Picture(np.full((8, 8, 3), 40 * i, np.uint8), 'rgb') for i in range(1, 4)]
    given = np.full((3, 4, 4), 0.5, np.float32)
    bank.add(pictures[0], given)           # the caller's preprocessed tensor is reused
    bank.add(pictures[1])
    assert bank.count == 6
    bank.add(pictures[2])                  # only one more fits
    assert bank.count == 7
    assert bank.close() == 7
    saved = np.load(path)
    assert saved.dtype == np.float16 and saved.shape == (7, 3, 4, 4)
    assert np.allclose(saved[0], 0.5)
    assert np.allclose(saved[1], 40 / 255, atol=1e-3)     # uniform frame: crops alike
    assert np.allclose(saved[3], 80 / 255, atol=1e-3)
    assert np.allclose(saved[6], 120 / 255, atol=1e-3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['lessons.npy']


def test_frame_bank_trims_to_what_was_filled(tmp_path):
    path = tmp_path / 'lessons.npy'
    bank = distill.FrameBank(path, 50, _FakePreprocess(), _mean_run, augment=0, seed=0)
    bank.add(Picture(np.zeros((5, 5, 3), np.uint8), 'rgb'))
    assert bank.close() == 1
    assert np.load(path).shape == (1, 3, 4, 4)


@pytest.mark.parametrize('settings', [
    distill.DistillSettings(steps=-1),
    distill.DistillSettings(steps=10, lr=0.0),
    distill.DistillSettings(steps=10, float_lr=1.0),
    distill.DistillSettings(steps=10, batch=0),
    distill.DistillSettings(steps=10, augment=-1),
])
def test_bad_distill_settings_are_one_calibration_error(settings):
    with pytest.raises(cal.CalibrationError, match='distill'):
        cal.CalibrationSettings(distill=settings).check()


# --- the tool on the real models (its torch tool env is prepared by `make models`) ---

def _write(folder: Path, images, prefix: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(images):
        cv2.imwrite(str(folder / f'{prefix}_{i:03d}.png'), img)
    return folder


@pytest.fixture(scope='module')
def split(tmp_path_factory, real_data, vtest_frames):
    """Calibration: 16 video frames + 16 photos; evaluation: 12 others + 12 others."""
    root = tmp_path_factory.mktemp('distill_split')
    photos = [cv2.imread(str(real_data.photo(r)), cv2.IMREAD_COLOR)
              for r in real_data.photos()]
    calib = _write(root / 'calib', vtest_frames[:16], 'vtest')
    _write(calib, photos[0::2][:16], 'photo')
    evaluation = _write(root / 'eval', vtest_frames[25:37], 'vtest')
    _write(evaluation, photos[1::2][:12], 'photo')
    return root


def _calibrate(config: str, split: Path, out: Path, steps: int = 0):
    cfg = load_config(str(ROOT / 'config' / config), int8_model_path=str(out))
    settings = cal.CalibrationSettings(
        method='percentile', weight_rounding='nearest',
        distill=distill.DistillSettings(steps=steps, batch=8, augment=1, lr=0.02))
    result = cal.calibrate(cfg, frames.ImageFolder(str(split / 'calib')), str(out),
                           settings, log=_quiet)
    return cfg, result


def _layouts(out: Path):
    return {'tensorrt': out, 'onnxruntime': out.with_name(out.stem + '.cpu.onnx')}


def _initializers(path: Path):
    return {t.name: numpy_helper.to_array(t) for t in onnx.load(str(path)).graph.initializer}


@pytest.mark.models
@pytest.mark.parametrize('config', ['infer.yaml', 'detect.yaml'])
def test_interpreter_matches_onnxruntime_and_zero_steps_round_trip(
        config, split, efficientnet_file, nanodet_file, tmp_path):
    out = tmp_path / 'model.int8.onnx'
    cfg, _ = _calibrate(config, split, out)
    held = _preprocessed(cfg, frames.ImageFolder(str(split / 'eval')), 8)
    held_path = tmp_path / 'held.npy'
    np.save(str(held_path), held)
    for target, path in _layouts(out).items():
        job = {'model': str(path), 'reference': resolve_model(cfg.model_path)[0],
               'frames': str(held_path),
               'held_out': str(held_path), 'out': str(tmp_path / f'{target}.rt.onnx'),
               'report': str(tmp_path / f'{target}.json'), 'steps': 0, 'threads': 2}
        report = distill.run_tool(job, tmp_path, _quiet)
        assert 'error' not in report, report
        # the torch interpreter computes what ONNX Runtime computes on the same graph
        # (int8 rounding ties make the two drift apart a little through the layers)
        assert report['emulation_sqnr_db'] >= 25.0, (target, report)
        before, after = _initializers(path), _initializers(Path(job['out']))
        assert before.keys() == after.keys()
        for name, value in before.items():
            assert value.dtype == after[name].dtype, name
            assert np.array_equal(value, after[name]), name
        assert report['held_out_sqnr_db']['after'] == report['held_out_sqnr_db']['before']


def _preprocessed(cfg, source, count: int) -> np.ndarray:
    pipeline = cal._reference_pipeline(cfg, _quiet)
    spec = pipeline.spec
    pipeline.release()
    pre = Preprocessor(spec.preprocess)
    rows = []
    for frame in source.frames():
        row = spec.preprocess.allocate()
        pre.run(frame.picture, row)
        rows.append(row)
        if len(rows) == count:
            break
    return np.stack(rows).astype(np.float32)


@pytest.mark.models
def test_distillation_raises_fidelity_on_unseen_frames_and_keeps_scales(
        split, efficientnet_file, tmp_path):
    plain_out = tmp_path / 'plain' / 'model.int8.onnx'
    tuned_out = tmp_path / 'tuned' / 'model.int8.onnx'
    plain_out.parent.mkdir()
    tuned_out.parent.mkdir()
    cfg, _ = _calibrate('infer.yaml', split, plain_out)
    _, result = _calibrate('infer.yaml', split, tuned_out, steps=40)

    provenance = json.loads(tuned_out.with_name('model.int8.calib.json').read_text())
    record = provenance['distillation']
    assert record['steps'] == 40 and set(record['layouts']) == {'tensorrt', 'onnxruntime'}
    assert result.distillation == record
    for target, entry in record['layouts'].items():
        scores = entry['held_out_sqnr_db']
        assert entry['chosen'] == ('distilled' if scores['after'] > scores['before']
                                   else 'calibrated')
        assert entry['loss']['last'] < entry['loss']['first'], target
    # ranges and scales are the calibration's: the TensorRT cache is the same file
    assert tuned_out.with_name('model.int8.calib.cache').read_bytes() == \
        plain_out.with_name('model.int8.calib.cache').read_bytes()

    evaluation = frames.ImageFolder(str(split / 'eval'))
    plain_db = ev.output_sqnr(cfg, evaluation, _layouts(plain_out))
    tuned_db = ev.output_sqnr(cfg, evaluation, _layouts(tuned_out))
    for target in ('tensorrt', 'onnxruntime'):
        before, after = _initializers(_layouts(plain_out)[target]), \
            _initializers(_layouts(tuned_out)[target])
        changed = [n for n in before if not np.array_equal(before[n], after[n])]
        if record['layouts'][target]['chosen'] == 'calibrated':
            assert changed == [], target
            continue
        # only int8 weights, int32 biases and float head weights moved, never a scale
        for name in changed:
            assert before[name].dtype in (np.int8, np.int32, np.float32), name
            assert before[name].ndim >= 1 and before[name].size > 1, name
        assert tuned_db[target] > plain_db[target] + 0.5, (target, plain_db, tuned_db)
    assert 'distilled' in {e['chosen'] for e in record['layouts'].values()}
