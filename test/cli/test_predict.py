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

"""`jetson-infer predict`: the node's pipeline on real photos and street frames, as JSON."""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / 'test' / 'data'
CLI = [sys.executable, '-m', 'jetson_infer_ros.cli.main']

pytestmark = pytest.mark.models


def _predict(*args, check=True):
    out = subprocess.run(CLI + ['predict'] + list(args), capture_output=True, text=True,
                         timeout=300, cwd=str(ROOT))
    if check:
        assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope='module')
def data():
    from jetson_infer_ros.assets.data import cached_data
    return cached_data()


def test_efficientnet_top1_on_curated_real_photos(data):
    expected = json.loads((DATA / 'classification_expected.json').read_text())['photos']
    paths = [str(data.photo(e['photo'])) for e in expected]
    out = _predict('--config', 'config/infer.yaml', *paths)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r['image'] for r in lines] == paths
    for e, r in zip(expected, lines):
        top1 = r['results'][0]
        ranges = [range(lo, hi + 1) for lo, hi in e.get('accept_ranges', [])]
        assert top1['class_id'] in e['accept'] or any(top1['class_id'] in rg for rg in ranges), \
            (e['photo'], top1)
        assert len(r['results']) == 5
        assert r['results'][0]['score'] >= r['results'][-1]['score']
        assert isinstance(top1['label'], str) and top1['label']


def _iou(a, b):
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_nanodet_finds_the_pedestrians_in_vtest(data, tmp_path):
    import cv2
    from jetson_infer_ros.assets.data import video_frames
    truth = json.loads((DATA / 'vtest_gt.json').read_text())['frames']
    indices = sorted(int(k) for k in truth)
    paths = []
    for idx, frame in zip(indices, video_frames(data.video, indices)):
        p = tmp_path / f'vtest_{idx}.png'
        cv2.imwrite(str(p), frame)
        paths.append(str(p))
    out = _predict('--config', 'config/detect.yaml', *paths)
    for idx, line in zip(indices, out.stdout.splitlines()):
        dets = json.loads(line)['detections']
        people = [d['bbox'] for d in dets if d['label'] == 'person']
        for d in dets:
            x0, y0, x1, y1 = d['bbox']
            assert 0 <= x0 < x1 <= 768 and 0 <= y0 < y1 <= 576   # source pixels, clipped
        gts = [g for g in truth[str(idx)] if g['label'] == 'person' and not g.get('occluded')]
        matched = [g for g in gts if any(_iou(g['box'], b) >= 0.5 for b in people)]
        assert len(matched) >= 0.8 * len(gts), (idx, len(matched), len(gts), people)
        assert np.all(np.diff([d['score'] for d in dets]) <= 1e-6) or len(dets) < 2


def test_bad_inputs_give_one_clear_line(tmp_path):
    out = _predict('--config', 'config/infer.yaml', str(tmp_path / 'missing.jpg'), check=False)
    assert out.returncode != 0 and 'image not found' in out.stderr
    bogus = tmp_path / 'bogus.jpg'
    bogus.write_bytes(b'not an image')
    out = _predict('--config', 'config/infer.yaml', str(bogus), check=False)
    assert out.returncode != 0 and 'not a readable image' in out.stderr
    out = _predict('--config', 'config/infer.yaml', '--model', str(tmp_path / 'none.onnx'),
                   str(bogus), check=False)
    assert out.returncode == 2 and 'model file not found' in out.stderr
    assert 'Traceback' not in out.stderr
    out = _predict('--config', str(tmp_path / 'nope.yaml'), str(bogus), check=False)
    assert out.returncode == 2 and 'config file not found' in out.stderr
