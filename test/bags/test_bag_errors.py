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

"""Bad input to replay and regress: one clear error line, a non-zero exit, never a hang."""

from __future__ import annotations

import shutil

import pytest

from jetson_infer_ros.bags.make_bags import START_NS

from .conftest import write_small_bag


def _one_line_error(done, *words):
    assert done.returncode != 0, done.stdout
    lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    assert 'error:' in lines[0] and 'Traceback' not in done.stderr
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def test_missing_bag(jetson_infer, tmp_path):
    done = jetson_infer('replay', str(tmp_path / 'nothing_here'), timeout=60)
    _one_line_error(done, 'no bag at', 'nothing_here')


def test_bag_without_the_topic(jetson_infer, tmp_path):
    write_small_bag(tmp_path / 'small')
    done = jetson_infer('replay', str(tmp_path / 'small'), '--topic', '/lidar/points',
                        timeout=60)
    _one_line_error(done, 'has no topic /lidar/points', '/camera/image_raw')


def test_unknown_message_type(jetson_infer, tmp_path):
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores
    store = get_typestore(Stores.ROS2_KILTED)
    store.register(get_types_from_msg('std_msgs/Header header\nuint8[] blob\n',
                                      'acme_msgs/msg/Blob'))
    blob = store.types['acme_msgs/msg/Blob']
    header = store.types['std_msgs/msg/Header'](
        stamp=store.types['builtin_interfaces/msg/Time'](sec=1, nanosec=0), frame_id='x')
    import numpy as np
    with Writer(tmp_path / 'acme', version=9, storage_plugin=StoragePlugin.MCAP) as w:
        conn = w.add_connection('/blob', 'acme_msgs/msg/Blob', typestore=store)
        w.write(conn, START_NS, store.serialize_cdr(blob(header=header,
                                                         blob=np.zeros(3, np.uint8)),
                                                    'acme_msgs/msg/Blob'))
    done = jetson_infer('replay', str(tmp_path / 'acme'), timeout=60)
    _one_line_error(done, 'acme_msgs/msg/Blob', 'not available to Python')


@pytest.mark.parametrize('form', ['folder', 'file'])
def test_truncated_bag(jetson_infer, tmp_path, form):
    bag = tmp_path / 'cut'
    write_small_bag(bag, count=6)
    mcap = bag / 'cut.mcap'
    data = mcap.read_bytes()
    mcap.write_bytes(data[:len(data) // 2])
    target = bag if form == 'folder' else mcap
    if form == 'file':
        shutil.copy(mcap, tmp_path / 'cut_copy.mcap')
        target = tmp_path / 'cut_copy.mcap'
    done = jetson_infer('replay', str(target), timeout=60)
    _one_line_error(done, 'cannot read bag', 'truncated')


def test_not_a_bag(jetson_infer, tmp_path):
    junk = tmp_path / 'notes.txt'
    junk.write_text('hello')
    _one_line_error(jetson_infer('replay', str(junk), timeout=60), 'is not a bag')
    empty = tmp_path / 'empty_dir'
    empty.mkdir()
    _one_line_error(jetson_infer('replay', str(empty), timeout=60), 'is not a bag')
    fake = tmp_path / 'fake.mcap'
    fake.write_bytes(b'\x00' * 64)
    _one_line_error(jetson_infer('replay', str(fake), timeout=60), 'cannot read bag')


def test_bad_replay_options(jetson_infer, tmp_path):
    write_small_bag(tmp_path / 'small')
    _one_line_error(jetson_infer('replay', str(tmp_path / 'small'), '--rate', '-1',
                                 timeout=60), 'rate must be >= 0')
    _one_line_error(jetson_infer('replay', str(tmp_path / 'small'), '--remap', 'nonsense',
                                 timeout=60), 'expected FROM:=TO')


def test_nobody_listening_is_an_error_not_a_hang(jetson_infer, tmp_path):
    write_small_bag(tmp_path / 'small')
    done = jetson_infer('replay', str(tmp_path / 'small'), '--wait-subscribers', '1',
                        '--wait-timeout', '2', timeout=60)
    _one_line_error(done, 'waited 2 s for 1 subscriber(s) on /camera/image_raw')


def test_regress_with_bad_inputs(jetson_infer, tmp_path):
    write_small_bag(tmp_path / 'small')
    done = jetson_infer('regress', '--config', 'config/detect.yaml', '--bag',
                        str(tmp_path / 'small'), '--golden', str(tmp_path / 'none.json'),
                        timeout=60)
    _one_line_error(done, 'no golden file', '--update')
    done = jetson_infer('regress', '--config', 'config/detect.yaml', '--bag',
                        str(tmp_path / 'missing'), '--golden', str(tmp_path / 'g.json'),
                        '--update', timeout=60)
    _one_line_error(done, 'no bag at')
    done = jetson_infer('regress', '--config', str(tmp_path / 'nope.yaml'), '--bag',
                        str(tmp_path / 'small'), '--golden', str(tmp_path / 'g.json'),
                        '--update', timeout=60)
    _one_line_error(done, 'config file not found')
