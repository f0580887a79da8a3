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

"""Live parameter changes as ros2 param load/set make them, on a launched node."""

from __future__ import annotations

import pytest

from .conftest import read_jsonl, ROOT, up, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.models]

FQN = '/robot1/cam_infer'      # what launched() starts, as infer.launch.py would


def test_param_load_of_the_nodes_own_yaml_while_active(launched, processes, listener):
    """Item 9: ros2 param load --use-wildcard of the file the node runs with succeeds."""
    from rclpy.parameter import parameter_dict_from_yaml_file
    path = ROOT / 'config' / 'detect.yaml'
    node, client = launched(path)
    up(client)
    # the file holds only '/**': every node's parameters are this node's. No target_nodes:
    # Jazzy's rclpy raises when a target node has no key of its own, wildcard or not
    params = parameter_dict_from_yaml_file(str(path), use_wildcard=True)
    assert params and all(not n.startswith('/') for n in params)
    results = client.set_parameters(list(params.values()))
    refused = [(n, r.reason) for n, r in zip(params, results) if not r.successful]
    assert refused == [], refused
    changed = client.set_parameter('model_path', 'efficientnet_lite0')
    assert not changed.successful and 'unconfigured' in changed.reason
    assert client.get_parameter('model_path') == 'nanodet'


def test_label_info_follows_a_live_score_threshold(launched, processes, listener):
    """Item 9: the latched label_info carries the threshold that is in force."""
    node, client = launched(ROOT / 'config' / 'detect.yaml')
    up(client)
    lis = listener('label_info=/robot1/label_info')

    def thresholds():
        return [round(r['threshold'], 3) for r in read_jsonl(lis.out_path)]
    assert wait_for(lambda: thresholds() != [], 20), processes.output(node)
    assert thresholds()[-1] == pytest.approx(0.35)
    assert client.set_parameter('score_threshold', 0.6).successful
    assert wait_for(lambda: thresholds()[-1] == pytest.approx(0.6), 10), thresholds()


def test_diagnostics_have_one_key_per_meaning(launched, processes, listener):
    """Item 9: no precision/precision_in_use, requested_precision/precision_requested pairs."""
    node, client = launched(ROOT / 'config' / 'infer.yaml')
    up(client)
    lis = listener('diagnostics=/diagnostics')

    def mine():
        return [s for r in read_jsonl(lis.out_path) for s in r['status']
                if s['name'].startswith(FQN)]
    assert wait_for(lambda: mine() != [], 20), processes.output(node)
    keys = mine()[-1]['keys']
    assert len(keys) == len(set(keys))
    assert 'precision_in_use' in keys and 'precision_requested' in keys
    assert 'precision' not in keys and 'requested_precision' not in keys, keys
