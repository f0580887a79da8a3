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
Pick the inference backend by name, so callers never import TensorRT themselves.

The same launch file runs on a Jetson (TensorRT) and on a laptop or CI (ONNX Runtime):
``backend: auto`` tries TensorRT, then ONNX Runtime on CUDA (``onnxruntime_gpu``), then
the CPU, with exactly one log line that says which and why, while an explicit
``backend: tensorrt`` or ``onnxruntime_gpu`` on a machine without it fails with that
reason instead of silently running on the CPU. The runtimes are imported only here,
lazily, so importing the package needs none of them.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import logging
from typing import Any, List, Optional

from jetson_infer_ros.backends.base import (
    Backend, BackendError, BackendOptions, BackendUnavailable, TensorSpec)

#: accepted values of the ``backend`` parameter
BACKEND_KINDS = ('auto', 'tensorrt', 'onnxruntime', 'onnxruntime_gpu')

_TENSORRT_MODULE = 'jetson_infer_ros.backends.tensorrt'

__all__ = [
    'BACKEND_KINDS', 'Backend', 'BackendError', 'BackendOptions', 'BackendUnavailable',
    'TensorSpec', 'available_backends', 'create_backend', 'unavailable_reason',
]


def _tensorrt_class():
    """TensorRTBackend, or BackendUnavailable with the reason it cannot be used here."""
    try:
        module = importlib.import_module(_TENSORRT_MODULE)
    except BackendUnavailable:
        raise
    except Exception as exc:   # ImportError, or a broken/stub install failing at import
        first = (str(exc).splitlines() or [''])[0]
        raise BackendUnavailable(
            f'tensorrt: not importable ({type(exc).__name__}: {first})') from None
    cls = getattr(module, 'TensorRTBackend', None)
    if cls is None:
        raise BackendUnavailable(f'tensorrt: {_TENSORRT_MODULE} has no TensorRTBackend')
    check = getattr(module, 'check_available', None)
    if callable(check):
        check()   # raises BackendUnavailable naming what is missing (tensorrt, cuda)
    return cls


def _onnxruntime_class():
    from jetson_infer_ros.backends.onnxruntime_backend import (
        _import_onnxruntime, OnnxRuntimeBackend)
    _import_onnxruntime()
    return OnnxRuntimeBackend


def _onnxruntime_gpu_class(log: Any = None):
    """Return OnnxRuntimeGpuBackend (logging through ``log``), or raise BackendUnavailable."""
    from jetson_infer_ros.backends.onnxruntime_gpu import (
        check_available, OnnxRuntimeGpuBackend)
    check_available()
    return functools.partial(OnnxRuntimeGpuBackend, log=functools.partial(_say, log))


def _say(log: Any, message: str) -> None:
    """Log through a Python or rclpy logger (``.warning``) or any callable."""
    if log is None:
        logging.getLogger(__name__).warning(message)
    elif hasattr(log, 'warning'):
        log.warning(message)
    else:
        log(message)


def _info(log: Any):
    """Return a one-argument callable for progress lines: ``log.info``, ``log``, or logging."""
    if log is None:
        return logging.getLogger(__name__).info
    return log.info if hasattr(log, 'info') else log


def _build(cls, model_path: str, options: BackendOptions, load: bool,
           log: Any = None) -> Backend:
    # a TensorRT build takes minutes on a Jetson: its progress goes to the caller's log
    backend = (cls(model_path, options, log=_info(log)) if getattr(cls, 'accepts_log', False)
               else cls(model_path, options))
    if load:
        try:
            backend.load()
        except BaseException:
            backend.release()
            raise
    return backend


def create_backend(kind: str, model_path: str, options: Optional[BackendOptions] = None,
                   log: Any = None, load: bool = False) -> Backend:
    """
    Create a backend of ``kind`` for ``model_path``.

    ``kind`` is one of BACKEND_KINDS. ``auto`` prefers TensorRT, then ONNX Runtime on
    the GPU, then on the CPU: whichever it takes, it logs one line saying which and why
    the ones before it were unavailable here (BackendUnavailable: not installed, no CUDA
    device); other failures (a bad model, a failed engine build) are raised, not hidden.
    With ``load=True`` the backend is loaded too, so an unavailability that only shows at
    load time also falls back. ``log`` is a logger with ``.warning`` or a callable.
    """
    key = str(kind).strip().lower()
    if key not in BACKEND_KINDS:
        raise ValueError(f'backend must be one of {list(BACKEND_KINDS)}, got {kind!r}')
    options = options or BackendOptions()
    if key == 'onnxruntime':
        return _build(_onnxruntime_class(), model_path, options, load)
    if key == 'tensorrt':
        return _build(_tensorrt_class(), model_path, options, load, log)
    if key == 'onnxruntime_gpu':
        return _build(_onnxruntime_gpu_class(log), model_path, options, load, log)
    try:
        backend = _build(_tensorrt_class(), model_path, options, load, log)
        _say(log, 'backend auto: TensorRT is available here; using it')
        return backend
    except BackendUnavailable as exc:
        reason = str(exc)
    try:
        backend = _build(_onnxruntime_gpu_class(log), model_path, options, load, log)
        _say(log, f'backend auto: TensorRT unavailable ({reason}); using ONNX Runtime on '
                  'the GPU (onnxruntime_gpu)')
        return backend
    except BackendUnavailable as exc:
        gpu_reason = str(exc)
    _say(log, f'backend auto: TensorRT unavailable ({reason}); ONNX Runtime GPU unavailable '
              f'({gpu_reason}); using ONNX Runtime on the CPU')
    return _build(_onnxruntime_class(), model_path, options, load)


def available_backends() -> List[str]:
    """Backend names whose runtime is usable on this machine, preferred first."""
    names = []
    try:
        _tensorrt_class()
        names.append('tensorrt')
    except BackendUnavailable:
        pass
    try:
        _onnxruntime_gpu_class()
        names.append('onnxruntime_gpu')
    except BackendUnavailable:
        pass
    if importlib.util.find_spec('onnxruntime') is not None:
        names.append('onnxruntime')
    return names


def unavailable_reason(kind: str) -> Optional[str]:
    """Why backend ``kind`` cannot run here, or None when it can."""
    try:
        key = str(kind).strip().lower()
        if key == 'tensorrt':
            _tensorrt_class()
        elif key == 'onnxruntime_gpu':
            _onnxruntime_gpu_class()
        else:
            _onnxruntime_class()
    except BackendUnavailable as exc:
        return str(exc)
    return None
