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
What the benchmark ran on, written beside every number it produced.

Timings mean nothing without the machine and its load: CPU model and cores (lscpu),
memory, versions of the runtime pieces, and the load average before and after (this
project's benchmark machine is a shared 2-core VM).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from typing import Any, Dict, List


def lscpu() -> Dict[str, str]:
    """Return lscpu's key/value lines (empty when lscpu is missing)."""
    try:
        out = subprocess.run(['lscpu'], capture_output=True, text=True, timeout=10,
                             env=dict(os.environ, LC_ALL='C')).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    info = {}
    for line in out.splitlines():
        key, sep, value = line.partition(':')
        if sep:
            info[key.strip()] = value.strip()
    return info


def load_average() -> List[float]:
    """Return the 1, 5 and 15 minute load averages (empty where unsupported)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:
        return []


def _version(module: str) -> str:
    try:
        from importlib.metadata import version
        return version(module)
    except Exception:  # noqa: B902 - a missing distribution is reported, not fatal
        return 'unknown'


def _imported_version(module: str) -> str:
    """Version of the module Python imports (onnxruntime-gpu also imports as onnxruntime)."""
    try:
        import importlib
        return str(importlib.import_module(module).__version__)
    except Exception:  # noqa: B902 - a missing module is reported, not fatal
        return 'unknown'


def describe() -> Dict[str, Any]:
    """Return the machine description stored in the report."""
    import psutil
    cpu = lscpu()
    mem = psutil.virtual_memory()
    return {
        'cpu_model': cpu.get('Model name', platform.processor() or 'unknown'),
        'cpus': os.cpu_count(),
        'cores_per_socket': cpu.get('Core(s) per socket', ''),
        'threads_per_core': cpu.get('Thread(s) per core', ''),
        'hypervisor': cpu.get('Hypervisor vendor', ''),
        'ram_gib': round(mem.total / 2 ** 30, 1),
        'os': platform.platform(),
        'python': sys.version.split()[0],
        'onnxruntime': _imported_version('onnxruntime'),
        'numpy': _version('numpy'),
        'opencv': _version('opencv-python-headless'),
        'rclpy': _version('rclpy'),
        'rmw': os.environ.get('RMW_IMPLEMENTATION', 'rmw_fastrtps_cpp'),
    }
