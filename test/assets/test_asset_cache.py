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

"""The cache rules: folders named by their inputs, published whole or not at all."""

from __future__ import annotations

import fcntl
from pathlib import Path
import sys

from hypothesis import given
from hypothesis import strategies as st
import pytest

from jetson_infer_ros.assets import cache


def test_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path / 'x'))
    assert cache.cache_root() == tmp_path / 'x'
    monkeypatch.delenv(cache.CACHE_ENV)
    assert cache.cache_root() == Path.home() / '.cache' / 'jetson_infer_ros'


@given(st.lists(st.text(max_size=5), max_size=4), st.lists(st.text(max_size=5), max_size=4))
def test_digest_tells_part_lists_apart(a, b):
    assert (cache.digest(*a) == cache.digest(*b)) == (a == b)


def test_digest_is_stable_and_sized():
    assert cache.digest(b'x', 'y') == cache.digest('x', b'y')
    assert len(cache.digest('x')) == 12 and len(cache.digest('x', length=20)) == 20


def test_file_sha256_matches_hashlib(tmp_path):
    import hashlib
    path = tmp_path / 'f'
    path.write_bytes(b'abc' * 1000)
    assert cache.file_sha256(path) == hashlib.sha256(b'abc' * 1000).hexdigest()


def test_building_publishes_the_whole_folder(tmp_path):
    final = tmp_path / 'models' / 'm-1'
    with cache.building(final) as tmp:
        assert tmp.parent == final.parent and not final.exists()
        (tmp / 'model.onnx').write_bytes(b'onnx')
    assert (final / 'model.onnx').read_bytes() == b'onnx'
    assert [p.name for p in final.parent.iterdir()] == ['m-1']


def test_building_interrupted_leaves_nothing(tmp_path):
    final = tmp_path / 'm-1'
    with pytest.raises(KeyboardInterrupt):
        with cache.building(final) as tmp:
            (tmp / 'model.onnx').write_bytes(b'half')
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_building_keeps_a_copy_published_meanwhile(tmp_path):
    final = tmp_path / 'm-1'
    with cache.building(final) as tmp:
        (tmp / 'mine').write_text('mine')
        final.mkdir()
        (final / 'theirs').write_text('theirs')
    assert [p.name for p in tmp_path.iterdir()] == ['m-1']
    assert [p.name for p in final.iterdir()] == ['theirs']


def test_sweep_removes_only_leftovers_of_that_folder(tmp_path):
    final = tmp_path / 'm-1'
    (tmp_path / '.m-1.tmp-abc').mkdir()
    (tmp_path / '.m-2.tmp-abc').mkdir()
    removed = cache.sweep_stale(final)
    assert [p.name for p in removed] == ['.m-1.tmp-abc']
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.m-2.tmp-abc']


def test_lock_excludes_a_second_holder(tmp_path):
    final = tmp_path / 'm-1'
    with cache.locked(final):
        with open(tmp_path / 'm-1.lock', 'a') as other:
            with pytest.raises(BlockingIOError):
                fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    with open(tmp_path / 'm-1.lock', 'a') as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_run_logged_streams_lines_and_drops_index_noise():
    lines = []
    code = ("print('Collecting a'); "
            "print(\"WARNING: Location 'x' is ignored: it is neither a file nor a directory\"); "
            "print(''); print('done')")
    cache.run_logged([sys.executable, '-c', code], 'demo', lines.append, prefix='> ')
    assert lines == ['> Collecting a', '> done']


def test_run_logged_failure_is_one_line_naming_the_step():
    code = "print('step 1'); print('no route to host'); raise SystemExit(3)"
    with pytest.raises(cache.AssetError) as info:
        cache.run_logged([sys.executable, '-c', code], 'pip install x', lambda _: None)
    assert str(info.value) == 'pip install x failed (exit 3): no route to host'


def test_missing_command_is_one_line():
    with pytest.raises(cache.AssetError, match='npm pack y failed: command not found'):
        cache.run_captured(['no-such-command-jetson-infer'], 'npm pack y')
    with pytest.raises(cache.AssetError, match='apt-get failed: command not found'):
        cache.run_logged(['no-such-command-jetson-infer'], 'apt-get', print)


def test_run_captured_reports_the_last_stderr_line():
    code = "import sys; sys.stderr.write('E: Unable to locate package x\\n'); sys.exit(100)"
    with pytest.raises(cache.AssetError, match='Unable to locate package x'):
        cache.run_captured([sys.executable, '-c', code], 'apt-get download x')


def test_run_captured_skips_trailing_boilerplate():
    code = ("import sys; sys.stderr.write('npm warn config\\nnpm error code ETARGET\\n"
            'npm error notarget No matching version found for x@9.\\n'
            "npm error A complete log of this run can be found in: /tmp/x.log\\n'); sys.exit(1)")
    with pytest.raises(cache.AssetError) as info:
        cache.run_captured([sys.executable, '-c', code], 'npm pack x@9')
    assert str(info.value) == ('npm pack x@9 failed (exit 1): '
                               'npm error notarget No matching version found for x@9.')


def test_clean_env_hides_the_runtime_venv(monkeypatch):
    monkeypatch.setenv('PYTHONPATH', '/runtime')
    monkeypatch.setenv('VIRTUAL_ENV', '/runtime/.venv')
    monkeypatch.setenv('_ROS_WHEELS_BOOTSTRAP_COMPLETE', '1')
    env = cache.clean_env({'EXTRA': '1'})
    assert not {'PYTHONPATH', 'VIRTUAL_ENV', '_ROS_WHEELS_BOOTSTRAP_COMPLETE'} & set(env)
    assert env['EXTRA'] == '1' and env['PYTHONUNBUFFERED'] == '1'
