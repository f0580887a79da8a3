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

"""`jetson-infer demo`: what it prints and writes, for the classifier and the detector."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from jetson_infer_ros.bags.make_bags import PHOTO_REFS

from .conftest import ROOT

pytestmark = [pytest.mark.ros, pytest.mark.models]

CLI = [sys.executable, '-m', 'jetson_infer_ros.cli.main']


def _demo(*args, env, out):
    done = subprocess.run(CLI + ['demo', '--out', str(out)] + list(args), capture_output=True,
                          text=True, env=env, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout, json.loads((out / 'summary.json').read_text())


def _png_size(path):
    import cv2
    img = cv2.imread(str(path))
    assert img is not None, path
    return img.shape


def test_classification_demo_prints_top1_per_photo(ros_env, tmp_path):
    text, summary = _demo('--config', str(ROOT / 'config' / 'infer.yaml'), env=ros_env,
                          out=tmp_path / 'demo')
    # the demo runs the node as shipped (newest frame first, best effort): on a loaded
    # machine one photo may be replaced before it is served, and the summary says so
    assert summary['frames_sent'] == 12 and summary['frames_answered'] >= 11
    answered = [t['photo'] for t in summary['top1']]
    assert answered == [p for p in PHOTO_REFS if p in answered]
    tops = {t['photo']: t['top1'] for t in summary['top1']}
    assert tops.get('opencv-doc/baboon.jpg', 'baboon') == 'baboon'
    assert tops.get('opencv-doc/orange.jpg', 'orange') == 'orange'
    assert {'opencv-doc/baboon.jpg', 'opencv-doc/orange.jpg'} & set(tops)
    assert 'opencv-doc/baboon.jpg: baboon' in text
    assert summary['latency_ms']['infer']['p50'] > 0
    assert _png_size(tmp_path / 'demo' / 'contact_sheet.png')[0] > 100


def test_detection_demo_counts_classes_and_reports_stages(ros_env, tmp_path):
    text, summary = _demo('--config', str(ROOT / 'config' / 'detect.yaml'), '--limit', '40',
                          '--rate', '2', '--every', '10', '--tiles', '4',
                          '--docs-png', str(tmp_path / 'small.png'), env=ros_env,
                          out=tmp_path / 'demo')
    # the node as shipped takes the newest frame: at 20 Hz a loaded 2-core CI machine had
    # 11 of 40 replaced before they were served (idle: 2). Each is counted, none lost
    assert summary['frames_sent'] == 40 and summary['frames_answered'] >= 10, summary
    node, dropped = summary['node'], summary['dropped']
    # (a frame replaced before the node's first take shows in no gap: Jazzy had 39 of 40)
    received = int(node['frames_received'])
    assert 38 <= received <= 40, summary
    assert summary['frames_answered'] + int(node['frames_dropped']) == received, summary
    assert dropped['unanswered'] == dropped['total_reported'] == \
        sum(dropped['by_reason'].values()), summary
    assert summary['detections_per_class']['person'] >= 3 * summary['frames_answered']
    for stage in ('convert', 'preprocess', 'infer', 'postprocess', 'publish', 'total'):
        assert set(summary['latency_ms'][stage]) == {'p50', 'p90', 'p99'}
    # a progress line every 10 answers (the frame it names depends on what was dropped)
    assert re.search(r'frame +\d+/40: ', text) and 'person' in text and 'p50' in text
    assert 'dropped by the node' in text
    assert (tmp_path / 'small.png').stat().st_size < 300_000
    assert _png_size(tmp_path / 'demo' / 'contact_sheet.png')[1] >= 768
