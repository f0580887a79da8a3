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
Real engines from the real builder (TensorRT-RTX 1.7, on the CPU, ahead of time).

Everything goes through ``engine_source.cached_engine``, the path the node's configure
and ``jetson-infer build-engine`` take: the default models at FP32, the dynamic-batch
profile of the multi-camera path, FP16 on a strongly typed builder, the engine cache
(atomic entries, key, sidecar) and its failure paths, each shown to ask the builder
again. Nothing here can *run* an engine: TensorRT-RTX's runtime needs an RTX GPU.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from jetson_infer_ros.backends.base import BackendError, BackendOptions
from jetson_infer_ros.backends.tensorrt import builder as builder_mod, trt_module
from jetson_infer_ros.testing import trt_builds

MODELS = ('efficientnet_lite0', 'nanodet')

pytestmark = pytest.mark.models


@pytest.fixture
def builder_calls(monkeypatch):
    """Count calls of the real builder (it still runs)."""
    calls = []
    real = builder_mod.build_engine

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)
    monkeypatch.setattr(builder_mod, 'build_engine', counting)
    return calls


def test_the_test_builder_is_tensorrt_rtx_strongly_typed():
    caps = trt_builds.real_builder()
    assert caps.rtx and caps.display == 'TensorRT-RTX 1.7.1.116'
    assert caps.version == (1, 7, 1) and caps.supported
    assert not caps.weak_typing and not caps.int8_flag and not caps.legacy_calibrator
    assert caps.strongly_typed_flag and not caps.dla and not caps.timing_cache
    assert caps.name_based_io and caps.memory_pool_limit and caps.progress_monitor
    assert not caps.explicit_batch_flag_needed
    assert caps.engine_version == 'TensorRT-RTX 1.7.1.116'   # never mistaken for TensorRT 1.7


@pytest.mark.parametrize('name', MODELS)
def test_default_model_fp32_builds_into_the_cache(name, prepared_model, tmp_path,
                                                  builder_calls):
    onnx_path = str(prepared_model(name)[0])
    lines = []
    first = trt_builds.build(f'{name} (model.onnx)', onnx_path, str(tmp_path), log=lines)
    assert first.built and builder_calls == [1]
    assert len(first.data) > 5_000_000          # the weights are in it (18-19 MB)
    assert any(ln.startswith('building TensorRT-RTX 1.7.1.116 engine (fp32, max batch 1')
               for ln in lines)
    assert any('engine built by TensorRT-RTX 1.7.1.116' in ln and f'{len(first.data)} bytes'
               in ln for ln in lines)
    # the entry: <key>.engine + <key>.json, nothing half-written left behind
    entry = Path(first.path)
    assert entry.name == first.key + '.engine' and entry.read_bytes() == first.data
    meta = json.loads(entry.with_suffix('.json').read_text())
    assert meta['engine_size'] == len(first.data)
    assert meta['engine_sha256'] == hashlib.sha256(first.data).hexdigest()
    assert meta['trt_version'] == 'TensorRT-RTX 1.7.1.116'
    assert meta['gpu_name'] == trt_module.RTX_PORTABLE_TARGET[0]
    assert meta['onnx_sha256'] == hashlib.sha256(Path(onnx_path).read_bytes()).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [first.key + '.engine', first.key + '.json'])
    # the same request again: the cache answers, the builder is not asked
    again = trt_builds.build(f'{name} (model.onnx)', onnx_path, str(tmp_path))
    assert not again.built and again.data == first.data and builder_calls == [1]


def test_dynamic_batch_profile_of_the_multi_camera_path(prepared_model, tmp_path):
    onnx_path = str(prepared_model('nanodet')[0])
    lines = []
    one = trt_builds.build('nanodet (model.onnx)', onnx_path, str(tmp_path))
    four = trt_builds.build('nanodet (model.onnx)', onnx_path, str(tmp_path), max_batch=4,
                            log=lines)
    assert four.built and four.key != one.key     # the profile is part of the key
    assert 'optimisation profile input: min (1, 3, 416, 416) opt (4, 3, 416, 416) max ' \
           '(4, 3, 416, 416)' in lines


def test_fp16_on_a_strongly_typed_builder_builds_an_fp16_copy(prepared_model, tmp_path):
    """No FP16 flag exists: fp16 builds the ONNX's FP16 copy (float32 I/O), half the weights."""
    onnx_path = str(prepared_model('efficientnet_lite0')[0])
    lines = []
    fp32 = trt_builds.build('efficientnet_lite0 (model.onnx)', onnx_path, str(tmp_path))
    fp16 = trt_builds.build('efficientnet_lite0 (model.onnx)', onnx_path, str(tmp_path),
                            precision='fp16', log=lines)
    assert fp16.key != fp32.key and fp16.identity.build.precision == 'fp16'
    assert len(fp16.data) < 0.7 * len(fp32.data)
    assert any('is strongly typed: fp16 built from an FP16 copy of the ONNX' in ln
               for ln in lines)


def test_the_fp16_copy_computes_what_the_fp32_model_does(prepared_model, real_data):
    """The FP16 copy, run by ONNX Runtime: float32 I/O, output SQNR against FP32 > 40 dB."""
    import onnx
    from jetson_infer_ros.backends.tensorrt import fp16_onnx
    from jetson_infer_ros.quant import execution, sensitivity
    onnx_path = str(prepared_model('efficientnet_lite0')[0])
    half, _note = fp16_onnx.convert(Path(onnx_path).read_bytes())
    model = onnx.load_from_string(half)
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    import cv2
    from jetson_infer_ros.assets.data import video_frames
    frames = [cv2.resize(f, (224, 224)) for f in video_frames(real_data.video, [0, 200, 400])]
    x = ((np.stack(frames)[..., ::-1].astype(np.float32) - 127.0) / 128.0).transpose(0, 3, 1, 2)
    x = np.ascontiguousarray(x)
    ref = execution.run_frames(execution.session(Path(onnx_path).read_bytes(), exact=False),
                               'input', x)
    got = execution.run_frames(execution.session(half, exact=False), 'input', x)
    assert sensitivity.sqnr_db(ref, got) > 40.0


def test_a_corrupt_cached_engine_is_rejected_and_rebuilt(prepared_model, tmp_path,
                                                         builder_calls):
    onnx_path = str(prepared_model('efficientnet_lite0')[0])
    first = trt_builds.build('efficientnet_lite0 (model.onnx)', onnx_path, str(tmp_path))
    engine = Path(first.path)
    data = bytearray(engine.read_bytes())
    data[len(data) // 2] ^= 0xFF              # one flipped byte, same size
    engine.write_bytes(bytes(data))
    lines = []
    again = trt_builds.build('efficientnet_lite0 (corrupted cache entry)', onnx_path,
                             str(tmp_path), log=lines)
    assert any('discarding' in ln and 'sha256 does not match' in ln for ln in lines)
    assert again.built and builder_calls == [1, 1]
    assert engine.read_bytes() == again.data   # the entry was replaced by the new build
    engine.write_bytes(bytes(data[:1000]))     # truncated
    lines.clear()
    third = trt_builds.build('efficientnet_lite0 (truncated cache entry)', onnx_path,
                             str(tmp_path), log=lines)
    assert any('truncated' in ln for ln in lines) and third.built and len(builder_calls) == 3


def test_a_foreign_cached_engine_is_rejected_and_rebuilt(prepared_model, tmp_path,
                                                         builder_calls):
    """An entry whose sidecar says another TensorRT built it (copied from another machine)."""
    onnx_path = str(prepared_model('nanodet')[0])
    first = trt_builds.build('nanodet (model.onnx)', onnx_path, str(tmp_path))
    sidecar = Path(first.path).with_suffix('.json')
    meta = json.loads(sidecar.read_text())
    meta['trt_version'] = '10.3.0.30'
    sidecar.write_text(json.dumps(meta))
    lines = []
    again = trt_builds.build('nanodet (foreign cache entry)', onnx_path, str(tmp_path),
                             log=lines)
    assert any("built for trt_version='10.3.0.30'" in ln for ln in lines)
    assert again.built and builder_calls == [1, 1]
    assert json.loads(sidecar.read_text())['trt_version'] == 'TensorRT-RTX 1.7.1.116'


def test_an_onnx_the_builder_cannot_take_fails_with_its_first_error_line(tmp_path):
    bad = tmp_path / 'broken.onnx'
    bad.write_bytes(b'\x08\x07' + b'not a model' * 50)
    with pytest.raises(BackendError) as info:
        trt_builds.build('broken.onnx', str(bad), str(tmp_path / 'cache'))
    message = str(info.value)
    assert message.startswith('TensorRT-RTX 1.7.1.116 could not parse the ONNX: ')
    assert '\n' not in message and len(message) < 2000
    assert not list((tmp_path / 'cache').glob('*.engine'))


def test_dla_is_refused_by_a_builder_without_dla(prepared_model, tmp_path):
    onnx_path = str(prepared_model('efficientnet_lite0')[0])
    with pytest.raises(BackendError, match='has no DLA'):
        trt_builds.build('efficientnet_lite0 (dla_core 0)', onnx_path, str(tmp_path),
                         precision='fp16', dla_core=0)


def test_int8_without_qdq_is_refused_by_a_strongly_typed_builder(prepared_model, tmp_path):
    onnx_path = str(prepared_model('efficientnet_lite0')[0])
    with pytest.raises(BackendError, match='builds INT8 only from an ONNX with Q/DQ'):
        trt_builds.build('efficientnet_lite0 (int8, FP32 ONNX)', onnx_path, str(tmp_path),
                         precision='int8')


def test_each_build_logs_to_its_own_caller(prepared_model, tmp_path):
    """A second build logs to its own caller (TensorRT keeps a process's first logger)."""
    onnx_path = str(prepared_model('efficientnet_lite0')[0])
    first, second = [], []
    trt_builds.build('efficientnet_lite0 (model.onnx)', onnx_path, str(tmp_path / 'a'),
                     log=first)
    trt_builds.build('nanodet (model.onnx)', str(prepared_model('nanodet')[0]),
                     str(tmp_path / 'b'), log=second)
    assert any('Empty initializer roi__113' in ln for ln in second)   # a TensorRT warning
    assert not any('roi__113' in ln for ln in first)
    assert not any('differs from one already registered' in ln for ln in first + second)


def test_the_backend_options_name_the_cache_entry():
    """Every field of BackendOptions that changes a build is part of BuildConfig."""
    from jetson_infer_ros.backends.tensorrt import engine_source
    base = engine_source.build_config(BackendOptions(), b'')
    for change in ({'precision': 'fp16'}, {'max_batch': 2}, {'workspace_mb': 512},
                   {'dla_core': 0}):
        assert engine_source.build_config(BackendOptions(**change), b'') != base
    assert engine_source.build_config(BackendOptions(), b'cache').calibration_cache_sha256
