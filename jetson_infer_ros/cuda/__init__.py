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
One small CUDA interface over cuda-python or pycuda, whichever this machine has.

Importing this package imports neither binding; ``get_cuda_api()`` does, on first use.
"""

from __future__ import annotations

from jetson_infer_ros.cuda.binding import (
    ARG_BYTES, ARG_F32, ARG_I32, ARG_PTR, CudaApi, CudaError, CudaUnavailable, get_cuda_api,
    HostBuffer)

__all__ = ['ARG_BYTES', 'ARG_F32', 'ARG_I32', 'ARG_PTR', 'CudaApi', 'CudaError', 'CudaUnavailable',
           'HostBuffer', 'get_cuda_api']
