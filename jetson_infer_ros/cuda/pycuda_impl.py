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
CudaApi on pycuda, for Jetsons where pycuda is what is installed.

Why no ``import pycuda.autoinit``: autoinit creates a *new* context with
``make_context()`` and leaves it current on the importing thread only. A ROS 2 node run
by a MultiThreadedExecutor calls back on worker threads that have no current context,
so the first copy there fails with ``invalid device context``; and the context is not
the device's primary context, so pointers and streams made by TensorRT (which uses the
runtime API, i.e. the primary context) do not belong to it. Here the primary context is
retained once, and every call pushes it onto the calling thread and pops it afterwards
(``_current()``), so any thread may call, and memory is shared with TensorRT.

pycuda (2026.1) has no CUDA graph API, so graph capture calls the driver library's
``cuStreamBeginCapture_v2`` / ``cuStreamEndCapture`` / ``cuGraphInstantiateWithFlags`` /
``cuGraphLaunch`` through ctypes on pycuda's raw stream handles.
"""

from __future__ import annotations

import contextlib
import ctypes
import threading
from typing import Any, Dict, Iterator, Sequence, Tuple

import numpy as np

from jetson_infer_ros.cuda.binding import (
    ARG_BYTES, ARG_F32, ARG_I32, CudaApi, CudaError, CudaUnavailable, HostBuffer, KernelArg)

_CU_STREAM_NON_BLOCKING = 1
_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1


class PycudaApi(CudaApi):
    """CudaApi over pycuda with the device's primary context; see the module docstring."""

    name = 'pycuda'

    def __init__(self, device_id: int = 0) -> None:
        try:
            import pycuda.driver as cuda
        except ImportError as exc:
            raise CudaUnavailable(f'pycuda is not installed ({exc})') from None
        self._cuda = cuda
        self.device_id = int(device_id)
        self._lock = threading.Lock()
        try:
            cuda.init()
            self._device = cuda.Device(self.device_id)
            self._ctx = self._device.retain_primary_context()
        except cuda.Error as exc:
            raise CudaUnavailable(f'pycuda could not open device {device_id}: {exc}') from None
        self._allocs: Dict[int, Any] = {}
        self._streams: Dict[int, Any] = {}
        self._events: Dict[int, Any] = {}
        self._modules: Dict[int, Any] = {}
        self._functions: Dict[int, Any] = {}
        self._graphs: Dict[int, Tuple[int, int]] = {}
        self._libcuda: Any = None

    @contextlib.contextmanager
    def _current(self) -> Iterator[None]:
        """Make the primary context current on this thread for the duration of a call."""
        self._ctx.push()
        try:
            yield
        except self._cuda.Error as exc:
            raise CudaError(f'pycuda: {exc}') from None
        finally:
            self._cuda.Context.pop()

    def close(self) -> None:
        """Release the retained primary context (after every allocation is freed)."""
        if self._ctx is not None:
            self._ctx.detach()
            self._ctx = None

    def _stream(self, handle: int) -> Any:
        if handle == 0:
            return None
        return self._streams[handle]

    # -- device ----------------------------------------------------------------------
    def device_name(self) -> str:  # noqa: D102
        return str(self._device.name())

    def compute_capability(self) -> Tuple[int, int]:  # noqa: D102
        major, minor = self._device.compute_capability()
        return int(major), int(minor)

    def versions(self) -> Tuple[int, int]:  # noqa: D102
        built = self._cuda.get_version()  # toolkit pycuda was built against, (13, 0, 0)
        return int(self._cuda.get_driver_version()), int(built[0]) * 1000 + int(built[1]) * 10

    # -- memory ----------------------------------------------------------------------
    def malloc(self, nbytes: int) -> int:  # noqa: D102
        with self._current():
            alloc = self._cuda.mem_alloc(int(nbytes))
        ptr = int(alloc)
        self._allocs[ptr] = alloc
        return ptr

    def free(self, ptr: int) -> None:  # noqa: D102
        alloc = self._allocs.pop(int(ptr), None)
        if alloc is not None:
            with self._current():
                alloc.free()

    def malloc_host(self, nbytes: int) -> HostBuffer:  # noqa: D102
        with self._current():
            array = self._cuda.pagelocked_empty((int(nbytes),), np.uint8)
        return HostBuffer(ptr=int(array.ctypes.data), nbytes=int(nbytes), owner=array)

    def free_host(self, buf: HostBuffer) -> None:  # noqa: D102
        array = buf.owner
        buf.owner = None
        if array is not None:
            with self._current():
                array.base.free()

    @staticmethod
    def _host(ptr: int, nbytes: int) -> Any:
        return (ctypes.c_uint8 * int(nbytes)).from_address(int(ptr))

    def memcpy_htod_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:  # noqa
        with self._current():
            self._cuda.memcpy_htod_async(int(dst), self._host(src, nbytes), self._stream(stream))

    def memcpy_dtoh_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:  # noqa
        with self._current():
            self._cuda.memcpy_dtoh_async(self._host(dst, nbytes), int(src), self._stream(stream))

    def memset_async(self, dst: int, value: int, nbytes: int, stream: int) -> None:  # noqa
        with self._current():
            self._cuda.memset_d8_async(int(dst), int(value), int(nbytes), self._stream(stream))

    # -- streams and events ----------------------------------------------------------
    def stream_create(self) -> int:  # noqa: D102
        with self._current():
            stream = self._cuda.Stream(flags=_CU_STREAM_NON_BLOCKING)
        self._streams[int(stream.handle)] = stream
        return int(stream.handle)

    def stream_synchronize(self, stream: int) -> None:  # noqa: D102
        with self._current():
            if stream == 0:
                self._cuda.Context.synchronize()
            else:
                self._streams[stream].synchronize()

    def stream_destroy(self, stream: int) -> None:  # noqa: D102
        obj = self._streams.pop(stream, None)
        if obj is not None:
            with self._current():
                del obj

    def event_create(self) -> int:  # noqa: D102
        with self._current():
            event = self._cuda.Event()
        handle = id(event)  # pycuda's Event exposes no raw handle
        self._events[handle] = event
        return handle

    def event_record(self, event: int, stream: int) -> None:  # noqa: D102
        with self._current():
            self._events[event].record(self._stream(stream))

    def event_synchronize(self, event: int) -> None:  # noqa: D102
        with self._current():
            self._events[event].synchronize()

    def event_elapsed_ms(self, start: int, end: int) -> float:  # noqa: D102
        with self._current():
            return float(self._events[end].time_since(self._events[start]))

    def event_destroy(self, event: int) -> None:  # noqa: D102
        obj = self._events.pop(event, None)
        if obj is not None:
            with self._current():
                del obj

    # -- CUDA graphs (driver library through ctypes) ---------------------------------
    def _driver(self) -> Any:
        if self._libcuda is None:
            try:
                self._libcuda = ctypes.CDLL('libcuda.so.1')
            except OSError as exc:
                raise CudaError(f'libcuda.so.1 not loadable for graph capture: {exc}') from None
        return self._libcuda

    def _cu(self, what: str, *args: Any) -> None:
        code = getattr(self._driver(), what)(*args)
        if code != 0:
            raise CudaError(f'{what} failed: CUresult {code}')

    def graph_begin_capture(self, stream: int) -> None:  # noqa: D102
        with self._current():
            self._cu('cuStreamBeginCapture_v2', ctypes.c_void_p(stream),
                     ctypes.c_int(_CU_STREAM_CAPTURE_MODE_THREAD_LOCAL))

    def graph_end_capture(self, stream: int) -> int:  # noqa: D102
        graph = ctypes.c_void_p()
        graph_exec = ctypes.c_void_p()
        with self._current():
            self._cu('cuStreamEndCapture', ctypes.c_void_p(stream), ctypes.byref(graph))
            try:
                self._cu('cuGraphInstantiateWithFlags', ctypes.byref(graph_exec), graph,
                         ctypes.c_ulonglong(0))
            except CudaError:
                self._driver().cuGraphDestroy(graph)
                raise
        handle = int(graph_exec.value or 0)
        self._graphs[handle] = (handle, int(graph.value or 0))
        return handle

    def graph_launch(self, graph_exec: int, stream: int) -> None:  # noqa: D102
        with self._current():
            self._cu('cuGraphLaunch', ctypes.c_void_p(self._graphs[graph_exec][0]),
                     ctypes.c_void_p(stream))

    def graph_destroy(self, graph_exec: int) -> None:  # noqa: D102
        pair = self._graphs.pop(graph_exec, None)
        if pair is not None:
            with self._current():
                self._cu('cuGraphExecDestroy', ctypes.c_void_p(pair[0]))
                self._cu('cuGraphDestroy', ctypes.c_void_p(pair[1]))

    # -- kernels ---------------------------------------------------------------------
    def compile_kernel(self, source: str, name: str, options: Sequence[str] = ()) -> bytes:
        """
        Compile with nvcc through ``pycuda.compiler.compile`` (what SourceModule uses).

        The cubin is loaded with module_load(), not SourceModule, so the module is
        loaded under the primary context like everything else here.
        """
        from pycuda.compiler import compile as nvcc_compile
        major, minor = self.compute_capability()
        with self._current():
            try:
                return bytes(nvcc_compile(source, no_extern_c=True, arch=f'sm_{major}{minor}',
                                          options=list(options)))
            except Exception as exc:  # CompileError carries nvcc's stderr
                text = str(exc).strip().replace('\n', ' | ')
                raise CudaError(f'nvcc could not compile {name}: {text}') from None

    def module_load(self, image: bytes) -> int:  # noqa: D102
        with self._current():
            module = self._cuda.module_from_buffer(image)
        handle = id(module)
        self._modules[handle] = module
        return handle

    def module_get_function(self, module: int, name: str) -> int:  # noqa: D102
        with self._current():
            function = self._modules[module].get_function(name)
        handle = id(function)
        self._functions[handle] = function
        return handle

    def module_unload(self, module: int) -> None:  # noqa: D102
        obj = self._modules.pop(module, None)
        if obj is not None:
            with self._current():
                del obj

    def launch(self, function: int, grid: Tuple[int, int, int], block: Tuple[int, int, int],
               args: Sequence[KernelArg], stream: int, shared_bytes: int = 0) -> None:  # noqa
        values = []
        for kind, value in args:
            if kind == ARG_BYTES:
                raw = bytes(value)
                values.append(np.frombuffer(raw, dtype=np.dtype((np.void, len(raw))))[0])
            elif kind == ARG_F32:
                values.append(np.float32(value))
            elif kind == ARG_I32:
                values.append(np.int32(value))
            else:
                values.append(np.uintp(int(value)))
        with self._current():
            self._functions[function](
                *values, block=tuple(int(b) for b in block), grid=tuple(int(g) for g in grid),
                stream=self._stream(stream), shared=int(shared_bytes))
