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

"""An artefact family appears all at once or not at all."""

from __future__ import annotations

import pytest

from jetson_infer_ros.quant import artifacts


def test_family_names_follow_the_main_artefact(tmp_path):
    fam = artifacts.family_of(tmp_path / 'model.int8.cpu.onnx')
    assert fam.main.name == 'model.int8.onnx'
    assert fam.cpu.name == 'model.int8.cpu.onnx'
    assert fam.evaluation.name == 'model.int8.eval.json'
    assert fam.provenance.name == 'model.int8.calib.json'
    assert fam.trt_cache.name == 'model.int8.calib.cache'
    assert artifacts.default_artifact(tmp_path / 'model.onnx') == tmp_path / 'model.int8.onnx'
    assert fam.variant('onnxruntime') == fam.main   # no CPU file yet
    fam.cpu.write_bytes(b'x')
    assert fam.variant('onnxruntime') == fam.cpu and fam.variant('tensorrt') == fam.main


def test_staged_files_appear_only_on_commit(tmp_path):
    with artifacts.StagedFiles() as staged:
        staged.write_text(tmp_path / 'a.txt', 'A')
        staged.write_with(tmp_path / 'b.bin', lambda p: open(p, 'wb').write(b'B'))
        assert not (tmp_path / 'a.txt').exists()
        done = staged.commit()
    assert [p.name for p in done] == ['a.txt', 'b.bin']
    assert (tmp_path / 'a.txt').read_text() == 'A'
    assert (tmp_path / 'a.txt').stat().st_mode & 0o044    # readable like open() makes it
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.txt', 'b.bin']


def test_failure_before_commit_leaves_nothing(tmp_path):
    (tmp_path / 'old.onnx').write_text('previous artefact')
    with pytest.raises(RuntimeError):
        with artifacts.StagedFiles() as staged:
            staged.write_text(tmp_path / 'old.onnx', 'half')
            staged.write_text(tmp_path / 'new.json', '{}')
            raise RuntimeError('crash while writing')
    assert (tmp_path / 'old.onnx').read_text() == 'previous artefact'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['old.onnx']
