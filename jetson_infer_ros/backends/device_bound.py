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
What every backend whose input lives in CUDA memory it owns shows the pipeline.

The GPU data path (pipeline._run_on_gpu) writes preprocessed rows straight into the
backend's bound input on the backend's stream, then runs it without an upload. TensorRT
and ONNX Runtime on CUDA hand it the same things (the binding, the stream, a row's
device address); they differ only in how they load and run, so the accessors are here
once and each backend keeps its own ``_run``.
"""

from __future__ import annotations

import abc
import logging
from typing import Callable, Dict, List, Optional, TYPE_CHECKING

import numpy as np

from jetson_infer_ros.backends.base import Backend, BackendError, BackendOptions, TensorSpec

if TYPE_CHECKING:
    from typing import Protocol

    from jetson_infer_ros.cuda.binding import CudaApi

    class DeviceTensor(Protocol):
        """A bound tensor: device memory and its pinned host mirror, rows first."""

        @property
        def array(self) -> np.ndarray: ...

        @property
        def device(self) -> int: ...

        @property
        def row_bytes(self) -> int: ...


class DeviceBoundBackend(Backend):
    """A backend whose input is a device buffer the GPU preprocessing can write into."""

    def __init__(self, model_path: str, options: Optional[BackendOptions] = None,
                 log: Optional[Callable[[str], None]] = None,
                 cuda_api: Optional['CudaApi'] = None) -> None:
        """Remember what to load; nothing is imported or allocated until load()."""
        super().__init__(model_path, options)
        self._log = log or logging.getLogger(type(self).__module__).info
        self._api = cuda_api
        self._own_api = cuda_api is None     # ours to close at release()
        self._stream = 0
        self._input: Optional['DeviceTensor'] = None
        self._input_spec: Optional[TensorSpec] = None
        self._output_specs: List[TensorSpec] = []
        self._rows = 1                       # rows allocated for the input

    @abc.abstractmethod
    def _run(self, batch: int, copy_input: bool) -> Dict[str, np.ndarray]:
        """Run ``batch`` rows, uploading input_buffer() first when ``copy_input``."""

    def _infer_impl(self, batch: int) -> Dict[str, np.ndarray]:
        return self._run(batch, copy_input=True)

    # -- Backend contract ----------------------------------------------------------
    @property
    def input_spec(self) -> TensorSpec:
        """Return the image input; batch is -1 when the model's batch is dynamic."""
        if self._input_spec is None:
            raise BackendError(f'{self.name}: input_spec read before load()')
        return self._input_spec

    @property
    def output_specs(self) -> List[TensorSpec]:
        """Return all outputs in model order, batch -1 when dynamic."""
        return list(self._output_specs)

    @property
    def max_batch(self) -> int:
        """Return the rows of input_buffer(): max_batch, or the model's fixed batch."""
        return self._rows if self._input is not None else self.options.max_batch

    def input_buffer(self) -> np.ndarray:
        """Pinned host array (rows, ...) for CPU preprocessing; infer() uploads it."""
        if self._input is None:
            raise BackendError(f'{self.name}: input_buffer() called before load()')
        return self._input.array

    # -- what the GPU data path uses -------------------------------------------------
    @property
    def cuda_api(self) -> 'CudaApi':
        """Return the CUDA binding the buffers live on (GPU preprocessing shares it)."""
        if self._api is None:
            raise BackendError(f'{self.name}: cuda_api read before load()')
        return self._api

    @property
    def cuda_stream(self) -> int:
        """Return the stream inference runs on: preprocessing enqueues on it, no sync."""
        return self._stream

    def input_device_pointer(self, index: int = 0) -> int:
        """Device address of batch row ``index`` of the bound input."""
        if self._input is None:
            raise BackendError(f'{self.name}: input_device_pointer() called before load()')
        if not 0 <= index < self._rows:
            raise BackendError(f'{self.name}: batch row {index} outside '
                               f'0..{self._rows - 1}')
        return self._input.device + index * self._input.row_bytes

    def infer_from_device(self, batch: int = 1) -> Dict[str, np.ndarray]:
        """Like infer(), for an input already written on the device (no upload)."""
        if not self._loaded:
            raise BackendError(f'{self.name}: infer_from_device() called before load()')
        if not 1 <= batch <= self.max_batch:
            raise BackendError(f'{self.name}: batch {batch} outside 1..{self.max_batch}')
        return self._run(batch, copy_input=False)
