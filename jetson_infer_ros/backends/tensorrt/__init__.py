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
TensorRT backend: capability detection, engine cache, engine builder, runner.

Importing this package imports neither TensorRT nor a CUDA binding (the factory in
``jetson_infer_ros.backends`` imports it on every machine); ``check_available()`` and
``TensorRTBackend.load()`` do, and raise ``BackendUnavailable`` with the reason.
"""

from __future__ import annotations

from jetson_infer_ros.backends.tensorrt.runner import (
    check_available, import_tensorrt, TensorRTBackend)

__all__ = ['TensorRTBackend', 'check_available', 'import_tensorrt']
