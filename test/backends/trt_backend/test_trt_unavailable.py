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

"""Without TensorRT, ``backend: tensorrt`` fails with the reason; importing needs no TensorRT."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jetson_infer_ros.backends import create_backend, unavailable_reason
from jetson_infer_ros.backends.base import BackendOptions, BackendUnavailable
from jetson_infer_ros.backends.tensorrt import check_available, TensorRTBackend


def test_importing_the_backend_imports_no_gpu_module():
    code = ('import sys, jetson_infer_ros.backends.tensorrt, jetson_infer_ros.cuda, '
            'jetson_infer_ros.gpu\n'
            'bad = [m for m in ("tensorrt", "cuda", "pycuda", "cv2") if m in sys.modules]\n'
            'print(bad)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == '[]'


def test_backend_tensorrt_without_tensorrt_names_the_reason(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'tensorrt', None)  # import tensorrt -> ImportError
    model = tmp_path / 'm.onnx'
    model.write_bytes(b'onnx')
    with pytest.raises(BackendUnavailable, match='tensorrt: not installed'):
        create_backend('tensorrt', str(model), BackendOptions(), load=True)
    assert 'tensorrt: not installed' in unavailable_reason('tensorrt')


def test_load_without_tensorrt_raises_backend_unavailable(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'tensorrt', None)
    backend = TensorRTBackend(str(tmp_path / 'm.onnx'))
    with pytest.raises(BackendUnavailable, match='not installed'):
        backend.load()
    backend.release()  # safe after a failed load
    assert not backend.loaded


def test_type_stubs_alone_are_not_tensorrt(monkeypatch):
    import types
    monkeypatch.setitem(sys.modules, 'tensorrt', types.ModuleType('tensorrt'))
    with pytest.raises(BackendUnavailable, match='only type stubs'):
        check_available()


def test_auto_falls_back_with_one_line(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, 'tensorrt', None)
    lines = []
    model = tmp_path / 'm.onnx'
    model.write_bytes(b'onnx')
    backend = create_backend('auto', str(model), BackendOptions(), log=lines.append)
    assert backend.name == 'onnxruntime'
    assert len(lines) == 1 and 'tensorrt: not installed' in lines[0]


def test_engine_contract_before_load_is_a_clear_error(tmp_path):
    backend = TensorRTBackend(str(tmp_path / 'm.onnx'))
    with pytest.raises(Exception, match='before load'):
        backend.input_buffer()
    with pytest.raises(Exception, match='before load'):
        backend.infer_from_device(1)
