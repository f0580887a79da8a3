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
The street video through the node, lossless, three times: the regression baseline.

All 795 frames are answered, in order, each with its input's header stamp; the first
run matches the golden answers within tolerance and the other two match the first
exactly in classes and counts (boxes and scores within tolerance). The replay runs as
fast as the node answers (rate 0, paced by its answers), so the whole test takes three
times the node's own processing time plus start-up: about 1.5 minutes on 2 CPU cores.
"""

from __future__ import annotations

import pytest

from jetson_infer_ros.regression import check_run, compare, run_node_on_bag, Tolerances

from .conftest import GOLDEN, ROOT

pytestmark = [pytest.mark.ros, pytest.mark.models]


@pytest.mark.timeout(1800)
def test_street_bag_three_lossless_replays(regression, bag, tmp_path):
    street = bag('vtest_bgr8')
    first = regression(ROOT / 'config' / 'detect.yaml', street,
                       GOLDEN / 'vtest_bgr8_nanodet.json', log=print)
    assert first.run_problems == [], first.report()
    assert len(first.run.outputs) == len(first.run.inputs) == 795
    assert first.ok, first.report()
    print(f'run 1: {first.run.seconds:.1f} s, {first.run.frames_per_s:.1f} frames/s')
    for k in (2, 3):
        again = run_node_on_bag(ROOT / 'config' / 'detect.yaml', street,
                                work_dir=tmp_path / f'run{k}', log=print)
        assert check_run(again) == [], check_run(again)[:10]
        print(f'run {k}: {again.seconds:.1f} s, {again.frames_per_s:.1f} frames/s')
        same = compare(first.run.outputs, again.outputs, 'detection',
                       Tolerances(borderline=False), again.score_threshold)
        assert same.ok, '\n'.join(same.problems[:20])
