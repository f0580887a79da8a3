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

"""Which params-file entries apply to which node, the way rclpy decides, and the report."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jetson_infer_ros import config as C
from jetson_infer_ros import param_sources as S

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / 'config').glob('*.yaml'))


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_shipped_yamls_apply_under_any_namespace_and_name(path):
    assert list(yaml.safe_load(path.read_text())) == ['/**']
    for fqn in ('/jetson_infer', '/robot1/jetson_infer', '/robot1/cam_infer', '/a/b/c'):
        assert S.unmatched_files([str(path)], fqn) == []
    # and every reader of the file (CLI, bench, demo: load_config / read_ros_parameters)
    # gets its values, with or without a node name
    assert C.load_config(path) == C.load_config(path, node_name='cam_infer')
    assert C.load_config(path).task == C.read_ros_parameters(path)['task']


def test_rclpy_rule_wildcard_or_exact_full_name():
    assert C.applies_to('/**', '/robot1/cam_infer')
    assert C.applies_to('/robot1/cam_infer', '/robot1/cam_infer')
    assert not C.applies_to('/jetson_infer', '/robot1/jetson_infer')   # `jetson_infer:`
    assert not C.applies_to('/robot1/*', '/robot1/cam_infer')          # rclcpp only
    assert C.applies_to('/jetson_infer', '/jetson_infer')


def test_wildcard_then_own_entry_on_top(tmp_path):
    f = tmp_path / 'p.yaml'
    f.write_text(yaml.safe_dump({
        '/**': {'ros__parameters': {'top_k': 3, 'score_threshold': 0.5}},
        'robot1': {'cam_infer': {'ros__parameters': {'top_k': 7}}}}))
    own = C.read_ros_parameters(f, '/robot1/cam_infer')
    assert own == {'top_k': 7, 'score_threshold': 0.5}
    assert C.read_ros_parameters(f, 'cam_infer')['top_k'] == 7      # bare name: any ns
    assert C.read_ros_parameters(f, '/other') == {'top_k': 3, 'score_threshold': 0.5}
    assert C.read_ros_parameters(f)['top_k'] == 7                    # /** plus one entry
    assert S.unmatched_files([str(f)], '/x/y') == []


def test_a_file_for_another_name_is_named_with_its_keys(tmp_path):
    f = tmp_path / 'p.yaml'
    f.write_text('jetson_infer:\n  ros__parameters:\n    task: detection\n')
    (missing,) = S.unmatched_files([str(f)], '/robot1/jetson_infer')
    assert missing == (str(f), ['/jetson_infer'])
    line = S.unmatched_warning(*missing, '/robot1/jetson_infer')
    assert str(f) in line and '/jetson_infer:' in line and '`/**:`' in line
    assert S.unmatched_files([str(f)], '/jetson_infer') == []
    with pytest.raises(ValueError, match='no parameters for node'):
        C.read_ros_parameters(f, '/robot1/cam_infer')


def test_params_files_from_the_argv_launch_gives():
    argv = ['infer_node', '--autostart', '--ros-args', '-r', '__node:=cam', '--params-file',
            '/a.yaml', '--params-file', '/tmp/launch_params_x', '-r', 'image:=/cam/image',
            '--', '--params-file', '/not_ros.yaml']
    assert S.params_files(argv) == ['/a.yaml', '/tmp/launch_params_x']
    assert S.params_files(['n', '__params:=/old.yaml']) == ['/old.yaml']


def test_overrides_report_names_what_was_set_and_what_set_nothing():
    table = ('task', 'model_path')
    known = {'task', 'model_path', 'use_sim_time'}.__contains__
    line = S.overrides_report('/r/n', ['use_sim_time', 'task', 'taks'], table, known)
    assert 'task, use_sim_time (1 of 2 parameters' in line and 'ignored: taks' in line
    none = S.overrides_report('/r/n', [], table, known)
    assert 'none' in none and '`/**:`' in none and '`/r/n:`' in none
