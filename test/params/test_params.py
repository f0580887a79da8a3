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

"""The one parameter table drives the YAMLs, validation and the README; they agree."""

from __future__ import annotations

from pathlib import Path

import pytest

from jetson_infer_ros import config as C
from jetson_infer_ros import params as P

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = sorted((ROOT / 'config').glob('*.yaml'))


def test_there_are_shipped_configs():
    assert {p.name for p in CONFIGS} >= {'infer.yaml', 'detect.yaml'}


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: p.name)
def test_shipped_yaml_is_the_canonical_rendering_of_its_values(path):
    values = C.read_ros_parameters(path)
    empty_lists = {p.name for p in P.PARAMETERS if p.default == []}
    assert set(values) | empty_lists == set(P.BY_NAME), 'every parameter, only known ones'
    title = path.read_text().splitlines()[0][2:]
    assert path.read_text() == C.render_yaml(values, title), (
        f'{path.name} drifted from the parameter table; regenerate it with render_yaml')


def test_readme_parameter_table_is_generated_from_the_table():
    readme = (ROOT / 'README.md').read_text()
    assert P.markdown_table() in readme


def test_defaults_validate_and_every_entry_is_documented():
    cfg = P.validate({})
    assert cfg == P.defaults()
    for p in P.PARAMETERS:
        assert p.description.endswith('.'), p.name
        if p.choices:
            assert p.default in p.choices
        P.coerce(p, p.default)


@pytest.mark.parametrize('name,value,fragment', [
    ('score_threshold', 1.5, 'above the maximum'),
    ('score_threshold', -0.1, 'below the minimum'),
    ('score_threshold', 'high', 'expected a number'),
    ('top_k', 2.5, 'expected an integer'),
    ('top_k', True, 'expected an integer'),
    ('backend', 'cuda', 'not one of'),
    ('mean', [1.0, 2.0], 'expected 3 values'),
    ('std', [1.0, 0.0, 1.0], 'non-zero'),
    ('score_threshold', float('nan'), 'finite'),
    ('lossless', 'yes', 'expected a bool'),
])
def test_invalid_values_are_rejected_with_a_reason(name, value, fragment):
    with pytest.raises(P.ParameterError) as err:
        P.validate({name: value})
    assert name in str(err.value) and fragment in str(err.value)


def test_unknown_parameter_and_inconsistent_combinations():
    with pytest.raises(P.ParameterError, match='unknown parameter'):
        P.validate({'score_treshold': 0.3})
    with pytest.raises(P.ParameterError, match='task is classification'):
        P.validate({'decoder': 'nanodet'})
    with pytest.raises(P.ParameterError, match='needs auto, nanodet'):
        P.validate({'task': 'detection', 'decoder': 'softmax'})
    assert P.validate({'task': 'detection'})['decoder'] == 'auto'
    with pytest.raises(P.ParameterError, match='set both or neither'):
        P.validate({'input_width': 320})


def test_descriptors_carry_ranges_and_choices():
    d = P.descriptor(P.BY_NAME['score_threshold'])
    assert d.floating_point_range[0].from_value == 0.0
    assert d.floating_point_range[0].to_value == 1.0
    assert 'live' not in d.description and 'next configure' not in d.description
    d = P.descriptor(P.BY_NAME['backend'])
    assert 'onnxruntime' in d.additional_constraints
    assert 'next configure' in d.description


def test_config_loader_forms_and_errors(tmp_path):
    f = tmp_path / 'p.yaml'
    f.write_text('/**:\n  ros__parameters:\n    top_k: 3\n')
    assert C.load_config(f).top_k == 3
    f.write_text('/robot/cam/jetson_infer:\n  ros__parameters:\n    top_k: 2\n')
    assert C.load_config(f, node_name='jetson_infer').top_k == 2
    assert C.load_config(f, top_k=7).top_k == 7
    f.write_text('a: [1, 2\n')
    with pytest.raises(ValueError, match='not valid YAML'):
        C.load_config(f)
    f.write_text('jetson_infer:\n  ros__parameters:\n    top_k: 0\n')
    with pytest.raises(ValueError, match='top_k'):
        C.load_config(f)
    with pytest.raises(ValueError, match='not found'):
        C.load_config(tmp_path / 'missing.yaml')
