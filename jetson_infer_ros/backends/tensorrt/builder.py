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
ONNX -> serialized TensorRT engine, for every TensorRT from 8.5 to 11.

``build_engine`` is a plain blocking function with a ``log`` callback: the node runs it
off the executor thread (a Jetson build takes minutes) and forwards the lines. What it
does, in order: parse the ONNX (all parser errors joined into one line), add an
optimisation profile when the batch dimension is dynamic (min 1, opt = max =
max_batch), cap the workspace, reuse the timing cache kept next to the engines, pick
the precision the installed TensorRT supports (FP16 builder flag on < 11, strongly
typed network on 11; INT8 through Q/DQ in the ONNX, or on < 11 a legacy entropy
calibrator that only replays a calibration cache), place layers on a DLA core with GPU
fallback, and report progress (IProgressMonitor on >= 10, a periodic line otherwise).

Which branch runs is decided by ``TrtCapabilities``, never by catching AttributeError;
``trt`` is TensorRT or TensorRT-RTX (``trt_module``), whose builder runs without a GPU,
takes no timing cache and no DLA, and is strongly typed like TensorRT 11.
APIs missing from the 10.13 type stubs (``max_workspace_size``) are reached through
``setattr`` so mypy checks every other call against the real signatures.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, List, Optional, TYPE_CHECKING

from jetson_infer_ros.backends.base import BackendError
from jetson_infer_ros.backends.tensorrt.capabilities import TrtCapabilities
from jetson_infer_ros.backends.tensorrt.engine_cache import atomic_write, BuildConfig
from jetson_infer_ros.backends.tensorrt.trt_module import trt

if TYPE_CHECKING:
    import tensorrt as trt_types

Log = Callable[[str], None]


class EngineBuildError(BackendError):
    """The engine could not be built; the message is one line saying why."""


def make_logger(log: Log, verbose: bool = False) -> 'trt_types.ILogger':
    """
    Return the trt.ILogger forwarding warnings and errors (info when verbose) to ``log``.

    TensorRT keeps the first logger a process gives it and ignores later ones ("The
    logger passed into createInferBuilder differs from one already registered"), so there
    is one per TensorRT module, and each call points it at the new ``log``: a second
    build's lines reach its own caller, not the first one's. It also keeps the errors of
    the current call, so a failed build or load can say why in one line.
    """
    module_logger = _LOGGERS.get(id(trt.ILogger))
    if module_logger is None:
        module_logger = _LOGGERS[id(trt.ILogger)] = _new_logger()
    module_logger.target = log
    module_logger.verbose = verbose
    module_logger.last_error = ''
    module_logger.errors = []
    return module_logger


_LOGGERS: Dict[int, Any] = {}


def _new_logger() -> Any:
    severity = trt.ILogger.Severity

    class _Logger(trt.ILogger):

        def __init__(self) -> None:
            trt.ILogger.__init__(self)
            self.target: Log = lambda _msg: None
            self.verbose = False
            self.last_error = ''
            self.errors: List[str] = []

        def log(self, level: 'trt_types.ILogger.Severity', msg: str) -> None:
            if level in (severity.INTERNAL_ERROR, severity.ERROR):
                self.last_error = msg
                self.errors.append(msg)
                self.target(f'TensorRT error: {msg}')
            elif level == severity.WARNING:
                self.target(f'TensorRT warning: {msg}')
            elif self.verbose and level == severity.INFO:
                self.target(f'TensorRT: {msg}')

    return _Logger()


def _progress_monitor(log: Log) -> 'trt_types.IProgressMonitor':
    """Return an IProgressMonitor (TensorRT >= 10) logging phases and progress."""

    class _Progress(trt.IProgressMonitor):

        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)
            self._steps: dict = {}
            self._last = time.monotonic()   # a line every 10 s, for builds that long

        def phase_start(self, phase_name: str, parent_phase: Optional[str],
                        num_steps: int) -> None:
            self._steps[phase_name] = max(1, int(num_steps))
            if parent_phase is None:
                log(f'engine build: {phase_name} ({num_steps} steps)')

        def step_complete(self, phase_name: str, step: int) -> bool:
            now = time.monotonic()
            if now - self._last > 10.0:
                self._last = now
                total = self._steps.get(phase_name, 1)
                log(f'engine build: {phase_name} {100.0 * (step + 1) / total:.0f} %')
            return True  # False would cancel the build

        def phase_finish(self, phase_name: str) -> None:
            self._steps.pop(phase_name, None)

    return _Progress()


class _Heartbeat:
    """A line every ``period`` seconds while an older TensorRT builds silently."""

    def __init__(self, log: Log, period: float = 15.0) -> None:
        self._log = log
        self._period = period
        self._stop = threading.Event()
        self._start = time.monotonic()
        self._thread = threading.Thread(target=self._run, name='trt-build-heartbeat',
                                        daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            self._log(f'engine build: still running ({time.monotonic() - self._start:.0f} s)')

    def __enter__(self) -> '_Heartbeat':
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=1.0)


def parser_errors(parser: 'trt_types.OnnxParser') -> str:
    """Every OnnxParser error as one line: 'node N (op): description | ...'."""
    parts: List[str] = []
    for i in range(parser.num_errors):
        err = parser.get_error(i)
        try:
            where = f'node {err.node()}'
            name = err.node_name() if hasattr(err, 'node_name') else ''
            op = err.node_operator() if hasattr(err, 'node_operator') else ''
            if name or op:
                where += f' {name} ({op})'.rstrip()
            parts.append(f'{where}: {err.desc()}')
        except Exception:  # an older parser's error object: its str() still says it
            parts.append(str(err))
    return ' | '.join(p.replace('\n', ' ') for p in parts) or 'no error details'


def has_quantize_layers(network: 'trt_types.INetworkDefinition') -> bool:
    """Tell whether the ONNX carried Q/DQ nodes (explicit quantization)."""
    wanted = {trt.LayerType.QUANTIZE, trt.LayerType.DEQUANTIZE}
    return any(network.get_layer(i).type in wanted for i in range(network.num_layers))


def cache_only_calibrator(cache: bytes, batch: int) -> 'trt_types.IInt8Calibrator':
    """
    Return a legacy entropy calibrator that only replays a calibration cache.

    Only called where ``TrtCapabilities.legacy_calibrator`` is true (TensorRT < 11).
    Calibrating from images is a separate offline step (it needs a data set); at
    build time on the robot, the cache is all TensorRT needs.
    """

    class _CacheCalibrator(trt.IInt8EntropyCalibrator2):

        def __init__(self) -> None:
            trt.IInt8EntropyCalibrator2.__init__(self)

        def get_batch_size(self) -> int:
            return batch

        # TensorRT reads None as "no more batches"; the stubs only allow a list.
        def get_batch(self, names: List[str]) -> Optional[List[int]]:  # type: ignore[override]
            return None  # no data: TensorRT uses the cache

        def read_calibration_cache(self) -> bytes:
            return cache

        def write_calibration_cache(self, data: Any) -> None:
            return None

    return _CacheCalibrator()


def _dynamic_batch_profile(builder: 'trt_types.Builder',
                           network: 'trt_types.INetworkDefinition', config: BuildConfig,
                           log: Log) -> Optional['trt_types.IOptimizationProfile']:
    """Profile min 1 / opt = max = max_batch for inputs with a dynamic batch dimension."""
    profile = None
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        dims = tensor.shape
        shape = [int(dims[j]) for j in range(len(dims))]
        explicit = {name: (lo, opt, hi) for name, lo, opt, hi in config.profile_shapes}
        if tensor.name in explicit:
            lo, opt, hi = explicit[tensor.name]
        elif any(d < 0 for d in shape[1:]):
            raise EngineBuildError(
                f'input {tensor.name!r} has dynamic dimensions besides the batch {shape}; '
                'export the ONNX with a fixed input size')
        elif shape and shape[0] < 0:
            rest = tuple(shape[1:])
            lo, opt, hi = (1,) + rest, (config.max_batch,) + rest, (config.max_batch,) + rest
        else:
            if shape and shape[0] < config.max_batch:
                log(f'input {tensor.name!r} has a fixed batch of {shape[0]}; '
                    f'max_batch {config.max_batch} cannot be used with this ONNX')
            continue
        if profile is None:
            profile = builder.create_optimization_profile()
        profile.set_shape(tensor.name, trt.Dims(list(lo)), trt.Dims(list(opt)),
                          trt.Dims(list(hi)))
        log(f'optimisation profile {tensor.name}: min {lo} opt {opt} max {hi}')
    return profile


def build_engine(caps: TrtCapabilities, onnx_bytes: bytes, config: BuildConfig,
                 log: Log, onnx_path: str = '', timing_cache_path: str = '',
                 calibration_cache: bytes = b'', verbose: bool = False) -> bytes:
    """
    Build and return a serialized engine; raises EngineBuildError with the reason.

    ``onnx_path`` lets the parser find external weight files next to the model.
    """
    caps.require_supported()
    logger = make_logger(log, verbose)
    builder = trt.Builder(logger)
    flags = 0
    if caps.explicit_batch_flag_needed:
        flags |= 1 << int(getattr(trt.NetworkDefinitionCreationFlag, 'EXPLICIT_BATCH'))
    strongly_typed = not caps.weak_typing and caps.strongly_typed_flag
    if strongly_typed:
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    ok = (parser.parse(onnx_bytes, onnx_path) if onnx_path
          else parser.parse(onnx_bytes))
    if not ok:
        logged = getattr(logger, 'errors', [])
        detail = parser_errors(parser)
        if logged and logged[0].replace('\n', ' ') not in detail:
            detail += ' | ' + logged[0].replace('\n', ' ')
        raise EngineBuildError(f'{caps.display} could not parse the ONNX: {detail}')
    if network.num_inputs < 1 or network.num_outputs < 1:
        raise EngineBuildError('the ONNX has no inputs or no outputs')

    build_config = builder.create_builder_config()
    workspace = int(config.workspace_mb) << 20
    if caps.memory_pool_limit:
        build_config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace)
    elif caps.max_workspace_size:
        setattr(build_config, 'max_workspace_size', workspace)  # TensorRT < 8.4

    profile = _dynamic_batch_profile(builder, network, config, log)
    if profile is not None:
        build_config.add_optimization_profile(profile)

    _set_precision(caps, builder, network, build_config, config, calibration_cache,
                   strongly_typed, log)
    _set_dla(caps, builder, build_config, config, log)

    timing_cache = None
    if caps.timing_cache and timing_cache_path:
        previous = b''
        try:
            with open(timing_cache_path, 'rb') as f:
                previous = f.read()
        except OSError:
            pass
        timing_cache = build_config.create_timing_cache(previous)
        if not build_config.set_timing_cache(timing_cache, False):
            log('timing cache from another TensorRT/GPU ignored; starting a new one')
            timing_cache = build_config.create_timing_cache(b'')
            build_config.set_timing_cache(timing_cache, True)
        elif previous:
            log(f'reusing timing cache {timing_cache_path}')

    started = time.monotonic()
    log(f'building {caps.display} engine ({config.precision}, max batch '
        f'{config.max_batch}, workspace {config.workspace_mb} MB'
        + (f', DLA core {config.dla_core}' if config.dla_core >= 0 else '') + ')')
    if caps.rtx:
        log(f'{caps.display} builds ahead of time, without a GPU: the engine is for RTX GPUs '
            '(compute capability 8.0, 8.6, 8.9, 12.x) and is compiled for the device when '
            'it is loaded')
    if caps.progress_monitor:
        build_config.progress_monitor = _progress_monitor(log)
        serialized = builder.build_serialized_network(network, build_config)
    else:
        with _Heartbeat(log):
            serialized = builder.build_serialized_network(network, build_config)
    if serialized is None:
        reason = getattr(logger, 'last_error', '') or 'see the TensorRT errors logged above'
        raise EngineBuildError(f'TensorRT could not build the engine: {reason}')
    data = bytes(memoryview(serialized))
    log(f'engine built by {caps.display} in {time.monotonic() - started:.2f} s: '
        f'{len(data)} bytes ({len(data) / 1e6:.1f} MB)')

    if timing_cache is not None:
        try:
            atomic_write(timing_cache_path,
                         bytes(memoryview(build_config.get_timing_cache().serialize())))
        except OSError as exc:
            log(f'could not save the timing cache {timing_cache_path}: {exc}')
    return data


def _set_precision(caps: TrtCapabilities, builder: 'trt_types.Builder',
                   network: 'trt_types.INetworkDefinition',
                   build_config: 'trt_types.IBuilderConfig', config: BuildConfig,
                   calibration_cache: bytes, strongly_typed: bool, log: Log) -> None:
    """FP16 / INT8 the way this TensorRT allows; see the module docstring."""
    if config.precision == 'fp32':
        return
    if strongly_typed:
        # TensorRT 11: tensor types come from the ONNX itself.
        if config.precision == 'int8' and not has_quantize_layers(network):
            raise EngineBuildError(
                f'{caps.display} builds INT8 only from an ONNX with Q/DQ '
                'nodes (explicit quantization); this ONNX has none')
        log(f'{caps.display} has no builder precision flags: the network is strongly '
            f'typed and runs in the precision of its ONNX ({config.precision}: '
            + ('the Q/DQ nodes' if config.precision == 'int8' else 'its float16 tensors')
            + ')')
        return
    if not builder.platform_has_fast_fp16:
        log('this GPU has no fast FP16; building anyway as asked')
    build_config.set_flag(trt.BuilderFlag.FP16)  # fp16, and int8's fallback precision
    if config.precision == 'fp16':
        return
    if not caps.int8_flag:
        raise EngineBuildError(f'TensorRT {caps.version_string} has no INT8 builder flag')
    build_config.set_flag(trt.BuilderFlag.INT8)
    if has_quantize_layers(network):
        log('INT8 from the Q/DQ nodes in the ONNX (explicit quantization)')
        return
    if caps.legacy_calibrator and calibration_cache:
        log(f'INT8 from a calibration cache ({len(calibration_cache)} bytes; legacy '
            'entropy calibrator, deprecated since TensorRT 10.1)')
        build_config.int8_calibrator = cache_only_calibrator(calibration_cache,
                                                             config.max_batch)
        return
    raise EngineBuildError(
        'INT8 needs an ONNX with Q/DQ nodes (explicit quantization)'
        + (' or a calibration_cache file' if caps.legacy_calibrator else '')
        + '; neither was given')


def _set_dla(caps: TrtCapabilities, builder: 'trt_types.Builder',
             build_config: 'trt_types.IBuilderConfig', config: BuildConfig, log: Log) -> None:
    """Run on DLA core ``dla_core`` with GPU fallback for layers DLA cannot run."""
    if config.dla_core < 0:
        return
    if not caps.dla:
        raise EngineBuildError(f'dla_core {config.dla_core} requested but {caps.display} has '
                               'no DLA (Jetson only); set dla_core -1')
    cores = builder.num_DLA_cores
    if config.dla_core >= cores:
        raise EngineBuildError(
            f'dla_core {config.dla_core} requested but this device has {cores} DLA cores '
            '(Orin/Xavier have 2, Orin Nano 0, desktop GPUs 0)')
    if config.precision == 'fp32':
        raise EngineBuildError('DLA runs FP16 or INT8 only: set precision to fp16 or int8')
    build_config.default_device_type = trt.DeviceType.DLA
    build_config.DLA_core = int(config.dla_core)
    build_config.set_flag(trt.BuilderFlag.GPU_FALLBACK)
    log(f'layers on DLA core {config.dla_core}, GPU fallback on')
