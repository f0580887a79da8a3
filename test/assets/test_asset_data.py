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

"""The real pictures: what was fetched, how it is named, and reading video frames."""

from __future__ import annotations

import pytest

from jetson_infer_ros.assets import cache
from jetson_infer_ros.assets import data


def test_both_packages_gave_their_pictures(real_data):
    photos = real_data.photos()
    assert sum(p.startswith('opencv-doc/') for p in photos) >= 25
    assert sum(p.startswith('scikit-image/') for p in photos) >= 10
    assert real_data.video.name == 'vtest.avi' and real_data.video.stat().st_size > 1_000_000
    assert all(real_data.photo(p).is_file() for p in photos)


def test_every_curated_photo_exists(real_data, classification_expected):
    for entry in classification_expected['photos']:
        assert real_data.photo(entry['photo']).is_file()


@pytest.mark.parametrize('ref', ['apple.jpg', 'opencv-doc/', 'nope/apple.jpg',
                                 'opencv-doc/missing.jpg', 'opencv-doc/../x.jpg'])
def test_bad_photo_reference_is_a_clear_value_error(real_data, ref):
    with pytest.raises(data.PhotoNotFoundError, match='references look like'):
        real_data.photo(ref)
    assert issubclass(data.PhotoNotFoundError, ValueError)


def test_video_frames_are_bgr_in_the_order_asked(real_data):
    import numpy as np
    f100, f300, f500 = data.video_frames(real_data.video, [100, 300, 500])
    for f in (f100, f300, f500):
        assert f.shape == (576, 768, 3) and f.dtype == np.uint8
    assert not np.array_equal(f100, f300) and not np.array_equal(f300, f500)
    again = data.video_frames(real_data.video, [500, 100, 100])
    assert np.array_equal(again[0], f500) and np.array_equal(again[1], f100)
    assert np.array_equal(again[2], f100)
    # The grass at the bottom left is green in BGR order.
    b, g, r = f100[500, 50].astype(int)
    assert g > r and g > b


def test_video_frames_past_the_end_or_negative(real_data):
    with pytest.raises(data.VideoError, match='has only 795 frames'):
        data.video_frames(real_data.video, [10, 795])
    with pytest.raises(data.VideoError, match='>= 0'):
        data.video_frames(real_data.video, [-1])
    assert data.video_frames(real_data.video, []) == []


def test_missing_video_is_a_clear_value_error(tmp_path):
    with pytest.raises(data.VideoError, match='no video file'):
        data.video_frames(tmp_path / 'none.avi', [0])


def test_unprepared_cache_says_what_to_run(tmp_cache):
    with pytest.raises(data.DataNotPreparedError, match='jetson-infer data'):
        data.cached_data()


def test_prepared_data_is_reused_without_fetching(tmp_cache, monkeypatch):
    opencv = tmp_cache / 'data' / ('opencv-doc-%s' % data.OPENCV_DOC_VERSION)
    skimage = tmp_cache / 'data' / ('scikit-image-%s' % data.SCIKIT_IMAGE_VERSION)
    opencv.mkdir(parents=True)
    skimage.mkdir()
    (opencv / 'vtest.avi').write_bytes(b'')
    (opencv / 'a.jpg').write_bytes(b'')
    (skimage / 'b.png').write_bytes(b'')

    def no_fetch(*args, **kwargs):
        raise AssertionError('prepared data must not be fetched again')
    monkeypatch.setattr(cache, 'run_logged', no_fetch)
    monkeypatch.setattr(cache, 'run_captured', no_fetch)
    ds = data.prepare_data(log=no_fetch)
    assert ds == data.cached_data()
    assert ds.photos() == ['opencv-doc/a.jpg', 'scikit-image/b.png']


def test_other_opencv_doc_versions_are_found(tmp_cache):
    other = tmp_cache / 'data' / 'opencv-doc-4.10.0+dfsg-5'
    other.mkdir(parents=True)
    (other / 'vtest.avi').write_bytes(b'')
    (tmp_cache / 'data' / ('scikit-image-%s' % data.SCIKIT_IMAGE_VERSION)).mkdir()
    assert data.cached_data().opencv_doc == other


def test_apt_falls_back_to_update_then_to_the_candidate(tmp_path, monkeypatch):
    calls = []

    def fake_captured(cmd, what, cwd=None, env=None):
        calls.append(' '.join(cmd))
        if cmd[-1] == 'opencv-doc':
            (cwd / 'opencv-doc_4.10.0+dfsg-5_all.deb').write_bytes(b'')
            return ''
        raise cache.AssetError("%s failed (exit 100): E: Version '4.6.0+dfsg-12' for "
                               "'opencv-doc' was not found" % what)
    monkeypatch.setattr(cache, 'run_captured', fake_captured)
    monkeypatch.setattr(cache, 'run_logged', lambda cmd, what, log, **kw: calls.append(what))
    logged = []
    deb = data._apt_download(tmp_path, logged.append)
    assert deb.name == 'opencv-doc_4.10.0+dfsg-5_all.deb'
    pinned = 'apt-get download opencv-doc=%s' % data.OPENCV_DOC_VERSION
    assert calls == [pinned, 'apt-get update', pinned, 'apt-get download opencv-doc']
    assert any('taking the candidate version' in line for line in logged)


def test_no_apt_is_one_clear_line(tmp_path, monkeypatch):
    def no_apt(cmd, what, cwd=None, env=None):
        raise cache.AssetError('%s failed: command not found: apt-get' % what)
    monkeypatch.setattr(cache, 'run_captured', no_apt)
    with pytest.raises(cache.AssetError, match='apt-get not found .opencv-doc is a Debian'):
        data._apt_download(tmp_path, print)
