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
Built TensorRT engines on disk, named by everything that produced them.

A Jetson takes minutes to build an engine, and a serialized engine is only valid for
the TensorRT version and GPU that built it. So the cache key is the sha256 of the ONNX
bytes, the whole build configuration (precision, DLA core, workspace, optimisation
profile shapes, max batch, calibration cache hash), the TensorRT version, the GPU name
and its compute capability: change any of them and a new engine is built, change none
and the old one is reused.

Each engine ``<key>.engine`` has a sidecar ``<key>.json`` (written last, so its
presence marks a complete entry) holding the same identity plus the engine's size and
sha256. A truncated or corrupted file, or one from another TensorRT or GPU (copied
between machines, or a key collision by hand), is detected on load, logged with the
reason, removed, and rebuilt. Writes are atomic: temp file in the same directory,
fsync, ``os.replace``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import time
from typing import Any, Callable, Dict, Optional, Tuple

from jetson_infer_ros.backends.base import BackendError

#: bump when the sidecar's meaning changes; older entries are then rebuilt
CACHE_FORMAT = 1
DEFAULT_DIR = os.path.join('~', '.cache', 'jetson_infer_ros', 'engines')


class EngineCacheError(BackendError):
    """The engine cache directory cannot be used (the message names it and why)."""


@dataclasses.dataclass(frozen=True)
class BuildConfig:
    """
    Every build input besides the ONNX bytes; part of the cache key.

    ``profile_shapes`` holds (input name, min, opt, max) per dynamic input.
    """

    precision: str = 'fp32'
    dla_core: int = -1
    workspace_mb: int = 1024
    max_batch: int = 1
    profile_shapes: Tuple[Tuple[str, Tuple[int, ...], Tuple[int, ...], Tuple[int, ...]],
                          ...] = ()
    calibration_cache_sha256: str = ''

    def __post_init__(self) -> None:
        """Reject values that cannot name a valid build."""
        if self.precision not in ('fp32', 'fp16', 'int8'):
            raise ValueError(f'precision must be fp32, fp16 or int8, got {self.precision!r}')
        if int(self.max_batch) < 1:
            raise ValueError(f'max_batch must be >= 1, got {self.max_batch}')
        if int(self.workspace_mb) < 1:
            raise ValueError(f'workspace_mb must be >= 1, got {self.workspace_mb}')
        if int(self.dla_core) < -1:
            raise ValueError(f'dla_core must be -1 (GPU) or a core index, got {self.dla_core}')

    def as_dict(self) -> Dict[str, Any]:
        """JSON-friendly form (tuples become lists), used in the key and the sidecar."""
        return {
            'precision': self.precision, 'dla_core': int(self.dla_core),
            'workspace_mb': int(self.workspace_mb), 'max_batch': int(self.max_batch),
            'profile_shapes': [[name, list(lo), list(opt), list(hi)]
                               for name, lo, opt, hi in self.profile_shapes],
            'calibration_cache_sha256': self.calibration_cache_sha256,
        }


@dataclasses.dataclass(frozen=True)
class EngineIdentity:
    """What an engine is valid for; hashed into the key and checked on load."""

    onnx_sha256: str
    build: BuildConfig
    trt_version: str
    gpu_name: str
    compute_capability: Tuple[int, int]

    def as_dict(self) -> Dict[str, Any]:
        """JSON-friendly form."""
        return {'onnx_sha256': self.onnx_sha256, 'build': self.build.as_dict(),
                'trt_version': self.trt_version, 'gpu_name': self.gpu_name,
                'compute_capability': list(self.compute_capability)}

    def key(self) -> str:
        """sha256 over the canonical JSON of every field."""
        text = json.dumps({'format': CACHE_FORMAT, **self.as_dict()}, sort_keys=True,
                          separators=(',', ':'))
        return hashlib.sha256(text.encode()).hexdigest()


def atomic_write(path: str, data: bytes) -> None:
    """
    Write ``data`` to ``path`` so a reader sees the old file or the new, never half.

    Temp file in the same directory (same filesystem, so the rename is atomic), fsync
    of the file before the rename and of the directory after it (survives power loss,
    which on a robot is a normal way to stop).
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp',
                               dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


class EngineCache:
    """One directory of ``<key>.engine`` + ``<key>.json`` entries and timing caches."""

    def __init__(self, directory: str = '', log: Optional[Callable[[str], None]] = None
                 ) -> None:
        """Open (create) the directory; EngineCacheError if it cannot be written."""
        self.directory = os.path.abspath(os.path.expanduser(directory or DEFAULT_DIR))
        self._log = log or (lambda message: None)
        try:
            os.makedirs(self.directory, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix='.probe.', dir=self.directory)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise EngineCacheError(
                f'engine cache directory {self.directory} is not writable '
                f'({type(exc).__name__}: {exc.strerror or exc}); set engine_cache_dir to a '
                'writable directory') from None

    def engine_path(self, key: str) -> str:
        """Where the engine of ``key`` lives."""
        return os.path.join(self.directory, key + '.engine')

    def sidecar_path(self, key: str) -> str:
        """Where the sidecar JSON of ``key`` lives."""
        return os.path.join(self.directory, key + '.json')

    def timing_cache_path(self, trt_version: str, gpu_name: str,
                          compute_capability: Tuple[int, int]) -> str:
        """Return the timing cache path shared by builds on this TensorRT + GPU."""
        ident = json.dumps([trt_version, gpu_name, list(compute_capability)])
        digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
        return os.path.join(self.directory, f'timing-{digest}.cache')

    def _discard(self, key: str, reason: str) -> None:
        self._log(f'engine cache: discarding {key[:12]}: {reason}; it will be rebuilt')
        for path in (self.sidecar_path(key), self.engine_path(key)):
            try:
                os.unlink(path)
            except OSError:
                pass

    def load(self, identity: EngineIdentity) -> Optional[bytes]:
        """Return the cached engine bytes for ``identity``, or None (logged) if unusable."""
        key = identity.key()
        sidecar, engine = self.sidecar_path(key), self.engine_path(key)
        if not os.path.exists(sidecar) and not os.path.exists(engine):
            return None
        try:
            with open(sidecar, 'r', encoding='utf-8') as f:
                meta = json.load(f)
            if not isinstance(meta, dict):
                raise ValueError('sidecar is not a JSON object')
        except (OSError, ValueError) as exc:
            self._discard(key, f'sidecar unreadable ({type(exc).__name__}: {exc})')
            return None
        expected = identity.as_dict()
        if meta.get('format') != CACHE_FORMAT:
            self._discard(key, f'cache format {meta.get("format")!r} != {CACHE_FORMAT}')
            return None
        for field in ('trt_version', 'gpu_name', 'compute_capability', 'onnx_sha256', 'build'):
            if meta.get(field) != expected[field]:
                self._discard(key, f'built for {field}={meta.get(field)!r}, '
                                   f'need {expected[field]!r}')
                return None
        try:
            with open(engine, 'rb') as f:
                data = f.read()
        except OSError as exc:
            self._discard(key, f'engine unreadable ({exc.strerror or exc})')
            return None
        if len(data) != meta.get('engine_size'):
            self._discard(key, f'engine is {len(data)} bytes, sidecar says '
                               f'{meta.get("engine_size")} (truncated?)')
            return None
        if hashlib.sha256(data).hexdigest() != meta.get('engine_sha256'):
            self._discard(key, 'engine sha256 does not match its sidecar (corrupted)')
            return None
        return data

    def store(self, identity: EngineIdentity, data: bytes, build_seconds: float = 0.0) -> str:
        """Write the engine, then its sidecar (the commit marker); returns the engine path."""
        key = identity.key()
        try:
            atomic_write(self.engine_path(key), bytes(data))
            meta = {'format': CACHE_FORMAT, 'key': key, **identity.as_dict(),
                    'engine_size': len(data),
                    'engine_sha256': hashlib.sha256(data).hexdigest(),
                    'created_unix': time.time(), 'build_seconds': build_seconds}
            atomic_write(self.sidecar_path(key),
                         json.dumps(meta, indent=1, sort_keys=True).encode())
        except OSError as exc:
            raise EngineCacheError(
                f'could not write engine {self.engine_path(key)} '
                f'({type(exc).__name__}: {exc.strerror or exc})') from None
        return self.engine_path(key)
