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
The model cache: keyed by recipe, idempotent, atomic, and clear when a model is missing.

These tests run the real ``prepare_models`` machinery against a temporary cache with a
stand-in builder where the real one would download and convert (that path is exercised
by ``jetson-infer models`` and checked by ``test_default_models_real.py``).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess

import pytest

from jetson_infer_ros.assets import cache
from jetson_infer_ros.assets import models
from jetson_infer_ros.assets import toolenv


def test_default_model_names():
    assert models.DEFAULT_MODELS == ('efficientnet_lite0', 'nanodet')


@pytest.mark.parametrize('call', [models.model_path, models.model_meta, models.model_dir,
                                  lambda n: models.prepare_models([n])])
def test_unknown_name_is_a_value_error(call, tmp_cache):
    with pytest.raises(models.UnknownModelError, match='efficientnet_lite0, nanodet'):
        call('yolo')
    assert issubclass(models.UnknownModelError, ValueError)


def test_unknown_name_is_refused_before_any_work(tmp_cache):
    with pytest.raises(models.UnknownModelError):
        models.prepare_models(['nanodet', 'resnet'])
    assert not tmp_cache.exists()


@pytest.mark.parametrize('name', models.DEFAULT_MODELS)
def test_missing_model_says_what_to_run(tmp_cache, name):
    with pytest.raises(models.ModelNotPreparedError, match='run `jetson-infer models`'):
        models.model_path(name)
    with pytest.raises(models.ModelNotPreparedError):
        models.model_meta(name)


def test_cache_folder_is_named_by_source_and_recipe(tmp_cache):
    assert models.model_dir('nanodet').parent == tmp_cache / 'models'
    assert models.model_dir('nanodet').name.startswith('nanodet-3.0.4-')
    assert models.model_dir('efficientnet_lite0').name.startswith('efficientnet_lite0-0.1.0-')


@pytest.fixture
def assets_copy(tmp_path, monkeypatch):
    """Copy the assets folder the recipes read, so a test may edit it."""
    copy = tmp_path / 'assets'
    shutil.copytree(models._HERE, copy, ignore=shutil.ignore_patterns('__pycache__'))
    monkeypatch.setattr(models, '_HERE', copy)
    monkeypatch.setattr(toolenv, '_HERE', copy)
    return copy


@pytest.mark.parametrize('edit', ['convert_nanodet.py', 'onnx_fold.py',
                                  'requirements/convert_tfjs.txt'])
def test_changing_the_recipe_changes_the_folder(assets_copy, edit):
    before = models.model_dir('nanodet').name
    untouched = models.model_dir('efficientnet_lite0').name
    with open(assets_copy / edit, 'a') as f:
        f.write('\n# changed\n')
    assert models.model_dir('nanodet').name != before
    if edit != 'onnx_fold.py':
        assert models.model_dir('efficientnet_lite0').name == untouched


@pytest.fixture
def fake_tools(tmp_path, monkeypatch):
    """Stand in for the tool env and the converter; count how often the builder runs."""
    env = tmp_path / 'env'
    (env / 'bin').mkdir(parents=True)
    (env / 'toolenv.json').write_text(json.dumps({'python': 'cpython-3.11.7'}))
    monkeypatch.setattr(toolenv, 'ensure_toolenv', lambda name, log=print: env / 'bin' / 'python')
    calls = []

    def build(recipe, out, log):
        calls.append(out)
        (out / 'model.onnx').write_bytes(b'not really onnx, but bytes to hash')
        (out / 'report.json').write_text(json.dumps({'task': 'detection',
                                                     'input': {'name': 'input'}}))
        return {'npm': {'x': '1'}}
    monkeypatch.setitem(models._RECIPES, 'nanodet',
                        dataclasses.replace(models._RECIPES['nanodet'], build=build))
    return calls


def test_prepare_writes_model_and_meta_then_reuses_them(tmp_cache, fake_tools, monkeypatch):
    logged = []
    paths = models.prepare_models(['nanodet'], log=logged.append)
    path = paths['nanodet']
    assert path == models.model_path('nanodet') and path.name == 'model.onnx'
    meta = models.model_meta('nanodet')
    assert meta['sha256'] == cache.file_sha256(path)
    assert meta['size_bytes'] == path.stat().st_size
    assert meta['key'] == path.parent.name and meta['name'] == 'nanodet'
    assert meta['source']['version'] == models.HUMAN_MODELS_VERSION
    assert meta['made_by']['toolenv_python'] == 'cpython-3.11.7'
    assert meta['task'] == 'detection' and not (path.parent / 'report.json').exists()
    assert any('nanodet ready' in line for line in logged)

    def no_subprocess(*args, **kwargs):
        raise AssertionError('a prepared model must not start a process')
    monkeypatch.setattr(subprocess, 'Popen', no_subprocess)
    assert models.prepare_models(['nanodet'], log=no_subprocess) == paths
    assert len(fake_tools) == 1


def test_interrupted_build_leaves_no_model(tmp_cache, fake_tools, monkeypatch):
    def dies_half_way(recipe, out, log):
        (out / 'model.onnx').write_bytes(b'half a model')
        raise cache.AssetError('running convert_nanodet.py failed (exit -9): killed')
    monkeypatch.setitem(models._RECIPES, 'nanodet',
                        dataclasses.replace(models._RECIPES['nanodet'], build=dies_half_way))
    with pytest.raises(cache.AssetError, match='killed'):
        models.prepare_models(['nanodet'], log=lambda _: None)
    assert [p.name for p in (tmp_cache / 'models').iterdir()] == [
        models.model_dir('nanodet').name + '.lock']
    with pytest.raises(models.ModelNotPreparedError):
        models.model_path('nanodet')


def test_builder_that_writes_no_report_is_an_error(tmp_cache, fake_tools, monkeypatch):
    def forgets_report(recipe, out, log):
        (out / 'model.onnx').write_bytes(b'x')
        return {}
    monkeypatch.setitem(models._RECIPES, 'nanodet',
                        dataclasses.replace(models._RECIPES['nanodet'], build=forgets_report))
    with pytest.raises(cache.AssetError, match='did not write model.onnx and report.json'):
        models.prepare_models(['nanodet'], log=lambda _: None)
    assert not models.model_dir('nanodet').exists()


def test_leftovers_of_a_killed_run_are_swept(tmp_cache, fake_tools):
    final = models.model_dir('nanodet')
    stale = final.parent / ('.' + final.name + '.tmp-killed')
    stale.mkdir(parents=True)
    (stale / 'model.onnx').write_bytes(b'half')
    models.prepare_models(['nanodet'], log=lambda _: None)
    assert not stale.exists() and models.model_path('nanodet').is_file()
