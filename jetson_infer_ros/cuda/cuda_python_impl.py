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
CudaApi on NVIDIA's cuda-python (``cuda.bindings`` runtime, driver and NVRTC).

cuda-python is what TensorRT's own samples use and what JetPack 6 / x86 images ship.
Its modules moved: 12.x and 13.x expose ``cuda.bindings.runtime/driver/nvrtc``; older
releases (11.x, early 12.x) expose ``cuda.cudart``, ``cuda.cuda`` and ``cuda.nvrtc``.
Both are tried. Every call returns ``(error, *results)``; ``_check`` turns a non-zero
error into a ``CudaError`` naming the call.

Memory, copies, streams, events and graphs go through the runtime API, so they share
the device's primary context with TensorRT (which also uses the runtime). Kernels go
through the driver API (cuModuleLoadData / cuLaunchKernel), which needs a current
context on the calling thread: ``_ensure_current()`` calls ``cudaSetDevice`` once per
thread, which makes the primary context current there. That is what keeps this safe
under rclpy's MultiThreadedExecutor, where callbacks move between worker threads.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any, Dict, Sequence, Tuple

from jetson_infer_ros.cuda.binding import (
    CudaApi, CudaError, CudaUnavailable, HostBuffer, KernelArg, pack_kernel_args)


def _import_bindings() -> Tuple[Any, Any, Any]:
    """Return (runtime, driver, nvrtc) modules from whichever layout is installed."""
    try:
        from cuda.bindings import driver, nvrtc, runtime
        return runtime, driver, nvrtc
    except ImportError as new_exc:
        try:  # cuda-python < 12.6 layout
            from cuda import cuda as driver  # type: ignore[attr-defined,no-redef]
            from cuda import cudart as runtime  # type: ignore[attr-defined,no-redef]
            from cuda import nvrtc  # type: ignore[attr-defined,no-redef]
            return runtime, driver, nvrtc
        except ImportError:
            raise CudaUnavailable(
                f'cuda-python is not installed (import cuda.bindings: {new_exc})') from None


class CudaPythonApi(CudaApi):
    """CudaApi over cuda-python; see the module docstring for the context rules."""

    name = 'cuda-python'

    def __init__(self, device_id: int = 0) -> None:
        self._rt, self._drv, self._nvrtc = _import_bindings()
        self.device_id = int(device_id)
        self._local = threading.local()
        self._streams: Dict[int, Any] = {}
        self._events: Dict[int, Any] = {}
        self._graphs: Dict[int, Tuple[Any, Any]] = {}
        self._modules: Dict[int, Any] = {}
        self._functions: Dict[int, Any] = {}
        try:
            self._ensure_current()
            props = self._check(self._rt.cudaGetDeviceProperties(self.device_id),
                                'cudaGetDeviceProperties')
        except CudaError as exc:
            raise CudaUnavailable(str(exc)) from None
        except Exception as exc:  # driver library missing: cuda.pathfinder raises its own
            raise CudaUnavailable(f'CUDA driver not usable: {exc}') from None
        raw_name = props.name
        self._name = (raw_name.split(b'\0', 1)[0].decode(errors='replace')
                      if isinstance(raw_name, (bytes, bytearray)) else str(raw_name))
        self._cc = (int(props.major), int(props.minor))

    # -- error handling --------------------------------------------------------------
    def _check(self, result: Any, what: str) -> Any:
        """Raise CudaError unless the call succeeded; return its (single) result."""
        if isinstance(result, tuple):
            err, rest = result[0], result[1:]
        else:
            err, rest = result, ()
        code = int(err)
        if code != 0:
            raise CudaError(f'{what} failed: {self._describe(err)}')
        if not rest:
            return None
        return rest[0] if len(rest) == 1 else rest

    def _describe(self, err: Any) -> str:
        name = getattr(err, 'name', str(err))
        try:
            if isinstance(err, self._rt.cudaError_t):
                text = self._rt.cudaGetErrorString(err)[1]
            elif isinstance(err, self._drv.CUresult):
                text = self._drv.cuGetErrorString(err)[1]
            elif isinstance(err, self._nvrtc.nvrtcResult):
                text = self._nvrtc.nvrtcGetErrorString(err)[1]
            else:
                text = b''
        except Exception:  # describing an error must never raise a second one
            text = b''
        if isinstance(text, bytes):
            text = text.decode(errors='replace')
        return f'{name} ({text})' if text else str(name)

    def _ensure_current(self) -> None:
        if not getattr(self._local, 'ready', False):
            self._check(self._rt.cudaSetDevice(self.device_id), 'cudaSetDevice')
            self._local.ready = True

    def _stream(self, handle: int) -> Any:
        obj = self._streams.get(handle)
        return obj if obj is not None else self._rt.cudaStream_t(int(handle))

    # -- device ----------------------------------------------------------------------
    def device_name(self) -> str:  # noqa: D102
        return self._name

    def compute_capability(self) -> Tuple[int, int]:  # noqa: D102
        return self._cc

    def versions(self) -> Tuple[int, int]:  # noqa: D102
        drv = self._check(self._rt.cudaDriverGetVersion(), 'cudaDriverGetVersion')
        rt = self._check(self._rt.cudaRuntimeGetVersion(), 'cudaRuntimeGetVersion')
        return int(drv), int(rt)

    # -- memory ----------------------------------------------------------------------
    def malloc(self, nbytes: int) -> int:  # noqa: D102
        self._ensure_current()
        return int(self._check(self._rt.cudaMalloc(int(nbytes)), 'cudaMalloc'))

    def free(self, ptr: int) -> None:  # noqa: D102
        self._ensure_current()
        self._check(self._rt.cudaFree(int(ptr)), 'cudaFree')

    def malloc_host(self, nbytes: int) -> HostBuffer:  # noqa: D102
        self._ensure_current()
        ptr = self._check(self._rt.cudaMallocHost(int(nbytes)), 'cudaMallocHost')
        return HostBuffer(ptr=int(ptr), nbytes=int(nbytes))

    def free_host(self, buf: HostBuffer) -> None:  # noqa: D102
        self._ensure_current()
        self._check(self._rt.cudaFreeHost(int(buf.ptr)), 'cudaFreeHost')

    def memcpy_htod_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:  # noqa
        self._ensure_current()
        self._check(self._rt.cudaMemcpyAsync(
            int(dst), int(src), int(nbytes), self._rt.cudaMemcpyKind.cudaMemcpyHostToDevice,
            self._stream(stream)), 'cudaMemcpyAsync(HtoD)')

    def memcpy_dtoh_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:  # noqa
        self._ensure_current()
        self._check(self._rt.cudaMemcpyAsync(
            int(dst), int(src), int(nbytes), self._rt.cudaMemcpyKind.cudaMemcpyDeviceToHost,
            self._stream(stream)), 'cudaMemcpyAsync(DtoH)')

    def memset_async(self, dst: int, value: int, nbytes: int, stream: int) -> None:  # noqa
        self._ensure_current()
        self._check(self._rt.cudaMemsetAsync(int(dst), int(value), int(nbytes),
                                             self._stream(stream)), 'cudaMemsetAsync')

    # -- streams and events ----------------------------------------------------------
    def stream_create(self) -> int:  # noqa: D102
        self._ensure_current()
        stream = self._check(self._rt.cudaStreamCreateWithFlags(
            self._rt.cudaStreamNonBlocking), 'cudaStreamCreateWithFlags')
        handle = int(stream)
        self._streams[handle] = stream
        return handle

    def stream_synchronize(self, stream: int) -> None:  # noqa: D102
        self._ensure_current()
        self._check(self._rt.cudaStreamSynchronize(self._stream(stream)),
                    'cudaStreamSynchronize')

    def stream_destroy(self, stream: int) -> None:  # noqa: D102
        self._ensure_current()
        obj = self._streams.pop(stream, None)
        if obj is not None:
            self._check(self._rt.cudaStreamDestroy(obj), 'cudaStreamDestroy')

    def event_create(self) -> int:  # noqa: D102
        self._ensure_current()
        event = self._check(self._rt.cudaEventCreate(), 'cudaEventCreate')
        handle = int(event)
        self._events[handle] = event
        return handle

    def event_record(self, event: int, stream: int) -> None:  # noqa: D102
        self._ensure_current()
        self._check(self._rt.cudaEventRecord(self._events[event], self._stream(stream)),
                    'cudaEventRecord')

    def event_synchronize(self, event: int) -> None:  # noqa: D102
        self._ensure_current()
        self._check(self._rt.cudaEventSynchronize(self._events[event]), 'cudaEventSynchronize')

    def event_elapsed_ms(self, start: int, end: int) -> float:  # noqa: D102
        self._ensure_current()
        return float(self._check(self._rt.cudaEventElapsedTime(
            self._events[start], self._events[end]), 'cudaEventElapsedTime'))

    def event_destroy(self, event: int) -> None:  # noqa: D102
        self._ensure_current()
        obj = self._events.pop(event, None)
        if obj is not None:
            self._check(self._rt.cudaEventDestroy(obj), 'cudaEventDestroy')

    # -- CUDA graphs -----------------------------------------------------------------
    def graph_begin_capture(self, stream: int) -> None:  # noqa: D102
        self._ensure_current()
        mode = self._rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal
        self._check(self._rt.cudaStreamBeginCapture(self._stream(stream), mode),
                    'cudaStreamBeginCapture')

    def graph_end_capture(self, stream: int) -> int:  # noqa: D102
        self._ensure_current()
        graph = self._check(self._rt.cudaStreamEndCapture(self._stream(stream)),
                            'cudaStreamEndCapture')
        try:
            graph_exec = self._check(self._rt.cudaGraphInstantiate(graph, 0),
                                     'cudaGraphInstantiate')
        except CudaError:
            self._rt.cudaGraphDestroy(graph)
            raise
        handle = int(graph_exec)
        self._graphs[handle] = (graph_exec, graph)
        return handle

    def graph_launch(self, graph_exec: int, stream: int) -> None:  # noqa: D102
        self._ensure_current()
        self._check(self._rt.cudaGraphLaunch(self._graphs[graph_exec][0],
                                             self._stream(stream)), 'cudaGraphLaunch')

    def graph_destroy(self, graph_exec: int) -> None:  # noqa: D102
        self._ensure_current()
        pair = self._graphs.pop(graph_exec, None)
        if pair is not None:
            self._check(self._rt.cudaGraphExecDestroy(pair[0]), 'cudaGraphExecDestroy')
            self._check(self._rt.cudaGraphDestroy(pair[1]), 'cudaGraphDestroy')

    # -- kernels ---------------------------------------------------------------------
    def compile_kernel(self, source: str, name: str, options: Sequence[str] = ()) -> bytes:
        """
        Compile with NVRTC to this device's SASS; PTX only if NVRTC lacks the arch.

        A cubin, unlike PTX, also loads on a driver older than the NVRTC that made it
        (CUDA minor-version compatibility), which is the usual state of a Jetson.
        """
        return nvrtc_compile(self._nvrtc, source, name, self.compute_capability(),
                             options, self._describe)

    def module_load(self, image: bytes) -> int:  # noqa: D102
        self._ensure_current()
        module = self._check(self._drv.cuModuleLoadData(image), 'cuModuleLoadData')
        handle = int(module)
        self._modules[handle] = module
        return handle

    def module_get_function(self, module: int, name: str) -> int:  # noqa: D102
        self._ensure_current()
        function = self._check(self._drv.cuModuleGetFunction(
            self._modules[module], name.encode()), f'cuModuleGetFunction({name})')
        handle = int(function)
        self._functions[handle] = function
        return handle

    def module_unload(self, module: int) -> None:  # noqa: D102
        self._ensure_current()
        obj = self._modules.pop(module, None)
        if obj is not None:
            self._check(self._drv.cuModuleUnload(obj), 'cuModuleUnload')

    def launch(self, function: int, grid: Tuple[int, int, int], block: Tuple[int, int, int],
               args: Sequence[KernelArg], stream: int, shared_bytes: int = 0) -> None:  # noqa
        self._ensure_current()
        array, holders = pack_kernel_args(args)
        self._check(self._drv.cuLaunchKernel(
            self._functions[function], int(grid[0]), int(grid[1]), int(grid[2]),
            int(block[0]), int(block[1]), int(block[2]), int(shared_bytes),
            self._drv.CUstream(int(stream)), ctypes.addressof(array), 0), 'cuLaunchKernel')
        del holders


def nvrtc_compile(nvrtc: Any, source: str, name: str, cc: Tuple[int, int],
                  options: Sequence[str], describe: Any = str) -> bytes:
    """
    Compile ``source`` with NVRTC for compute capability ``cc``; return cubin (or PTX).

    Kept as a function of the nvrtc module alone (no device needed) so tests and CI can
    check that the kernel source compiles on a machine without a GPU.
    """
    def check(result: Any, what: str) -> Any:
        err = result[0] if isinstance(result, tuple) else result
        if int(err) != 0:
            raise CudaError(f'{what} failed: {describe(err)}')
        return result[1] if isinstance(result, tuple) and len(result) > 1 else None

    prog = check(nvrtc.nvrtcCreateProgram(source.encode(), f'{name}.cu'.encode(), 0, [], []),
                 'nvrtcCreateProgram')
    try:
        for target, want_cubin in ((f'sm_{cc[0]}{cc[1]}', True),
                                   (f'compute_{cc[0]}{cc[1]}', False)):
            opts = [f'--gpu-architecture={target}'.encode()] + [o.encode() for o in options]
            err = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)[0]
            if int(err) == 0:
                break
            if 'INVALID_OPTION' in str(err) or 'INVALID_INPUT' in str(err):
                continue  # this NVRTC does not know the arch: fall back to PTX
            size = check(nvrtc.nvrtcGetProgramLogSize(prog), 'nvrtcGetProgramLogSize')
            log = b' ' * int(size)
            check(nvrtc.nvrtcGetProgramLog(prog, log), 'nvrtcGetProgramLog')
            text = log.decode(errors='replace').strip().replace('\n', ' | ')
            raise CudaError(f'NVRTC could not compile {name}: {text}')
        else:
            raise CudaError(f'NVRTC does not support compute capability {cc[0]}.{cc[1]}')
        if want_cubin:
            size = check(nvrtc.nvrtcGetCUBINSize(prog), 'nvrtcGetCUBINSize')
            image = b' ' * int(size)
            check(nvrtc.nvrtcGetCUBIN(prog, image), 'nvrtcGetCUBIN')
        else:
            size = check(nvrtc.nvrtcGetPTXSize(prog), 'nvrtcGetPTXSize')
            image = b' ' * int(size)
            check(nvrtc.nvrtcGetPTX(prog, image), 'nvrtcGetPTX')
        return image
    finally:
        nvrtc.nvrtcDestroyProgram(prog)
