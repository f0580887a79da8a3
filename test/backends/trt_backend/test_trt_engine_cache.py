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

"""Engine cache: keys change with every build input, bad entries are caught, writes are atomic."""

from __future__ import annotations

import dataclasses
import json
import os

from hypothesis import given, settings, strategies as st
import pytest

from jetson_infer_ros.backends.tensorrt import engine_cache
from jetson_infer_ros.backends.tensorrt.engine_cache import (
    atomic_write, BuildConfig, EngineCache, EngineCacheError, EngineIdentity)

BASE = EngineIdentity(
    onnx_sha256='a' * 64,
    build=BuildConfig(precision='fp16', dla_core=-1, workspace_mb=1024, max_batch=4,
                      profile_shapes=(('images', (1, 3, 224, 224), (4, 3, 224, 224),
                                       (4, 3, 224, 224)),),
                      calibration_cache_sha256=''),
    trt_version='10.3.0.30', gpu_name='Orin', compute_capability=(8, 7))

#: one changed value per build input
CHANGES = {
    'onnx': {'onnx_sha256': 'b' * 64},
    'precision': {'build': dataclasses.replace(BASE.build, precision='int8')},
    'dla_core': {'build': dataclasses.replace(BASE.build, dla_core=0)},
    'workspace': {'build': dataclasses.replace(BASE.build, workspace_mb=2048)},
    'max_batch': {'build': dataclasses.replace(BASE.build, max_batch=8)},
    'profile': {'build': dataclasses.replace(BASE.build, profile_shapes=(
        ('images', (1, 3, 224, 224), (2, 3, 224, 224), (4, 3, 224, 224)),))},
    'calibration': {'build': dataclasses.replace(BASE.build,
                                                 calibration_cache_sha256='c' * 64)},
    'trt_version': {'trt_version': '10.3.0.31'},
    'gpu_name': {'gpu_name': 'Xavier'},
    'compute_capability': {'compute_capability': (7, 2)},
}


def test_same_inputs_give_the_same_key():
    again = EngineIdentity(**{f.name: getattr(BASE, f.name)
                              for f in dataclasses.fields(BASE)})
    assert again.key() == BASE.key()
    assert len(BASE.key()) == 64


@pytest.mark.parametrize('what', sorted(CHANGES))
def test_every_build_input_changes_the_key(what):
    assert dataclasses.replace(BASE, **CHANGES[what]).key() != BASE.key()


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(['fp32', 'fp16', 'int8']), st.integers(-1, 3),
       st.integers(1, 8192), st.integers(1, 64), st.text(max_size=20))
def test_key_is_a_function_of_the_inputs(precision, dla, workspace, batch, gpu):
    def make():
        return EngineIdentity('d' * 64, BuildConfig(precision, dla, workspace, batch),
                              '8.5.2.2', gpu, (7, 2))
    assert make().key() == make().key()
    other = dataclasses.replace(make(), build=BuildConfig(precision, dla, workspace,
                                                          batch + 1))
    assert other.key() != make().key()


@pytest.mark.parametrize('kwargs, match', [
    ({'precision': 'bf16'}, 'precision'), ({'max_batch': 0}, 'max_batch'),
    ({'workspace_mb': 0}, 'workspace_mb'), ({'dla_core': -2}, 'dla_core')])
def test_build_config_rejects_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        BuildConfig(**kwargs)


@pytest.fixture
def cache(tmp_path):
    lines = []
    c = EngineCache(str(tmp_path / 'engines'), log=lines.append)
    c.lines = lines
    return c


ENGINE = bytes(range(256)) * 40


def test_store_then_load_round_trips(cache):
    path = cache.store(BASE, ENGINE, build_seconds=12.5)
    assert path == cache.engine_path(BASE.key())
    assert cache.load(BASE) == ENGINE
    meta = json.loads(open(cache.sidecar_path(BASE.key())).read())
    assert meta['trt_version'] == '10.3.0.30' and meta['gpu_name'] == 'Orin'
    assert meta['engine_size'] == len(ENGINE)
    assert cache.lines == []


def test_missing_entry_is_a_silent_miss(cache):
    assert cache.load(BASE) is None
    assert cache.lines == []


def _expect_discarded(cache, reason):
    assert cache.load(BASE) is None
    assert any(reason in line and 'rebuilt' in line for line in cache.lines), cache.lines
    assert not os.path.exists(cache.engine_path(BASE.key()))
    assert not os.path.exists(cache.sidecar_path(BASE.key()))


def test_corrupted_engine_is_detected(cache):
    cache.store(BASE, ENGINE)
    data = bytearray(ENGINE)
    data[1000] ^= 0xFF
    open(cache.engine_path(BASE.key()), 'wb').write(bytes(data))
    _expect_discarded(cache, 'corrupted')


def test_truncated_engine_is_detected(cache):
    cache.store(BASE, ENGINE)
    open(cache.engine_path(BASE.key()), 'wb').write(ENGINE[:1000])
    _expect_discarded(cache, 'truncated')


@pytest.mark.parametrize('field, value', [('trt_version', '8.5.2.2'), ('gpu_name', 'Xavier'),
                                          ('compute_capability', [7, 2])])
def test_foreign_engine_is_detected(cache, field, value):
    cache.store(BASE, ENGINE)
    sidecar = cache.sidecar_path(BASE.key())
    meta = json.loads(open(sidecar).read())
    meta[field] = value  # e.g. a cache directory copied from another robot
    open(sidecar, 'w').write(json.dumps(meta))
    _expect_discarded(cache, field)


@pytest.mark.parametrize('content', ['{not json', '[1, 2]', ''])
def test_corrupt_sidecar_is_detected(cache, content):
    cache.store(BASE, ENGINE)
    open(cache.sidecar_path(BASE.key()), 'w').write(content)
    _expect_discarded(cache, 'sidecar')


def test_engine_without_sidecar_is_an_interrupted_write(cache):
    cache.store(BASE, ENGINE)
    os.unlink(cache.sidecar_path(BASE.key()))
    _expect_discarded(cache, 'sidecar')


def test_old_cache_format_is_rebuilt(cache):
    cache.store(BASE, ENGINE)
    sidecar = cache.sidecar_path(BASE.key())
    meta = json.loads(open(sidecar).read())
    meta['format'] = engine_cache.CACHE_FORMAT - 1
    open(sidecar, 'w').write(json.dumps(meta))
    _expect_discarded(cache, 'format')


def test_unwritable_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a directory')
    with pytest.raises(EngineCacheError, match='not writable.*engine_cache_dir'):
        EngineCache(str(blocker / 'engines'))


def test_default_directory_is_under_the_user_cache(monkeypatch, tmp_path):
    monkeypatch.setenv('HOME', str(tmp_path))
    c = EngineCache('')
    assert c.directory == str(tmp_path / '.cache' / 'jetson_infer_ros' / 'engines')


def test_timing_cache_is_keyed_by_trt_and_gpu(cache):
    a = cache.timing_cache_path('10.3.0.30', 'Orin', (8, 7))
    assert a == cache.timing_cache_path('10.3.0.30', 'Orin', (8, 7))
    assert a != cache.timing_cache_path('10.3.0.31', 'Orin', (8, 7))
    assert a != cache.timing_cache_path('10.3.0.30', 'Xavier', (7, 2))
    assert os.path.dirname(a) == cache.directory


def test_atomic_write_replaces_whole_files(tmp_path):
    target = tmp_path / 'x.engine'
    atomic_write(str(target), b'old')
    atomic_write(str(target), b'new contents')
    assert target.read_bytes() == b'new contents'
    assert os.listdir(tmp_path) == ['x.engine']  # no temp files left


def test_failed_atomic_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / 'x.engine'
    atomic_write(str(target), b'old')

    def boom(src, dst):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(engine_cache.os, 'replace', boom)
    with pytest.raises(OSError):
        atomic_write(str(target), b'half-written new engine')
    assert target.read_bytes() == b'old'
    assert os.listdir(tmp_path) == ['x.engine']


def test_store_failure_is_an_engine_cache_error(cache, monkeypatch):
    def boom(src, dst):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(engine_cache.os, 'replace', boom)
    with pytest.raises(EngineCacheError, match='No space left'):
        cache.store(BASE, ENGINE)
    assert cache.load(BASE) is None
