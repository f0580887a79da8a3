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
The CPU backend: ONNX Runtime, tuned for one frame at a time on a small robot computer.

It is the fallback wherever TensorRT is missing (a laptop, CI, a Jetson before its engine
is built), so it must be correct first and lean second. Lean means no allocation per
frame: the input buffer that preprocessing writes into is preallocated, outputs land in
preallocated arrays, and both are attached to the session through IO binding, once per
batch size, by raw pointer. A leading-rows slice ``buf[:b]`` of a C-contiguous array is
itself C-contiguous and starts at the same address, so a dynamic-batch model runs a
partial batch on a view without copying.

Threading: the execution mode is sequential (these graphs are chains; the parallel mode
only adds scheduling cost) and ``intra_op_threads`` sizes the operator thread pool
(0 = ONNX Runtime's default, one per physical core). ONNX Runtime's pool threads spin
while waiting for work by default. That shaves a little latency off each operator hand-off
but keeps burning a core after every run, which on a robot starves the camera driver and
the other nodes. Measured with EfficientNet-Lite0, 2 threads, frames paced at 30 Hz on a
2-core machine: spinning gave 2.2 ms instead of 4.2 ms per inference but cost 33 ms of
CPU per frame instead of 4.4 ms (a whole core kept busy against 13 %). So
``allow_spinning`` defaults to off here; set ``BackendOptions.extra =
(('allow_spinning', True),)`` where cores are to spare and every millisecond counts.
Spinning only inside a run (ONNX Runtime's ``session.force_spinning_stop``) looked like
the best of both in a bare loop (3.27 ms paced at 30 Hz, CPU as without spinning), but
inside the node it was worse: an interleaved A/B of the node, 3 x 240 frames at 30 Hz,
gave 8.87 ms p50 / 16.3 ms p99 end to end against 7.76 / 9.2 ms without spinning, so it
is not offered.

Memory: building a session parses the whole model and makes optimised copies of its
weights, then frees the intermediates; glibc keeps those freed pages in the heap, so
they stay resident for the life of the node. After loading, the backend asks glibc to
return them (``malloc_trim``): measured with EfficientNet-Lite0, the session's resident
cost fell from 72 to 45 MB, with no effect on inference (nothing is freed that a run
uses). ONNX Runtime's CPU arena is off by default (``cpu_mem_arena`` in ``extra`` turns
it back on): it holds its high-water mark for good, about 10 MB more for
EfficientNet-Lite0, and bought nothing measurable here; with the memory pattern on, each
run's activations are one block that glibc reuses. Interleaved A/B runs, 1000
inferences each, arena off vs on: EfficientNet-Lite0 p50 -0.3 % and +1.6 %, NanoDet
(300) +1.2 % and +0.1 %, means within 2 % either way: noise on this shared machine.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from jetson_infer_ros import heap
from jetson_infer_ros.assets.cache import file_sha256
from jetson_infer_ros.backends.base import (
    Backend, BackendError, BackendOptions, BackendUnavailable, TensorSpec)

_LOG = logging.getLogger(__name__)

_ORT_TYPES = {
    'tensor(float)': np.float32,
    'tensor(float16)': np.float16,
    'tensor(double)': np.float64,
    'tensor(uint8)': np.uint8,
    'tensor(int8)': np.int8,
    'tensor(int32)': np.int32,
    'tensor(int64)': np.int64,
    'tensor(bool)': np.bool_,
}

_ORT_ERROR = re.compile(r'\[ONNXRuntimeError\]\s*:\s*\d+\s*:\s*(\w+)\s*:\s*(.*)')


def _import_onnxruntime():
    try:
        import onnxruntime
    except ImportError as exc:
        raise BackendUnavailable(
            f'onnxruntime: not importable ({exc}); pip install onnxruntime') from None
    return onnxruntime


def one_line(exc: BaseException, limit: int = 300) -> str:
    """Shorten an exception to one line (ONNX Runtime's code name kept, its noise dropped)."""
    text = str(exc).strip() or type(exc).__name__
    first = text.splitlines()[0].strip()
    match = _ORT_ERROR.search(first)
    if match:
        first = f'{match.group(1)}: {match.group(2)}'
    return first if len(first) <= limit else first[:limit - 3] + '...'


def _extra(options: BackendOptions) -> Dict[str, Any]:
    try:
        return dict(options.extra)
    except (TypeError, ValueError):
        raise BackendError(
            f'onnxruntime: options.extra must be (key, value) pairs, got {options.extra!r}'
        ) from None


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ('1', 'true', 'yes', 'on')
    return bool(value)


def _dims(shape: Any) -> Tuple[int, ...]:
    """ORT shape (ints, strings or None for dynamic dims) as ints with -1 for dynamic."""
    return tuple(d if isinstance(d, int) and d >= 0 else -1 for d in (shape or ()))


def batch_major_shapes(shapes: List[Tuple[int, ...]], rows: List[int]) -> bool:
    """
    Whether one output's shapes over warm-up runs of ``rows`` rows are batch-major.

    Batch-major: the first dimension is the rows run and the others do not change with
    it, so a buffer of the full batch's shape can be preallocated and sliced.
    """
    return all(len(s) >= 1 and s[0] == r for s, r in zip(shapes, rows)) and \
        all(s[1:] == shapes[0][1:] for s in shapes)


def describe_input(who: str, session: Any, options: BackendOptions, extra: Dict[str, Any]
                   ) -> Tuple[TensorSpec, int, bool]:
    """
    Describe the image input of a session: (spec, rows to allocate, dynamic batch).

    The spec's batch dimension is -1 when the model's is dynamic; its other dimensions are
    concrete (``input_shape`` in ``options.extra`` fills dynamic spatial ones). Shared by
    the CPU and the GPU backend, which differ only in where the rows live.
    """
    inputs = session.get_inputs()
    if len(inputs) != 1:
        names = [i.name for i in inputs]
        raise BackendError(
            f'{who}: the model has {len(inputs)} inputs {names}; one image input is supported')
    meta = inputs[0]
    dtype = _ORT_TYPES.get(meta.type)
    if dtype is None:
        raise BackendError(f'{who}: input {meta.name!r} has unsupported type {meta.type}')
    shape = _dims(meta.shape)
    if len(shape) < 2:
        raise BackendError(
            f'{who}: input {meta.name!r} has shape {shape}; expected a batch dimension first')
    item = shape[1:]
    if any(d < 0 for d in item):
        wanted = extra.get('input_shape')
        if wanted is None:
            raise BackendError(
                f'{who}: input {meta.name!r} has dynamic dimensions {shape}; pass '
                "options.extra (('input_shape', (C, H, W)),) or export a fixed size")
        wanted = tuple(int(d) for d in wanted)
        if len(wanted) == len(shape):
            wanted = wanted[1:]
        if len(wanted) != len(item) or any(
                d < 1 or (m >= 0 and m != d) for d, m in zip(wanted, item)):
            raise BackendError(
                f'{who}: input_shape {wanted} does not fit input {meta.name!r} {shape}')
        item = wanted
    max_batch = int(options.max_batch)
    dynamic_batch = shape[0] < 0
    if dynamic_batch:
        rows = max_batch
    else:
        if max_batch > shape[0]:
            raise BackendError(
                f'{who}: model is fixed at batch {shape[0]}; max_batch {max_batch} needs a '
                'model exported with a dynamic batch dimension')
        rows = shape[0]
    return TensorSpec(meta.name, (shape[0],) + item, np.dtype(dtype)), rows, dynamic_batch


class OnnxRuntimeBackend(Backend):
    """
    ONNX Runtime on the CPU execution provider, with preallocated IO-bound buffers.

    ``options.extra`` keys read here: ``allow_spinning`` (bool, default False, see the
    module docstring), ``cpu_mem_arena`` (bool, default False, see the module docstring),
    ``exact`` (bool, default False: run the graph as written, for INT8 evaluation)
    and ``input_shape`` (the per-item shape, e.g. ``(3, 320, 320)``, for models whose
    spatial dimensions are dynamic).
    """

    name = 'onnxruntime'

    def __init__(self, model_path: str, options: Optional[BackendOptions] = None) -> None:
        super().__init__(model_path, options)
        self._clear()

    def _clear(self) -> None:
        self._session: Any = None
        self._input: Optional[TensorSpec] = None
        self._outputs: List[TensorSpec] = []
        self._buffer: Optional[np.ndarray] = None
        self._rows = 0
        self._dynamic_batch = False
        self._out_buffers: Dict[str, Optional[np.ndarray]] = {}
        self._symbolic: Dict[str, bool] = {}
        self._dynamic_outputs: List[str] = []
        self._bindings: Dict[int, Any] = {}
        self._results: Dict[int, Dict[str, np.ndarray]] = {}
        self._sha256 = ''
        self._spinning = False
        self.execution = ''     # 'deployed' or 'exact' (quant/execution.py) once loaded

    # -- life cycle -----------------------------------------------------------------
    def _load_impl(self) -> None:
        ort = _import_onnxruntime()
        path = os.path.abspath(os.path.expanduser(str(self.model_path)))
        if not os.path.isfile(path):
            raise BackendError(f'onnxruntime: model file not found: {path}')
        extra = _extra(self.options)
        if self.options.max_batch < 1:
            raise BackendError(f'onnxruntime: max_batch must be >= 1, got '
                               f'{self.options.max_batch}')
        self._spinning = _as_bool(extra.get('allow_spinning', False))
        exact = _as_bool(extra.get('exact', False))
        try:
            self._open(ort, path, extra, exact)
        except BackendError as first:
            if exact:
                raise
            # ONNX Runtime's s8 -> u8 weight conversion (session.x64quantprecision, the
            # deployed execution) rejects per-axis DequantizeLinear without a zero point
            # ("x_zero_point must be null or 1D"), valid ONNX that other quantizers write:
            # such a model runs as written instead, graph optimizations off (exact
            # arithmetic, slower), and says so
            try:
                self._open(ort, path, extra, True)
            except BackendError:
                raise first from None
            self.execution = 'exact'
            _LOG.warning('onnxruntime: %s runs with graph optimizations off (exact Q/DQ, '
                         'slower): the optimized session failed: %s', path, first)
        heap.release_freed()

    def _open(self, ort: Any, path: str, extra: Dict[str, Any], exact: bool) -> None:
        try:
            self._sha256 = file_sha256(path)
            session = ort.InferenceSession(path, sess_options=self._session_options(ort, exact),
                                           providers=['CPUExecutionProvider'])
        except Exception as exc:  # ORT raises its own Fail/InvalidProtobuf/... types
            raise BackendError(f'onnxruntime: cannot load {path}: {one_line(exc)}') from None
        try:
            self._session = session
            self.execution = 'exact' if exact else 'deployed'
            self._setup_input(session, extra)
            self._setup_outputs(session)
        except BaseException:
            self._clear()
            raise

    def _session_options(self, ort, exact: bool = False):
        from jetson_infer_ros.quant.execution import session_options
        # exact ('exact' extra key): a Q/DQ model as written, graph optimizations off, as
        # INT8 evaluation runs TensorRT's layout; by default all optimizations plus the
        # int8 weight conversion x86 CPUs without VNNI need (quant/execution.py)
        so = session_options(ort, exact=exact)
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.intra_op_num_threads = max(0, int(self.options.intra_op_threads))
        so.inter_op_num_threads = max(0, int(self.options.inter_op_threads))
        so.enable_mem_pattern = True
        so.enable_cpu_mem_arena = _as_bool(_extra(self.options).get('cpu_mem_arena', False))
        flag = '1' if self._spinning else '0'
        so.add_session_config_entry('session.intra_op.allow_spinning', flag)
        so.add_session_config_entry('session.inter_op.allow_spinning', flag)
        return so

    def _setup_input(self, session, extra: Dict[str, Any]) -> None:
        layout = describe_input(self.name, session, self.options, extra)
        self._input, self._rows, self._dynamic_batch = layout
        self._buffer = np.zeros((self._rows,) + layout[0].shape[1:], dtype=layout[0].dtype)

    def _setup_outputs(self, session) -> None:
        """
        Find each output's concrete shape with warm-up runs, then preallocate it.

        An output is preallocated when it is batch-major (first dimension = rows run) and
        its other dimensions do not change between a full and a single-item run;
        anything else (e.g. a data-dependent detection count) is left to ONNX Runtime to
        allocate per call.
        """
        assert self._input is not None and self._buffer is not None
        metas = session.get_outputs()
        name_in = self._input.name
        buffer = self._buffer
        probe_rows = [self._rows] + ([1] if self._dynamic_batch and self._rows > 1 else [])
        seen: Dict[int, List[np.ndarray]] = {}
        for rows in probe_rows:
            try:
                seen[rows] = session.run(None, {name_in: buffer[:rows]})
            except Exception as exc:
                raise BackendError(
                    f'onnxruntime: warm-up run of {self.model_path} at batch {rows} failed: '
                    f'{one_line(exc)}') from None
        self._outputs = []
        for i, meta in enumerate(metas):
            dtype = _ORT_TYPES.get(meta.type)
            declared = _dims(meta.shape)
            full = seen[self._rows][i]
            shapes = [np.shape(seen[r][i]) for r in probe_rows]
            batch_major = dtype is not None and batch_major_shapes(shapes, probe_rows)
            if batch_major:
                self._out_buffers[meta.name] = np.zeros(full.shape, dtype=dtype)
                self._symbolic[meta.name] = any(d < 0 for d in declared[1:])
                spec_shape = (-1 if self._dynamic_batch else full.shape[0],) + full.shape[1:]
            else:
                self._out_buffers[meta.name] = None
                self._dynamic_outputs.append(meta.name)
                spec_shape = declared
            self._outputs.append(TensorSpec(meta.name, spec_shape,
                                            np.dtype(dtype or full.dtype)))

    def _release_impl(self) -> None:
        self._clear()

    # -- what the model looks like ----------------------------------------------------
    def _require_loaded(self) -> None:
        if self._session is None:
            raise BackendError(f'{self.name}: the model is not loaded (call load() first)')

    @property
    def input_spec(self) -> TensorSpec:
        """Describe the image input; its batch dimension is -1 when the model's is dynamic."""
        self._require_loaded()
        assert self._input is not None
        return self._input

    @property
    def output_specs(self) -> List[TensorSpec]:
        self._require_loaded()
        return list(self._outputs)

    def input_buffer(self) -> np.ndarray:
        """Return the (rows, ...) input array bound to the session (rows: max or fixed batch)."""
        self._require_loaded()
        assert self._buffer is not None
        return self._buffer

    def info(self) -> Dict[str, str]:
        info = super().info()
        if self._input is not None:
            info['precision'] = {np.float16: 'fp16', np.uint8: 'uint8',
                                 np.int8: 'int8'}.get(self._input.dtype.type, 'fp32')
        info.update({
            'requested_precision': self.options.precision,
            'device': 'cpu',
            'model_sha256': self._sha256[:12],
            'intra_op_threads': str(self.options.intra_op_threads),
            'allow_spinning': str(self._spinning).lower(),
        })
        try:
            info['runtime_version'] = _import_onnxruntime().__version__
        except BackendUnavailable:
            pass
        return info

    # -- running ------------------------------------------------------------------------
    def _binding(self, rows: int):
        binding = self._bindings.get(rows)
        if binding is not None:
            return binding
        assert self._input is not None and self._buffer is not None
        binding = self._session.io_binding()
        buf = self._buffer[:rows]
        assert buf.flags['C_CONTIGUOUS']   # leading rows of a C-contiguous array
        binding.bind_input(self._input.name, 'cpu', 0, buf.dtype, buf.shape, buf.ctypes.data)
        results: Dict[str, np.ndarray] = {}
        for spec in self._outputs:
            out = self._out_buffers[spec.name]
            if out is None:
                binding.bind_output(spec.name, 'cpu')
            else:
                view = out[:rows]
                binding.bind_output(spec.name, 'cpu', 0, view.dtype, view.shape,
                                    view.ctypes.data)
                results[spec.name] = view
        self._bindings[rows] = binding
        self._results[rows] = results
        return binding

    def _run(self, rows: int):
        binding = self._binding(rows)
        for name in self._dynamic_outputs:
            # Re-bind by device only: a binding keeps last run's output, whose shape a
            # data-dependent output need not have again.
            binding.bind_output(name, 'cpu')
        self._session.run_with_iobinding(binding)   # CPU: no device synchronisation needed
        return binding

    def _infer_impl(self, batch: int) -> Dict[str, np.ndarray]:
        self._require_loaded()
        rows = batch if self._dynamic_batch else self._rows
        try:
            binding = self._run(rows)
        except Exception as exc:
            if not any(self._symbolic.values()):
                raise BackendError(f'onnxruntime: inference failed: {one_line(exc)}') from None
            # A symbolic output dimension changed with the content: let ORT allocate it.
            for name, symbolic in self._symbolic.items():
                if symbolic:
                    self._out_buffers[name] = None
                    self._symbolic[name] = False
                    self._dynamic_outputs.append(name)
            self._bindings.clear()
            self._results.clear()
            try:
                binding = self._run(rows)
            except Exception as exc2:
                raise BackendError(
                    f'onnxruntime: inference failed: {one_line(exc2)}') from None
        bound = self._results[rows]
        if rows == batch:
            results = dict(bound)
        else:   # fixed-batch model run full: hand back the rows asked for
            results = {k: v[:batch] for k, v in bound.items()}
        if len(results) < len(self._outputs):
            values = binding.get_outputs()
            for i, spec in enumerate(self._outputs):
                if spec.name not in results:
                    results[spec.name] = values[i].numpy()
        return results
