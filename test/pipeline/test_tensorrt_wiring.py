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
What the pipeline hands the TensorRT backend: the caller's log, prebuilt engines, the cache.

- Build progress and cache decisions reach the pipeline's log (the node's logger): the
  real TensorRT-RTX builder runs behind a stand-in GPU (FakeCudaApi with an RTX compute
  capability), so configure gets as far as TensorRT's runtime refusing to deserialize on
  a machine without a driver.
- ``model_path: X.engine`` loads a prebuilt engine through TensorRT, whatever ``backend``
  auto resolves to, and the model description comes from the engine's own I/O.
- An accepted INT8 artefact's calibration cache reaches BackendOptions.calibration_cache,
  and on a weak-typed TensorRT the builder gets it (and falls back to it).
"""

from __future__ import annotations

import json
from pathlib import Path
import sys

import numpy as np
import pytest

from jetson_infer_ros.backends.base import (
    Backend, BackendError, BackendOptions, TensorSpec)
from jetson_infer_ros.backends.tensorrt import engine_source, trt_module
from jetson_infer_ros.config import load_config
from jetson_infer_ros.image_convert import Picture
from jetson_infer_ros.pipeline import InferencePipeline
from jetson_infer_ros.testing.fake_cuda import FakeCudaApi

ROOT = Path(__file__).resolve().parents[2]


class _RtxGpu(FakeCudaApi):
    """A host-memory stand-in for an RTX 4090 (compute 8.9)."""

    def device_name(self) -> str:
        return 'Stand-in RTX 4090'

    def compute_capability(self):
        return (8, 9)


@pytest.fixture
def rtx_gpu(monkeypatch):
    """Give TensorRT backends the stand-in GPU, on which TensorRT-RTX counts as runnable."""
    import jetson_infer_ros.cuda.binding as binding
    monkeypatch.setattr(binding, 'get_cuda_api', lambda device_id=0, prefer=None: _RtxGpu())
    monkeypatch.setattr(trt_module, 'rtx_device_reason', lambda device_id=0: None)


def test_build_progress_and_cache_decisions_reach_the_callers_log(tmp_path, rtx_gpu):
    cfg = load_config(str(ROOT / 'config' / 'infer.yaml'), backend='tensorrt',
                      engine_cache_dir=str(tmp_path))
    lines = []
    with pytest.raises(BackendError) as info:
        InferencePipeline(cfg, log=lines.append).load()
    text = '\n'.join(lines)
    assert 'tensorrt: no cached engine' in text
    assert 'building TensorRT-RTX 1.7.1.116 engine (fp32, max batch 1' in text
    assert 'engine built by TensorRT-RTX 1.7.1.116' in text
    assert 'tensorrt: engine cached at' in text
    # no driver behind the stand-in: TensorRT's runtime says so, in one line, once
    assert 'TensorRT-RTX 1.7.1.116 could not deserialize the engine' in str(info.value)
    assert 'rebuilding' not in text      # a fresh build is not rebuilt for the refusal
    lines.clear()
    with pytest.raises(BackendError):
        InferencePipeline(cfg, log=lines.append).load()
    assert any(ln.startswith('tensorrt: using cached engine') for ln in lines)
    assert any('cached engine did not deserialize; rebuilding it' in ln for ln in lines)


def test_an_rclpy_style_logger_gets_the_lines_at_info(tmp_path, rtx_gpu):
    from jetson_infer_ros.backends import create_backend

    class NodeLogger:

        def __init__(self):
            self.info_lines, self.warnings = [], []

        def info(self, msg):
            self.info_lines.append(msg)

        def warning(self, msg):
            self.warnings.append(msg)
    logger = NodeLogger()
    model = str(ROOT / 'test' / 'data')  # any path: only the constructor is exercised
    backend = create_backend('tensorrt', model, BackendOptions(), log=logger)
    backend._log('probe')
    assert logger.info_lines == ['probe']


class _EngineStandIn(Backend):
    """What TensorRTBackend reports for an engine with a dynamic batch and 10 classes."""

    name = 'tensorrt'

    def __init__(self, model_path, options=None):
        super().__init__(model_path, options)
        self._buffer = np.zeros((self.options.max_batch, 3, 32, 32), np.float32)

    @property
    def input_spec(self):
        return TensorSpec('x', (-1, 3, 32, 32), np.dtype(np.float32))

    @property
    def output_specs(self):
        return [TensorSpec('logits', (-1, 10), np.dtype(np.float32))]

    def input_buffer(self):
        return self._buffer

    def _load_impl(self):
        pass

    def _release_impl(self):
        pass

    def _infer_impl(self, batch):
        logits = np.zeros((batch, 10), np.float32)
        logits[:, 3] = 5.0
        return {'logits': logits}


def _engine_config(tmp_path, backend='auto'):
    engine = tmp_path / 'model.engine'
    engine.write_bytes(b'serialized engine')
    return load_config(model_path=str(engine), task='classification', backend=backend,
                       resize_mode='stretch', top_k=3), engine


def test_an_engine_model_path_runs_on_tensorrt_with_the_engines_io(tmp_path, monkeypatch):
    import jetson_infer_ros.backends as backends
    asked = []

    def create(kind, model_path, options=None, log=None, load=False):
        asked.append((kind, model_path))
        backend = _EngineStandIn(model_path, options)
        backend.load()
        return backend
    monkeypatch.setattr(backends, 'create_backend', create)
    cfg, engine = _engine_config(tmp_path)
    pipeline = InferencePipeline(cfg)
    pipeline.load()
    assert asked == [('tensorrt', str(engine))]          # auto -> TensorRT, once
    assert pipeline.spec.input_name == 'x' and pipeline.spec.batch_dynamic
    assert pipeline.spec.input_hw == (32, 32) and pipeline.spec.num_classes == 10
    result = pipeline.run([Picture(np.full((48, 64, 3), 90, np.uint8), 'bgr')])[0]
    assert int(result.class_ids[0]) == 3
    pipeline.release()


def test_an_engine_model_path_with_onnxruntime_is_a_clear_error(tmp_path):
    cfg, _engine = _engine_config(tmp_path, backend='onnxruntime')
    with pytest.raises(ValueError, match='serialized TensorRT engine: it runs only with '
                                         'backend tensorrt'):
        InferencePipeline(cfg).load()


def test_predict_with_an_engine_goes_to_tensorrt_not_to_the_onnx_reader(tmp_path):
    """On this machine TensorRT cannot run: the error says so, not '.onnx file' any more."""
    import subprocess
    engine = tmp_path / 'm.engine'
    engine.write_bytes(b'serialized engine')
    image = tmp_path / 'x.png'
    import cv2
    cv2.imwrite(str(image), np.zeros((8, 8, 3), np.uint8))
    done = subprocess.run([sys.executable, '-m', 'jetson_infer_ros.cli.main', 'predict',
                           '--config', str(ROOT / 'config' / 'infer.yaml'), '--model',
                           str(engine), str(image)], capture_output=True, text=True,
                          timeout=120, cwd=str(ROOT))
    assert done.returncode == 2
    assert 'must be an .onnx' not in done.stderr
    assert 'jetson-infer predict: error: tensorrt:' in done.stderr


def test_a_real_engine_reaches_tensorrts_runtime(tmp_path, prepared_model, rtx_gpu):
    """A TensorRT-RTX engine file as model_path: loaded by TensorRT-RTX's own runtime."""
    from jetson_infer_ros.backends.tensorrt import TensorRTBackend
    from jetson_infer_ros.testing import trt_builds
    built = trt_builds.build('efficientnet_lite0 (model.onnx)',
                             str(prepared_model('efficientnet_lite0')[0]), str(tmp_path))
    engine = tmp_path / 'effnet.plan'
    engine.write_bytes(built.data)
    lines = []
    backend = TensorRTBackend(str(engine), log=lines.append)
    with pytest.raises(BackendError, match='could not deserialize the engine for .*effnet.plan'):
        backend.load()
    assert f'tensorrt: loading the prebuilt engine {engine} ({len(built.data)} bytes)' in lines
    assert not any('building' in ln for ln in lines)      # a prebuilt engine is not rebuilt


def test_an_accepted_int8_artefacts_calibration_cache_reaches_the_backend(tmp_path,
                                                                          monkeypatch):
    import jetson_infer_ros.backends as backends
    from jetson_infer_ros.quant import gate
    artefact = tmp_path / 'model.int8.onnx'
    from jetson_infer_ros.testing import synthetic_onnx
    synthetic_onnx.classifier(str(artefact), input_shape=(1, 3, 32, 32))
    cache = tmp_path / 'model.int8.calib.cache'
    cache.write_text('TRT-8502-EntropyCalibration2\n')
    monkeypatch.setattr(gate, 'int8_gate', lambda model, cfg: gate.GateDecision(
        True, str(artefact), 'fp32', '', ['INT8 accepted']))
    seen = []
    real = backends.create_backend

    def create(kind, model_path, options=None, log=None, load=False):
        seen.append(options)
        return real('onnxruntime', model_path, options, log=log, load=load)
    monkeypatch.setattr(backends, 'create_backend', create)
    cfg = load_config(model_path=str(tmp_path / 'model.onnx'), task='classification',
                      precision='int8', resize_mode='stretch')
    pipeline = InferencePipeline(cfg)
    pipeline.load()
    pipeline.release()
    assert seen[0].precision == 'int8' and seen[0].calibration_cache == str(cache)


def test_weak_typed_tensorrt_gets_the_cache_and_falls_back_to_it(tmp_path, monkeypatch):
    """A TensorRT 8.x/10.x refusing the Q/DQ model builds the FP32 model + cache instead."""
    from jetson_infer_ros.backends.tensorrt import builder
    from jetson_infer_ros.backends.tensorrt.capabilities import TrtCapabilities
    caps = TrtCapabilities(
        version=(10, 3, 0), version_string='10.3.0.30', name_based_io=True,
        bindings_api=False, memory_pool_limit=True, max_workspace_size=False, fp16_flag=True,
        int8_flag=True, legacy_calibrator=True, strongly_typed_flag=True,
        explicit_batch_flag_needed=False, progress_monitor=True, timing_cache=True)
    fp32 = tmp_path / 'model.onnx'
    fp32.write_bytes(b'fp32 model')
    qdq = tmp_path / 'model.int8.onnx'
    qdq.write_bytes(b'qdq model')
    cache = tmp_path / 'model.int8.calib.cache'
    cache.write_bytes(b'TRT-10300-EntropyCalibration2\ninput: 3c000000\n')
    (tmp_path / 'model.int8.calib.json').write_text(json.dumps({'model': {'path': str(fp32)}}))
    calls = []

    def fake_build(caps_, onnx_bytes, config, log, onnx_path='', timing_cache_path='',
                   calibration_cache=b'', verbose=False):
        calls.append((onnx_bytes, calibration_cache, config.calibration_cache_sha256))
        if onnx_bytes == b'qdq model':
            raise builder.EngineBuildError('TensorRT could not parse the ONNX: Q/DQ refused')
        return b'engine'
    monkeypatch.setattr(builder, 'build_engine', fake_build)
    lines = []
    result = engine_source.cached_engine(
        caps, str(qdq), BackendOptions(precision='int8', engine_cache_dir=str(tmp_path / 'e'),
                                       calibration_cache=str(cache)),
        ('Jetson Orin', (8, 7)), lines.append)
    assert [c[0] for c in calls] == [b'qdq model', b'fp32 model']
    assert all(c[1] == cache.read_bytes() and c[2] for c in calls)
    assert result.data == b'engine'
    assert any('building the FP32 model' in ln and 'legacy calibrator' in ln for ln in lines)


def test_a_strongly_typed_builder_leaves_the_cache_out_of_the_key(tmp_path, prepared_model):
    from jetson_infer_ros.testing import trt_builds
    cache = tmp_path / 'm.int8.calib.cache'
    cache.write_text('TRT-8502-EntropyCalibration2\n')
    onnx_path = str(prepared_model('nanodet')[0])
    plain = trt_builds.build('nanodet (model.onnx)', onnx_path, str(tmp_path / 'e'))
    lines = []
    with_cache = trt_builds.build('nanodet (model.onnx)', onnx_path, str(tmp_path / 'e'),
                                  calibration_cache=str(cache), log=lines)
    assert with_cache.key == plain.key and not with_cache.built
    assert any('calibration cache is not used' in ln for ln in lines)


def _int32_bias_classifier(path):
    """Write a Q/DQ classifier ONNX Runtime runs and TensorRT's parser refuses (int32 bias)."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto as T
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.integers(-100, 100, (4, 3, 3, 3)).astype(np.int8), 'wq'),
        numpy_helper.from_array(np.full(4, 0.01, np.float32), 'ws'),
        numpy_helper.from_array(rng.integers(-1000, 1000, 4).astype(np.int32), 'bq'),
        numpy_helper.from_array(np.full(4, 0.0001, np.float32), 'bs'),
    ]
    nodes = [
        helper.make_node('DequantizeLinear', ['wq', 'ws'], ['w'], axis=0),
        helper.make_node('DequantizeLinear', ['bq', 'bs'], ['b'], axis=0),
        helper.make_node('Conv', ['x', 'w', 'b'], ['c'], pads=[1, 1, 1, 1]),
        helper.make_node('GlobalAveragePool', ['c'], ['g']),
        helper.make_node('Flatten', ['g'], ['logits']),
    ]
    graph = helper.make_graph(
        nodes, 'int32_bias', [helper.make_tensor_value_info('x', T.FLOAT, ['N', 3, 16, 16])],
        [helper.make_tensor_value_info('logits', T.FLOAT, ['N', 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_an_onnx_tensorrt_refuses_fails_configure_with_its_first_error_line(
        tmp_path, rtx_gpu):
    model = _int32_bias_classifier(tmp_path / 'm.onnx')
    ort_cfg = load_config(model_path=str(model), task='classification',
                          resize_mode='stretch', top_k=2, backend='onnxruntime')
    runs = InferencePipeline(ort_cfg)                 # a valid ONNX: ONNX Runtime runs it
    runs.load()
    runs.release()
    cfg = ort_cfg.replace(backend='tensorrt', engine_cache_dir=str(tmp_path / 'e'))
    with pytest.raises(BackendError) as info:
        InferencePipeline(cfg).load()
    message = str(info.value)
    assert message.startswith('TensorRT-RTX 1.7.1.116 could not parse the ONNX: node ')
    assert 'input has type Int32 but must have type FP8, FP4, Int4, Int8, or UInt8' in message
    assert '\n' not in message
