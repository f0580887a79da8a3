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
GPU preprocessing: the fused CUDA kernel that writes straight into the engine's input.

Importing this package needs only NumPy; the kernel is compiled when a
``GpuPreprocessor`` is created on a ``jetson_infer_ros.cuda.CudaApi``.
"""

from __future__ import annotations

from jetson_infer_ros.gpu.preprocess_kernel import (
    ENCODINGS, from_preprocess_geometry, Geometry, GpuPreprocessor, KERNEL_SOURCE,
    Normalization, plan_geometry, PreprocessKernelError, reference_preprocess, RESIZE_MODES)

__all__ = ['ENCODINGS', 'Geometry', 'GpuPreprocessor', 'KERNEL_SOURCE', 'Normalization',
           'PreprocessKernelError', 'RESIZE_MODES', 'from_preprocess_geometry',
           'plan_geometry', 'reference_preprocess']
