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
Calibration and evaluation frames from an image folder or a rosbag2 bag.

INT8 ranges are only as good as the frames they were measured on, and a calibration
set is only trustworthy if one can say afterwards exactly which frames it was. So
every frame carries a reference (file name, or topic and index in the bag) and the
sha256 of its decoded pixels in a canonical form (bgr8, or mono8), which is the same
whether the frame came as a PNG file, a raw ``sensor_msgs/Image`` or was re-encoded
losslessly; a calibration set and an evaluation set can then be compared frame by
frame, and the provenance written next to an artefact names its inputs exactly.

Frames are decoded lazily, one at a time: a 500-frame calibration of a 416x416
detector would otherwise hold gigabytes of pictures.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Any, Iterator, List, Optional, Sequence

import numpy as np

from ..image_convert import Picture

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp', '.pgm', '.ppm')
IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')


class FrameSourceError(ValueError):
    """Frames cannot be read as asked: empty folder, unreadable image, no such topic."""


@dataclasses.dataclass(frozen=True)
class Frame:
    """One decoded frame, where it came from, and the hash of its pixels."""

    ref: str
    picture: Picture
    sha256: str


def pixel_sha256(picture: Picture) -> str:
    """
    Hash the pixels in canonical form (bgr8 for colour, mono8 for grey).

    Shape and colour are part of the hash, so a frame and its transpose never collide.
    """
    from jetson_infer_ros.pipeline import to_bgr
    array = picture.array
    if picture.color == 'mono':
        canon = array if array.dtype == np.uint8 else (array >> 8).astype(np.uint8)
        canon = np.ascontiguousarray(canon.reshape(canon.shape[0], canon.shape[1]))
        kind = 'mono8'
    else:
        canon = np.ascontiguousarray(to_bgr(picture))
        kind = 'bgr8'
    h = hashlib.sha256(('%s:%dx%d:' % (kind, canon.shape[1], canon.shape[0])).encode())
    h.update(canon.data)
    return h.hexdigest()


def combined_sha256(hashes: Sequence[str]) -> str:
    """One hash over an ordered list of frame hashes (the whole set, order included)."""
    h = hashlib.sha256()
    for item in hashes:
        h.update(item.encode('ascii'))
        h.update(b'\n')
    return h.hexdigest()


def evenly_spaced(count: int, wanted: Optional[int]) -> List[int]:
    """``wanted`` indices spread evenly over ``range(count)`` (all of them when None)."""
    if wanted is None or wanted >= count:
        return list(range(count))
    if wanted <= 0:
        return []
    return sorted({int(round(i * (count - 1) / max(wanted - 1, 1))) for i in range(wanted)})


class FrameSource:
    """An ordered set of frames: ``len()``, ``describe()`` and lazy ``frames()``."""

    kind = ''

    def __len__(self) -> int:
        raise NotImplementedError

    def describe(self) -> dict:
        raise NotImplementedError

    def frames(self) -> Iterator[Frame]:
        raise NotImplementedError

    def refs(self) -> Optional[List[str]]:
        """Every frame's ``ref`` without decoding anything, where the source can tell."""
        return None


def list_images(folder: Path) -> List[Path]:
    """Image files directly in ``folder``, sorted by name; other files are ignored."""
    if not folder.exists():
        raise FrameSourceError(f'image folder not found: {folder}')
    if not folder.is_dir():
        raise FrameSourceError(f'not a folder: {folder}')
    files = sorted(p for p in folder.iterdir()
                   if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FrameSourceError(f'no images ({", ".join(IMAGE_SUFFIXES)}) in {folder}')
    return files


def read_image(path: Path) -> Picture:
    """Decode one image file as a bgr (or mono) Picture; unreadable files raise."""
    import cv2
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise FrameSourceError(f'cannot read image {path}: {exc.strerror}') from None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise FrameSourceError(f'not a readable image: {path}')
    return Picture(img, 'bgr')


class ImageFolder(FrameSource):
    """Image files of one folder (not recursive), in name order."""

    kind = 'images'

    def __init__(self, folder: str, samples: Optional[int] = None) -> None:
        self.folder = Path(folder).expanduser()
        files = list_images(self.folder)
        self.total = len(files)
        self.files = [files[i] for i in evenly_spaced(len(files), samples)]

    def __len__(self) -> int:
        return len(self.files)

    def describe(self) -> dict:
        return {'kind': self.kind, 'path': str(self.folder.resolve()),
                'files_in_folder': self.total}

    def frames(self) -> Iterator[Frame]:
        for path in self.files:
            picture = read_image(path)
            yield Frame(path.name, picture, pixel_sha256(picture))

    def refs(self) -> Optional[List[str]]:
        return [path.name for path in self.files]


class BagTopic(FrameSource):
    """
    ``sensor_msgs/Image`` or ``CompressedImage`` messages of one topic of a rosbag2 bag.

    Reads MCAP and sqlite3 bags with the pure-Python ``rosbags`` package; messages are
    decoded by the same converters the node uses (``image_convert``).
    """

    kind = 'bag'

    def __init__(self, bag: str, topic: str, samples: Optional[int] = None,
                 max_pixels: int = 8192 * 8192) -> None:
        self.bag = Path(bag).expanduser()
        self.topic = topic
        self.max_pixels = int(max_pixels)
        if not self.bag.exists():
            raise FrameSourceError(f'bag not found: {self.bag}')
        with self._reader() as reader:
            connections = [c for c in reader.connections if c.topic == topic]
            if not connections:
                images = sorted({c.topic for c in reader.connections if c.msgtype in IMAGE_TYPES})
                hint = (f'; image topics: {", ".join(images)}' if images
                        else '; it has no sensor_msgs/Image or CompressedImage topic')
                raise FrameSourceError(f'bag {self.bag.name} has no topic {topic!r}{hint}')
            types = {c.msgtype for c in connections}
            if not types <= set(IMAGE_TYPES):
                raise FrameSourceError(
                    f'topic {topic!r} in {self.bag.name} is {", ".join(sorted(types))}, not '
                    'sensor_msgs/Image or sensor_msgs/CompressedImage')
            self.msgtype = connections[0].msgtype
            self.total = sum(int(c.msgcount) for c in connections)
        if self.total == 0:
            raise FrameSourceError(f'topic {topic!r} in {self.bag.name} has no messages')
        self.indices = evenly_spaced(self.total, samples)

    @contextlib.contextmanager
    def _reader(self) -> Iterator[Any]:
        """Yield an open rosbags AnyReader; opening errors become one FrameSourceError line."""
        try:
            from rosbags.highlevel import AnyReader
            from rosbags.typesys import get_typestore, Stores
        except ImportError:
            raise FrameSourceError('reading bags needs the rosbags package '
                                   '(pip install rosbags)') from None
        reader = AnyReader([self.bag], default_typestore=get_typestore(Stores.ROS2_KILTED))
        try:
            reader.open()
        except Exception as exc:  # rosbags raises its own ReaderError/AnyReaderError
            raise FrameSourceError(f'cannot open bag {self.bag}: {exc}') from None
        try:
            yield reader
        finally:
            reader.close()

    def __len__(self) -> int:
        return len(self.indices)

    def describe(self) -> dict:
        return {'kind': self.kind, 'path': str(self.bag.resolve()), 'topic': self.topic,
                'msgtype': self.msgtype, 'messages_on_topic': self.total}

    def frames(self) -> Iterator[Frame]:
        from jetson_infer_ros.image_convert import decode_compressed, image_to_picture
        wanted = set(self.indices)
        with self._reader() as reader:
            connections = [c for c in reader.connections if c.topic == self.topic]
            for index, (conn, _stamp, raw) in enumerate(reader.messages(connections)):
                if index not in wanted:
                    continue
                msg = reader.deserialize(raw, conn.msgtype)
                ref = f'{self.topic}#{index}'
                try:
                    if conn.msgtype.endswith('CompressedImage'):
                        picture = decode_compressed(msg.format, msg.data,
                                                    max_pixels=self.max_pixels)
                    else:
                        picture = image_to_picture(msg.height, msg.width, msg.encoding,
                                                   msg.step, msg.is_bigendian, msg.data,
                                                   max_pixels=self.max_pixels)
                except ValueError as exc:
                    raise FrameSourceError(f'{self.bag.name} {ref}: {exc}') from None
                picture = Picture(np.array(picture.array), picture.color)  # own the pixels
                yield Frame(ref, picture, pixel_sha256(picture))


def open_source(images: Optional[str] = None, bag: Optional[str] = None,
                topic: Optional[str] = None, samples: Optional[int] = None,
                max_pixels: int = 8192 * 8192) -> FrameSource:
    """Return the frame source the CLI arguments name (exactly one of folder or bag)."""
    if samples is not None and samples < 1:
        raise FrameSourceError(f'--samples must be >= 1, got {samples}')
    if bool(images) == bool(bag):
        raise FrameSourceError('give either an image folder or a bag (with its topic)')
    if images:
        return ImageFolder(images, samples)
    if not topic:
        raise FrameSourceError('a bag needs --topic (the image topic to read)')
    return BagTopic(str(bag), topic, samples, max_pixels=max_pixels)


def same_file(a: str, b: str) -> bool:
    """Tell whether two paths name the same existing file."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
