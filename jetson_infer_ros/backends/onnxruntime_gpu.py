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
ONNX Runtime on the GPU, on the same device data path as the TensorRT runner.

For a workstation GPU, or a Jetson with NVIDIA's onnxruntime-gpu build, when no TensorRT
engine is wanted or possible. The session runs on the CUDA execution provider, preceded
by the TensorRT execution provider where ONNX Runtime finds TensorRT's libraries (its
engines cached under the project's engine cache directory). What makes it fast is the
data path, shared with ``TensorRTBackend`` through the one CUDA binding layer
(``jetson_infer_ros.cuda``): the input and every batch-major output live in device
buffers this backend allocates, bound once per batch size with IOBinding by pointer;
ONNX Runtime runs on this backend's own stream (``user_compute_stream``), so the fused
preprocessing kernel (``jetson_infer_ros.gpu``) writes the network input straight into
the bound buffer on that stream, the run follows it in stream order, and the outputs
come back by one asynchronous copy each into pinned host arrays and one stream
synchronise. With ``use_cuda_graph`` ONNX Runtime captures the run once per batch size
(``gpu_graph_id``) and replays it; a model it cannot capture runs without, logged once.
A capturing session runs on ONNX Runtime's own stream, and every session keeps ONNX
Runtime's end-of-run synchronise: the input is synchronised on our stream before a
captured run instead of ordered after it. That is the configuration that ran on the H200
(2026-12-01, docs/gpu_results.md); the first attempt, where every session, the capturing
one included, ran on our stream as ``user_compute_stream`` with
``disable_synchronize_execution_providers``, aborted the process in ONNX Runtime's
pinned-memory allocator (CUDA error 800 in ``cudaFreeHost``) in the session created after
a captured one; which of the two settings caused it was not isolated.

ONNX Runtime's CPU thread pool only serves nodes left on the CPU here; its threads do
not spin (see the CPU backend's docstring for what spinning costs a robot's CPU).

Outputs are NumPy views of the pinned host buffers, overwritten by the next inference.
Importing this module needs only NumPy; ``load()`` imports onnxruntime and a CUDA binding
and raises ``BackendUnavailable`` naming what is missing.
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
from typing import Any, Callable, Dict, List, Optional, Tuple, TYPE_CHECKING

import numpy as np

from jetson_infer_ros.assets.cache import file_sha256
from jetson_infer_ros.backends.base import (
    BackendError, BackendOptions, BackendUnavailable, TensorSpec)
from jetson_infer_ros.backends.device_bound import DeviceBoundBackend
from jetson_infer_ros.backends.onnxruntime_backend import (
    _as_bool, _dims, _extra, _import_onnxruntime, _ORT_TYPES, batch_major_shapes,
    describe_input, one_line)

if TYPE_CHECKING:
    from jetson_infer_ros.cuda.binding import CudaApi, HostBuffer

CUDA_EP = 'CUDAExecutionProvider'
TENSORRT_EP = 'TensorrtExecutionProvider'
GPU_EPS = (TENSORRT_EP, CUDA_EP)
#: TensorRT's builder library under the names TensorRT 10 (x86, JetPack 6) and 8 use
NVINFER_LIBRARIES = ('libnvinfer.so.10', 'libnvinfer.so.8', 'libnvinfer.so')
#: ONNX Runtime's TensorRT engines, under the project's engine cache directory
ORT_TRT_CACHE_SUBDIR = 'onnxruntime_trt'
#: ONNX Runtime runs before it captures a CUDA graph, plus one replay
WARMUP_RUNS = 3


def cuda_provider_missing(ort: Any) -> Optional[str]:
    """Why this onnxruntime has no CUDA execution provider, or None when it has one."""
    try:
        providers = list(ort.get_available_providers())
    except Exception as exc:  # a broken install: say so instead of failing later
        return f'onnxruntime.get_available_providers() failed: {one_line(exc)}'
    if CUDA_EP in providers:
        return None
    version = getattr(ort, '__version__', '?')
    return (f'onnxruntime {version} has no {CUDA_EP} (providers: {", ".join(providers)}); '
            "install onnxruntime-gpu (or NVIDIA's JetPack build) instead of onnxruntime")


def tensorrt_libraries_found(load: Callable[[str], Any] = ctypes.CDLL) -> bool:
    """Tell whether TensorRT's builder library can be loaded (the TensorRT EP needs it)."""
    for name in NVINFER_LIBRARIES:
        try:
            load(name)
            return True
        except OSError:
            continue
    return False


def check_available(ort: Any = None) -> None:
    """Raise BackendUnavailable unless onnxruntime-gpu and a CUDA device are usable here."""
    if ort is None:
        ort = _import_onnxruntime()
    missing = cuda_provider_missing(ort)
    if missing:
        raise BackendUnavailable(f'onnxruntime_gpu: {missing}')
    _cuda_api(0).close()


def _cuda_api(device_id: int) -> 'CudaApi':
    from jetson_infer_ros.cuda.binding import CudaUnavailable, get_cuda_api
    try:
        return get_cuda_api(device_id)
    except CudaUnavailable as exc:
        raise BackendUnavailable(f'onnxruntime_gpu: no usable CUDA device ({exc})') from None


@dataclasses.dataclass
class _Buffer:
    """One bound tensor: its device memory and its pinned host mirror."""

    name: str
    dtype: np.dtype
    shape: Tuple[int, ...]        # allocated shape: rows first
    device: int
    host: 'HostBuffer'
    array: np.ndarray             # pinned host view of ``shape``

    @property
    def row_bytes(self) -> int:
        return int(self.array.nbytes // max(1, self.shape[0]))


class OnnxRuntimeGpuBackend(DeviceBoundBackend):
    """
    ONNX Runtime on CUDA (and TensorRT where present) with device buffers it owns.

    ``options.extra`` keys read here: ``input_shape`` (as for the CPU backend),
    ``tensorrt_ep`` (bool, default True: use ONNX Runtime's TensorRT EP when TensorRT's
    libraries load) and ``cuda_provider_options`` (a dict merged into the CUDA EP's
    options, e.g. ``{'cudnn_conv_algo_search': 'HEURISTIC'}``).
    """

    name = 'onnxruntime_gpu'

    def __init__(self, model_path: str, options: Optional[BackendOptions] = None,
                 log: Optional[Callable[[str], None]] = None,
                 cuda_api: Optional['CudaApi'] = None) -> None:
        """Remember what to load; nothing is imported or allocated until load()."""
        super().__init__(model_path, options, log, cuda_api)
        self._clear()

    def _clear(self) -> None:
        self._ort: Any = None
        self._session: Any = None
        self._stream = 0
        self._input: Optional[_Buffer] = None
        self._input_spec: Optional[TensorSpec] = None
        self._rows = 0
        self._dynamic_batch = False
        self._outputs: List[_Buffer] = []
        self._output_specs: List[TensorSpec] = []
        self._host_outputs: List[str] = []    # data-dependent: ONNX Runtime allocates them
        self._bindings: Dict[int, Any] = {}
        self._run_options: Dict[int, Any] = {}
        self._providers: List[str] = []
        self._graph = False
        self._sha256 = ''

    def info(self) -> Dict[str, str]:
        """Backend, device, execution provider, CUDA graph and versions for diagnostics."""
        out = super().info()
        if self._input is not None:
            out['precision'] = {np.float16: 'fp16', np.uint8: 'uint8',
                                np.int8: 'int8'}.get(self._input.dtype.type, 'fp32')
        out['requested_precision'] = self.options.precision
        if self._api is not None:
            out['device'] = self._api.device_name()
            out['cuda_binding'] = self._api.name
        out['execution_provider'] = self._providers[0] if self._providers else ''
        out['cuda_graph'] = str(self._graph).lower()
        out['model_sha256'] = self._sha256[:12]
        if self._ort is not None:
            out['runtime_version'] = str(getattr(self._ort, '__version__', ''))
        return out

    # -- loading -------------------------------------------------------------------
    def _load_impl(self) -> None:
        ort = _import_onnxruntime()
        missing = cuda_provider_missing(ort)
        if missing:
            raise BackendUnavailable(f'onnxruntime_gpu: {missing}')
        path = os.path.abspath(os.path.expanduser(str(self.model_path)))
        if not os.path.isfile(path):
            raise BackendError(f'onnxruntime_gpu: model file not found: {path}')
        if self.options.max_batch < 1:
            raise BackendError(f'onnxruntime_gpu: max_batch must be >= 1, got '
                               f'{self.options.max_batch}')
        extra = _extra(self.options)
        self._ort = ort
        if self._api is None:
            self._api = _cuda_api(self.options.device_id)
        try:
            self._sha256 = file_sha256(path)
            self._stream = self._api.stream_create()
            # A session without graph capture first: its warm-up runs on host arrays
            # find each output's concrete shape (and whether it is batch-major), which
            # a capturing session must never see (it would capture those host copies).
            session = self._new_session(ort, path, extra, graph=False)
            self._setup_input(session, extra)
            self._setup_outputs(session)
            self._session = session
            if self.options.use_cuda_graph and self._host_outputs:
                self._log('onnxruntime_gpu: CUDA graph not possible (outputs '
                          f'{self._host_outputs} have data-dependent shapes); running without')
            elif self.options.use_cuda_graph:
                self._session = session = None     # one session on the device at a time
                self._session = self._graph_session(ort, path, extra)
                return
            self._warm_up()
        except BaseException:
            self._release_impl()
            raise

    def _session_options(self, ort: Any) -> Any:
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.intra_op_num_threads = max(1, int(self.options.intra_op_threads))
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        so.add_session_config_entry('session.intra_op.allow_spinning', '0')
        so.add_session_config_entry('session.inter_op.allow_spinning', '0')
        return so

    def provider_list(self, ort: Any, extra: Dict[str, Any], graph: bool
                      ) -> List[Tuple[str, Dict[str, str]]]:
        """Return the execution providers to ask for, with their options (strings for ORT)."""
        opts = self.options
        device = str(int(opts.device_id))
        stream = str(int(self._stream))
        cuda: Dict[str, str] = {'device_id': device}
        if graph:
            cuda['enable_cuda_graph'] = '1'
        else:
            cuda['user_compute_stream'] = stream
        custom = extra.get('cuda_provider_options') or {}
        cuda.update({str(k): str(v) for k, v in dict(custom).items()})
        providers: List[Tuple[str, Dict[str, str]]] = []
        available = list(ort.get_available_providers())
        if (TENSORRT_EP in available and _as_bool(extra.get('tensorrt_ep', True))
                and tensorrt_libraries_found()):
            from jetson_infer_ros.backends.tensorrt.engine_cache import DEFAULT_DIR
            cache = os.path.join(os.path.expanduser(opts.engine_cache_dir or DEFAULT_DIR),
                                 ORT_TRT_CACHE_SUBDIR)
            os.makedirs(cache, exist_ok=True)
            low = opts.precision in ('fp16', 'int8')
            trt: Dict[str, str] = {
                'device_id': device,
                'trt_engine_cache_enable': 'True', 'trt_engine_cache_path': cache,
                'trt_timing_cache_enable': 'True', 'trt_timing_cache_path': cache,
                'trt_max_workspace_size': str(int(opts.workspace_mb) << 20),
                'trt_fp16_enable': str(low), 'trt_int8_enable': str(opts.precision == 'int8'),
                'trt_cuda_graph_enable': str(bool(graph))}
            if not graph:
                trt['user_compute_stream'] = stream
            if opts.dla_core >= 0:
                trt.update(trt_dla_enable='True', trt_dla_core=str(int(opts.dla_core)))
            providers.append((TENSORRT_EP, trt))
        providers.append((CUDA_EP, cuda))
        return providers

    def _new_session(self, ort: Any, path: str, extra: Dict[str, Any], graph: bool) -> Any:
        providers = self.provider_list(ort, extra, graph)
        try:
            session = ort.InferenceSession(path, sess_options=self._session_options(ort),
                                           providers=[p for p, _ in providers],
                                           provider_options=[o for _, o in providers])
        except Exception as exc:
            raise BackendError(f'onnxruntime_gpu: cannot load {path}: {one_line(exc)}') from None
        used = [p for p in session.get_providers() if p in GPU_EPS]
        if not used:
            raise BackendUnavailable(
                'onnxruntime_gpu: ONNX Runtime could not start its CUDA execution provider '
                f'(session providers: {", ".join(session.get_providers())}); the CUDA and '
                'cuDNN libraries of its build are missing from the library path')
        self._providers = used
        return session

    def _graph_session(self, ort: Any, path: str, extra: Dict[str, Any]) -> Any:
        """Return the session with CUDA graph capture, warmed up; without it if ORT refuses."""
        try:
            self._session = self._new_session(ort, path, extra, graph=True)
            self._graph = True
            self._warm_up()                  # the capture happens here
            return self._session
        except BackendUnavailable:
            raise
        except BackendError as exc:
            self._log(f'onnxruntime_gpu: CUDA graph not possible ({exc}); running without')
        self._graph = False
        self._bindings.clear()
        self._run_options.clear()
        self._session = None
        self._session = self._new_session(ort, path, extra, graph=False)
        self._warm_up()
        return self._session

    def _setup_input(self, session: Any, extra: Dict[str, Any]) -> None:
        spec, rows, dynamic = describe_input(self.name, session, self.options, extra)
        self._input_spec, self._rows, self._dynamic_batch = spec, rows, dynamic
        self._input = self._allocate(spec.name, spec.dtype, (rows,) + spec.shape[1:])

    def _allocate(self, name: str, dtype: np.dtype, shape: Tuple[int, ...]) -> _Buffer:
        assert self._api is not None
        nbytes = max(1, int(np.prod(shape)) * dtype.itemsize)
        device = self._api.malloc(nbytes)
        try:
            host = self._api.malloc_host(nbytes)
        except BaseException:
            self._api.free(device)
            raise
        array = host.view(dtype, shape)
        array[...] = 0                 # pinned memory comes uninitialised
        return _Buffer(name, dtype, shape, device, host, array)

    def _setup_outputs(self, session: Any) -> None:
        """
        Find each output's shape with warm-up runs on host arrays, then allocate it.

        An output whose first dimension follows the batch and whose other dimensions do
        not change between a full and a single-row run gets device + pinned buffers;
        any other (a data-dependent detection count) is left to ONNX Runtime per run.
        """
        assert self._input is not None and self._input_spec is not None
        zeros = np.zeros(self._input.shape, self._input.dtype)
        probe_rows = [self._rows] + ([1] if self._dynamic_batch and self._rows > 1 else [])
        seen: Dict[int, List[np.ndarray]] = {}
        for rows in probe_rows:
            try:
                seen[rows] = session.run(None, {self._input_spec.name: zeros[:rows]})
            except Exception as exc:
                raise BackendError(f'onnxruntime_gpu: warm-up run of {self.model_path} at '
                                   f'batch {rows} failed: {one_line(exc)}') from None
        for i, meta in enumerate(session.get_outputs()):
            dtype = _ORT_TYPES.get(meta.type)
            full = seen[self._rows][i]
            shapes = [np.shape(seen[r][i]) for r in probe_rows]
            batch_major = dtype is not None and batch_major_shapes(shapes, probe_rows)
            if batch_major:
                self._outputs.append(self._allocate(meta.name, np.dtype(dtype), full.shape))
                shape = (-1 if self._dynamic_batch else full.shape[0],) + full.shape[1:]
            else:
                self._host_outputs.append(meta.name)
                shape = _dims(meta.shape)
            self._output_specs.append(TensorSpec(meta.name, shape,
                                                 np.dtype(dtype or full.dtype)))

    def _warm_up(self) -> None:
        """Run every batch size the node will use, so the first frame is not the slow one."""
        assert self._api is not None and self._input is not None
        self._api.memset_async(self._input.device, 0, self._input.array.nbytes, self._stream)
        sizes = [self._rows] + ([1] if self._dynamic_batch and self._rows > 1 else [])
        for rows in sizes:
            for _ in range(WARMUP_RUNS):
                self._run(rows, copy_input=False)

    # -- running -------------------------------------------------------------------
    def _binding(self, rows: int) -> Any:
        binding = self._bindings.get(rows)
        if binding is not None:
            return binding
        assert self._input is not None
        device = int(self.options.device_id)
        binding = self._session.io_binding()
        binding.bind_input(self._input.name, 'cuda', device, self._input.dtype,
                           (rows,) + self._input.shape[1:], self._input.device)
        for out in self._outputs:
            binding.bind_output(out.name, 'cuda', device, out.dtype,
                                (rows,) + out.shape[1:], out.device)
        for name in self._host_outputs:
            binding.bind_output(name, 'cpu')
        ro = self._ort.RunOptions()
        if self._graph:
            ro.add_run_config_entry('gpu_graph_id', str(rows))   # 0 is ORT's own
        self._bindings[rows] = binding
        self._run_options[rows] = ro
        return binding

    def _run(self, batch: int, copy_input: bool) -> Dict[str, np.ndarray]:
        api, inp = self._api, self._input
        assert api is not None and inp is not None and self._session is not None
        rows = batch if self._dynamic_batch else self._rows
        binding = self._binding(rows)
        if copy_input:
            api.memcpy_htod_async(inp.device, inp.host.ptr, inp.row_bytes * rows, self._stream)
        for name in self._host_outputs:
            binding.bind_output(name, 'cpu')   # its shape may differ from the last run's
        if self._graph:                        # ORT's own stream: the input must be there
            api.stream_synchronize(self._stream)
        try:
            self._session.run_with_iobinding(binding, self._run_options[rows])
        except Exception as exc:
            raise BackendError(f'onnxruntime_gpu: inference failed: {one_line(exc)}') from None
        for out in self._outputs:
            api.memcpy_dtoh_async(out.host.ptr, out.device, out.row_bytes * rows, self._stream)
        api.stream_synchronize(self._stream)
        results = {out.name: out.array[:batch] for out in self._outputs}
        if self._host_outputs:
            values = binding.get_outputs()
            names = [s.name for s in self._output_specs]
            for name in self._host_outputs:
                results[name] = values[names.index(name)].numpy()
        return results

    # -- releasing -----------------------------------------------------------------
    def _release_impl(self) -> None:
        api = self._api
        if api is not None and self._stream:
            try:
                api.stream_synchronize(self._stream)
            except Exception:  # noqa: B902 - a failed device must not keep memory held
                pass
        self._bindings.clear()
        self._run_options.clear()
        self._session = None       # before the stream and buffers it was bound to
        if api is not None:
            for buf in ([self._input] if self._input else []) + self._outputs:
                api.free(buf.device)
                api.free_host(buf.host)
            if self._stream:
                api.stream_destroy(self._stream)
            if self._own_api:
                api.close()
                self._api = None
        self._clear()
