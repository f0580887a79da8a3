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
The TensorRT backend: a cached engine, preallocated buffers, one stream, no per-frame work.

Only the name-based I/O API is used (``num_io_tensors``, ``get_tensor_name``,
``set_input_shape``, ``set_tensor_address``, ``execute_async_v3``): it exists from
TensorRT 8.5 (JetPack 5.1) and is the only one left in 10 and 11. Every tensor gets a
device buffer and a pinned host buffer at load time, sized for ``max_batch``; an
inference is one H2D copy of the batch rows, one enqueue, one D2H copy per output and a
stream synchronise, all on the context's own stream. With ``use_cuda_graph`` that
sequence is captured once per batch size and replayed (re-captured when the batch
changes), which removes most of the launch overhead on a Jetson's slow CPU.

Outputs are NumPy views of the pinned host buffers: they are overwritten by the next
``infer()``, so callers copy what they keep (the Backend contract says so too).

TensorRT (or TensorRT-RTX, ``trt_module``) is imported in ``load()``, after a GPU was
opened; importing this module needs only NumPy.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from typing import Any, Callable, Dict, List, Optional, Tuple, TYPE_CHECKING

import numpy as np

from jetson_infer_ros.backends.base import (
    BackendError, BackendOptions, BackendUnavailable, TensorSpec)
from jetson_infer_ros.backends.device_bound import DeviceBoundBackend
from jetson_infer_ros.backends.tensorrt import trt_module
from jetson_infer_ros.backends.tensorrt.capabilities import RTX_PRODUCT, TrtCapabilities
from jetson_infer_ros.backends.tensorrt.trt_module import trt

if TYPE_CHECKING:
    import tensorrt as trt_types

    from jetson_infer_ros.cuda.binding import CudaApi, HostBuffer

#: files taken as prebuilt, serialized engines rather than ONNX
ENGINE_SUFFIXES = ('.engine', '.plan', '.trt')


def import_tensorrt() -> Tuple[Any, TrtCapabilities]:
    """
    Import TensorRT (or TensorRT-RTX) and read its capabilities, or BackendUnavailable.

    Which module, and how type stubs alone are told apart, is ``trt_module``'s one job.
    """
    return trt_module.load()


def check_available(device_id: int = 0) -> None:
    """
    Raise BackendUnavailable unless TensorRT can run here; imports no TensorRT.

    TensorRT with a CUDA Python binding is enough (it is installed where its GPU is).
    TensorRT-RTX is also pip-installed on machines without a usable GPU (CI builds
    engines with it), so for it the GPU is asked too: a driver, and a compute
    capability its runtime takes.
    """
    found = trt_module.find()
    if found is None:
        raise BackendUnavailable(trt_module.not_installed_reason())
    import importlib.util
    for name in ('cuda.bindings', 'cuda.cudart', 'pycuda.driver'):
        try:
            if importlib.util.find_spec(name) is not None:
                break
        except (ImportError, ValueError):
            continue
    else:
        raise BackendUnavailable(
            'tensorrt: no CUDA Python binding (install cuda-python, or pycuda on older Jetsons)')
    if found[1] == RTX_PRODUCT:
        reason = trt_module.rtx_device_reason(device_id)
        if reason:
            raise BackendUnavailable(f'tensorrt: {reason}')


@dataclasses.dataclass
class _Binding:
    """One engine I/O tensor: its buffers and the bytes one batch row takes."""

    name: str
    dtype: np.dtype
    shape: Tuple[int, ...]     # allocated shape (max batch)
    device: int
    host: 'HostBuffer'
    array: np.ndarray          # pinned host view, shape == self.shape
    row_bytes: int             # bytes per batch row (0: not batched, copy it all)

    @property
    def nbytes(self) -> int:
        return int(self.array.nbytes)

    def batch_bytes(self, batch: int) -> int:
        return self.row_bytes * batch if self.row_bytes else self.nbytes


class TensorRTBackend(DeviceBoundBackend):
    """Backend on a TensorRT engine built from the ONNX (cached) or loaded prebuilt."""

    name = 'tensorrt'
    #: the backend factory hands it the caller's logger (build progress, cache decisions)
    accepts_log = True

    def __init__(self, model_path: str, options: Optional[BackendOptions] = None,
                 log: Optional[Callable[[str], None]] = None,
                 cuda_api: Optional['CudaApi'] = None) -> None:
        """Remember what to load; nothing is imported or allocated until load()."""
        super().__init__(model_path, options, log, cuda_api)
        self._caps: Optional[TrtCapabilities] = None
        self._runtime: Optional['trt_types.Runtime'] = None
        self._engine: Optional['trt_types.ICudaEngine'] = None
        self._context: Optional['trt_types.IExecutionContext'] = None
        self._input: Optional[_Binding] = None
        self._outputs: List[_Binding] = []
        self._dynamic = False
        self._current_batch = 0
        self._graphs: Dict[Tuple[int, bool], int] = {}
        self._graph_ok = bool(self.options.use_cuda_graph)
        self._seen: Dict[Tuple[int, bool], int] = {}
        self.engine_key = ''
        self.engine_path = ''

    def info(self) -> Dict[str, str]:
        """Backend, device, precision, TensorRT version and engine key for diagnostics."""
        out = super().info()
        if self._api is not None:
            out['device'] = self._api.device_name()
            out['cuda_binding'] = self._api.name
        if self._caps is not None:
            out['tensorrt'] = self._caps.version_string
        out['engine'] = self.engine_key[:16]
        out['cuda_graph'] = str(bool(self._graph_ok))
        return out

    # -- loading -------------------------------------------------------------------
    def _load_impl(self) -> None:
        if self.model_path.lower().endswith(ENGINE_SUFFIXES) and \
                not os.path.isfile(self.model_path):
            raise BackendError(f'tensorrt: engine file not found: {self.model_path}')
        if self._api is None:   # the GPU first: without one, TensorRT is not even imported
            from jetson_infer_ros.cuda.binding import CudaUnavailable, get_cuda_api
            try:
                self._api = get_cuda_api(self.options.device_id)
            except CudaUnavailable as exc:
                raise BackendUnavailable(f'tensorrt: {exc}') from None
        _, caps = import_tensorrt()
        self._caps = caps
        if caps.rtx and not trt_module.rtx_runs_on(self._api.compute_capability()):
            cc = self._api.compute_capability()
            raise BackendUnavailable(
                f'tensorrt: {caps.display} runs on RTX GPUs (compute capability 8.0, 8.6, '
                f'8.9, 12.x); {self._api.device_name()} is {cc[0]}.{cc[1]}')
        from jetson_infer_ros.backends.tensorrt.builder import make_logger
        self._trt_logger = make_logger(self._log)
        runtime = trt.Runtime(self._trt_logger)
        self._runtime = runtime
        if self.options.dla_core >= 0:
            runtime.DLA_core = int(self.options.dla_core)
        data, from_cache = self._engine_bytes(caps, force_build=False)
        engine: Optional['trt_types.ICudaEngine'] = runtime.deserialize_cuda_engine(data)
        if engine is None and from_cache:
            self._log('tensorrt: cached engine did not deserialize; rebuilding it')
            data, _ = self._engine_bytes(caps, force_build=True)
            engine = runtime.deserialize_cuda_engine(data)
        if engine is None:
            errors = getattr(self._trt_logger, 'errors', [])
            why = errors[0].replace('\n', ' ') if errors else 'built by another TensorRT or GPU?'
            raise BackendError(f'tensorrt: {caps.display} could not deserialize the engine '
                               f'for {self.model_path}: {why}')
        self._engine = engine
        context: Optional['trt_types.IExecutionContext'] = engine.create_execution_context()
        if context is None:
            raise BackendError('tensorrt: could not create an execution context '
                               '(out of GPU memory?)')
        self._context = context
        self._stream = self._api.stream_create()
        self._setup_io(engine, context)

    def _engine_bytes(self, caps: TrtCapabilities, force_build: bool) -> Tuple[bytes, bool]:
        """
        Engine bytes from a prebuilt file, the cache, or a fresh build.

        Returns (bytes, whether they came from the engine cache: only those are rebuilt
        when the runtime refuses them).
        """
        from jetson_infer_ros.backends.tensorrt import engine_source
        assert self._api is not None
        path = self.model_path
        if not os.path.isfile(path):
            raise BackendError(f'tensorrt: model file not found: {path}')
        if path.lower().endswith(ENGINE_SUFFIXES):
            with open(path, 'rb') as f:
                data = f.read()
            self.engine_path = path
            self.engine_key = hashlib.sha256(data).hexdigest()
            self._log(f'tensorrt: loading the prebuilt engine {path} ({len(data)} bytes)')
            return data, False
        result = engine_source.cached_engine(
            caps, path, self.options, engine_source.target_for(caps, self._api), self._log,
            force_build=force_build)
        self.engine_key, self.engine_path = result.key, result.path
        return result.data, not result.built

    def _setup_io(self, engine: 'trt_types.ICudaEngine',
                  context: 'trt_types.IExecutionContext') -> None:
        """Find the one input and the outputs, fix the batch, allocate every buffer."""
        inputs: List[Tuple[str, Tuple[int, ...], np.dtype]] = []
        outputs: List[Tuple[str, Tuple[int, ...], np.dtype]] = []
        for i in range(engine.num_io_tensors):
            name = engine.get_tensor_name(i)
            dims = engine.get_tensor_shape(name)
            shape = tuple(int(dims[j]) for j in range(len(dims)))
            dtype = np.dtype(trt.nptype(engine.get_tensor_dtype(name)))
            if engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT:
                inputs.append((name, shape, dtype))
            else:
                outputs.append((name, shape, dtype))
        if len(inputs) != 1:
            raise BackendError(f'tensorrt: the engine has {len(inputs)} inputs '
                               f'({[n for n, _, _ in inputs]}); one image input is expected')
        in_name, in_shape, in_dtype = inputs[0]
        if not in_shape or any(d < 0 for d in in_shape[1:]):
            raise BackendError(f'tensorrt: input {in_name!r} shape {in_shape}: only the batch '
                               'dimension may be dynamic')
        self._dynamic = in_shape[0] < 0
        if self._dynamic:
            rows = int(self.options.max_batch)
            profile_max = engine.get_tensor_profile_shape(in_name, 0)[2]
            if rows > int(profile_max[0]):
                raise BackendError(f'tensorrt: max_batch {rows} exceeds the engine profile '
                                   f'maximum {int(profile_max[0])}; rebuild the engine')
            if not context.set_input_shape(in_name, (rows,) + in_shape[1:]):
                raise BackendError(f'tensorrt: set_input_shape({in_name}, {rows}) refused')
            self._current_batch = rows
        else:
            rows = in_shape[0]
            if self.options.max_batch > rows:
                raise BackendError(f'tensorrt: the engine has a fixed batch of {rows}, '
                                   f'max_batch is {self.options.max_batch}')
        self._rows = rows
        self._input = self._allocate(in_name, (rows,) + in_shape[1:], in_dtype, rows)
        batch_dim = -1 if self._dynamic else rows
        self._input_spec = TensorSpec(in_name, (batch_dim,) + in_shape[1:], in_dtype)
        self._outputs = []
        self._output_specs = []
        for name, shape, dtype in outputs:
            dims = context.get_tensor_shape(name)
            full = tuple(int(dims[j]) for j in range(len(dims)))
            if any(d < 0 for d in full):
                raise BackendError(f'tensorrt: output {name!r} has a data-dependent shape '
                                   f'{full}, which this backend does not support')
            binding = self._allocate(name, full, dtype, rows)
            self._outputs.append(binding)
            batched = binding.row_bytes != 0 and self._dynamic
            self._output_specs.append(
                TensorSpec(name, ((-1,) + full[1:]) if batched else full, dtype))

    def _allocate(self, name: str, shape: Tuple[int, ...], dtype: np.dtype,
                  rows: int) -> _Binding:
        assert self._api is not None and self._context is not None
        count = int(np.prod(shape)) if shape else 1
        nbytes = max(1, count * dtype.itemsize)
        device = self._api.malloc(nbytes)
        host = self._api.malloc_host(nbytes)
        array = host.view(dtype, shape)
        row_bytes = nbytes // rows if shape and shape[0] == rows else 0
        binding = _Binding(name, dtype, shape, device, host, array, row_bytes)
        if not self._context.set_tensor_address(name, device):
            raise BackendError(f'tensorrt: set_tensor_address({name}) refused')
        return binding

    # -- running -------------------------------------------------------------------
    def _run(self, batch: int, copy_input: bool) -> Dict[str, np.ndarray]:
        assert self._api is not None and self._input is not None
        assert self._context is not None
        run_rows = batch if self._dynamic else self._rows
        if self._dynamic and run_rows != self._current_batch:
            shape = (run_rows,) + self._input.shape[1:]
            if not self._context.set_input_shape(self._input.name, shape):
                raise BackendError(f'tensorrt: set_input_shape({shape}) refused')
            self._current_batch = run_rows
        key = (run_rows, copy_input)
        graph = self._graphs.get(key)
        if graph is not None:
            self._api.graph_launch(graph, self._stream)
        else:
            self._enqueue(run_rows, copy_input)
            if self._graph_ok:
                # first run of this batch size warms TensorRT up; capture on the second
                self._seen[key] = self._seen.get(key, 0) + 1
                if self._seen[key] >= 2:
                    self._capture(key)
        self._api.stream_synchronize(self._stream)
        return {b.name: (b.array[:batch] if b.row_bytes else b.array) for b in self._outputs}

    def _enqueue(self, rows: int, copy_input: bool) -> None:
        assert self._api is not None and self._input is not None
        assert self._context is not None
        if copy_input:
            self._api.memcpy_htod_async(self._input.device, self._input.host.ptr,
                                        self._input.batch_bytes(rows), self._stream)
        if not self._context.execute_async_v3(self._stream):
            raise BackendError('tensorrt: execute_async_v3 failed (see TensorRT errors)')
        for out in self._outputs:
            self._api.memcpy_dtoh_async(out.host.ptr, out.device, out.batch_bytes(rows),
                                        self._stream)

    def _capture(self, key: Tuple[int, bool]) -> None:
        """Capture copy-in + enqueue + copy-out for one batch size; fall back if refused."""
        from jetson_infer_ros.cuda.binding import CudaError
        assert self._api is not None
        self._api.stream_synchronize(self._stream)
        try:
            self._api.graph_begin_capture(self._stream)
            try:
                self._enqueue(key[0], key[1])
            finally:
                graph = self._api.graph_end_capture(self._stream)
        except (CudaError, BackendError) as exc:
            self._graph_ok = False
            self._log(f'tensorrt: CUDA graph capture not possible ({exc}); running without')
            return
        for old_key in [k for k in self._graphs if k[0] != key[0]]:
            self._api.graph_destroy(self._graphs.pop(old_key))  # batch changed: re-capture
        self._graphs[key] = graph

    # -- releasing -----------------------------------------------------------------
    def _release_impl(self) -> None:
        api = self._api
        if api is not None:
            for graph in self._graphs.values():
                api.graph_destroy(graph)
            if self._stream:
                api.stream_synchronize(self._stream)
        self._graphs.clear()
        self._seen.clear()
        self._context = None  # context before engine before runtime: TensorRT's order
        self._engine = None
        self._runtime = None
        if api is not None:
            for binding in ([self._input] if self._input else []) + self._outputs:
                api.free(binding.device)
                api.free_host(binding.host)
            if self._stream:
                api.stream_destroy(self._stream)
            if self._own_api:
                api.close()
                self._api = None
        self._stream = 0
        self._input = None
        self._outputs = []
