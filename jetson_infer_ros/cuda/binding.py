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
The one small CUDA interface the TensorRT runner and the GPU preprocessor use.

Two Python bindings exist in the wild: NVIDIA's ``cuda-python`` (``cuda.bindings``; the
only one on recent JetPack / x86 images) and ``pycuda`` (common on older Jetsons, where
it is built from source). Their APIs differ in every detail that matters here: handles
are objects in one and integers in the other, contexts are implicit in one and explicit
in the other. Everything above this module talks to ``CudaApi`` with plain integers
(device pointers, stream / event / graph handles), so the backend and the kernel code
are written once and tested against either binding.

``get_cuda_api()`` picks ``cuda-python`` when it imports, else ``pycuda``, else raises
``CudaUnavailable`` with the reason, so callers can turn it into ``BackendUnavailable``.
"""

from __future__ import annotations

import abc
import ctypes
import dataclasses
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np


class CudaError(RuntimeError):
    """A CUDA call failed; the message names the call and CUDA's error string."""


class CudaUnavailable(CudaError):
    """No usable CUDA binding or driver on this machine (the reason says which)."""


#: kernel argument kinds accepted by ``CudaApi.launch``
ARG_PTR = 'ptr'
ARG_I32 = 'i32'
ARG_F32 = 'f32'
ARG_BYTES = 'bytes'  # a struct passed by value, already packed (4-byte aligned fields)

_KINDS = (ARG_PTR, ARG_I32, ARG_F32, ARG_BYTES)

KernelArg = Tuple[str, Any]


def pack_kernel_args(
        args: Sequence[KernelArg]) -> Tuple['ctypes.Array[ctypes.c_void_p]', List[object]]:
    """
    Build the ``void**`` array cuLaunchKernel takes, plus the objects it points into.

    Both bindings end in the driver's cuLaunchKernel; a ctypes array of pointers to
    ctypes scalars is the one argument format both accept, so packing lives here once.
    Keep the returned list alive until the launch call returns.
    """
    holders: List[object] = []
    for kind, value in args:
        if kind not in _KINDS:
            raise ValueError(f'kernel argument kind {kind!r} is not one of {_KINDS}')
        if kind == ARG_BYTES:
            holders.append(ctypes.create_string_buffer(bytes(value), len(value)))
        elif kind == ARG_F32:
            holders.append(ctypes.c_float(float(value)))
        elif kind == ARG_I32:
            holders.append(ctypes.c_int32(int(value)))
        else:
            holders.append(ctypes.c_void_p(int(value)))
    array = (ctypes.c_void_p * max(1, len(holders)))()
    for i, holder in enumerate(holders):
        array[i] = ctypes.addressof(holder)  # type: ignore[arg-type]
    return array, holders


@dataclasses.dataclass
class HostBuffer:
    """
    Page-locked host memory: its address, its size, and a uint8 NumPy view of it.

    Pinned memory is what makes ``memcpy_*_async`` truly asynchronous; the view lets
    NumPy code (preprocessing, output reading) work on it without a copy.
    """

    ptr: int
    nbytes: int
    owner: Any = None  # the binding's own allocation object, if it has one

    def view(self, dtype: Any, shape: Sequence[int]) -> np.ndarray:
        """Return a NumPy array over the first bytes of the buffer (no copy)."""
        dt = np.dtype(dtype)
        count = int(np.prod(shape)) if len(shape) else 1
        if count * dt.itemsize > self.nbytes:
            raise ValueError(
                f'view of {tuple(shape)} {dt} needs {count * dt.itemsize} bytes, '
                f'buffer has {self.nbytes}')
        raw = (ctypes.c_uint8 * self.nbytes).from_address(self.ptr)
        return np.frombuffer(memoryview(raw), dtype=dt, count=count).reshape(tuple(shape))


class CudaApi(abc.ABC):
    """
    Device memory, pinned host memory, copies, streams, events, graphs and kernels.

    Every handle is an ``int``; ``0`` is the legacy default stream. All methods raise
    ``CudaError`` on failure. Implementations are safe to call from any thread: each
    one makes its context current on the calling thread itself.
    """

    #: 'cuda-python' or 'pycuda'
    name = 'abstract'

    # -- device ----------------------------------------------------------------------
    @abc.abstractmethod
    def device_name(self) -> str:
        """Marketing name of the device, e.g. 'NVIDIA H100 80GB HBM3' or 'Orin'."""

    @abc.abstractmethod
    def compute_capability(self) -> Tuple[int, int]:
        """(major, minor), e.g. (9, 0) for Hopper, (8, 7) for Orin."""

    @abc.abstractmethod
    def versions(self) -> Tuple[int, int]:
        """(driver API version, runtime/toolkit version) as CUDA encodes them (13000)."""

    # -- memory ----------------------------------------------------------------------
    @abc.abstractmethod
    def malloc(self, nbytes: int) -> int:
        """Allocate device memory; returns the device pointer."""

    @abc.abstractmethod
    def free(self, ptr: int) -> None:
        """Free what malloc() returned."""

    @abc.abstractmethod
    def malloc_host(self, nbytes: int) -> HostBuffer:
        """Allocate page-locked host memory."""

    @abc.abstractmethod
    def free_host(self, buf: HostBuffer) -> None:
        """Free what malloc_host() returned."""

    @abc.abstractmethod
    def memcpy_htod_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        """Copy host (pinned for true asynchrony) to device on ``stream``."""

    @abc.abstractmethod
    def memcpy_dtoh_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        """Copy device to host on ``stream``."""

    @abc.abstractmethod
    def memset_async(self, dst: int, value: int, nbytes: int, stream: int) -> None:
        """Fill device bytes with ``value`` on ``stream`` (tests poison outputs with it)."""

    # -- streams and events ----------------------------------------------------------
    @abc.abstractmethod
    def stream_create(self) -> int:
        """Create a non-blocking stream (does not synchronise with stream 0)."""

    @abc.abstractmethod
    def stream_synchronize(self, stream: int) -> None:
        """Block until all work queued on ``stream`` is done."""

    @abc.abstractmethod
    def stream_destroy(self, stream: int) -> None:
        """Destroy a stream from stream_create()."""

    @abc.abstractmethod
    def event_create(self) -> int:
        """Create a timing event."""

    @abc.abstractmethod
    def event_record(self, event: int, stream: int) -> None:
        """Record ``event`` on ``stream``."""

    @abc.abstractmethod
    def event_synchronize(self, event: int) -> None:
        """Block until ``event`` has happened."""

    @abc.abstractmethod
    def event_elapsed_ms(self, start: int, end: int) -> float:
        """Milliseconds between two recorded, completed events."""

    @abc.abstractmethod
    def event_destroy(self, event: int) -> None:
        """Destroy an event from event_create()."""

    # -- CUDA graphs -----------------------------------------------------------------
    @abc.abstractmethod
    def graph_begin_capture(self, stream: int) -> None:
        """Start capturing ``stream`` (thread-local mode: other threads may keep working)."""

    @abc.abstractmethod
    def graph_end_capture(self, stream: int) -> int:
        """Stop capturing and instantiate; returns an executable graph handle."""

    @abc.abstractmethod
    def graph_launch(self, graph_exec: int, stream: int) -> None:
        """Replay an executable graph on ``stream``."""

    @abc.abstractmethod
    def graph_destroy(self, graph_exec: int) -> None:
        """Destroy an executable graph (and the graph it came from)."""

    # -- kernels ---------------------------------------------------------------------
    @abc.abstractmethod
    def compile_kernel(self, source: str, name: str, options: Sequence[str] = ()) -> bytes:
        """Compile CUDA C source to a cubin for this device (NVRTC or nvcc)."""

    @abc.abstractmethod
    def module_load(self, image: bytes) -> int:
        """Load a cubin / PTX / fatbin image; returns a module handle."""

    @abc.abstractmethod
    def module_get_function(self, module: int, name: str) -> int:
        """Look up an ``extern "C"`` kernel in a loaded module."""

    @abc.abstractmethod
    def module_unload(self, module: int) -> None:
        """Unload a module (its functions become invalid)."""

    @abc.abstractmethod
    def launch(self, function: int, grid: Tuple[int, int, int], block: Tuple[int, int, int],
               args: Sequence[KernelArg], stream: int, shared_bytes: int = 0) -> None:
        """Launch a kernel; ``args`` are (ARG_PTR | ARG_I32 | ARG_F32 | ARG_BYTES, value)."""

    # -- shared helpers --------------------------------------------------------------
    def close(self) -> None:
        """Release what the binding itself holds (a retained context); idempotent."""

    def arch_option(self) -> str:
        """Return the NVRTC/nvcc option targeting this device's own SASS (no PTX JIT)."""
        major, minor = self.compute_capability()
        return f'--gpu-architecture=sm_{major}{minor}'


def get_cuda_api(device_id: int = 0, prefer: Optional[str] = None) -> CudaApi:
    """
    Return a CudaApi for ``device_id`` using cuda-python, else pycuda.

    ``prefer`` ('cuda-python' or 'pycuda') tries that binding only. Raises
    ``CudaUnavailable`` naming why each binding could not be used.
    """
    order = [prefer] if prefer else ['cuda-python', 'pycuda']
    reasons = []
    for choice in order:
        try:
            if choice == 'cuda-python':
                from jetson_infer_ros.cuda.cuda_python_impl import CudaPythonApi
                return CudaPythonApi(device_id)
            if choice == 'pycuda':
                from jetson_infer_ros.cuda.pycuda_impl import PycudaApi
                return PycudaApi(device_id)
            raise CudaUnavailable(f'unknown CUDA binding {choice!r} (cuda-python | pycuda)')
        except CudaUnavailable as exc:
            reasons.append(f'{choice}: {exc}')
    raise CudaUnavailable('no usable CUDA binding: ' + '; '.join(reasons))
