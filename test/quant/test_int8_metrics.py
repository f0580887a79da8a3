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

"""Agreement and mAP numbers behave: identical answers score perfectly, worse scores lower."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jetson_infer_ros.quant import metrics


class Dets:

    def __init__(self, boxes, scores, class_ids):
        self.boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        self.scores = np.asarray(scores, np.float32)
        self.class_ids = np.asarray(class_ids, np.int64)


REF = Dets([[10, 10, 50, 60], [100, 100, 160, 180], [5, 200, 40, 260]], [0.9, 0.8, 0.6],
           [0, 2, 0])


def test_classification_agreement_and_accuracy():
    ref = np.array([[1, 2, 3, 4, 5], [7, 8, 9, 10, 11], [3, 1, 2, 4, 5]])
    test = np.array([[1, 3, 2, 4, 5], [8, 7, 9, 10, 11], [9, 9, 9, 9, 9]])
    a = metrics.classification_agreement(ref, test)
    assert a['top1_agreement'] == pytest.approx(1 / 3)
    assert a['top5_agreement'] == pytest.approx(2 / 3)
    acc = metrics.accuracy(ref, [[1], [8, 9], [4]])
    assert acc == {'top1': pytest.approx(1 / 3), 'top5': 1.0}


def test_identical_detections_agree_fully_and_score_map_100():
    agree = metrics.box_agreement([(REF, REF)], ['person', 'bicycle', 'car'])
    assert agree['box_agreement'] == 1.0 and agree['matched_boxes'] == 3
    assert agree['per_class']['2']['label'] == 'car'
    m = metrics.coco_map([(REF.boxes, REF.class_ids)], [(REF.boxes, REF.scores, REF.class_ids)],
                         [(320, 320)], 3)
    assert m == {'map': 100.0, 'map50': 100.0}


def test_missing_extra_shifted_and_wrong_class_boxes_cost():
    test = Dets([[12, 11, 52, 61], [100, 100, 160, 180], [200, 5, 240, 40]], [0.9, 0.8, 0.7],
                [0, 1, 0])
    agree = metrics.box_agreement([(REF, test)], ['a', 'b', 'c'])
    assert agree['matched_boxes'] == 1            # only the slightly shifted person box
    assert agree['box_agreement'] == pytest.approx(2 * 1 / 6, abs=1e-4)   # rounded to 4
    m = metrics.coco_map([(REF.boxes, REF.class_ids)],
                         [(test.boxes, test.scores, test.class_ids)], [(320, 320)], 3)
    assert 0.0 < m['map'] < m['map50'] < 100.0


def test_map_is_undefined_without_ground_truth_boxes_and_zero_without_detections():
    empty = Dets(np.zeros((0, 4)), [], [])
    assert metrics.coco_map([(empty.boxes, empty.class_ids)],
                            [(REF.boxes, REF.scores, REF.class_ids)], [(64, 64)], 3) is None
    assert metrics.coco_map([(REF.boxes, REF.class_ids)],
                            [(empty.boxes, empty.scores, empty.class_ids)],
                            [(320, 320)], 3) == {'map': 0.0, 'map50': 0.0}


def test_ground_truth_readers(tmp_path):
    j = tmp_path / 'cls.json'
    j.write_text(json.dumps({'a.jpg': 3, 'b.png': [4, 5]}))
    assert metrics.read_classification_truth(str(j)) == {'a.jpg': [3], 'b.png': [4, 5]}
    c = tmp_path / 'cls.csv'
    c.write_text('# file,class\na.jpg,3\nb.png 4 5\n')
    assert metrics.read_classification_truth(str(c)) == {'a.jpg': [3], 'b.png': [4, 5]}
    c.write_text('a.jpg,cat\n')
    with pytest.raises(ValueError, match='line 1'):
        metrics.read_classification_truth(str(c))
    coco = {'images': [{'id': 1, 'file_name': 'dir/f1.png'}, {'id': 2, 'file_name': 'f2.png'}],
            'annotations': [{'image_id': 1, 'category_id': 3, 'bbox': [1, 2, 10, 20]}],
            'categories': [{'id': 3, 'name': 'car'}]}
    g = tmp_path / 'gt.json'
    g.write_text(json.dumps(coco))
    truth = metrics.read_detection_truth(str(g), ['person', 'bicycle', 'car'])
    boxes, cls = truth['f1.png']
    assert boxes.tolist() == [[1, 2, 11, 22]] and cls.tolist() == [2]   # by name
    assert len(truth['f2.png'][0]) == 0
    g.write_text('{"images": 3}')
    with pytest.raises(ValueError, match='COCO-style'):
        metrics.read_detection_truth(str(g), [])


def test_agreement_is_also_reported_without_the_near_ties():
    from types import SimpleNamespace
    from jetson_infer_ros.quant import evaluate as ev

    def result(ids, scores):
        return SimpleNamespace(class_ids=np.array(ids), scores=np.array(scores))
    # frame a: clear (0.6 vs 0.1), b: a near tie (0.31 vs 0.30) that int8 swaps
    ref = [result([1, 2, 3, 4, 5], [0.6, 0.1, 0.1, 0.1, 0.05]),
           result([7, 8, 9, 10, 11], [0.31, 0.30, 0.2, 0.1, 0.05])]
    test = [result([1, 2, 3, 4, 5], [0.6, 0.1, 0.1, 0.1, 0.05]),
            result([8, 7, 9, 10, 11], [0.32, 0.29, 0.2, 0.1, 0.05])]
    out = ev._classification(ref, test, ['a', 'b'], None)
    assert out['top1_agreement'] == 0.5
    assert out['clear_frames'] == 1 and out['top1_agreement_clear'] == 1.0
    assert out['disagreements'] == [{'frame': 'b', 'reference': 7, 'int8': 8,
                                     'reference_score': 0.31, 'reference_margin': 0.01}]


def _logits(clear, tied, classes=50, seed=1):
    """``clear`` frames whose winner leads by 10, then ``tied`` frames with two equal best."""
    rng = np.random.default_rng(seed)
    rows = rng.normal(0.0, 1.0, (clear + tied, classes))
    rows[:clear, 0] = rows[:clear].max(axis=1) + 10.0
    rows[clear:, :2] = rows[clear:].max(axis=1, keepdims=True) + 5.0
    return rows


def test_noise_flips_only_the_near_ties_and_fewer_as_fidelity_rises():
    # 80 clear frames never flip at 20 dB; the 20 exact ties flip about half the time
    logits = _logits(80, 20)
    runs = metrics.agreement_under_noise(logits, [20.0, 60.0], trials=200)
    assert runs.shape == (2, 200)
    assert runs.min() >= 0.8 - 1e-12
    assert abs(runs[0].mean() - 0.9) < 0.02
    # an exact tie stays a coin flip at any fidelity; a small lead does not
    near = _logits(0, 100)
    near[:, 0] += 0.05
    low, high = metrics.agreement_under_noise(near, [20.0, 50.0], trials=20).mean(axis=1)
    assert low < 0.9 and high == 1.0


def test_fidelity_needed_is_the_first_grid_point_meeting_the_target():
    logits = _logits(0, 200)
    logits[:, 0] += np.linspace(0.01, 1.0, 200)      # leads from tiny to clear
    grid = np.arange(10.0, 60.01, 2.0)
    need = metrics.fidelity_needed(logits, 0.98, grid=grid, trials=50)
    runs = metrics.agreement_under_noise(logits, grid, trials=50)
    i = list(grid).index(need['expected'])
    assert runs[i].mean() >= 0.98 - 1e-9 and runs[i - 1].mean() < 0.98
    assert need['reliable'] >= need['expected']
    # with exact ties in 5 % of the frames, 98 % is out of reach at any fidelity
    tied = metrics.fidelity_needed(_logits(95, 5), 0.98, grid=grid, trials=50)
    assert tied['reliable'] is None
    with pytest.raises(ValueError):
        metrics.agreement_under_noise(np.zeros(10), [30.0])


def test_study_renders_the_noise_model_tables():
    from jetson_infer_ros.quant import study
    report = {'frames': 156, 'trials': 100,
              'logit_gap_below': {'0.01': 2, '0.05': 6, '0.1': 15},
              'grid': [{'sqnr_db': 28.0, 'expected': 0.971, 'p_98': 0.25, 'p_99': 0.01}],
              'needed': {'0.98': {'expected': 32.0, 'reliable': 35.5},
                         '0.99': {'expected': 38.5, 'reliable': None}},
              'measured': [{'tag': 'infer_percentile', 'layout': 'onnxruntime',
                            'sqnr_db': 22.93, 'top1_agreement': 0.942, 'expected': 0.952}]}
    text = study.fidelity_table(report)
    assert '| 28 | 97.1% | 25.0% | 1.0% |' in text
    assert '98 % needs 32 dB on average and 35.5 dB for 9 runs in 10' in text
    assert "99 % (the gate's default) 38.5 dB / > 60 dB" in text
    assert '| infer_percentile | onnxruntime | 22.93 | 94.2% | 95.2% |' in text
