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
Without a usable TensorRT, ``backend: tensorrt`` fails with the reason; importing needs none.

The dev/CI venv has TensorRT-RTX (the tests' builder) but no GPU, so "no TensorRT" is
simulated by blocking both modules (``no_tensorrt``); the real venv is tested as it is:
TensorRT-RTX present, its runtime unavailable for want of a driver.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from jetson_infer_ros.backends import create_backend, unavailable_reason
from jetson_infer_ros.backends.base import BackendOptions, BackendUnavailable
from jetson_infer_ros.backends.tensorrt import check_available, TensorRTBackend, trt_module


@pytest.fixture
def no_tensorrt(monkeypatch):
    """Neither TensorRT nor TensorRT-RTX importable (import X -> ImportError)."""
    for name, _product in trt_module.MODULES:
        monkeypatch.setitem(sys.modules, name, None)


def test_importing_the_backend_imports_no_gpu_module():
    code = ('import sys, jetson_infer_ros.backends.tensorrt, jetson_infer_ros.cuda, '
            'jetson_infer_ros.gpu\n'
            'bad = [m for m in ("tensorrt", "cuda", "pycuda", "cv2") if m in sys.modules]\n'
            'print(bad)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == '[]'


def test_backend_tensorrt_without_tensorrt_names_the_reason(tmp_path, no_tensorrt):
    model = tmp_path / 'm.onnx'
    model.write_bytes(b'onnx')
    with pytest.raises(BackendUnavailable, match='tensorrt: not installed'):
        create_backend('tensorrt', str(model), BackendOptions(), load=True)
    assert 'tensorrt: not installed' in unavailable_reason('tensorrt')


def test_load_without_tensorrt_raises_backend_unavailable(tmp_path, no_tensorrt):
    from jetson_infer_ros.testing.fake_cuda import FakeCudaApi
    model = tmp_path / 'm.onnx'
    model.write_bytes(b'onnx')
    backend = TensorRTBackend(str(model), cuda_api=FakeCudaApi())
    with pytest.raises(BackendUnavailable, match='not installed'):
        backend.load()
    backend.release()  # safe after a failed load
    assert not backend.loaded


def test_type_stubs_alone_are_not_tensorrt(monkeypatch, no_tensorrt):
    import types
    monkeypatch.setitem(sys.modules, 'tensorrt', types.ModuleType('tensorrt'))
    with pytest.raises(BackendUnavailable, match='not installed.*only type stubs'):
        check_available()


def test_stub_folder_on_the_path_is_quietly_no_tensorrt(tmp_path, monkeypatch, no_tensorrt):
    """A bare tensorrt/ of .pyi files (the stubs wheel in site-packages): not installed."""
    (tmp_path / 'tensorrt').mkdir()
    (tmp_path / 'tensorrt' / '__init__.pyi').write_text('def f() -> int: ...\n')
    monkeypatch.delitem(sys.modules, 'tensorrt')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert trt_module.find() is None
    reason = unavailable_reason('tensorrt')
    assert reason.startswith('tensorrt: not installed') and 'only type stubs' in reason
    assert '__version__' not in reason


def test_tensorrt_rtx_without_a_gpu_is_unavailable_before_it_is_imported(tmp_path):
    """The venv as it is: TensorRT-RTX found, no NVIDIA driver: unavailable, not imported."""
    code = ('import sys\n'
            'from jetson_infer_ros.backends import unavailable_reason\n'
            'print(unavailable_reason("tensorrt"))\n'
            'print("tensorrt_rtx_bindings" in sys.modules)\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout.strip().splitlines()
    assert trt_module.find() == ('tensorrt_rtx_bindings', 'TensorRT-RTX')
    assert out == ['tensorrt: TensorRT-RTX runtime: no NVIDIA driver here (libcuda.so.1)',
                   'False']


def test_tensorrt_rtx_refuses_a_gpu_it_cannot_run_on(tmp_path, monkeypatch):
    """On the H200 (compute 9.0) load() stops before building: auto can move on."""
    from jetson_infer_ros.testing.fake_cuda import FakeCudaApi
    assert not trt_module.rtx_runs_on((9, 0)) and not trt_module.rtx_runs_on((7, 2))
    assert all(trt_module.rtx_runs_on(cc) for cc in ((8, 0), (8, 6), (8, 9), (12, 0)))
    api = FakeCudaApi()
    monkeypatch.setattr(api, 'compute_capability', lambda: (9, 0))
    monkeypatch.setattr(api, 'device_name', lambda: 'NVIDIA H200')
    model = tmp_path / 'm.onnx'
    model.write_bytes(b'onnx')
    backend = TensorRTBackend(str(model), cuda_api=api)
    with pytest.raises(BackendUnavailable, match=r'RTX GPUs .*NVIDIA H200 is 9\.0'):
        backend.load()


def test_auto_falls_back_with_one_line(tmp_path, no_tensorrt):
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
