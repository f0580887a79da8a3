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
Real engine builds for the tests, through the node's own path, and a record of them.

Tests build with the installed builder (TensorRT-RTX in the dev/CI venv) through
``engine_source.cached_engine``, the function the node's configure and ``jetson-infer
build-engine`` use, into a test-owned cache folder. Every build is recorded with the
builder's own lines and the engine size, and the test session prints the record at the
end (test/conftest.py), so a CI log shows what the real builder did for each artefact.
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Optional

from jetson_infer_ros.backends.base import BackendOptions


@dataclasses.dataclass
class BuildRecord:
    """One call of the builder path: what, how big, how long, and the builder's lines."""

    artefact: str
    precision: str
    max_batch: int
    size: int
    seconds: float
    built: bool
    lines: List[str]


RECORDS: List[BuildRecord] = []


def real_builder() -> Any:
    """Return the capabilities of the installed TensorRT; AssertionError if there is none."""
    from jetson_infer_ros.backends.base import BackendUnavailable
    from jetson_infer_ros.backends.tensorrt import trt_module
    try:
        return trt_module.load()[1]
    except BackendUnavailable as exc:
        raise AssertionError(f'no TensorRT builder installed ({exc}); run make env, which '
                             'installs TensorRT-RTX from ros_env/requirements-tensorrt-rtx.txt'
                             ) from None


def build(artefact: str, onnx_path: str, cache_dir: str, precision: str = 'fp32',
          max_batch: int = 1, log: Optional[List[str]] = None, **options: Any) -> Any:
    """Build (or find cached) ``onnx_path``'s engine; return the EngineResult."""
    from jetson_infer_ros.backends.tensorrt import engine_source
    caps = real_builder()
    lines = log if log is not None else []
    start = len(lines)
    opts = BackendOptions(precision=precision, max_batch=max_batch, engine_cache_dir=cache_dir,
                          **options)
    target = engine_source.target_for(caps, None)
    try:
        result = engine_source.cached_engine(caps, onnx_path, opts, target, lines.append)
    except Exception:
        RECORDS.append(BuildRecord(artefact, precision, max_batch, 0, 0.0, False,
                                   lines[start:] + ['(build failed)']))
        raise
    RECORDS.append(BuildRecord(artefact, precision, max_batch, len(result.data),
                               result.seconds, result.built, lines[start:]))
    return result


def summary() -> List[str]:
    """Return the lines the test session prints at its end."""
    out = []
    for r in RECORDS:
        what = 'built' if r.built else ('cached' if r.size else 'no engine (the build raised)')
        out.append(f'{r.artefact} [{r.precision}, max batch {r.max_batch}]: {what}, '
                   f'{r.size} bytes ({r.size / 1e6:.1f} MB), {r.seconds:.2f} s')
        out.extend('    ' + line for line in r.lines)
    return out
