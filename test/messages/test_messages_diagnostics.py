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

"""vision_msgs carry the input header and boxes in source pixels; diagnostics levels."""

from __future__ import annotations

import numpy as np

from jetson_infer_ros import diagnostics as D
from jetson_infer_ros import messages as M


def test_detection_message_round_trip_and_header():
    h = M.make_header(12, 345, 'cam')
    boxes = np.array([[10, 20, 50, 80], [0.5, 1.5, 2.5, 4.5]], dtype=np.float32)
    msg = M.detection_array_msg(h, boxes, np.array([0.9, 0.4]), np.array([0, 17]))
    assert msg.header.frame_id == 'cam' and msg.header.stamp.sec == 12
    d = msg.detections[0]
    assert (d.bbox.center.position.x, d.bbox.center.position.y) == (30.0, 50.0)
    assert (d.bbox.size_x, d.bbox.size_y) == (40.0, 60.0)
    assert d.results[0].hypothesis.class_id == '0' and d.header.stamp.nanosec == 345
    b, s, c = M.detections_from_msg(msg)
    np.testing.assert_allclose(b, boxes)
    np.testing.assert_allclose(s, [0.9, 0.4])
    assert c.tolist() == [0, 17]
    empty = M.detection_array_msg(h, np.zeros((0, 4)), np.zeros(0), np.zeros(0))
    assert empty.detections == [] and empty.header.frame_id == 'cam'


def test_classification_and_label_info():
    h = M.make_header(1, 2, 'f')
    msg = M.classification_msg(h, [5, 3], [0.7, 0.2])
    assert [(r.class_id, r.score) for r in msg.results] == [('5', 0.7), ('3', 0.2)]
    info = M.label_info_msg(h, ['a', 'b'], 0.3)
    assert [(c.class_id, c.class_name) for c in info.class_map] == [(0, 'a'), (1, 'b')]


def test_diagnostic_levels():
    snap = {'stages_ms': {'latency': {'p99': 120.0}}, 'drops': {'inference_error': 0}}
    level, text = D.evaluate_levels(snap, 30, 30, {'warn_latency_ms': 100}, True)
    assert level == D.WARN and 'p99 latency' in text
    level, _ = D.evaluate_levels(snap, 30, 30, {'warn_latency_ms': 100,
                                                'error_latency_ms': 110}, True)
    assert level == D.ERROR
    level, text = D.evaluate_levels({'drops': {}}, 30, 2, {'warn_output_rate_hz': 10}, True)
    assert level == D.WARN and 'output' in text
    assert D.evaluate_levels({'drops': {}}, 30, 30, {}, True) == (D.OK, 'running')
    st = D.status_msg('n', 'onnxruntime/cpu', D.WARN, 'x', [('k', 'v')])
    assert D.level_of(st) == D.WARN and D.parse_values(st) == {'k': 'v'}
