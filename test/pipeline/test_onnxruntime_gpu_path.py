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
``backend: onnxruntime_gpu`` through the pipeline: the fused kernel writes its input.

The real backend class runs over FakeCudaApi (host memory as "device", the kernel as a
NumPy transcription) and an onnxruntime whose "CUDA EP" computes on the CPU, so this
checks the wiring a GPU run relies on: the pipeline finds the backend's device input,
preprocesses straight into it on the backend's stream, infers from the device, and the
answers match the CPU backend's on real pictures. The GPU itself: docs/gpu_results.md.
"""

from __future__ import annotations

import numpy as np
import pytest

from jetson_infer_ros.backends import onnxruntime_gpu as gpu_mod
from jetson_infer_ros.backends.onnxruntime_gpu import OnnxRuntimeGpuBackend
from jetson_infer_ros.config import load_config
from jetson_infer_ros.image_convert import Picture
from jetson_infer_ros.pipeline import InferencePipeline
from jetson_infer_ros.testing.fake_cuda import FakeCudaApi
from jetson_infer_ros.testing.fake_ort_cuda import FakeOrtCuda

pytestmark = pytest.mark.models


@pytest.fixture
def fake_gpu(monkeypatch):
    ort = FakeOrtCuda()
    monkeypatch.setattr(gpu_mod, '_import_onnxruntime', lambda: ort)
    monkeypatch.setattr(gpu_mod, '_cuda_api', lambda device_id: FakeCudaApi())
    monkeypatch.setattr(gpu_mod, 'tensorrt_libraries_found', lambda load=None: False)
    return ort


def _pictures(config):
    import cv2
    from jetson_infer_ros.assets.data import cached_data, video_frames
    d = cached_data()
    if 'infer' in config:
        return [Picture(cv2.imread(str(d.photo(p))), 'bgr')
                for p in ('opencv-doc/baboon.jpg', 'opencv-doc/orange.jpg')]
    frame = video_frames(d.video, [100])[0]
    return [Picture(frame, 'bgr'), Picture(np.ascontiguousarray(frame[:, :, ::-1]), 'rgb')]


@pytest.mark.parametrize('config', ['config/infer.yaml', 'config/detect.yaml'])
def test_gpu_backend_with_the_kernel_matches_the_cpu_backend(config, fake_gpu):
    pictures = _pictures(config)
    gpu = InferencePipeline(load_config(config, backend='onnxruntime_gpu', max_batch=2,
                                        use_cuda_graph=True))
    gpu.load()
    cpu = InferencePipeline(load_config(config, backend='onnxruntime', max_batch=2))
    cpu.load()
    try:
        backend = gpu.backend
        assert isinstance(backend, OnnxRuntimeGpuBackend) and len(gpu._gpu) == 2
        assert all(k.api is backend.cuda_api for k in gpu._gpu)    # one binding layer
        session = fake_gpu.sessions[-1]
        got, want = gpu.run(pictures), cpu.run(pictures)
        run = session.runs[-1]
        assert run['options']['gpu_graph_id'] == '2'                # the captured size
        assert not backend.input_buffer().any()     # host staging untouched: device path
        assert gpu.info()['backend'] == 'onnxruntime_gpu'
        for g, c in zip(got, want):
            if c.boxes is None:
                assert g.class_ids[0] == c.class_ids[0]
                np.testing.assert_allclose(g.scores[0], c.scores[0], atol=0.02)
            else:
                assert len(g.boxes) == len(c.boxes) > 0
                np.testing.assert_allclose(np.sort(g.boxes, axis=0),
                                           np.sort(c.boxes, axis=0), atol=2.0)
    finally:
        gpu.release()
        cpu.release()


def test_without_gpu_preprocess_the_cpu_writes_the_pinned_buffer(fake_gpu):
    pipe = InferencePipeline(load_config('config/infer.yaml', backend='onnxruntime_gpu',
                                         gpu_preprocess=False))
    pipe.load()
    try:
        assert pipe._gpu == []
        result = pipe.run(_pictures('config/infer.yaml')[:1])[0]
        assert pipe.backend.input_buffer().any()    # preprocessed on the CPU, uploaded
        assert len(result.class_ids) == 5
    finally:
        pipe.release()
