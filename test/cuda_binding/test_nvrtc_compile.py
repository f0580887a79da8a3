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
The preprocessing kernel compiles with NVRTC, which needs no GPU and no driver.

Needs ``cuda-bindings`` and ``nvidia-cuda-nvrtc`` (pip wheels, no GPU required). NVRTC 13
targets Turing and newer; Jetson Xavier/Nano builds happen on the device with JetPack's
own NVRTC.
"""

from __future__ import annotations

from cuda.bindings import nvrtc
import pytest

from jetson_infer_ros.cuda.binding import CudaError
from jetson_infer_ros.gpu import preprocess_kernel as pk


@pytest.mark.parametrize('cc', [(7, 5), (8, 7), (9, 0)])
def test_kernel_compiles_to_cubin(cc):
    from jetson_infer_ros.cuda.cuda_python_impl import nvrtc_compile
    image = nvrtc_compile(nvrtc, pk.KERNEL_SOURCE, 'jir_preprocess', cc, ['-std=c++14'])
    assert image[:4] == b'\x7fELF'
    assert pk.KERNEL_NAME_F32.encode() in image and pk.KERNEL_NAME_F16.encode() in image


def test_compile_errors_come_back_as_one_line():
    from jetson_infer_ros.cuda.cuda_python_impl import nvrtc_compile
    with pytest.raises(CudaError, match='NVRTC could not compile broken: .*error') as info:
        nvrtc_compile(nvrtc, 'extern "C" __global__ void k() { undefined_thing(); }',
                      'broken', (9, 0), [])
    assert '\n' not in str(info.value)
