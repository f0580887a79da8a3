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
Backend choice on a machine without TensorRT (this one: it is not installable here).

No mocks: the fallback is decided by the real import failure, which is exactly what a
laptop or CI sees, so these tests only run where TensorRT is absent.
"""

from __future__ import annotations

import importlib.util
import logging

import numpy as np
import pytest

from jetson_infer_ros.backends import (
    available_backends, BackendError, BackendOptions, BackendUnavailable, create_backend,
    unavailable_reason)
from jetson_infer_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from jetson_infer_ros.testing import synthetic_onnx


def _tensorrt_installed() -> bool:
    # A bare folder named tensorrt on sys.path (pytest puts test/backends/ there, which
    # has one) is a namespace package, not TensorRT.
    spec = importlib.util.find_spec('tensorrt')
    return spec is not None and spec.origin not in (None, 'namespace')


no_tensorrt = pytest.mark.skipif(
    _tensorrt_installed(),
    reason='checks the fallback that happens where TensorRT is not installed')


@pytest.fixture
def model(tmp_path):
    return synthetic_onnx.classifier(tmp_path / 'm.onnx', (1, 3, 8, 8),
                                     np.eye(3, 4, dtype=np.float32))


@no_tensorrt
def test_available_backends_here():
    assert available_backends() == ['onnxruntime']
    assert unavailable_reason('onnxruntime') is None
    assert 'tensorrt' in unavailable_reason('tensorrt')


@no_tensorrt
def test_auto_falls_back_with_one_line_naming_why(model):
    lines = []
    backend = create_backend('auto', model, BackendOptions(), log=lines.append)
    assert isinstance(backend, OnnxRuntimeBackend)
    assert not backend.loaded
    assert len(lines) == 1
    assert '\n' not in lines[0]
    assert 'TensorRT unavailable' in lines[0] and 'ONNX Runtime' in lines[0]
    assert unavailable_reason('tensorrt') in lines[0]


@no_tensorrt
def test_auto_logs_through_a_logger_and_can_load(model, caplog):
    with caplog.at_level(logging.WARNING):
        backend = create_backend('auto', model, log=logging.getLogger('test.factory'),
                                 load=True)
    assert backend.loaded
    assert backend.infer()['scores'].shape == (1, 4)
    assert [r.getMessage() for r in caplog.records if 'TensorRT' in r.getMessage()]
    backend.release()


@no_tensorrt
def test_explicit_tensorrt_raises_unavailable_with_reason(model):
    with pytest.raises(BackendUnavailable, match='tensorrt') as exc:
        create_backend('tensorrt', model)
    assert isinstance(exc.value, BackendError)
    assert '\n' not in str(exc.value)


def test_explicit_onnxruntime_does_not_log(model):
    lines = []
    backend = create_backend(' ONNXRuntime ', model, log=lines.append, load=True)
    assert isinstance(backend, OnnxRuntimeBackend) and backend.loaded and lines == []


def test_unknown_kind_is_a_value_error(model):
    with pytest.raises(ValueError, match=r"backend must be one of \['auto', 'tensorrt', "
                                         r"'onnxruntime', 'onnxruntime_gpu'\], got 'cuda'"):
        create_backend('cuda', model)


def test_load_failure_is_not_swallowed(tmp_path):
    with pytest.raises(BackendError, match='not found'):
        create_backend('onnxruntime', str(tmp_path / 'missing.onnx'), load=True)
