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
ONNX + backend options -> engine bytes, from the engine cache or a fresh build.

The node (at configure) and ``jetson-infer build-engine`` (offline) take the same path,
so an engine built ahead of time is the very cache entry the node then finds: the same
build configuration, the same key. Only the target differs in where it comes from: the
GPU the runtime opened, or, for TensorRT-RTX, whose engines are portable across RTX
GPUs and are built without one, ``trt_module.RTX_PORTABLE_TARGET``.

Precision on a strongly typed TensorRT (11, TensorRT-RTX) comes from the network's own
types, so ``fp16`` there builds an FP16 copy of the ONNX (float16 weights and
activations, float32 inputs and outputs so preprocessing and decoding are unchanged;
``fp16_onnx``); ``int8`` needs the Q/DQ model ``calibrate`` writes. On weak-typed
TensorRT (8.x/10.x) the builder flags do it, and the calibration cache ``calibrate``
writes beside the Q/DQ model (``BackendOptions.calibration_cache``) reaches the builder:
should that TensorRT refuse the Q/DQ model, the FP32 model it was calibrated from is
built with the cache (implicit INT8, same ranges) instead of failing configure.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from typing import Callable, Optional, Tuple

from jetson_infer_ros.backends.base import BackendError, BackendOptions
from jetson_infer_ros.backends.tensorrt import engine_cache
from jetson_infer_ros.backends.tensorrt.capabilities import TrtCapabilities

Log = Callable[[str], None]
Target = Tuple[str, Tuple[int, int]]     # (GPU name, compute capability)


@dataclasses.dataclass
class EngineResult:
    """Engine bytes and where they came from."""

    data: bytes
    key: str
    path: str            # the cache entry
    built: bool          # False: found in the cache
    seconds: float       # build time (0 when cached)
    identity: engine_cache.EngineIdentity


def read_calibration_cache(path: str) -> bytes:
    """Return the legacy INT8 calibration cache at ``path`` ('' -> b'')."""
    if not path:
        return b''
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError as exc:
        raise BackendError(f'tensorrt: calibration_cache {path} unreadable '
                           f'({exc.strerror or exc})') from None


def build_config(options: BackendOptions, calibration: bytes) -> engine_cache.BuildConfig:
    """Return the BuildConfig (part of the cache key) for these options."""
    try:
        return engine_cache.BuildConfig(
            precision=options.precision, dla_core=options.dla_core,
            workspace_mb=options.workspace_mb, max_batch=options.max_batch,
            calibration_cache_sha256=(hashlib.sha256(calibration).hexdigest()
                                      if calibration else ''))
    except ValueError as exc:
        raise BackendError(f'tensorrt: {exc}') from None


def network_onnx(caps: TrtCapabilities, onnx_bytes: bytes, precision: str, log: Log) -> bytes:
    """Return the ONNX the builder parses: an FP16 copy for fp16 on a strongly typed TensorRT."""
    if precision != 'fp16' or caps.weak_typing:
        return onnx_bytes
    from jetson_infer_ros.backends.tensorrt import fp16_onnx
    converted, note = fp16_onnx.convert(onnx_bytes)
    log(f'{caps.display} is strongly typed: {note}')
    return converted


def cached_engine(caps: TrtCapabilities, onnx_path: str, options: BackendOptions,
                  target: Target, log: Log, force_build: bool = False) -> EngineResult:
    """
    Return the engine for ``onnx_path`` under ``options`` on ``target``; build it if needed.

    A cached entry that is corrupt or from another TensorRT/GPU is reported, removed and
    rebuilt (EngineCache.load); ``force_build`` skips the cache (the runtime refused a
    cached engine). Raises BackendError / EngineBuildError with one line.
    """
    from jetson_infer_ros.backends.tensorrt.builder import build_engine, EngineBuildError
    try:
        with open(onnx_path, 'rb') as f:
            onnx_bytes = f.read()
    except OSError as exc:
        raise BackendError(f'tensorrt: model file unreadable: {onnx_path} '
                           f'({exc.strerror or exc})') from None
    calibration = b''
    if options.calibration_cache:
        if caps.legacy_calibrator:
            calibration = read_calibration_cache(options.calibration_cache)
        else:
            log(f'{caps.display} has no INT8 calibrator: the calibration cache is not used '
                '(INT8 comes from the Q/DQ nodes)')
    build = build_config(options, calibration)
    identity = engine_cache.EngineIdentity(
        onnx_sha256=hashlib.sha256(onnx_bytes).hexdigest(), build=build,
        trt_version=caps.engine_version, gpu_name=target[0],
        compute_capability=(int(target[1][0]), int(target[1][1])))
    cache = engine_cache.EngineCache(options.engine_cache_dir, log)
    key = identity.key()
    path = cache.engine_path(key)
    cached = None if force_build else cache.load(identity)
    if cached is not None:
        log(f'tensorrt: using cached engine {path}')
        return EngineResult(cached, key, path, False, 0.0, identity)
    log(f'tensorrt: no cached engine {key[:16]}; building it')
    started = time.monotonic()
    network = network_onnx(caps, onnx_bytes, options.precision, log)
    timing = (cache.timing_cache_path(caps.engine_version, target[0], identity.compute_capability)
              if caps.timing_cache else '')
    verbose = bool(dict(options.extra).get('verbose'))
    try:
        data = build_engine(caps, network, build, log, onnx_path=os.path.abspath(onnx_path),
                            timing_cache_path=timing, calibration_cache=calibration,
                            verbose=verbose)
    except EngineBuildError as exc:
        fp32 = legacy_fallback_model(options.calibration_cache) if calibration else None
        if fp32 is None:
            raise
        # TensorRT 8.x/10.x: implicit INT8 from the same ranges, on the FP32 model
        log(f'{caps.display} could not build the Q/DQ model ({exc}); building the FP32 model '
            f'{fp32} with the calibration cache instead (legacy calibrator)')
        with open(fp32, 'rb') as f:
            fp32_bytes = f.read()
        data = build_engine(caps, fp32_bytes, build, log, onnx_path=os.path.abspath(fp32),
                            timing_cache_path=timing, calibration_cache=calibration,
                            verbose=verbose)
    seconds = time.monotonic() - started
    cache.store(identity, data, seconds)
    log(f'tensorrt: engine cached at {path} ({len(data)} bytes)')
    return EngineResult(data, key, path, True, seconds, identity)


def legacy_fallback_model(calibration_cache: str) -> Optional[str]:
    """
    Return the FP32 model a calibration cache was measured on, if it is still there.

    ``calibrate`` writes ``X.int8.calib.cache`` beside ``X.int8.calib.json``, whose
    provenance names the FP32 model; the cache's tensor names are that model's.
    """
    import json
    if not calibration_cache.endswith('.calib.cache'):
        return None
    provenance = calibration_cache[:-len('.calib.cache')] + '.calib.json'
    try:
        with open(provenance, 'r', encoding='utf-8') as f:
            path = json.load(f)['model']['path']
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(path) if os.path.isfile(str(path)) else None


def target_for(caps: TrtCapabilities, api: Optional[object]) -> Target:
    """Return the engine's target: the opened GPU, or the portable RTX target."""
    if caps.rtx:
        from jetson_infer_ros.backends.tensorrt.trt_module import RTX_PORTABLE_TARGET
        return RTX_PORTABLE_TARGET
    if api is None:
        raise BackendError(f'tensorrt: {caps.display} builds an engine for the GPU that will '
                           'run it, and no CUDA device is open here')
    name = api.device_name()            # type: ignore[attr-defined]
    cc = api.compute_capability()       # type: ignore[attr-defined]
    return str(name), (int(cc[0]), int(cc[1]))
