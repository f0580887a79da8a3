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
Capability detection against stand-ins carrying each TensorRT version's attributes.

No TensorRT can be installed here, so each stand-in is a plain module object with the
attributes that version's Python bindings have (from NVIDIA's release notes and API
docs): this tests the decision logic honestly; the calls themselves are type-checked
against tensorrt-stubs in test_mypy_tensorrt.py.
"""

from __future__ import annotations

import types

import pytest

from jetson_infer_ros.backends.tensorrt import capabilities
from jetson_infer_ros.backends.tensorrt.capabilities import (
    detect, parse_version, TensorRTVersionError)


def _cls(*names):
    return type('Stand_in', (), dict.fromkeys(names))


def fake_trt(version, *, name_io=True, bindings=True, pool=True, workspace=False,
             weak=True, calibrator=True, strongly_typed=False, explicit_batch=True,
             progress=False):
    engine = ['get_tensor_shape'] + (
        ['num_io_tensors', 'get_tensor_name', 'get_tensor_mode'] if name_io else [])
    context = (['set_tensor_address', 'execute_async_v3', 'set_input_shape']
               if name_io else [])
    if bindings:
        engine.append('num_bindings')
        context.append('execute_async_v2')
    config = ['set_flag', 'create_timing_cache', 'set_timing_cache']
    config += ['set_memory_pool_limit'] if pool else []
    config += ['max_workspace_size'] if workspace else []
    config += ['int8_calibrator'] if calibrator else []
    config += ['progress_monitor'] if progress else []
    mod = types.ModuleType('tensorrt')
    mod.__version__ = version
    mod.ICudaEngine = _cls(*engine)
    mod.IExecutionContext = _cls(*context)
    mod.IBuilderConfig = _cls(*config)
    mod.BuilderFlag = _cls(*(['FP16', 'INT8', 'GPU_FALLBACK'] if weak else ['GPU_FALLBACK']))
    mod.NetworkDefinitionCreationFlag = _cls(
        *((['EXPLICIT_BATCH'] if explicit_batch else [])
          + (['STRONGLY_TYPED'] if strongly_typed else [])))
    if pool:
        mod.MemoryPoolType = _cls('WORKSPACE')
    if calibrator:
        mod.IInt8EntropyCalibrator2 = _cls()
    if progress:
        mod.IProgressMonitor = _cls()
    return mod


#: one stand-in per TensorRT generation the robot fleet runs
VERSIONS = {
    '8.2.1.8': {'name_io': False, 'workspace': True, 'pool': True},     # JetPack 4.6
    '8.5.2.2': {'workspace': True},                                      # JetPack 5.1
    '8.6.1.6': {'workspace': True, 'strongly_typed': False},
    '9.2.0.5': {'workspace': False, 'strongly_typed': True},
    '10.3.0.30': {'bindings': False, 'strongly_typed': True, 'progress': True},  # JetPack 6
    '10.13.0.35': {'bindings': False, 'strongly_typed': True, 'progress': True},
    '11.0.0.1': {'bindings': False, 'weak': False, 'calibrator': False,
                 'strongly_typed': True, 'progress': True},
}


def caps(version):
    return detect(fake_trt(version, **VERSIONS[version]))


@pytest.mark.parametrize('text, expected', [
    ('10.13.0.35', (10, 13, 0)), ('8.5.2.2', (8, 5, 2)), ('11.0', (11, 0, 0)),
    (' 9.2.0.post12.dev5', (9, 2, 0))])
def test_parse_version(text, expected):
    assert parse_version(text) == expected


def test_parse_version_rejects_garbage():
    with pytest.raises(TensorRTVersionError, match='cannot read'):
        parse_version('unknown')


def test_jetpack4_trt_82_is_unsupported_with_a_reason():
    c = caps('8.2.1.8')
    assert not c.supported
    with pytest.raises(TensorRTVersionError, match='older than 8.5'):
        c.require_supported()


def test_jetpack5_trt_85_uses_name_based_io_and_explicit_batch_flag():
    c = caps('8.5.2.2')
    assert c.supported and c.name_based_io
    c.require_supported()
    assert c.bindings_api            # still there, but never used
    assert c.explicit_batch_flag_needed
    assert c.memory_pool_limit and c.max_workspace_size
    assert c.fp16_flag and c.int8_flag and c.weak_typing
    assert c.legacy_calibrator
    assert not c.strongly_typed_flag
    assert not c.progress_monitor    # -> periodic log lines while building


def test_trt9_has_strongly_typed_flag_but_keeps_weak_typing():
    c = caps('9.2.0.5')
    assert c.strongly_typed_flag and c.weak_typing and c.explicit_batch_flag_needed


@pytest.mark.parametrize('version', ['10.3.0.30', '10.13.0.35'])
def test_trt10_removed_bindings_and_explicit_batch(version):
    c = caps(version)
    assert c.supported
    assert not c.bindings_api
    assert not c.explicit_batch_flag_needed   # EXPLICIT_BATCH still exists, but is ignored
    assert not c.max_workspace_size and c.memory_pool_limit
    assert c.fp16_flag and c.legacy_calibrator
    assert c.progress_monitor


def test_trt11_is_strongly_typed_only():
    c = caps('11.0.0.1')
    assert c.supported
    assert not c.fp16_flag and not c.int8_flag and not c.weak_typing
    assert not c.legacy_calibrator
    assert c.strongly_typed_flag


def test_missing_name_based_api_is_unsupported_even_with_a_new_version_number():
    c = detect(fake_trt('10.0.0.6', name_io=False))
    assert not c.supported
    with pytest.raises(TensorRTVersionError, match='execute_async_v3'):
        c.require_supported()


def test_stub_only_namespace_package_is_not_tensorrt():
    stub = types.ModuleType('tensorrt')  # what tensorrt-stubs' bare folder imports as
    with pytest.raises(TensorRTVersionError, match='only type stubs'):
        detect(stub)


def test_minimum_version_is_jetpack_5_1():
    assert capabilities.MIN_VERSION == (8, 5, 0)


def test_tensorrt_rtx_is_strongly_typed_with_a_version_of_its_own():
    """TensorRT-RTX 1.x: the 10/11 API; its version is not TensorRT's (1.7 is not < 8.5)."""
    mod = fake_trt('1.7.1.116', bindings=False, weak=False, calibrator=False,
                   strongly_typed=True, explicit_batch=False, progress=True)
    mod.__name__ = 'tensorrt_rtx_bindings'
    c = detect(mod)
    assert c.rtx and c.product == 'TensorRT-RTX' and c.display == 'TensorRT-RTX 1.7.1.116'
    assert c.supported
    c.require_supported()
    assert not c.weak_typing and not c.legacy_calibrator and c.strongly_typed_flag
    assert not c.dla and not c.timing_cache and not c.explicit_batch_flag_needed
    assert c.engine_version == 'TensorRT-RTX 1.7.1.116'
    assert caps('10.3.0.30').engine_version == '10.3.0.30' and caps('10.3.0.30').dla


def test_the_same_version_number_is_too_old_for_tensorrt():
    mod = fake_trt('1.7.1.116', bindings=False, weak=False, calibrator=False,
                   strongly_typed=True, progress=True)
    c = detect(mod)    # named tensorrt: TensorRT 1.7 would be far too old
    assert not c.rtx and not c.supported
    with pytest.raises(TensorRTVersionError, match='older than 8.5'):
        c.require_supported()
