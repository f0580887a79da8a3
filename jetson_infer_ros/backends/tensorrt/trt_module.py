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
Which TensorRT Python module this process uses, and where TensorRT-RTX differs.

Two NVIDIA products answer to the same Python API: TensorRT (module ``tensorrt``; the
Jetsons and data-centre GPUs) and TensorRT-RTX (module ``tensorrt_rtx_bindings``; RTX
GPUs, pip-installable). TensorRT is preferred when both are installed. Everything the
backend does with either goes through ``trt`` below: under mypy it *is* ``tensorrt``
(checked against tensorrt-stubs), at run time a proxy that imports the chosen module on
first use, so importing the backend imports no GPU library.

TensorRT-RTX differs from TensorRT 10/11 in exactly these ways, and only here and in
``capabilities.detect`` does the code know it:

- its version is its own (1.x), not TensorRT's;
- it is strongly typed only (no FP16/INT8 builder flags, no calibrator) and has no DLA;
- its builder needs no GPU: an engine is built ahead of time and is portable to every
  GPU of compute capability 8.0, 8.6, 8.9 and 12.x (``RTX_PORTABLE_TARGET``), compiled
  for the device when it is loaded; a timing cache would make the builder look for a
  GPU, so none is used;
- its runtime refuses other GPUs (the H200's 9.0, every Jetson), so there it is
  "unavailable" and ``backend: auto`` moves on.

A ``tensorrt`` folder that holds only type stubs (``tensorrt-stubs`` without TensorRT)
imports as an empty namespace package; it is treated as no TensorRT, without a warning.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any, Dict, Optional, Tuple, TYPE_CHECKING

from jetson_infer_ros.backends.base import BackendUnavailable
from jetson_infer_ros.backends.tensorrt.capabilities import (
    detect, RTX_PRODUCT, TensorRTVersionError, TrtCapabilities)

if TYPE_CHECKING:
    import tensorrt as trt

#: (module, product), in order of preference
MODULES: Tuple[Tuple[str, str], ...] = (
    ('tensorrt', 'TensorRT'), ('tensorrt_rtx_bindings', RTX_PRODUCT))

#: compute capabilities TensorRT-RTX engines run on by default (12.x: any minor)
RTX_COMPUTE = ((8, 0), (8, 6), (8, 9))

#: the engine-cache "GPU" of a TensorRT-RTX engine: one engine serves them all
RTX_PORTABLE_TARGET = ('TensorRT-RTX portable (compute 8.0, 8.6, 8.9, 12.x)', (0, 0))


def _present(name: str) -> bool:
    """Tell whether module ``name`` can be imported, without importing it."""
    if name in sys.modules:
        module = sys.modules[name]
        return module is not None and isinstance(getattr(module, '__version__', None), str)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    # type stubs only: a namespace package (no __init__.py, so no origin)
    return spec is not None and spec.origin not in (None, 'namespace')


def find() -> Optional[Tuple[str, str]]:
    """Return (module, product) of the TensorRT this process would use, or None."""
    for name, product in MODULES:
        if _present(name):
            return name, product
    return None


def not_installed_reason() -> str:
    """Say that no TensorRT is here, naming type stubs if that is all there is."""
    stubs = ''
    try:
        spec = importlib.util.find_spec('tensorrt')
        if spec is not None and spec.origin in (None, 'namespace'):
            stubs = '; "tensorrt" here is only type stubs'
    except (ImportError, ValueError):
        if 'tensorrt' in sys.modules and sys.modules['tensorrt'] is not None:
            stubs = '; "tensorrt" here is only type stubs'
    names = ' nor '.join(name for name, _ in MODULES)
    return f'tensorrt: not installed (neither {names} importable{stubs})'


def load() -> Tuple[Any, TrtCapabilities]:
    """Import the TensorRT in use and read its capabilities, or BackendUnavailable."""
    found = find()
    if found is None:
        raise BackendUnavailable(not_installed_reason())
    name, product = found
    try:
        module = importlib.import_module(name)
        known = _CAPS.get(name)
        if known is not None and known[0] is module:
            return module, known[1]
    except Exception as exc:  # a broken install can fail with anything at import
        first = (str(exc).splitlines() or [''])[0]
        raise BackendUnavailable(
            f'tensorrt: {product} ({name}) import failed ({type(exc).__name__}: {first})'
        ) from None
    try:
        caps = detect(module)
        caps.require_supported()
    except TensorRTVersionError as exc:
        raise BackendUnavailable(f'tensorrt: {exc}') from None
    _CAPS[name] = (module, caps)
    return module, caps


_CAPS: Dict[str, Tuple[Any, TrtCapabilities]] = {}


def rtx_runs_on(compute_capability: Tuple[int, int]) -> bool:
    """Tell whether a TensorRT-RTX engine runs on a GPU of this compute capability."""
    return tuple(compute_capability) in RTX_COMPUTE or int(compute_capability[0]) == 12


def rtx_device_reason(device_id: int = 0) -> Optional[str]:
    """
    Why TensorRT-RTX cannot run inference here (None when it can).

    Looks for the NVIDIA driver library first (a CPU-only machine answers in
    microseconds, without loading a CUDA binding), then asks the device, once per
    process (the answer cannot change, and opening a device takes a context).
    """
    if device_id not in _DEVICE_REASONS:
        _DEVICE_REASONS[device_id] = _rtx_device_reason(device_id)
    return _DEVICE_REASONS[device_id]


_DEVICE_REASONS: Dict[int, Optional[str]] = {}


def _rtx_device_reason(device_id: int) -> Optional[str]:
    import ctypes
    try:
        ctypes.CDLL('libcuda.so.1')
    except OSError:
        return f'{RTX_PRODUCT} runtime: no NVIDIA driver here (libcuda.so.1)'
    from jetson_infer_ros.cuda.binding import CudaUnavailable, get_cuda_api
    try:
        api = get_cuda_api(device_id)
    except CudaUnavailable as exc:
        return f'{RTX_PRODUCT} runtime: {exc}'
    try:
        cc, name = api.compute_capability(), api.device_name()
    finally:
        api.close()
    if rtx_runs_on(cc):
        return None
    return (f'{RTX_PRODUCT} runs on RTX GPUs (compute capability 8.0, 8.6, 8.9, 12.x); '
            f'{name} is {cc[0]}.{cc[1]}')


class _Proxy:
    """Attribute access on the TensorRT module in use, imported on first use."""

    def __getattr__(self, name: str) -> Any:
        return getattr(load()[0], name)


if not TYPE_CHECKING:   # mypy reads the stubs' module (imported above) instead
    trt = _Proxy()  # noqa: F811

__all__ = ['MODULES', 'RTX_PORTABLE_TARGET', 'find', 'load', 'rtx_device_reason',
           'rtx_runs_on', 'trt']
