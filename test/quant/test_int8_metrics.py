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
    truth = [[1], [8, 9], [4]]
    assert metrics.correct(ref, truth, 1).tolist() == [True, False, False]
    assert metrics.correct(ref, truth, 5).tolist() == [True, True, True]


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
            'annotations': [{'image_id': 1, 'category_id': 3, 'bbox': [1, 2, 10, 20]},
                            {'image_id': 1, 'category_id': 3, 'bbox': [0, 0, 90, 90],
                             'iscrowd': 1}],
            'categories': [{'id': 3, 'name': 'car'}]}
    g = tmp_path / 'gt.json'
    g.write_text(json.dumps(coco))
    truth = metrics.read_detection_truth(str(g), ['person', 'bicycle', 'car'])
    boxes, cls, crowd = truth['f1.png']
    assert boxes.tolist() == [[1, 2, 11, 22], [0, 0, 90, 90]] and cls.tolist() == [2, 2]
    assert crowd.tolist() == [False, True]
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


def _random_detection_set(seed, frames=12, classes=5, crowd_every=7, ties=True):
    """Jittered copies of random truth boxes plus clutter, with crowds (and tied scores)."""
    rng = np.random.default_rng(seed)
    truth, dets = [], []
    for i in range(frames):
        n = int(rng.integers(0, 6))
        xy = rng.uniform(0, 200, (n, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(10, 80, (n, 2))], axis=1)
        cls = rng.integers(0, classes, n)
        crowd = np.arange(n) % crowd_every == crowd_every - 1
        truth.append((boxes, cls, crowd))
        clutter = rng.uniform(0, 250, (8, 2))
        d = np.concatenate([boxes + rng.normal(0, 4, boxes.shape),
                            np.concatenate([clutter, clutter + 30], axis=1)])
        d_cls = np.concatenate([np.where(rng.uniform(size=n) < 0.9, cls, (cls + 1) % classes),
                                rng.integers(0, classes, 8)])
        scores = rng.uniform(0.05, 1.0, len(d))
        dets.append((d, np.round(scores, 1) if ties else scores, d_cls))
    return metrics.DetectionSet(truth, dets, [(320, 240)] * frames, classes)


@pytest.mark.parametrize('seed', [0, 1, 2])
def test_resampled_map_is_faster_coco_evals_map_on_the_same_frames(seed):
    """The bootstrap's re-accumulation matches the COCO evaluator (ties, crowds, misses)."""
    ds = _random_detection_set(seed)
    assert ds.resampled(range(len(ds))) == ds.score()
    # a resample with repeats is the evaluator on a data set holding those frames (where
    # scores tie across frames, COCO's order of the tied ones follows the image order, so
    # compare on untied scores)
    ds = _random_detection_set(seed, ties=False)
    picks = [3, 3, 0, 11, 5, 5, 5, 8]
    twin = metrics.DetectionSet([ds.truth[i] for i in picks], [ds.detections[i] for i in picks],
                                [ds.sizes[i] for i in picks], ds.num_classes)
    got, want = ds.resampled(picks), twin.score()
    assert got == want


def test_crowd_regions_neither_count_nor_penalise():
    box = np.array([[10.0, 10.0, 60.0, 60.0]])
    crowd = np.array([[100.0, 100.0, 200.0, 200.0]])
    truth = [(np.concatenate([box, crowd]), np.array([0, 0]), np.array([False, True]))]
    on_crowd = np.array([[110.0, 110.0, 150.0, 150.0]])
    dets = [(np.concatenate([box, on_crowd]), np.array([0.9, 0.95]), np.array([0, 0]))]
    ds = metrics.DetectionSet(truth, dets, [(320, 320)], 1)
    assert ds.boxes == 1
    assert ds.score() == {'map': 100.0, 'map50': 100.0} == ds.resampled([0])
    # the same detection without the crowd flag is a false positive ranked first
    plain = metrics.DetectionSet([(truth[0][0][:1], np.array([0]))], dets, [(320, 320)], 1)
    assert plain.score()['map'] < 100.0
    assert plain.resampled([0]) == plain.score()
