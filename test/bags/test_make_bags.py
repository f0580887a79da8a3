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
The standard bags hold the real footage exactly, with camera-like headers and timing.

Also: they are cached by what made them and appear atomically, their bytes are what
rclpy reads and writes (messages compared, not bytes), and the types the recorder
writes carry the same RIHS01 hashes as the installed message packages.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
import numpy as np
import pytest

from jetson_infer_ros.assets import cache
from jetson_infer_ros.assets.data import cached_data, video_frames
from jetson_infer_ros.bags import BagError, make_bags
from jetson_infer_ros.bags import typestore as ts
from jetson_infer_ros.bags.reader import decode_image, header_of, open_bag


def _frames(bag_dir, topic, indices):
    wanted, out = set(indices), {}
    with open_bag(bag_dir) as bag:
        for i, (_t, msgtype, log_ns, raw) in enumerate(bag.messages([topic])):
            if i in wanted:
                out[i] = (log_ns, raw, msgtype)
    return [out[i] for i in indices]


def test_street_bag_is_the_video_with_camera_headers(standard_bags):
    spec = make_bags.SPECS['vtest_bgr8']
    with open_bag(standard_bags['vtest_bgr8']) as bag:
        info = bag.image_topic()
        assert (info.name, info.msgtype, info.count) == (spec.topic, ts.IMAGE, 795)
        assert [q.reliability.name for q in info.qos] == ['RELIABLE']
        logs = [(log_ns, header_of(raw)) for _t, _m, log_ns, raw in bag.messages()]
    fps = make_bags.video_fps(cached_data().video)
    assert fps == 10.0
    for i, (log_ns, (sec, nanosec, frame_id)) in enumerate(logs):
        stamp = sec * 1_000_000_000 + nanosec
        assert stamp == make_bags.START_NS + i * 100_000_000
        assert log_ns == stamp + make_bags.RECEIVE_DELAY_NS
        assert frame_id == 'street_camera'
    picks = [0, 100, 794]
    video = video_frames(cached_data().video, picks)
    for (_log, raw, msgtype), frame in zip(_frames(standard_bags['vtest_bgr8'], spec.topic,
                                                   picks), video):
        assert np.array_equal(decode_image(raw, msgtype), frame)


def test_rgb8_and_jpeg_variants_hold_the_same_frames(standard_bags):
    picks = [0, 57, 119]
    video = video_frames(cached_data().video, picks)
    rgb = _frames(standard_bags['vtest_rgb8'], '/camera/image_raw', picks)
    for (_log, raw, msgtype), frame in zip(rgb, video):
        msg = ts.typestore().deserialize_cdr(raw, msgtype)
        assert msg.encoding == 'rgb8' and msg.step == 768 * 3
        assert np.array_equal(decode_image(raw, msgtype), frame)
    with open_bag(standard_bags['vtest_rgb8']) as bag:
        assert bag.image_topic().count == 120
    jpeg = _frames(standard_bags['vtest_jpeg'], '/camera/image_raw/compressed', picks)
    for (_log, raw, msgtype), frame in zip(jpeg, video):
        msg = ts.typestore().deserialize_cdr(raw, msgtype)
        assert msgtype == ts.COMPRESSED_IMAGE and msg.format == 'bgr8; jpeg compressed bgr8'
        err = decode_image(raw, msgtype).astype(np.float64) - frame
        psnr = 10 * np.log10(255.0 ** 2 / np.mean(err ** 2))
        assert psnr > 30, psnr


def test_photo_bag_names_its_photos(standard_bags):
    import cv2
    with open_bag(standard_bags['photos']) as bag:
        refs = json.loads(bag.custom_data()['photos'])
        msgs = list(bag.messages())
    assert refs == list(make_bags.PHOTO_REFS) and len(msgs) == 12
    data = cached_data()
    for i, (ref, (_t, msgtype, _log, raw)) in enumerate(zip(refs, msgs)):
        sec, nanosec, frame_id = header_of(raw)
        assert sec * 1_000_000_000 + nanosec == make_bags.START_NS + i * 500_000_000
        assert frame_id == 'photo_camera'
        assert np.array_equal(decode_image(raw, msgtype),
                              cv2.imread(str(data.photo(ref)), cv2.IMREAD_COLOR))


def test_bags_are_cached_by_source_writer_and_options(standard_bags, monkeypatch):
    path = standard_bags['vtest_rgb8']
    facts = json.loads((path / 'source.json').read_text())
    assert facts['sources'][0]['sha256'] == cache.file_sha256(cached_data().video)
    assert facts['messages'] == 120 and facts['writer_version'] == make_bags.WRITER_VERSION
    assert make_bags.prepare_bag('vtest_rgb8', log=lambda _m: None) == path   # found, not made
    spec = make_bags.SPECS['vtest_rgb8']
    sources = [('opencv-doc/vtest.avi', cached_data().video)]
    key = make_bags.bag_key(spec, sources)
    assert path.name == f'vtest_rgb8-{key}'
    assert make_bags.bag_key(dataclasses.replace(spec, frames=121), sources) != key
    assert make_bags.bag_key(dataclasses.replace(spec, frame_id='x'), sources) != key
    monkeypatch.setattr(make_bags, 'WRITER_VERSION', 'next')
    assert make_bags.bag_key(spec, sources) != key


def test_a_failed_write_leaves_nothing_and_a_good_one_appears_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(make_bags, 'bag_root', lambda: tmp_path)
    monkeypatch.setitem(make_bags.SPECS, 'tiny', make_bags.BagSpec(
        'tiny', 'video', 'bgr8', '/camera/image_raw', 'cam', frames=4))
    real = make_bags.write_video_bag

    def broken(*args, **kwargs):
        real(*args, **kwargs)
        raise OSError('disk full (simulated)')
    monkeypatch.setattr(make_bags, 'write_video_bag', broken)
    with pytest.raises(OSError, match='simulated'):
        make_bags.prepare_bag('tiny', log=lambda _m: None)
    assert [p.name for p in tmp_path.iterdir() if not p.name.endswith('.lock')] == []
    monkeypatch.setattr(make_bags, 'write_video_bag', real)
    path = make_bags.prepare_bag('tiny', log=lambda _m: None)
    assert sorted(p.name for p in path.iterdir()) == sorted(
        ['metadata.yaml', f'{path.name}.mcap', 'source.json'])
    with open_bag(path) as bag:
        assert bag.image_topic().count == 4


def test_bag_bytes_are_what_rclpy_reads_and_writes(standard_bags):
    """Compare messages, not bytes: rclpy leaves CDR padding uninitialised."""
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import CompressedImage, Image
    (_log, raw, msgtype), = _frames(standard_bags['vtest_bgr8'], '/camera/image_raw', [3])
    msg = deserialize_message(raw, Image)
    ref = ts.typestore().deserialize_cdr(raw, msgtype)
    assert (msg.height, msg.width, msg.encoding, msg.step) == (576, 768, 'bgr8', 2304)
    assert msg.header.frame_id == ref.header.frame_id == 'street_camera'
    assert np.array_equal(np.asarray(msg.data, np.uint8), ref.data)
    back = ts.typestore().deserialize_cdr(serialize_message(msg), msgtype)
    assert back.header.stamp.sec == ref.header.stamp.sec
    assert np.array_equal(back.data, ref.data)
    (_log, raw, msgtype), = _frames(standard_bags['vtest_jpeg'],
                                    '/camera/image_raw/compressed', [3])
    cmsg = deserialize_message(raw, CompressedImage)
    cref = ts.typestore().deserialize_cdr(raw, msgtype)
    assert cmsg.format == cref.format and bytes(cmsg.data) == cref.data.tobytes()


# ROS strings end at the first NUL (rclpy reads them as C strings): no frame_id holds one
FRAME_IDS = st.text(st.characters(blacklist_categories=('Cs',), blacklist_characters='\x00'),
                    max_size=20)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 9), w=st.integers(1, 9), sec=st.integers(0, 2**31 - 1),
       nanosec=st.integers(0, 999_999_999), frame_id=FRAME_IDS,
       encoding=st.sampled_from(['bgr8', 'rgb8']), seed=st.integers(0, 2**16))
def test_any_frame_round_trips_through_rclpy(h, w, sec, nanosec, frame_id, encoding, seed):
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image
    bgr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    raw = make_bags.serialize_frame(bgr, encoding, sec * 1_000_000_000 + nanosec, frame_id)
    assert header_of(raw) == (sec, nanosec, frame_id)
    msg = deserialize_message(bytes(raw), Image)
    assert (msg.header.stamp.sec, msg.header.stamp.nanosec) == (sec, nanosec)
    assert msg.header.frame_id == frame_id and msg.encoding == encoding
    pixels = np.asarray(msg.data, np.uint8).reshape(h, w, 3)
    assert np.array_equal(pixels[:, :, ::-1] if encoding == 'rgb8' else pixels, bgr)


@pytest.mark.parametrize('name', ['Detection2DArray', 'Classification', 'LabelInfo'])
def test_recorded_vision_msgs_carry_the_installed_hashes(name):
    from ament_index_python.packages import get_package_share_directory
    described = json.loads((Path(get_package_share_directory('vision_msgs')) / 'msg'
                            / f'{name}.json').read_text())
    hashes = {h['type_name']: h['hash_string'] for h in described['type_hashes']}
    msgdef, digest = ts.definition(f'vision_msgs/msg/{name}')
    assert digest == hashes[f'vision_msgs/msg/{name}']
    assert 'MSG: std_msgs/Header' in msgdef


def test_type_names_and_missing_types_are_clear():
    assert ts.normalize('sensor_msgs/Image') == 'sensor_msgs/msg/Image'
    with pytest.raises(BagError, match='expected pkg/msg/Type'):
        ts.normalize('Image')
    with pytest.raises(BagError, match='acme_msgs/msg/Blob is not available to Python'):
        ts.message_class('acme_msgs/msg/Blob')
    with pytest.raises(BagError, match='package acme_msgs is not installed'):
        ts.ensure_type('acme_msgs/msg/Blob')


def test_a_video_becomes_a_bag_from_the_cli(jetson_infer, tmp_path):
    out = tmp_path / 'clip'
    done = jetson_infer('bags', '--video', str(cached_data().video), '--out', str(out),
                        '--encoding', 'jpeg', '--frames', '5', '--fps', '5',
                        '--frame-id', 'front')
    assert done.returncode == 0, done.stderr
    with open_bag(out) as bag:
        info = bag.image_topic()
        assert (info.name, info.count) == ('/camera/image_raw/compressed', 5)
        stamps = bag.stamps(info.name)
    assert [s for s, _f in stamps] == [make_bags.START_NS + i * 200_000_000 for i in range(5)]
    assert {f for _s, f in stamps} == {'front'}
    again = jetson_infer('bags', '--video', str(cached_data().video), '--out', str(out))
    assert again.returncode == 2 and 'exists already' in again.stderr
