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
Real pictures for tests, calibration and demos, fetched from package registries.

Synthetic images prove little about a vision model. Two registry packages ship real
ones: Debian's ``opencv-doc`` (about 30 photos and ``vtest.avi``, 795 frames of a street
with pedestrians, 768x576) and the scikit-image wheel (about 12 photos in its ``data/``
folder). Both are fetched once into ``<cache>/data/`` with the ordinary clients
(``apt-get download``, ``pip download``), only their pictures are unpacked, and
nothing is installed. Photos are named ``opencv-doc/<file>`` or ``scikit-image/<file>``.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from typing import List, Optional, Sequence, TYPE_CHECKING
import zipfile

from jetson_infer_ros.assets import cache

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

OPENCV_DOC_PACKAGE = 'opencv-doc'
OPENCV_DOC_VERSION = '4.6.0+dfsg-12'
"""Debian 12's version; another one is taken (and logged) only if apt no longer has it."""

SCIKIT_IMAGE_VERSION = '0.26.0'
# Any one wheel carries the same data files; naming one makes the download the same
# file on every host, an aarch64 Jetson or Python 3.8 included.
_SKIMAGE_WHEEL_TAGS = ('--platform', 'manylinux_2_28_x86_64', '--python-version', '3.11',
                       '--implementation', 'cp', '--abi', 'cp311')

VIDEO_NAME = 'vtest.avi'
PHOTO_SUFFIXES = ('.jpg', '.jpeg', '.png')
_OPENCV_DATA = 'usr/share/doc/opencv-doc/examples/data/'
_SOURCES = ('opencv-doc', 'scikit-image')


class DataNotPreparedError(cache.AssetError):
    """The data set is not in the cache yet."""


class PhotoNotFoundError(ValueError):
    """A photo reference does not name a photo of the data set."""


class VideoError(ValueError):
    """A video cannot be opened, or does not have the frames asked for."""


@dataclasses.dataclass(frozen=True)
class DataSet:
    """Where the prepared pictures are; each folder holds the files of one package."""

    opencv_doc: pathlib.Path
    scikit_image: pathlib.Path

    @property
    def video(self) -> pathlib.Path:
        """``vtest.avi``: a 768x576 street scene with pedestrians, 795 frames at 10 fps."""
        return self.opencv_doc / VIDEO_NAME

    def photos(self) -> List[str]:
        """Return the references of every photo, e.g. ``'opencv-doc/apple.jpg'``."""
        refs: List[str] = []
        for source, folder in zip(_SOURCES, (self.opencv_doc, self.scikit_image)):
            refs.extend('%s/%s' % (source, p.name) for p in sorted(folder.iterdir())
                        if p.suffix.lower() in PHOTO_SUFFIXES)
        return refs

    def photo(self, ref: str) -> pathlib.Path:
        """Return the file of a photo reference such as ``'scikit-image/coffee.png'``."""
        source, _, name = ref.partition('/')
        folder = {'opencv-doc': self.opencv_doc, 'scikit-image': self.scikit_image}.get(source)
        path = folder / name if folder is not None and name and '/' not in name else None
        if path is None or not path.is_file():
            raise PhotoNotFoundError(
                'no photo %r: references look like opencv-doc/<file> or scikit-image/<file>'
                % ref)
        return path


def _data_root() -> pathlib.Path:
    return cache.cache_root() / 'data'


def _opencv_dir(version: str) -> pathlib.Path:
    return _data_root() / ('%s-%s' % (OPENCV_DOC_PACKAGE, version))


def _skimage_dir() -> pathlib.Path:
    return _data_root() / ('scikit-image-%s' % SCIKIT_IMAGE_VERSION)


def _find_opencv_dir() -> Optional[pathlib.Path]:
    pinned = _opencv_dir(OPENCV_DOC_VERSION)
    if pinned.is_dir():
        return pinned
    others = sorted(_data_root().glob(OPENCV_DOC_PACKAGE + '-*')) if _data_root().is_dir() else []
    return next((p for p in others if p.is_dir() and (p / VIDEO_NAME).is_file()), None)


def cached_data() -> DataSet:
    """
    Return the prepared data set without fetching anything.

    Raises :class:`DataNotPreparedError` telling the user what to run if it is missing.
    """
    opencv, skimage = _find_opencv_dir(), _skimage_dir()
    if opencv is None or not skimage.is_dir():
        raise DataNotPreparedError(
            'test pictures not prepared in %s; run `jetson-infer data` to fetch them '
            '(opencv-doc and scikit-image, about 100 MB)' % _data_root())
    return DataSet(opencv_doc=opencv, scikit_image=skimage)


def prepare_data(log: cache.Log = print) -> DataSet:
    """Fetch the pictures once; later calls only look at the cache (a few ms)."""
    opencv = _find_opencv_dir() or _prepare_opencv_doc(log)
    skimage = _skimage_dir()
    if not skimage.is_dir():
        _prepare_scikit_image(skimage, log)
    return DataSet(opencv_doc=opencv, scikit_image=skimage)


def _apt_download(workdir: pathlib.Path, log: cache.Log) -> pathlib.Path:
    """Download the opencv-doc .deb into ``workdir``: pinned, after one update, any."""
    pinned = '%s=%s' % (OPENCV_DOC_PACKAGE, OPENCV_DOC_VERSION)
    what = 'apt-get download %s' % pinned
    try:
        cache.run_captured(['apt-get', 'download', pinned], what, cwd=workdir)
    except cache.AssetError as first:
        if 'command not found' in str(first):
            raise cache.AssetError('%s failed: apt-get not found (opencv-doc is a Debian '
                                   'package)' % what) from None
        log('[data] %s; running apt-get update once' % first)
        cache.run_logged(['apt-get', 'update'], 'apt-get update', log)
        try:
            cache.run_captured(['apt-get', 'download', pinned], what, cwd=workdir)
        except cache.AssetError:
            log('[data] %s is not offered; taking the candidate version' % pinned)
            cache.run_captured(['apt-get', 'download', OPENCV_DOC_PACKAGE],
                               'apt-get download %s' % OPENCV_DOC_PACKAGE, cwd=workdir)
    debs = sorted(workdir.glob(OPENCV_DOC_PACKAGE + '_*.deb'))
    if not debs:
        raise cache.AssetError('%s left no .deb in %s' % (what, workdir))
    return debs[0]


def _extract_deb_pictures(deb: pathlib.Path, out: pathlib.Path) -> int:
    """
    Unpack only the top-level pictures and videos of examples/data; return the count.

    Same files as ``dpkg -x``, without writing the other 200 MB of documentation.
    """
    wanted = PHOTO_SUFFIXES + ('.avi',)
    proc = subprocess.Popen(['dpkg-deb', '--fsys-tarfile', str(deb)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    count = 0
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode='r|*') as tar:
        for member in tar:
            name = member.name[2:] if member.name.startswith('./') else member.name
            rest = name[len(_OPENCV_DATA):] if name.startswith(_OPENCV_DATA) else ''
            if member.isfile() and rest and '/' not in rest and rest.lower().endswith(wanted):
                src = tar.extractfile(member)
                assert src is not None
                with src, open(out / rest, 'wb') as dst:
                    shutil.copyfileobj(src, dst)
                count += 1
    _out, err = proc.communicate()
    if proc.returncode != 0:
        raise cache.AssetError('dpkg-deb --fsys-tarfile %s failed: %s'
                               % (deb.name, err.decode(errors='replace').strip()))
    return count


def _prepare_opencv_doc(log: cache.Log) -> pathlib.Path:
    root = _data_root()
    root.mkdir(parents=True, exist_ok=True)
    with cache.locked(root / OPENCV_DOC_PACKAGE):
        found = _find_opencv_dir()
        if found is not None:
            return found
        for stale in root.glob('.download-*'):  # left by a run that was killed
            shutil.rmtree(stale, ignore_errors=True)
        log('[data] downloading Debian %s (~95 MB) with apt-get' % OPENCV_DOC_PACKAGE)
        with tempfile.TemporaryDirectory(prefix='.download-', dir=root) as work:
            deb = _apt_download(pathlib.Path(work), log)
            version = cache.run_captured(['dpkg-deb', '-f', str(deb), 'Version'],
                                         'dpkg-deb -f %s Version' % deb.name).strip()
            final = _opencv_dir(version)
            cache.sweep_stale(final)
            with cache.building(final) as tmp:
                count = _extract_deb_pictures(deb, tmp)
                if not (tmp / VIDEO_NAME).is_file():
                    raise cache.AssetError('%s has no %s' % (deb.name, VIDEO_NAME))
                _write_source(tmp, {'debian_package': OPENCV_DOC_PACKAGE, 'version': version,
                                    'deb': deb.name, 'files': count})
        log('[data] %d opencv-doc %s pictures in %s' % (count, version, final))
        return final


def _prepare_scikit_image(final: pathlib.Path, log: cache.Log) -> None:
    with cache.locked(final):
        if final.is_dir():
            return
        cache.sweep_stale(final)
        log('[data] downloading the scikit-image %s wheel (~14 MB) for its photos'
            % SCIKIT_IMAGE_VERSION)
        with cache.building(final) as tmp:
            work = tmp / '.download'
            cache.run_logged([sys.executable, '-m', 'pip', 'download', '--no-deps',
                              '--only-binary=:all:', '--progress-bar', 'off',
                              '--disable-pip-version-check'] + list(_SKIMAGE_WHEEL_TAGS)
                             + ['-d', str(work), 'scikit-image==%s' % SCIKIT_IMAGE_VERSION],
                             'pip download scikit-image==%s' % SCIKIT_IMAGE_VERSION, log,
                             env=cache.clean_env())
            wheels = sorted(work.glob('scikit_image-*.whl'))
            if not wheels:
                raise cache.AssetError('pip download scikit-image left no wheel')
            count = 0
            with zipfile.ZipFile(wheels[0]) as whl:
                for info in whl.infolist():
                    folder, _, name = info.filename.rpartition('/')
                    if folder == 'skimage/data' and name.lower().endswith(PHOTO_SUFFIXES):
                        (tmp / name).write_bytes(whl.read(info))
                        count += 1
            _write_source(tmp, {'pypi_package': 'scikit-image', 'version': SCIKIT_IMAGE_VERSION,
                                'wheel': wheels[0].name, 'files': count})
            shutil.rmtree(work)
        log('[data] %d scikit-image photos in %s' % (count, final))


def _write_source(folder: pathlib.Path, facts: dict) -> None:
    (folder / 'source.json').write_text(json.dumps(facts, indent=2) + '\n')


def video_frames(path: pathlib.Path, indices: Sequence[int]) -> List['np.ndarray']:
    """
    Return the frames at ``indices`` (0-based) as HxWx3 uint8 BGR arrays, in that order.

    Frames are decoded in sequence rather than by seeking, which is exact for every
    codec (seeking lands on key frames for some).
    """
    import cv2

    wanted = [int(i) for i in indices]
    if any(i < 0 for i in wanted):
        raise VideoError('frame indices must be >= 0, got %s' % wanted)
    if not wanted:
        return []
    path = pathlib.Path(path)
    if not path.is_file():
        raise VideoError('no video file at %s' % path)
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise VideoError('OpenCV cannot open %s' % path)
        frames = {}
        last = max(wanted)
        want = set(wanted)
        for i in range(last + 1):
            ok = cap.grab()
            if ok and i in want:
                ok, frame = cap.retrieve()
                frames[i] = frame
            if not ok:
                raise VideoError('%s has only %d frames; frame %d was asked for'
                                 % (path.name, i, last))
        return [frames[i] for i in wanted]
    finally:
        cap.release()
