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
The contract every inference backend keeps, so the node never knows which one runs.

The shape follows Polygraphy's runners: ``load()`` maps onto the lifecycle node's
configure, ``release()`` onto cleanup, and ``infer()`` runs on a host input buffer the
backend owns and preallocates, so preprocessing writes straight into it and steady state
allocates nothing per frame. Outputs may be reused between calls: callers copy what they
keep past the next ``infer()``.
"""

from __future__ import annotations

import abc
import dataclasses
from typing import Any, Dict, List, Optional, Tuple

import numpy as np


class BackendError(RuntimeError):
    """A model could not be loaded or run; the message is one line a user can act on."""


class BackendUnavailable(BackendError):
    """The backend's runtime (TensorRT, CUDA, ONNX Runtime) is not installed here."""


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    """
    Name, shape and dtype of one model input or output.

    Dynamic dimensions are ``-1``; ``dtype`` is a NumPy dtype.
    """

    name: str
    shape: Tuple[int, ...]
    dtype: np.dtype

    @property
    def is_dynamic(self) -> bool:
        return any(d < 0 for d in self.shape)


@dataclasses.dataclass(frozen=True)
class BackendOptions:
    """
    Everything a backend needs besides the model file.

    One value, so that whatever changes an engine build also names its cache entry.
    """

    precision: str = 'fp32'            # fp32 | fp16 | int8 (what was asked for)
    max_batch: int = 1                 # engine/session batch size; 1 = no batching
    intra_op_threads: int = 0          # ONNX Runtime; 0 = runtime default
    inter_op_threads: int = 1
    device_id: int = 0                 # CUDA device
    dla_core: int = -1                 # -1 = GPU
    workspace_mb: int = 1024           # TensorRT memory pool limit
    engine_cache_dir: str = ''         # '' = ~/.cache/jetson_infer_ros/engines
    calibration_cache: str = ''        # TensorRT legacy INT8 calibrator cache
    use_cuda_graph: bool = False
    gpu_preprocess: bool = False
    extra: Tuple[Tuple[str, Any], ...] = ()


class Backend(abc.ABC):
    """One loaded model that turns an input tensor into named output tensors."""

    #: short name used in logs, diagnostics and parameters ('onnxruntime', 'tensorrt')
    name = 'abstract'

    def __init__(self, model_path: str, options: Optional[BackendOptions] = None) -> None:
        self.model_path = model_path
        self.options = options or BackendOptions()
        self._loaded = False

    # -- life cycle ----------------------------------------------------------------
    def load(self) -> None:
        """Load the model and allocate buffers; raises BackendError with one clear line."""
        if not self._loaded:
            self._load_impl()
            self._loaded = True

    def release(self) -> None:
        """Free everything load() took; safe to call twice or after a failed load."""
        if self._loaded:
            self._loaded = False
        self._release_impl()

    @property
    def loaded(self) -> bool:
        return self._loaded

    # -- what the model looks like -------------------------------------------------
    @property
    @abc.abstractmethod
    def input_spec(self) -> TensorSpec:
        """Describe the single image input (batch dimension first)."""

    @property
    @abc.abstractmethod
    def output_specs(self) -> List[TensorSpec]:
        """Describe all outputs, in model order."""

    @property
    def max_batch(self) -> int:
        """Return the largest batch infer() accepts."""
        return self.options.max_batch

    # -- running -------------------------------------------------------------------
    @abc.abstractmethod
    def input_buffer(self) -> np.ndarray:
        """Preallocated host array of shape (max_batch, ...) that preprocessing writes into."""

    def infer(self, batch: int = 1) -> Dict[str, np.ndarray]:
        """Run the first ``batch`` items of input_buffer(); outputs have ``batch`` rows."""
        if not self._loaded:
            raise BackendError(f'{self.name}: infer() called before load()')
        if not 1 <= batch <= self.max_batch:
            raise BackendError(f'{self.name}: batch {batch} outside 1..{self.max_batch}')
        return self._infer_impl(batch)

    def info(self) -> Dict[str, str]:
        """Describe for diagnostics: backend, device, precision in use, model/engine hash."""
        return {'backend': self.name, 'precision': self.options.precision}

    # -- for subclasses ------------------------------------------------------------
    @abc.abstractmethod
    def _load_impl(self) -> None: ...

    @abc.abstractmethod
    def _release_impl(self) -> None: ...

    @abc.abstractmethod
    def _infer_impl(self, batch: int) -> Dict[str, np.ndarray]: ...
