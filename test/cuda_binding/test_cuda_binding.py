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
The CUDA binding interface without a GPU: argument packing, host views, clear errors.

The bindings themselves run in scripts/gpu_check.py on a real GPU (docs/gpu_results.md).
"""

from __future__ import annotations

import ctypes
import struct
import sys

import numpy as np
import pytest

from jetson_infer_ros.cuda import binding
from jetson_infer_ros.cuda.binding import (
    CudaUnavailable, get_cuda_api, HostBuffer, pack_kernel_args)


def _read_arg(array, i, ctype):
    return ctypes.cast(array[i], ctypes.POINTER(ctype)).contents.value


def test_pack_kernel_args_builds_a_void_pointer_array():
    params = struct.pack('<2i1f', 7, -3, 2.5)
    array, holders = pack_kernel_args([('ptr', 0xDEADBEEF), ('i32', -5), ('f32', 0.25),
                                       ('bytes', params)])
    assert len(holders) == 4
    assert _read_arg(array, 0, ctypes.c_void_p) == 0xDEADBEEF
    assert _read_arg(array, 1, ctypes.c_int32) == -5
    assert _read_arg(array, 2, ctypes.c_float) == 0.25
    raw = ctypes.string_at(array[3], len(params))
    assert struct.unpack('<2i1f', raw) == (7, -3, 2.5)


def test_pack_kernel_args_rejects_unknown_kinds():
    with pytest.raises(ValueError, match='kernel argument kind'):
        pack_kernel_args([('u64', 1)])


def test_host_buffer_view_shares_memory():
    storage = np.zeros(64, np.uint8)
    buf = HostBuffer(ptr=int(storage.ctypes.data), nbytes=64, owner=storage)
    view = buf.view(np.float32, (2, 8))
    view[1, 3] = 1.5
    assert np.frombuffer(storage.tobytes(), np.float32)[11] == 1.5
    with pytest.raises(ValueError, match='needs 68 bytes'):
        buf.view(np.float32, (17,))


def test_no_binding_gives_one_reason_per_binding(monkeypatch):
    for name in ('cuda', 'cuda.bindings', 'pycuda', 'pycuda.driver'):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(CudaUnavailable) as info:
        get_cuda_api()
    text = str(info.value)
    assert 'cuda-python' in text and 'pycuda' in text and 'not installed' in text


def test_unknown_binding_name_is_rejected():
    with pytest.raises(CudaUnavailable, match='unknown CUDA binding'):
        get_cuda_api(prefer='opencl')


def test_arch_option_targets_the_device_sass():
    class Api(binding.CudaApi):
        pass
    for name in list(binding.CudaApi.__abstractmethods__):
        setattr(Api, name, lambda self, *a, **k: None)
    Api.__abstractmethods__ = frozenset()
    api = Api()
    api.compute_capability = lambda: (8, 7)
    assert api.arch_option() == '--gpu-architecture=sm_87'
