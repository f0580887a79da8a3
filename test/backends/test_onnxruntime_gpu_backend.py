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
The onnxruntime_gpu backend without a GPU: its choices, options, data path and errors.

The real thing ran on an H200 (docs/gpu_results.md). Here the backend meets the CPU-only
onnxruntime and the missing driver of this machine (the clear errors), and a stand-in
onnxruntime that claims a CUDA EP but computes on the CPU, over FakeCudaApi's host-memory
"device" (everything the backend itself does: providers and options, device buffers bound
by pointer, copies, batch sizes, CUDA graph requests and fallbacks, what it frees).
"""

from __future__ import annotations

import numpy as np
import pytest

from jetson_infer_ros.backends import (
    BackendError, BackendOptions, BackendUnavailable, create_backend, unavailable_reason)
from jetson_infer_ros.backends import onnxruntime_gpu as gpu_mod
from jetson_infer_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from jetson_infer_ros.backends.onnxruntime_gpu import OnnxRuntimeGpuBackend
from jetson_infer_ros.testing import synthetic_onnx
from jetson_infer_ros.testing.fake_cuda import FakeCudaApi
from jetson_infer_ros.testing.fake_ort_cuda import FakeOrtCuda


def _real_cuda_ep() -> bool:
    import onnxruntime
    return 'CUDAExecutionProvider' in onnxruntime.get_available_providers()


def _cuda_device() -> bool:
    from jetson_infer_ros.cuda.binding import CudaUnavailable, get_cuda_api
    try:
        get_cuda_api(0).close()
        return True
    except CudaUnavailable:
        return False


no_gpu_ort = pytest.mark.skipif(_real_cuda_ep(), reason='onnxruntime-gpu is installed here')
no_cuda_device = pytest.mark.skipif(_cuda_device(), reason='a CUDA device is usable here')

WEIGHTS = np.arange(12, dtype=np.float32).reshape(3, 4) / 10.0


@pytest.fixture
def model(tmp_path):
    return synthetic_onnx.classifier(tmp_path / 'm.onnx', (1, 3, 8, 8), WEIGHTS,
                                     dynamic_batch=True)


@pytest.fixture
def fixed_model(tmp_path):
    return synthetic_onnx.classifier(tmp_path / 'f.onnx', (1, 3, 8, 8), WEIGHTS)


@pytest.fixture
def fake(monkeypatch):
    """Wire the stand-in onnxruntime and CUDA binding where the backend imports them."""
    ort = FakeOrtCuda()
    apis = []

    def cuda_api(device_id):
        apis.append(FakeCudaApi())
        return apis[-1]
    monkeypatch.setattr(gpu_mod, '_import_onnxruntime', lambda: ort)
    monkeypatch.setattr(gpu_mod, '_cuda_api', cuda_api)
    monkeypatch.setattr(gpu_mod, 'tensorrt_libraries_found', lambda load=None: False)
    ort.apis = apis
    return ort


# -- the clear errors on this machine (no onnxruntime-gpu, no driver) -------------------
@no_gpu_ort
def test_explicit_gpu_request_without_onnxruntime_gpu_is_one_clear_line(model):
    with pytest.raises(BackendUnavailable) as exc:
        create_backend('onnxruntime_gpu', model, load=True)
    text = str(exc.value)
    assert '\n' not in text and text.startswith('onnxruntime_gpu: ')
    assert 'CUDAExecutionProvider' in text and 'onnxruntime-gpu' in text
    assert unavailable_reason('onnxruntime_gpu') == text


@no_cuda_device
def test_onnxruntime_gpu_installed_but_no_cuda_device(model, monkeypatch):
    ort = FakeOrtCuda()
    monkeypatch.setattr(gpu_mod, '_import_onnxruntime', lambda: ort)
    with pytest.raises(BackendUnavailable, match=r'^onnxruntime_gpu: no usable CUDA device '
                                                 r'\(no usable CUDA binding: ') as exc:
        create_backend('onnxruntime_gpu', model, load=True)
    assert '\n' not in str(exc.value)
    lines = []
    backend = create_backend('auto', model, log=lines.append, load=True)
    assert isinstance(backend, OnnxRuntimeBackend) and len(lines) == 1
    assert 'ONNX Runtime GPU unavailable (onnxruntime_gpu: no usable CUDA device' in lines[0]
    assert lines[0].endswith('using ONNX Runtime on the CPU')
    backend.release()


def test_auto_on_this_cpu_machine_names_both_reasons(model):
    lines = []
    backend = create_backend('auto', model, log=lines.append)
    if not isinstance(backend, OnnxRuntimeBackend):
        pytest.skip('a GPU backend is usable here')
    assert len(lines) == 1 and '\n' not in lines[0]
    assert 'TensorRT unavailable' in lines[0] and 'ONNX Runtime GPU unavailable' in lines[0]
    assert unavailable_reason('onnxruntime_gpu') in lines[0]


def test_node_parameter_accepts_the_gpu_backend_and_rejects_others():
    from jetson_infer_ros.config import load_config
    assert load_config(None, backend='onnxruntime_gpu').backend == 'onnxruntime_gpu'
    with pytest.raises(ValueError, match='backend'):
        load_config(None, backend='cuda')


# -- choice -----------------------------------------------------------------------------
def test_auto_takes_the_gpu_before_the_cpu_and_says_why(model, fake):
    lines = []
    backend = create_backend('auto', model, log=lines.append, load=True)
    try:
        assert isinstance(backend, OnnxRuntimeGpuBackend) and backend.loaded
        assert len(lines) == 1 and '\n' not in lines[0]
        assert lines[0].startswith('backend auto: TensorRT unavailable (')
        assert lines[0].endswith('using ONNX Runtime on the GPU (onnxruntime_gpu)')
    finally:
        backend.release()


def test_auto_falls_to_the_cpu_when_the_cuda_provider_does_not_start(model, fake):
    fake.cuda_starts = False        # ORT's silent fallback when cuDNN/CUDA libs are missing
    lines = []
    backend = create_backend('auto', model, log=lines.append, load=True)
    assert isinstance(backend, OnnxRuntimeBackend)
    assert len(lines) == 1 and 'could not start its CUDA execution provider' in lines[0]
    assert fake.apis[-1].blocks == {} and fake.apis[-1].hosts == {}   # nothing left held
    backend.release()
    with pytest.raises(BackendUnavailable, match='could not start its CUDA'):
        create_backend('onnxruntime_gpu', model, load=True)


def test_a_bad_model_is_raised_not_hidden_by_auto(tmp_path, fake):
    bad = tmp_path / 'bad.onnx'
    bad.write_bytes(b'not a model')
    with pytest.raises(BackendError, match='onnxruntime_gpu: cannot load') as exc:
        create_backend('auto', str(bad), load=True)
    assert not isinstance(exc.value, BackendUnavailable)
    with pytest.raises(BackendError, match='model file not found'):
        create_backend('onnxruntime_gpu', str(tmp_path / 'missing.onnx'), load=True)


# -- options and the data path -----------------------------------------------------------
def test_providers_options_and_device_bindings(model, fake):
    backend = create_backend('onnxruntime_gpu', model, BackendOptions(max_batch=3),
                             load=True)
    try:
        api = backend.cuda_api
        session = fake.sessions[-1]
        assert list(session.asked) == ['CUDAExecutionProvider']
        cuda = session.asked['CUDAExecutionProvider']
        assert cuda == {'device_id': '0', 'user_compute_stream': str(backend.cuda_stream)}
        assert backend.cuda_stream != 0            # its own stream, not the legacy one
        buf = backend.input_buffer()
        assert buf.shape == (3, 3, 8, 8) and buf.ctypes.data in api.hosts   # pinned
        x = np.random.default_rng(1).standard_normal((3, 3, 8, 8)).astype(np.float32)
        buf[:] = x
        out = backend.infer(2)['scores']
        np.testing.assert_allclose(out, synthetic_onnx.reference_classifier(x[:2], WEIGHTS),
                                   rtol=1e-5)
        assert out.ctypes.data in api.hosts        # a view of the pinned output mirror
        run = session.runs[-1]
        assert run['options'] == {'disable_synchronize_execution_providers': None,
                                  'gpu_graph_id': None}
        (name, device, shape, ptr), = run['inputs']
        assert (device, shape) == ('cuda', (2, 3, 8, 8))
        assert ptr == backend.input_device_pointer(0) and ptr in api.blocks
        assert backend.input_device_pointer(1) == ptr + x[0].nbytes
        info = backend.info()
        assert info['backend'] == 'onnxruntime_gpu' and info['device'] == 'Fake GPU'
        assert info['execution_provider'] == 'CUDAExecutionProvider'
        assert info['cuda_graph'] == 'false'
    finally:
        backend.release()
    assert api.blocks == {} and api.hosts == {}    # every buffer freed
    assert not backend.loaded


def test_infer_from_device_reads_what_was_written_on_the_device(model, fake):
    backend = create_backend('onnxruntime_gpu', model, load=True)
    try:
        api = backend.cuda_api
        x = np.random.default_rng(2).standard_normal((1, 3, 8, 8)).astype(np.float32)
        backend.input_buffer()[:] = 7.0            # the host copy must not be used
        api.memcpy_htod_async(backend.input_device_pointer(0), x.ctypes.data, x.nbytes,
                              backend.cuda_stream)
        got = backend.infer_from_device(1)['scores']
        np.testing.assert_allclose(got, synthetic_onnx.reference_classifier(x, WEIGHTS), rtol=1e-5)
        with pytest.raises(BackendError, match='batch 2 outside 1..1'):
            backend.infer_from_device(2)
        with pytest.raises(BackendError, match='row 1 outside 0..0'):
            backend.input_device_pointer(1)
    finally:
        backend.release()


def test_cuda_graph_is_requested_and_one_graph_per_batch_size(model, fake):
    backend = create_backend('onnxruntime_gpu', model,
                             BackendOptions(max_batch=2, use_cuda_graph=True), load=True)
    try:
        probe, graph = fake.sessions[-2:]
        assert 'enable_cuda_graph' not in probe.asked['CUDAExecutionProvider']
        assert probe.plain_runs == 2 and graph.plain_runs == 0   # host arrays never captured
        assert graph.asked['CUDAExecutionProvider'] == {'device_id': '0',
                                                        'enable_cuda_graph': '1'}
        ids = [r['options']['gpu_graph_id'] for r in graph.runs]
        assert set(ids) == {'2', '1'}              # warmed up (captured) at both sizes
        backend.infer(1)
        assert graph.runs[-1]['options']['gpu_graph_id'] == '1'
        assert backend.info()['cuda_graph'] == 'true'
    finally:
        backend.release()


def test_a_refused_cuda_graph_runs_without_and_says_so(model, fake):
    fake.refuse_graph = True
    lines = []
    backend = OnnxRuntimeGpuBackend(model, BackendOptions(use_cuda_graph=True),
                                    log=lines.append)
    backend.load()
    try:
        assert backend.info()['cuda_graph'] == 'false'
        assert len(lines) == 1 and 'CUDA graph not possible' in lines[0]
        assert 'graph capture feature' in lines[0]
        backend.infer(1)
        assert fake.sessions[-1].runs[-1]['options']['gpu_graph_id'] is None
    finally:
        backend.release()


def test_fixed_batch_model_and_max_batch_errors(fixed_model, fake):
    backend = create_backend('onnxruntime_gpu', fixed_model, load=True)
    assert backend.input_spec.shape == (1, 3, 8, 8) and backend.max_batch == 1
    backend.release()
    with pytest.raises(BackendError, match='fixed at batch 1; max_batch 2'):
        create_backend('onnxruntime_gpu', fixed_model, BackendOptions(max_batch=2),
                       load=True)
    assert all(a.blocks == {} and a.hosts == {} for a in fake.apis)   # failed load freed


def test_tensorrt_ep_first_with_its_cache_in_the_project_dir(model, fake, monkeypatch,
                                                             tmp_path):
    fake.providers.insert(0, 'TensorrtExecutionProvider')
    monkeypatch.setattr(gpu_mod, 'tensorrt_libraries_found', lambda load=None: True)
    opts = BackendOptions(precision='fp16', engine_cache_dir=str(tmp_path / 'engines'),
                          workspace_mb=256)
    backend = create_backend('onnxruntime_gpu', model, opts, load=True)
    try:
        session = fake.sessions[-1]
        assert list(session.asked) == ['TensorrtExecutionProvider', 'CUDAExecutionProvider']
        trt = session.asked['TensorrtExecutionProvider']
        cache = str(tmp_path / 'engines' / 'onnxruntime_trt')
        assert trt['trt_engine_cache_enable'] == 'True'
        assert trt['trt_engine_cache_path'] == trt['trt_timing_cache_path'] == cache
        assert trt['trt_fp16_enable'] == 'True' and trt['trt_int8_enable'] == 'False'
        assert trt['trt_max_workspace_size'] == str(256 << 20)
        assert trt['user_compute_stream'] == str(backend.cuda_stream)
        assert (tmp_path / 'engines' / 'onnxruntime_trt').is_dir()
        assert backend.info()['execution_provider'] == 'TensorrtExecutionProvider'
    finally:
        backend.release()
    no_trt = create_backend('onnxruntime_gpu', model, BackendOptions(
        extra=(('tensorrt_ep', False),)), load=True)
    assert list(fake.sessions[-1].asked) == ['CUDAExecutionProvider']
    no_trt.release()


def test_tensorrt_libraries_probe():
    seen = []

    def load(name):
        seen.append(name)
        raise OSError(name)
    assert gpu_mod.tensorrt_libraries_found(load) is False
    assert seen == list(gpu_mod.NVINFER_LIBRARIES)
    assert gpu_mod.tensorrt_libraries_found(lambda name: object()) is True
