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
What the installed TensorRT can do, decided once, so no code path guesses by version.

The backend must run on TensorRT 8.5 (JetPack 5.1 on Xavier NX, Python 3.8) through
10.x (JetPack 6) to 11.x, and those versions disagree on exactly the calls an engine
build and an inference make: 8.5 introduced the name-based I/O API, 10.0 removed the
bindings API, ``max_workspace_size`` and the need for the EXPLICIT_BATCH flag, 10.1
deprecated the INT8 calibrators, 11 removed weak typing (``BuilderFlag.FP16/INT8``,
``int8_calibrator``). Every decision is made here from ``tensorrt.__version__`` plus
``hasattr`` on the module (attributes beat version numbers: vendors backport), and the
builder and runner only read the resulting flags. Unit tests feed stand-in module
objects with each version's attributes.

TensorRT-RTX (module ``tensorrt_rtx_bindings``, see ``trt_module``) is detected here too:
the TensorRT 10/11 API, strongly typed only, no calibrator, no DLA, no timing cache, and
a version of its own (1.x), which is checked against its own minimum.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, Tuple

#: oldest TensorRT the backend runs on (JetPack 5.1.x ships 8.5.2)
MIN_VERSION = (8, 5, 0)

#: TensorRT for RTX GPUs: its own product name and version line
RTX_PRODUCT = 'TensorRT-RTX'
RTX_MIN_VERSION = (1, 0, 0)


class TensorRTVersionError(RuntimeError):
    """The installed TensorRT is too old (or not TensorRT at all); says which."""


def parse_version(text: str) -> Tuple[int, int, int]:
    """'10.13.0.35' -> (10, 13, 0); raises TensorRTVersionError on anything else."""
    match = re.match(r'^\s*(\d+)\.(\d+)(?:\.(\d+))?', str(text))
    if not match:
        raise TensorRTVersionError(f'cannot read a TensorRT version from {text!r}')
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


@dataclasses.dataclass(frozen=True)
class TrtCapabilities:
    """Flags the builder and the runner branch on; see the module docstring."""

    version: Tuple[int, int, int]
    version_string: str
    name_based_io: bool             # num_io_tensors / set_tensor_address / execute_async_v3
    bindings_api: bool              # num_bindings / execute_async_v2 (gone in 10)
    memory_pool_limit: bool         # IBuilderConfig.set_memory_pool_limit (>= 8.4)
    max_workspace_size: bool        # the attribute it replaced (gone in 10)
    fp16_flag: bool                 # BuilderFlag.FP16 (weak typing; gone in 11)
    int8_flag: bool                 # BuilderFlag.INT8 (weak typing; gone in 11)
    legacy_calibrator: bool         # IInt8EntropyCalibrator2 + config.int8_calibrator
    strongly_typed_flag: bool       # NetworkDefinitionCreationFlag.STRONGLY_TYPED (>= 9)
    explicit_batch_flag_needed: bool  # < 10: EXPLICIT_BATCH must be passed to create_network
    progress_monitor: bool          # IProgressMonitor (>= 10)
    timing_cache: bool              # IBuilderConfig.create_timing_cache (not on RTX)
    product: str = 'TensorRT'       # or RTX_PRODUCT
    dla: bool = True                # DLA cores can be asked for (not on RTX)

    @property
    def rtx(self) -> bool:
        """Tell whether this is TensorRT-RTX (builds without a GPU, runs on RTX GPUs)."""
        return self.product == RTX_PRODUCT

    @property
    def display(self) -> str:
        """Name product and version for logs ('TensorRT 10.3.0.30', 'TensorRT-RTX 1.7.1.116')."""
        return f'{self.product} {self.version_string}'

    @property
    def engine_version(self) -> str:
        """Return the version an engine cache entry is valid for (products kept apart)."""
        return self.display if self.rtx else self.version_string

    @property
    def weak_typing(self) -> bool:
        """Tell whether builder precision flags exist (TensorRT < 11)."""
        return self.fp16_flag

    @property
    def min_version(self) -> Tuple[int, int, int]:
        return RTX_MIN_VERSION if self.rtx else MIN_VERSION

    @property
    def supported(self) -> bool:
        """Tell whether the backend can run on this TensorRT."""
        return self.version >= self.min_version and self.name_based_io

    def require_supported(self) -> None:
        """Raise TensorRTVersionError saying why this TensorRT cannot be used."""
        if self.version < self.min_version:
            raise TensorRTVersionError(
                f'{self.display} is older than '
                f'{".".join(map(str, self.min_version[:2]))}'
                + ('' if self.rtx else ', the first with the name-based I/O API this '
                   'backend uses (JetPack 5.1+)'))
        if not self.name_based_io:
            raise TensorRTVersionError(
                f'{self.display} lacks ICudaEngine.num_io_tensors / '
                'IExecutionContext.execute_async_v3')


def _has(obj: Any, *names: str) -> bool:
    return obj is not None and all(hasattr(obj, n) for n in names)


def detect(trt: Any) -> TrtCapabilities:
    """Read a TensorRT module's capabilities (a real module or a test stand-in)."""
    version_string = getattr(trt, '__version__', None)
    if not isinstance(version_string, str):
        raise TensorRTVersionError(
            'the imported "tensorrt" has no __version__: only type stubs or a broken '
            'install are present, not the TensorRT runtime')
    version = parse_version(version_string)
    rtx = str(getattr(trt, '__name__', '')).startswith('tensorrt_rtx')
    engine = getattr(trt, 'ICudaEngine', None)
    context = getattr(trt, 'IExecutionContext', None)
    config = getattr(trt, 'IBuilderConfig', None)
    flags = getattr(trt, 'BuilderFlag', None)
    net_flags = getattr(trt, 'NetworkDefinitionCreationFlag', None)
    return TrtCapabilities(
        version=version,
        version_string=version_string,
        name_based_io=(_has(engine, 'num_io_tensors', 'get_tensor_name', 'get_tensor_mode')
                       and _has(context, 'set_tensor_address', 'execute_async_v3',
                                'set_input_shape')),
        bindings_api=_has(engine, 'num_bindings') and _has(context, 'execute_async_v2'),
        memory_pool_limit=_has(config, 'set_memory_pool_limit') and _has(trt, 'MemoryPoolType'),
        max_workspace_size=_has(config, 'max_workspace_size'),
        fp16_flag=_has(flags, 'FP16'),
        int8_flag=_has(flags, 'INT8'),
        legacy_calibrator=(_has(trt, 'IInt8EntropyCalibrator2')
                           and _has(config, 'int8_calibrator') and _has(flags, 'INT8')),
        strongly_typed_flag=_has(net_flags, 'STRONGLY_TYPED'),
        explicit_batch_flag_needed=(not rtx and version < (10, 0, 0)
                                    and _has(net_flags, 'EXPLICIT_BATCH')),
        progress_monitor=_has(trt, 'IProgressMonitor') and _has(config, 'progress_monitor'),
        # TensorRT-RTX: a timing cache makes the builder look for a GPU, and has no effect
        timing_cache=not rtx and _has(config, 'create_timing_cache', 'set_timing_cache'),
        product=RTX_PRODUCT if rtx else 'TensorRT',
        dla=not rtx,
    )
