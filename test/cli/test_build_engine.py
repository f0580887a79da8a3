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
`jetson-infer build-engine`: the node's engine built ahead of time, with the real builder.

The venv's builder is TensorRT-RTX, so every run here also shows the "for RTX GPUs"
notice. The engine lands in the cache folder the config names, under the key the node's
configure computes (same engine_source path).
"""

from __future__ import annotations

import json
from pathlib import Path
import subprocess
import sys

import pytest

from jetson_infer_ros.backends.tensorrt import trt_module
from jetson_infer_ros.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, '-m', 'jetson_infer_ros.cli.main', 'build-engine']

pytestmark = pytest.mark.models


def _config(tmp_path, name='infer.yaml', **values):
    """Write the shipped config with its engine cache in ``tmp_path/engines`` (+ ``values``)."""
    text = (ROOT / 'config' / name).read_text()
    text = text.replace("engine_cache_dir: ''", f"engine_cache_dir: '{tmp_path / 'engines'}'")
    for key, value in values.items():
        lines = [ln for ln in text.splitlines() if ln.strip().startswith(f'{key}:')]
        assert len(lines) == 1, key
        indent = lines[0][:len(lines[0]) - len(lines[0].lstrip())]
        text = text.replace(lines[0], f'{indent}{key}: {value}')
    path = tmp_path / name
    path.write_text(text)
    return path


def test_build_engine_builds_into_the_cache_and_says_it_is_for_rtx_gpus(tmp_path):
    config = _config(tmp_path)
    done = subprocess.run(CLI + ['--config', str(config), '--max-batch', '2'],
                          capture_output=True, text=True, timeout=300, cwd=str(ROOT))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    engine = Path(summary['engine'])
    assert engine.parent == tmp_path / 'engines' and engine.name == summary['key'] + '.engine'
    assert engine.stat().st_size == summary['bytes'] > 5_000_000
    assert engine.with_suffix('.json').is_file()
    assert summary['built'] and summary['builder'] == 'TensorRT-RTX 1.7.1.116'
    assert summary['max_batch'] == 2 and summary['precision'] == 'fp32'
    assert summary['target'] == trt_module.RTX_PORTABLE_TARGET[0]
    err = done.stderr
    assert 'building for RTX GPUs (compute capability 8.0, 8.6, 8.9, 12.x)' in err
    assert 'will not run on a Jetson' in err
    assert 'optimisation profile input: min (1, 3, 224, 224) opt (2, 3, 224, 224)' in err
    assert 'engine built by TensorRT-RTX 1.7.1.116' in err
    assert f'engine key {summary["key"]}' in err
    # again: found in the cache, same key
    again = subprocess.run(CLI + ['--config', str(config), '--max-batch', '2'],
                           capture_output=True, text=True, timeout=300, cwd=str(ROOT))
    second = json.loads(again.stdout.strip().splitlines()[-1])
    assert again.returncode == 0 and not second['built'] and second['key'] == summary['key']
    assert 'already in the cache' in again.stderr


def test_out_writes_a_prebuilt_engine_with_its_sidecar(tmp_path, capsys):
    config = _config(tmp_path, 'detect.yaml')
    out = tmp_path / 'nanodet.engine'
    assert cli.main(['build-engine', '--config', str(config), '--out', str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out.read_bytes() == Path(summary['engine']).read_bytes()
    sidecar = json.loads(Path(str(out) + '.json').read_text())
    assert sidecar['key'] == summary['key'] and sidecar['engine_size'] == out.stat().st_size
    assert sidecar['trt_version'] == 'TensorRT-RTX 1.7.1.116'


def test_an_unparsable_onnx_exits_non_zero_with_the_builders_reason(tmp_path):
    bad = tmp_path / 'bad.onnx'
    bad.write_bytes(b'\x08\x07 this is not a protobuf model' * 20)
    done = subprocess.run(CLI + ['--config', str(_config(tmp_path)), '--model', str(bad)],
                          capture_output=True, text=True, timeout=300, cwd=str(ROOT))
    assert done.returncode == 2 and done.stdout == ''
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith('jetson-infer build-engine: error: TensorRT-RTX 1.7.1.116 could '
                           'not parse the ONNX:')
    assert 'Traceback' not in done.stderr
    assert not list((tmp_path / 'engines').glob('*.engine'))


def test_without_tensorrt_it_exits_non_zero_saying_so(tmp_path, monkeypatch, capsys):
    for name, _product in trt_module.MODULES:
        monkeypatch.setitem(sys.modules, name, None)
    assert cli.main(['build-engine', '--config', str(_config(tmp_path))]) == 2
    err = capsys.readouterr().err
    assert 'jetson-infer build-engine: error: tensorrt: not installed' in err


def test_out_must_name_an_engine_file(tmp_path, capsys):
    assert cli.main(['build-engine', '--config', str(_config(tmp_path)),
                     '--out', str(tmp_path / 'x.onnx')]) == 2
    assert '--out must end in .engine or .plan' in capsys.readouterr().err


def test_int8_without_an_accepted_artefact_builds_what_the_node_would_run(tmp_path, capsys):
    """The INT8 gate decides as at configure: refused -> the FP32 model, and it says why."""
    assert cli.main(['build-engine', '--config', str(_config(tmp_path)),
                     '--precision', 'int8']) == 0
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary['precision'] == 'fp32' and summary['model'].endswith('model.onnx')
    assert 'INT8 refused' in captured.err


@pytest.mark.parametrize('suffix', ['.engine', '.plan'])
def test_an_engine_is_not_rebuilt(tmp_path, capsys, suffix):
    engine = tmp_path / f'm{suffix}'
    engine.write_bytes(b'serialized')
    assert cli.main(['build-engine', '--config', str(_config(tmp_path)),
                     '--model', str(engine)]) == 2
    assert 'is already an engine' in capsys.readouterr().err
