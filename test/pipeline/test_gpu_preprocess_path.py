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
The pipeline's GPU preprocessing path, wired end to end without a GPU.

The TensorRT runner cannot run here, so a stand-in backend keeps the runner's device
contract (``cuda_api``, ``cuda_stream``, ``input_device_pointer``, ``infer_from_device``)
over FakeCudaApi, whose "device" is host memory and whose kernel is a NumPy transcription
of the CUDA source, and runs ONNX Runtime on what the kernel wrote. This checks what the
pipeline adds: geometry, normalisation, channel order, batch rows and box mapping agree
with the CPU path. The CUDA code itself is checked on a real GPU (docs/gpu_results.md).
"""

from __future__ import annotations

import ctypes

import numpy as np
import pytest

from jetson_infer_ros.backends.onnxruntime_backend import OnnxRuntimeBackend
from jetson_infer_ros.config import load_config
from jetson_infer_ros.image_convert import Picture
from jetson_infer_ros.pipeline import InferencePipeline
from jetson_infer_ros.testing.fake_cuda import FakeCudaApi

pytestmark = pytest.mark.models


class DeviceInputBackend(OnnxRuntimeBackend):
    """ONNX Runtime behind a device-side input buffer, like the TensorRT runner's."""

    name = 'device-input'

    def _load_impl(self) -> None:
        super()._load_impl()
        self.cuda_api = FakeCudaApi()
        self.cuda_stream = self.cuda_api.stream_create()
        host = super().input_buffer()
        self.row_bytes = host[0].nbytes
        self.device = self.cuda_api.malloc(host.nbytes)
        self.device_runs = 0

    def input_device_pointer(self, index: int = 0) -> int:
        return self.device + index * self.row_bytes

    def device_rows(self, n: int) -> np.ndarray:
        host = super().input_buffer()
        out = np.empty((n,) + host.shape[1:], host.dtype)
        ctypes.memmove(out.ctypes.data, self.device, n * self.row_bytes)
        return out

    def infer_from_device(self, batch: int = 1):
        self.cuda_api.stream_synchronize(self.cuda_stream)
        super().input_buffer()[:batch] = self.device_rows(batch)
        self.device_runs += 1
        return self.infer(batch)


@pytest.fixture
def device_backend(monkeypatch):
    made = []

    def create(kind, model_path, options=None, log=None, load=False):
        b = DeviceInputBackend(model_path, options)
        if load:
            b.load()
        made.append(b)
        return b
    monkeypatch.setattr('jetson_infer_ros.backends.create_backend', create)
    return made


def _photos():
    from jetson_infer_ros.assets.data import cached_data, video_frames
    d = cached_data()
    import cv2
    pics = [Picture(cv2.imread(str(d.photo(p))), 'bgr')
            for p in ('opencv-doc/baboon.jpg', 'opencv-doc/orange.jpg')]
    frame = video_frames(d.video, [100])[0]
    rgba = np.ascontiguousarray(np.dstack([frame[:, :, ::-1], np.full(frame.shape[:2], 255,
                                                                      np.uint8)]))
    return pics, Picture(frame, 'bgr'), Picture(rgba, 'rgba')


@pytest.mark.parametrize('config', ['config/infer.yaml', 'config/detect.yaml'])
def test_gpu_path_matches_the_cpu_path(config, device_backend):
    stills, street, street_rgba = _photos()
    pictures = stills if 'infer' in config else [street, street_rgba]
    gpu = InferencePipeline(load_config(config, max_batch=2, gpu_preprocess=True))
    gpu.load()
    cpu = InferencePipeline(load_config(config, max_batch=2, backend='onnxruntime',
                                        gpu_preprocess=False))
    cpu.load()
    try:
        assert len(gpu._gpu) == 2 and not cpu._gpu
        got, want = gpu.run(pictures), cpu.run(pictures)
        backend = device_backend[0]
        assert backend.device_runs == 1            # one batch, straight from the device
        # the kernel wrote what the CPU preprocessor writes (within one 0-255 step)
        std = np.array(cpu.spec.preprocess.std, np.float32).reshape(1, 3, 1, 1)
        diff = np.abs(backend.device_rows(2) - cpu._buffer[:2]) * std
        assert float(np.percentile(diff, 99.9)) <= 1.0
        for g, c in zip(got, want):
            if c.boxes is None:
                assert g.class_ids[0] == c.class_ids[0]
                np.testing.assert_allclose(g.scores[0], c.scores[0], atol=0.02)
            else:
                assert len(g.boxes) == len(c.boxes) > 0
                np.testing.assert_allclose(np.sort(g.boxes, axis=0), np.sort(c.boxes, axis=0),
                                           atol=2.0)
    finally:
        gpu.release()
        cpu.release()


def test_uint16_pictures_and_cpu_config_stay_on_the_cpu(device_backend):
    pipe = InferencePipeline(load_config('config/infer.yaml', gpu_preprocess=False))
    pipe.load()
    assert pipe._gpu == []
    pipe.release()
    pipe = InferencePipeline(load_config('config/infer.yaml'))
    pipe.load()
    mono16 = Picture(np.full((48, 64, 1), 40000, np.uint16), 'mono')
    pipe.run([mono16])
    assert device_backend[-1].device_runs == 0     # the CPU path handled mono16
    pipe.release()
