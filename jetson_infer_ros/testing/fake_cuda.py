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
A host-memory CudaApi, so the code above the binding is exercised in CI without a GPU.

"Device" memory is ordinary host memory and copies are memmoves; the preprocessing
kernel is executed by an independent NumPy transcription of the CUDA source that reads
the packed kernel arguments exactly as the GPU would. That checks the host side (argument
packing, staging, pitch handling, graph capture bookkeeping) but not the CUDA code,
which scripts/gpu_check.py checks on a real GPU.
"""

from __future__ import annotations

import ctypes
import struct
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

from jetson_infer_ros.cuda.binding import CudaApi, HostBuffer, KernelArg
from jetson_infer_ros.gpu import preprocess_kernel as pk


def _bytes_at(ptr: int, nbytes: int) -> np.ndarray:
    return np.ctypeslib.as_array((ctypes.c_uint8 * nbytes).from_address(ptr))


def emulate_preprocess(args: Sequence[KernelArg], half: bool) -> None:
    """Run jir_preprocess_{f32,f16} on host memory from its packed arguments."""
    (_, src), (_, dst), (_, raw) = args
    v = struct.unpack(pk._PARAMS_FORMAT, raw)
    src_w, src_h, pitch, src_c, ch0, ch1, ch2, out_c, dst_w, dst_h = v[:10]
    ax, bx, ay, by = v[10:14]
    bx0, by0, bx1, by1 = v[14:18]
    mul, add, pad = v[18:21], v[21:24], v[24:27]
    img = np.lib.stride_tricks.as_strided(
        _bytes_at(src, pitch * src_h), shape=(src_h, src_w, src_c),
        strides=(pitch, src_c, 1)).astype(np.float32)
    ys, xs = np.mgrid[0:dst_h, 0:dst_w].astype(np.float32)
    sx = xs * np.float32(ax) + np.float32(bx)
    sy = ys * np.float32(ay) + np.float32(by)
    x0f, y0f = np.floor(sx), np.floor(sy)
    wx, wy = sx - x0f, sy - y0f
    x0 = np.clip(x0f.astype(int), 0, src_w - 1)
    x1 = np.clip(x0f.astype(int) + 1, 0, src_w - 1)
    y0 = np.clip(y0f.astype(int), 0, src_h - 1)
    y1 = np.clip(y0f.astype(int) + 1, 0, src_h - 1)
    inside = (xs >= bx0) & (xs < bx1) & (ys >= by0) & (ys < by1)
    dtype = np.float16 if half else np.float32
    out = np.frombuffer((ctypes.c_uint8 * (out_c * dst_h * dst_w * (2 if half else 4)))
                        .from_address(dst), dtype=dtype).reshape(out_c, dst_h, dst_w)
    for c, k in enumerate((ch0, ch1, ch2)[:out_c]):
        p = img[:, :, k]
        top = p[y0, x0] + wx * (p[y0, x1] - p[y0, x0])
        bot = p[y1, x0] + wx * (p[y1, x1] - p[y1, x0])
        value = (top + wy * (bot - top)) * mul[c] + add[c]
        out[c] = np.where(inside, value, pad[c]).astype(dtype)


class FakeCudaApi(CudaApi):
    """Host memory standing in for a GPU; streams run eagerly, graphs replay a list."""

    name = 'fake'

    def __init__(self) -> None:
        self.blocks: Dict[int, np.ndarray] = {}
        self.hosts: Dict[int, np.ndarray] = {}
        self.capturing: Dict[int, List[Callable[[], None]]] = {}
        self.graphs: Dict[int, List[Callable[[], None]]] = {}
        self.functions: Dict[int, str] = {}
        self.launches = 0
        self._next = 1

    def _handle(self) -> int:
        self._next += 1
        return self._next

    def _enqueue(self, stream: int, op: Callable[[], None]) -> None:
        if stream in self.capturing:
            self.capturing[stream].append(op)
        else:
            op()

    def device_name(self) -> str:  # noqa: D102
        return 'Fake GPU'

    def compute_capability(self) -> Tuple[int, int]:  # noqa: D102
        return (9, 0)

    def versions(self) -> Tuple[int, int]:  # noqa: D102
        return (13000, 13000)

    def malloc(self, nbytes: int) -> int:  # noqa: D102
        block = np.empty(max(1, nbytes), dtype=np.uint8)
        ptr = int(block.ctypes.data)
        self.blocks[ptr] = block
        return ptr

    def free(self, ptr: int) -> None:  # noqa: D102
        del self.blocks[ptr]

    def malloc_host(self, nbytes: int) -> HostBuffer:  # noqa: D102
        block = np.empty(max(1, nbytes), dtype=np.uint8)
        self.hosts[int(block.ctypes.data)] = block
        return HostBuffer(ptr=int(block.ctypes.data), nbytes=nbytes, owner=block)

    def free_host(self, buf: HostBuffer) -> None:  # noqa: D102
        del self.hosts[buf.ptr]

    def memcpy_htod_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:  # noqa
        self._enqueue(stream, lambda: _discard(ctypes.memmove(dst, src, nbytes)))

    def memcpy_dtoh_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:  # noqa
        self._enqueue(stream, lambda: _discard(ctypes.memmove(dst, src, nbytes)))

    def memset_async(self, dst: int, value: int, nbytes: int, stream: int) -> None:  # noqa
        self._enqueue(stream, lambda: _discard(ctypes.memset(dst, value, nbytes)))

    def stream_create(self) -> int:  # noqa: D102
        return self._handle()

    def stream_synchronize(self, stream: int) -> None:  # noqa: D102
        pass

    def stream_destroy(self, stream: int) -> None:  # noqa: D102
        pass

    def event_create(self) -> int:  # noqa: D102
        return self._handle()

    def event_record(self, event: int, stream: int) -> None:  # noqa: D102
        pass

    def event_synchronize(self, event: int) -> None:  # noqa: D102
        pass

    def event_elapsed_ms(self, start: int, end: int) -> float:  # noqa: D102
        return 0.001

    def event_destroy(self, event: int) -> None:  # noqa: D102
        pass

    def graph_begin_capture(self, stream: int) -> None:  # noqa: D102
        self.capturing[stream] = []

    def graph_end_capture(self, stream: int) -> int:  # noqa: D102
        handle = self._handle()
        self.graphs[handle] = self.capturing.pop(stream)
        return handle

    def graph_launch(self, graph_exec: int, stream: int) -> None:  # noqa: D102
        for op in self.graphs[graph_exec]:
            op()

    def graph_destroy(self, graph_exec: int) -> None:  # noqa: D102
        del self.graphs[graph_exec]

    def compile_kernel(self, source: str, name: str, options: Sequence[str] = ()) -> bytes:  # noqa
        return b'\x7fELF-fake'

    def module_load(self, image: bytes) -> int:  # noqa: D102
        return self._handle()

    def module_get_function(self, module: int, name: str) -> int:  # noqa: D102
        handle = self._handle()
        self.functions[handle] = name
        return handle

    def module_unload(self, module: int) -> None:  # noqa: D102
        pass

    def launch(self, function: int, grid: Tuple[int, int, int], block: Tuple[int, int, int],
               args: Sequence[KernelArg], stream: int, shared_bytes: int = 0) -> None:  # noqa
        name = self.functions[function]
        half = name == pk.KERNEL_NAME_F16
        frozen: List[Any] = list(args)

        def op() -> None:
            self.launches += 1
            emulate_preprocess(frozen, half)
        self._enqueue(stream, op)


def _discard(_result: object) -> None:
    return None
