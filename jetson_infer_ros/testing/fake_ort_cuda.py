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
An onnxruntime that claims a CUDA execution provider and runs on the CPU underneath.

Paired with ``FakeCudaApi`` (whose "device" memory is host memory), it lets CI drive
``OnnxRuntimeGpuBackend`` through everything but the GPU itself: the providers and
provider options it asks for (its own stream as ``user_compute_stream``, CUDA graph),
device buffers bound by pointer (a ``cuda`` binding is served as a ``cpu`` one at the same
address), per-batch bindings and run options, the copies in and out, the fallbacks when
the provider or the graph capture is refused, and what it frees. Every session, binding
and run is recorded for the tests to inspect.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence


class FakeOrtCuda:
    """Module-like stand-in for ``onnxruntime`` with a CUDA EP that computes on the CPU."""

    def __init__(self, providers: Sequence[str] = ('CUDAExecutionProvider',
                                                   'CPUExecutionProvider'),
                 cuda_starts: bool = True, refuse_graph: bool = False) -> None:
        """``cuda_starts`` False: sessions fall back to the CPU EP, as ORT does silently."""
        import onnxruntime
        self._ort = onnxruntime
        self.__version__ = f'{onnxruntime.__version__}-fake-cuda'
        self.providers = list(providers)
        self.cuda_starts = cuda_starts
        self.refuse_graph = refuse_graph
        self.sessions: List['FakeSession'] = []
        self.SessionOptions = onnxruntime.SessionOptions
        self.GraphOptimizationLevel = onnxruntime.GraphOptimizationLevel
        self.ExecutionMode = onnxruntime.ExecutionMode
        self.RunOptions = onnxruntime.RunOptions

    def get_available_providers(self) -> List[str]:  # noqa: D102
        return list(self.providers)

    def InferenceSession(self, path: str, sess_options: Any = None,  # noqa: N802
                         providers: Optional[Sequence[str]] = None,
                         provider_options: Optional[Sequence[Dict[str, str]]] = None
                         ) -> 'FakeSession':
        """Open ``path`` on the CPU EP, remembering what was asked for."""
        asked = dict(zip(providers or [], provider_options or [{}] * len(providers or [])))
        if self.refuse_graph and any(o.get('enable_cuda_graph') == '1'
                                     for o in asked.values()):
            raise RuntimeError('[ONNXRuntimeError] : 1 : FAIL : This session cannot use the '
                               'graph capture feature as requested by the user as the model '
                               'has nodes assigned to CPU')
        real = self._ort.InferenceSession(path, sess_options=sess_options,
                                          providers=['CPUExecutionProvider'])
        session = FakeSession(real, asked, self.cuda_starts)
        self.sessions.append(session)
        return session


class FakeSession:
    """A real CPU session that reports the CUDA EP and serves cuda bindings from host memory."""

    def __init__(self, real: Any, asked: Dict[str, Dict[str, str]], cuda_starts: bool) -> None:
        self.real = real
        self.asked = asked
        self.cuda_starts = cuda_starts
        self.runs: List[Dict[str, Any]] = []
        self.plain_runs = 0

    def get_providers(self) -> List[str]:  # noqa: D102
        gpu = [p for p in self.asked if p != 'CPUExecutionProvider'] if self.cuda_starts else []
        return gpu + ['CPUExecutionProvider']

    def get_inputs(self) -> Any:  # noqa: D102
        return self.real.get_inputs()

    def get_outputs(self) -> Any:  # noqa: D102
        return self.real.get_outputs()

    def run(self, names: Any, feeds: Dict[str, Any]) -> Any:
        """Run with host arrays (what the backend's shape probe does)."""
        self.plain_runs += 1
        return self.real.run(names, feeds)

    def io_binding(self) -> 'FakeBinding':  # noqa: D102
        return FakeBinding(self.real.io_binding())

    def run_with_iobinding(self, binding: 'FakeBinding', run_options: Any = None) -> None:
        """Run the real binding; record the run options the backend passed."""
        entries = {}
        for key in ('disable_synchronize_execution_providers', 'gpu_graph_id'):
            try:
                entries[key] = run_options.get_run_config_entry(key)
            except Exception:  # noqa: B902 - ORT raises when a key is absent
                entries[key] = None
        self.runs.append({'options': entries, 'inputs': list(binding.inputs)})
        self.real.run_with_iobinding(binding.real, run_options)


class FakeBinding:
    """IOBinding whose ``cuda`` device means host memory (FakeCudaApi's "device")."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.inputs: List[Any] = []
        self.outputs: List[Any] = []

    @staticmethod
    def _device(device_type: str) -> str:
        return 'cpu' if device_type == 'cuda' else device_type

    def bind_input(self, name: str, device_type: str, device_id: int, element_type: Any,
                   shape: Any, buffer_ptr: int) -> None:  # noqa: D102
        self.inputs.append((name, device_type, tuple(shape), int(buffer_ptr)))
        self.real.bind_input(name, self._device(device_type), 0, element_type, shape,
                             buffer_ptr)

    def bind_output(self, name: str, device_type: str = 'cpu', device_id: int = 0,
                    element_type: Any = None, shape: Any = None,
                    buffer_ptr: Optional[int] = None) -> None:  # noqa: D102
        self.outputs.append((name, device_type, None if shape is None else tuple(shape),
                             buffer_ptr))
        if buffer_ptr is None:
            self.real.bind_output(name, self._device(device_type))
        else:
            self.real.bind_output(name, self._device(device_type), 0, element_type, shape,
                                  buffer_ptr)

    def get_outputs(self) -> Any:  # noqa: D102
        return self.real.get_outputs()
