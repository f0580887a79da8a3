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
Fixtures for the INT8 tests: a tiny conv classifier, configs, real frames, small bags.

The tiny model has what broke real models along the way (a -inf Pad before MaxPool, a
depthwise conv, ReLU6 as Clip, a Gemm head), so the fast tests exercise those paths in
well under a second each. The real-model tests use the prepared cache and fail, never
skip, when it is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Sequence

import numpy as np
import pytest

SOURCE_FILE = 'vtest.avi'


def tiny_classifier(path: Path, classes: int = 10, seed: int = 0) -> Path:
    """Conv -> Relu -> Pad(-inf) -> MaxPool -> depthwise Conv -> Clip -> GAP -> Gemm."""
    import onnx
    from onnx import helper, numpy_helper, TensorProto as T
    rng = np.random.default_rng(seed)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32), 'w1'),
        numpy_helper.from_array(rng.normal(0, 0.1, 8).astype(np.float32), 'b1'),
        numpy_helper.from_array(np.array([0, 0, 0, 0, 0, 0, 1, 1], np.int64), 'pads'),
        numpy_helper.from_array(np.array(-np.inf, np.float32), 'neg_inf'),
        numpy_helper.from_array(rng.normal(0, 0.5, (8, 1, 3, 3)).astype(np.float32), 'w2'),
        numpy_helper.from_array(rng.normal(0, 0.1, 8).astype(np.float32), 'b2'),
        numpy_helper.from_array(np.array(0.0, np.float32), 'zero'),
        numpy_helper.from_array(np.array(6.0, np.float32), 'six'),
        numpy_helper.from_array(rng.normal(0, 0.5, (classes, 8)).astype(np.float32), 'wf'),
        numpy_helper.from_array(rng.normal(0, 0.1, classes).astype(np.float32), 'bf'),
    ]
    nodes = [
        helper.make_node('Conv', ['x', 'w1', 'b1'], ['c1'], name='conv1', pads=[1, 1, 1, 1]),
        helper.make_node('Relu', ['c1'], ['r1'], name='relu1'),
        helper.make_node('Pad', ['r1', 'pads', 'neg_inf'], ['p1'], name='pad_inf'),
        helper.make_node('MaxPool', ['p1'], ['m1'], name='pool', kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node('Conv', ['m1', 'w2', 'b2'], ['c2'], name='dwconv', group=8,
                         pads=[1, 1, 1, 1]),
        helper.make_node('Clip', ['c2', 'zero', 'six'], ['r2'], name='relu6'),
        helper.make_node('GlobalAveragePool', ['r2'], ['g'], name='gap'),
        helper.make_node('Flatten', ['g'], ['f'], name='flatten'),
        helper.make_node('Gemm', ['f', 'wf', 'bf'], ['logits'], name='fc', transB=1),
    ]
    graph = helper.make_graph(
        nodes, 'tiny', [helper.make_tensor_value_info('x', T.FLOAT, ['N', 3, 32, 32])],
        [helper.make_tensor_value_info('logits', T.FLOAT, ['N', classes])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def write_config(path: Path, model: Path, **extra) -> Path:
    """Write a params YAML for a classifier at ``model`` (stretch resize, 0-1 scaling)."""
    values = {'model_path': str(model), 'task': 'classification', 'decoder': 'softmax',
              'resize_mode': 'stretch', 'mean': [0.0, 0.0, 0.0], 'std': [255.0, 255.0, 255.0],
              'backend': 'onnxruntime', 'top_k': 5}
    values.update(extra)
    lines = ['jetson_infer:', '  ros__parameters:']
    for key, value in values.items():
        lines.append(f'    {key}: {value!r}' if isinstance(value, str) else
                     f'    {key}: {list(value) if isinstance(value, (list, tuple)) else value}')
    path.write_text('\n'.join(lines).replace("'", '"') + '\n')
    return path


def random_photos(folder: Path, count: int, seed: int = 1, size=(48, 64)) -> List[Path]:
    """Noise-and-gradient PNGs: varied enough for ranges, cheap to make."""
    import cv2
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(count):
        base = np.linspace(0, 255, size[1], dtype=np.float32)[None, :, None]
        img = np.clip(base + rng.normal(0, 60, size + (3,)), 0, 255).astype(np.uint8)
        path = folder / f'img_{i:03d}.png'
        cv2.imwrite(str(path), img)
        out.append(path)
    return out


def write_bag(path: Path, topic: str, images: Sequence[np.ndarray], storage: str = 'mcap',
              compressed: bool = False, encoding: str = 'bgr8', extra_topic: str = '') -> Path:
    """Write a rosbag2 bag with ``images`` (HxWx3 bgr uint8) on ``topic`` (rosbags' writer)."""
    import cv2
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_typestore, Stores
    store = get_typestore(Stores.ROS2_KILTED)
    Image = store.types['sensor_msgs/msg/Image']
    Compressed = store.types['sensor_msgs/msg/CompressedImage']
    Header = store.types['std_msgs/msg/Header']
    Time = store.types['builtin_interfaces/msg/Time']
    String = store.types['std_msgs/msg/String']
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    msgtype = 'sensor_msgs/msg/CompressedImage' if compressed else 'sensor_msgs/msg/Image'
    with Writer(path, version=9, storage_plugin=plugin) as writer:
        conn = writer.add_connection(topic, msgtype, typestore=store)
        other = writer.add_connection(extra_topic, 'std_msgs/msg/String', typestore=store) \
            if extra_topic else None
        for i, img in enumerate(images):
            stamp = 1_000_000_000 + i * 33_333_333
            header = Header(stamp=Time(sec=stamp // 10**9, nanosec=stamp % 10**9),
                            frame_id='camera')
            if compressed:
                ok, buf = cv2.imencode('.png', img)
                assert ok
                msg = Compressed(header=header, format='png',
                                 data=np.frombuffer(buf.tobytes(), np.uint8))
            else:
                data = img if encoding == 'bgr8' else img[:, :, ::-1]
                msg = Image(header=header, height=img.shape[0], width=img.shape[1],
                            encoding=encoding, is_bigendian=0, step=img.shape[1] * 3,
                            data=np.ascontiguousarray(data).reshape(-1))
            writer.write(conn, stamp, store.serialize_cdr(msg, msgtype))
            if other is not None:
                writer.write(other, stamp, store.serialize_cdr(String(data='x'),
                                                               'std_msgs/msg/String'))
    return path


@pytest.fixture
def make_bag():
    """Return the bag writer (test folders are not packages: helpers come as fixtures)."""
    return write_bag


@pytest.fixture
def make_photos():
    return random_photos


@pytest.fixture
def make_config():
    return write_config


@pytest.fixture
def make_tiny():
    return tiny_classifier


@pytest.fixture
def tiny_model(tmp_path):
    return tiny_classifier(tmp_path / 'tiny.onnx')


@pytest.fixture
def tiny_config(tmp_path, tiny_model):
    return write_config(tmp_path / 'tiny.yaml', tiny_model)


@pytest.fixture
def photo_dir(tmp_path):
    folder = tmp_path / 'photos'
    random_photos(folder, 12)
    return folder


@pytest.fixture(scope='session')
def efficientnet_file(prepared_model):
    return str(prepared_model('efficientnet_lite0')[0])


@pytest.fixture(scope='session')
def nanodet_file(prepared_model):
    return str(prepared_model('nanodet')[0])


@pytest.fixture(scope='session')
def vtest_frames(real_data):
    """Frames 0, 10, ..., 390 of vtest.avi (40 frames, BGR)."""
    from jetson_infer_ros.assets.data import video_frames
    return video_frames(real_data.video, range(0, 400, 10))
