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

"""Camera-sized frames actually arrive, and starving input is explained, not silent."""

from __future__ import annotations

import pytest

from .conftest import read_jsonl, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.models]


def _diag_values(lis):
    diags = [r for r in read_jsonl(lis.out_path) if r['kind'] == 'diagnostics']
    return diags[-1]['status'][0] if diags else None


def test_640x480_best_effort_all_delivered_with_the_shipped_profile(node_runner, publisher,
                                                                    listener, data, processes,
                                                                    tmp_path):
    node = node_runner('infer.yaml', {'qos_reliability': 'best_effort'})
    lis = listener('diagnostics=/diagnostics')
    log = tmp_path / 'pub.jsonl'
    pub = publisher('--images', str(data.photo('opencv-doc/baboon.jpg')), '--width', '640',
                    '--height', '480', '--encoding', 'rgb8', '--rate', '30', '--count', '150',
                    '--start-delay', '1.0', '--log', str(log))
    assert wait_for(lambda: pub.poll() is not None, 60)
    sent = len(log.read_text().splitlines())
    assert wait_for(lambda: (_diag_values(lis) or {}).get('values', {}).get(
        'frames_received') == str(sent), 5), (_diag_values(lis), processes.output(node))
    values = _diag_values(lis)['values']
    assert int(values['frames_received']) == sent == 150
    assert int(values['frames_processed']) + int(values['frames_dropped']) == sent


def test_starving_input_is_reported_with_its_likely_cause(node_runner, publisher, listener, data,
                                                          ros_env, processes):
    env = dict(ros_env)
    env.pop('FASTDDS_DEFAULT_PROFILES_FILE', None)   # Fast DDS defaults: 512 KB SHM segment
    node = node_runner('infer.yaml', env=env)
    lis = listener('diagnostics=/diagnostics')
    processes.python(['-m', 'jetson_infer_ros.testing.publisher', '--images',
                      str(data.photo('opencv-doc/baboon.jpg')), '--width', '640', '--height',
                      '480', '--encoding', 'rgb8', '--rate', '30', '--count', '240'],
                     'publisher', env=env)
    assert wait_for(lambda: 'input starving' in (_diag_values(lis) or {}).get('message', ''),
                    20), (_diag_values(lis), processes.output(node))
    status = _diag_values(lis)
    assert status['level'] == 1                      # WARN
    assert '512 KB' in status['message'] and 'fastdds_large_data.xml' in status['message']
    warnings = [ln for ln in processes.output(node).splitlines() if 'input starving' in ln]
    assert len(warnings) == 1                        # said once, not per frame
