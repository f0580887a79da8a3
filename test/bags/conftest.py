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

"""Fixtures for the bag tests: the standard bags, small hand-made bags, the CLI."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys
from typing import Any, List, Optional

import numpy as np
import pytest


@pytest.fixture(scope='session')
def standard_bags():
    """Return the standard bags (made once, then cached): name -> folder."""
    from jetson_infer_ros.bags.make_bags import prepare_bags
    return prepare_bags(log=lambda _m: None)


@pytest.fixture
def jetson_infer(ros_env):
    """Run ``jetson-infer ARGS`` as its own process in the isolated domain; never hangs."""
    def run(*args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, '-m', 'jetson_infer_ros.cli.main'] + list(args),
                              env=ros_env, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    return run


def offered_qos(reliability: str = 'RELIABLE', depth: int = 10) -> List[Any]:
    from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness,
                                    QosReliability, QosTime)
    zero = QosTime(0, 0)
    return [Qos(QosHistory.KEEP_LAST, depth, QosReliability[reliability],
                QosDurability.VOLATILE, zero, zero, QosLiveliness.AUTOMATIC, zero, False)]


def write_small_bag(path: Path, count: int = 5, period_ns: int = 100_000_000,
                    qos: Optional[List[Any]] = None, topic: str = '/camera/image_raw',
                    size: tuple = (48, 64)) -> List[int]:
    """Write a small bgr8 camera bag of synthetic frames; return the header stamps."""
    from jetson_infer_ros.bags.make_bags import ImageBagWriter, START_NS
    stamps = [START_NS + i * period_ns for i in range(count)]
    rng = np.random.default_rng(7)
    with ImageBagWriter(path, topic, 'bgr8', 'test_cam', qos=qos) as w:
        for stamp in stamps:
            w.write(rng.integers(0, 255, size + (3,), dtype=np.uint8), stamp)
    return stamps


def image_msgdef() -> str:
    """sensor_msgs/Image's definition as the installed .msg files spell it (not rosbags)."""
    from ament_index_python.packages import get_package_share_directory as share
    parts = [(Path(share('sensor_msgs')) / 'msg' / 'Image.msg').read_text()]
    deps = (('std_msgs/Header', 'std_msgs'), ('builtin_interfaces/Time', 'builtin_interfaces'))
    for dep, pkg in deps:
        text = (Path(share(pkg)) / 'msg' / (dep.split('/')[1] + '.msg')).read_text()
        parts.append('=' * 80 + f'\nMSG: {dep}\n{text}')
    return '\n'.join(parts)


def write_foreign_bag(path: Path, source_bag: Path, count: int):
    """Write ``count`` frames of a standard bag as rgb8 with mcap_ros2's writer."""
    from mcap_ros2.writer import Writer
    from jetson_infer_ros.bags.reader import decode_image, header_of, open_bag
    frames = []
    with open_bag(source_bag) as b:
        for _t, m, _l, raw in b.messages(limit=count):
            sec, nanosec, _f = header_of(raw)
            frames.append((sec * 1_000_000_000 + nanosec, decode_image(raw, m)))
    with open(path, 'wb') as f:
        writer = Writer(f)
        schema = writer.register_msgdef('sensor_msgs/msg/Image', image_msgdef())
        for stamp, bgr in frames:
            h, w = bgr.shape[:2]
            msg = {'header': {'stamp': {'sec': stamp // 10**9, 'nanosec': stamp % 10**9},
                              'frame_id': 'front_camera'},
                   'height': h, 'width': w, 'encoding': 'rgb8', 'is_bigendian': 0,
                   'step': w * 3, 'data': bgr[:, :, ::-1].tobytes()}
            writer.write_message('/front/image', schema, msg, log_time=stamp + 1_000_000,
                                 publish_time=stamp)
        writer.finish()
    return frames
