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

"""How the regression harness judges answers: tolerances, borderline detections, goldens."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

from jetson_infer_ros.regression import (check_run, compare, FrameOutput, golden_document,
                                         read_golden, RegressionError, RunResult, Tolerances,
                                         write_golden)

THRESHOLD = 0.35
PERSON = [0, 0.81, 100.0, 50.0, 140.0, 150.0]
CAR = [2, 0.66, 300.0, 40.0, 380.0, 90.0]
WEAK = [0, 0.36, 500.0, 60.0, 520.0, 100.0]     # within 0.02 of the threshold


def frames(*results_per_frame):
    return [FrameOutput(1_000 + i, 'cam', [list(r) for r in rows])
            for i, rows in enumerate(results_per_frame)]


def moved(det, dx=0.0, dscore=0.0):
    d = list(det)
    d[1] += dscore
    d[2] += dx
    d[4] += dx
    return d


def problems(expected, actual, tol=Tolerances(), task='detection'):
    return compare(expected, actual, task, tol, THRESHOLD).problems


def test_identical_answers_agree():
    exp = frames([PERSON, CAR], [CAR])
    c = compare(exp, frames([PERSON, CAR], [CAR]), 'detection', Tolerances(), THRESHOLD)
    assert c.ok and c.frames == 2 and c.items == 3


def test_small_moves_pass_and_large_moves_are_reported():
    exp = frames([PERSON, CAR])
    assert problems(exp, frames([moved(PERSON, 1.5, 0.015), CAR])) == []
    found = problems(exp, frames([moved(PERSON, 3.0), CAR]))
    assert len(found) == 1 and 'moved 3.00 px' in found[0] and found[0].startswith('frame 0')
    found = problems(exp, frames([moved(PERSON, 0.0, -0.05), CAR]))
    assert len(found) == 1 and 'score 0.8100 -> 0.7600' in found[0]


def test_classes_and_counts_are_exact():
    exp = frames([PERSON, CAR])
    assert any('missing' in p for p in problems(exp, frames([PERSON])))
    assert any('extra class 2' in p for p in problems(frames([PERSON]), frames([PERSON, CAR])))
    relabelled = [7] + CAR[1:]
    found = problems(exp, frames([PERSON, relabelled]))
    assert any('class 2' in p and 'missing' in p for p in found)
    assert any('extra class 7' in p for p in found)


def test_borderline_detections_may_come_and_go_unless_strict():
    exp = frames([PERSON, WEAK])
    assert problems(exp, frames([PERSON])) == []
    assert problems(frames([PERSON]), exp) == []
    strict = Tolerances(borderline=False)
    assert len(problems(exp, frames([PERSON]), strict)) == 1
    assert len(problems(frames([PERSON]), exp, strict)) == 1


def test_stamps_and_frame_counts_must_agree():
    exp = frames([PERSON], [CAR])
    late = [FrameOutput(f.stamp_ns + 1, f.frame_id, f.results) for f in exp]
    assert any('stamp' in p for p in problems(exp, late))
    assert any('1 frames, expected 2' in p for p in problems(exp, exp[:1]))


def test_classification_compares_classes_and_scores():
    exp = frames([[372, 0.90], [373, 0.05], [10, 0.01]])
    task = 'classification'
    assert problems(exp, frames([[372, 0.91], [373, 0.05], [10, 0.01]]), task=task) == []
    swapped = frames([[372, 0.90], [10, 0.011], [373, 0.012]])
    assert any('373' in p for p in problems(exp, swapped, task=task))
    other_top = frames([[950, 0.90], [373, 0.05], [10, 0.01]])
    found = problems(exp, other_top, task=task)
    assert any('top-1 class 950' in p for p in found) and any('372' in p for p in found)


@settings(max_examples=60, deadline=None)
@given(st.permutations(list(range(5))))
def test_detection_order_does_not_matter(order):
    dets = [PERSON, CAR, moved(PERSON, 200.0), moved(CAR, -150.0), [16, 0.5, 1, 2, 30, 40]]
    exp = frames(dets)
    assert problems(exp, frames([dets[i] for i in order]), Tolerances(borderline=False)) == []


@settings(max_examples=60, deadline=None)
@given(st.floats(min_value=-1.9, max_value=1.9), st.floats(min_value=-0.019, max_value=0.019))
def test_anything_within_tolerance_passes(dx, ds):
    exp = frames([PERSON, CAR])
    assert problems(exp, frames([moved(PERSON, dx, ds), moved(CAR, -dx, -ds)])) == []


def run_result(outputs, inputs=None):
    inputs = inputs if inputs is not None else [(o.stamp_ns, o.frame_id) for o in outputs]
    return RunResult(config='config/detect.yaml', bag='/bags/street', topic='/camera/image_raw',
                     task='detection', score_threshold=THRESHOLD, inputs=inputs,
                     outputs=outputs, seconds=1.0, work_dir=Path('.'))


def test_lossless_contract_checks_count_order_and_headers():
    outs = frames([PERSON], [CAR], [])
    assert check_run(run_result(outs)) == []
    inputs = [(o.stamp_ns, o.frame_id) for o in outs]
    assert check_run(run_result(outs[:2], inputs)) == ['2 answers for 3 input frames']
    swapped = [outs[1], outs[0], outs[2]]
    assert any('answer 0: stamp' in p for p in check_run(run_result(swapped, inputs)))
    renamed = [FrameOutput(o.stamp_ns, 'other', o.results) for o in outs]
    assert any("frame_id 'other'" in p for p in check_run(run_result(renamed, inputs)))


def test_golden_round_trip_is_compact_and_rounded(tmp_path):
    outs = frames([moved(PERSON, 0.01234, 0.00049), CAR], [])
    path = tmp_path / 'g' / 'golden.json'
    write_golden(path, golden_document(run_result(outs)))
    text = path.read_text()
    assert sum(1 for line in text.splitlines() if line.startswith('    {"stamp_ns"')) == 2
    doc, back = read_golden(path)
    assert doc['bag']['frames'] == 2 and doc['tolerances']['box_px'] == 2.0
    assert back[0].results[0] == [0, 0.81, 100.0, 50.0, 140.0, 150.0]
    assert compare(outs, back, 'detection', Tolerances(borderline=False), THRESHOLD).ok
    assert [p.name for p in path.parent.iterdir()] == ['golden.json']   # no temp file left


def test_bad_golden_files_are_clear_errors(tmp_path):
    with pytest.raises(RegressionError, match='no golden file .*--update'):
        read_golden(tmp_path / 'missing.json')
    bad = tmp_path / 'bad.json'
    bad.write_text('{not json')
    with pytest.raises(RegressionError, match='not valid JSON'):
        read_golden(bad)
    bad.write_text(json.dumps({'format': 99, 'frames': []}))
    with pytest.raises(RegressionError, match='format 99'):
        read_golden(bad)
