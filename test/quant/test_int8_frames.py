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

"""Calibration frames from folders and rosbag2 bags, decoded like the node decodes them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from jetson_infer_ros.quant import frames


def _images(n, seed=3):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 255, (24, 32, 3), dtype=np.uint8) for _ in range(n)]


def test_folder_lists_images_in_name_order_and_ignores_other_files(tmp_path, make_photos):
    make_photos(tmp_path, 3)
    (tmp_path / 'notes.txt').write_text('not an image')
    (tmp_path / 'source.json').write_text('{}')
    src = frames.ImageFolder(str(tmp_path))
    refs = [f.ref for f in src.frames()]
    assert refs == ['img_000.png', 'img_001.png', 'img_002.png']
    assert src.describe()['files_in_folder'] == 3


def test_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(frames.FrameSourceError, match='not found'):
        frames.ImageFolder(str(tmp_path / 'missing'))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(frames.FrameSourceError, match='no images'):
        frames.ImageFolder(str(tmp_path / 'empty'))
    (tmp_path / 'bad').mkdir()
    (tmp_path / 'bad' / 'broken.jpg').write_bytes(b'\xff\xd8 truncated')
    src = frames.ImageFolder(str(tmp_path / 'bad'))
    with pytest.raises(frames.FrameSourceError, match='not a readable image: .*broken.jpg'):
        list(src.frames())


@pytest.mark.parametrize('storage,compressed,encoding', [
    ('mcap', False, 'bgr8'), ('mcap', False, 'rgb8'), ('sqlite3', True, 'bgr8')])
def test_bag_frames_equal_the_same_pictures_from_files(tmp_path, make_bag, storage,
                                                       compressed, encoding):
    imgs = _images(5)
    bag = make_bag(tmp_path / 'bag', '/cam/image', imgs, storage=storage,
                   compressed=compressed, encoding=encoding, extra_topic='/chatter')
    folder = tmp_path / 'png'
    folder.mkdir()
    for i, img in enumerate(imgs):
        cv2.imwrite(str(folder / f'{i}.png'), img)
    from_bag = list(frames.BagTopic(str(bag), '/cam/image').frames())
    from_files = list(frames.ImageFolder(str(folder)).frames())
    assert [f.sha256 for f in from_bag] == [f.sha256 for f in from_files]
    assert from_bag[2].ref == '/cam/image#2'


def test_bag_samples_are_spread_over_the_topic(tmp_path, make_bag):
    bag = make_bag(tmp_path / 'bag', '/cam', _images(10))
    src = frames.BagTopic(str(bag), '/cam', samples=4)
    assert len(src) == 4
    assert [f.ref for f in src.frames()] == ['/cam#0', '/cam#3', '/cam#6', '/cam#9']


def test_bag_without_the_topic_lists_the_image_topics(tmp_path, make_bag):
    bag = make_bag(tmp_path / 'bag', '/cam/image', _images(2), extra_topic='/chatter')
    with pytest.raises(frames.FrameSourceError, match="no topic '/camera'.*image topics: "
                       '/cam/image'):
        frames.BagTopic(str(bag), '/camera')
    with pytest.raises(frames.FrameSourceError, match='std_msgs/msg/String, not'):
        frames.BagTopic(str(bag), '/chatter')
    with pytest.raises(frames.FrameSourceError, match='bag not found'):
        frames.BagTopic(str(tmp_path / 'nope'), '/cam/image')


def test_open_source_needs_exactly_one_source(tmp_path):
    with pytest.raises(frames.FrameSourceError, match='either'):
        frames.open_source()
    with pytest.raises(frames.FrameSourceError, match='--topic'):
        frames.open_source(bag=str(tmp_path))
    with pytest.raises(frames.FrameSourceError, match='--samples'):
        frames.open_source(images=str(tmp_path), samples=0)
