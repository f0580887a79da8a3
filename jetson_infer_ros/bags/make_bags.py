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
Bags made from real footage, once, so every replay starts from the same bytes.

A robot records camera frames with header stamps at the camera's rate and a frame_id.
These bags hold ``vtest.avi`` (a street with pedestrians, 768x576 at 10 fps) that way
as ``sensor_msgs/Image`` (bgr8; rgb8 for the colour-order path) and as
``CompressedImage`` (jpeg), plus the curated still photos for classification. rosbags
writes them (pure Python, no ROS install needed) as rosbag2 MCAP into
``<cache>/bags/<name>-<key>/``, where the key hashes the source files, this writer's
version and the options: change any of them and a new bag is made, never a stale one
reused. A bag appears whole or not at all: it is built beside its final name and
renamed into place.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from jetson_infer_ros.assets import cache
from jetson_infer_ros.bags import BagError
from jetson_infer_ros.bags import typestore as ts

WRITER_VERSION = '1'
"""Bump when what a bag holds changes (stamps, encodings, QoS): every cached bag is remade."""

START_NS = 1_750_000_000 * 1_000_000_000
"""First header stamp (2025-06-15T15:06:40Z): fixed, so stamps never depend on the day."""

RECEIVE_DELAY_NS = 2_000_000
"""Log (receive) time = header stamp + 2 ms, as a recorder beside the camera would see."""

JPEG_QUALITY = 90
ENCODINGS = ('bgr8', 'rgb8', 'jpeg')

Log = Callable[[str], None]


@dataclasses.dataclass(frozen=True)
class BagSpec:
    """One standard bag: where its pictures come from and how they are written."""

    name: str
    source: str            # 'video' (vtest.avi) or 'photos' (PHOTO_REFS)
    encoding: str          # bgr8, rgb8 (sensor_msgs/Image) or jpeg (CompressedImage)
    topic: str
    frame_id: str
    frames: int = 0        # video: the first N frames (0 = all)
    period_s: float = 0.0  # photos: seconds between two photos
    description: str = ''

    def options(self) -> Dict[str, Any]:
        """Everything that shapes the bytes (what the cache key hashes)."""
        d = dataclasses.asdict(self)
        d.pop('description')
        return d


PHOTO_REFS = (
    'opencv-doc/squirrel_cls.jpg', 'opencv-doc/baboon.jpg', 'opencv-doc/orange.jpg',
    'opencv-doc/apple.jpg', 'opencv-doc/butterfly.jpg', 'opencv-doc/chicky_512.png',
    'opencv-doc/sudoku.png', 'scikit-image/coffee.png', 'scikit-image/chelsea.png',
    'scikit-image/camera.png', 'scikit-image/motorcycle_left.png', 'scikit-image/rocket.jpg',
)
"""Photos with one obvious subject (the curated classification set), in bag order."""

SPECS: Dict[str, BagSpec] = {s.name: s for s in (
    BagSpec('vtest_bgr8', 'video', 'bgr8', '/camera/image_raw', 'street_camera',
            description='vtest.avi, all 795 frames, sensor_msgs/Image bgr8, 10 fps'),
    BagSpec('vtest_rgb8', 'video', 'rgb8', '/camera/image_raw', 'street_camera', frames=120,
            description='vtest.avi, first 120 frames, sensor_msgs/Image rgb8, 10 fps'),
    BagSpec('vtest_jpeg', 'video', 'jpeg', '/camera/image_raw/compressed', 'street_camera',
            description='vtest.avi, all 795 frames, CompressedImage jpeg q90, 10 fps'),
    BagSpec('photos', 'photos', 'bgr8', '/camera/image_raw', 'photo_camera', period_s=0.5,
            description='12 curated still photos, sensor_msgs/Image bgr8, 2 per second'),
)}


@dataclasses.dataclass
class BagSummary:
    """What a writer produced: where, how many messages and bytes, and how long it took."""

    path: Path
    topic: str
    msgtype: str
    messages: int
    nbytes: int
    seconds: float
    start_ns: int
    end_ns: int


def default_qos() -> List[Any]:
    """
    Offered QoS recorded for our camera topics: reliable, keep last 10, volatile.

    Reliable so a lossless (reliable) subscriber matches the replay; a best-effort
    subscriber matches a reliable publisher too.
    """
    from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness,
                                    QosReliability, QosTime)
    zero = QosTime(0, 0)
    return [Qos(QosHistory.KEEP_LAST, 10, QosReliability.RELIABLE, QosDurability.VOLATILE,
                zero, zero, QosLiveliness.AUTOMATIC, zero, False)]


class ImageBagWriter:
    """
    Write BGR frames to a new rosbag2 MCAP as Image (bgr8/rgb8) or CompressedImage.

    Use as a context manager; ``out`` must not exist. Messages are built and serialized
    with rosbags' own CDR code, so no ROS install is needed to make a bag.
    """

    def __init__(self, out: Path, topic: str, encoding: str = 'bgr8',
                 frame_id: str = 'camera', custom: Optional[Dict[str, str]] = None,
                 qos: Optional[List[Any]] = None) -> None:
        if encoding not in ENCODINGS:
            raise BagError(f'encoding {encoding!r}: expected one of {", ".join(ENCODINGS)}')
        self.out = Path(out)
        self.topic = topic
        self.encoding = encoding
        self.frame_id = frame_id
        self.msgtype = ts.COMPRESSED_IMAGE if encoding == 'jpeg' else ts.IMAGE
        self._custom = dict(custom or {})
        self._qos = default_qos() if qos is None else qos
        self._writer: Any = None
        self._conn: Any = None
        self.count = 0
        self.nbytes = 0
        self.first_ns: Optional[int] = None
        self.last_ns = 0

    def __enter__(self) -> 'ImageBagWriter':
        from rosbags.rosbag2 import StoragePlugin, Writer
        if self.out.exists():
            raise BagError(f'{self.out} exists already; not overwriting a bag')
        self._writer = Writer(self.out, version=9, storage_plugin=StoragePlugin.MCAP)
        for key, value in self._custom.items():
            self._writer.set_custom_data(key, value)
        self._writer.open()
        self._conn = self._writer.add_connection(self.topic, self.msgtype,
                                                 typestore=ts.typestore(),
                                                 offered_qos_profiles=self._qos)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._writer.close()

    def write(self, bgr: np.ndarray, stamp_ns: int,
              receive_delay_ns: int = RECEIVE_DELAY_NS) -> int:
        """Append one frame stamped ``stamp_ns``; return its serialized size."""
        raw = serialize_frame(bgr, self.encoding, stamp_ns, self.frame_id)
        self._writer.write(self._conn, stamp_ns + receive_delay_ns, raw)
        self.count += 1
        self.nbytes += len(raw)
        self.first_ns = stamp_ns if self.first_ns is None else self.first_ns
        self.last_ns = stamp_ns
        return len(raw)


def serialize_frame(bgr: np.ndarray, encoding: str, stamp_ns: int, frame_id: str) -> Any:
    """Return the CDR bytes of an Image / CompressedImage holding a BGR frame."""
    store = ts.typestore()
    t = store.types
    header = t['std_msgs/msg/Header'](
        stamp=t['builtin_interfaces/msg/Time'](sec=int(stamp_ns // 1_000_000_000),
                                               nanosec=int(stamp_ns % 1_000_000_000)),
        frame_id=frame_id)
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise BagError(f'frames must be HxWx3 uint8 BGR, got {bgr.shape} {bgr.dtype}')
    if encoding == 'jpeg':
        from jetson_infer_ros.image_convert import encode_compressed
        data = np.frombuffer(encode_compressed(bgr, 'jpeg', JPEG_QUALITY), dtype=np.uint8)
        msg = t[ts.COMPRESSED_IMAGE](header=header, format='bgr8; jpeg compressed bgr8',
                                     data=data)
        return store.serialize_cdr(msg, ts.COMPRESSED_IMAGE)
    pixels = bgr[:, :, ::-1] if encoding == 'rgb8' else bgr
    h, w = pixels.shape[:2]
    msg = t[ts.IMAGE](header=header, height=h, width=w, encoding=encoding, is_bigendian=0,
                      step=w * 3, data=np.ascontiguousarray(pixels).reshape(-1))
    return store.serialize_cdr(msg, ts.IMAGE)


def video_fps(video: Path) -> float:
    """Return the frame rate a video file declares; a BagError if it declares none."""
    import cv2
    cap = cv2.VideoCapture(str(video))
    try:
        if not cap.isOpened():
            raise BagError(f'OpenCV cannot open the video {video}')
        fps = float(cap.get(cv2.CAP_PROP_FPS))
    finally:
        cap.release()
    if not fps > 0 or fps > 1000:
        raise BagError(f'{video} declares no usable frame rate ({fps}); pass one')
    return fps


def iter_video(video: Path, frames: int = 0) -> Iterable[np.ndarray]:
    """Yield a video's frames (BGR) in order: all of them, or the first ``frames``."""
    import cv2
    cap = cv2.VideoCapture(str(video))
    try:
        if not cap.isOpened():
            raise BagError(f'OpenCV cannot open the video {video}')
        n = 0
        while not frames or n < frames:
            ok, frame = cap.read()
            if not ok:
                break
            n += 1
            yield frame
    finally:
        cap.release()


def write_video_bag(video: Path, out: Path, *, encoding: str = 'bgr8', frames: int = 0,
                    topic: str = '/camera/image_raw', frame_id: str = 'camera',
                    fps: float = 0.0, start_ns: int = START_NS,
                    custom: Optional[Dict[str, str]] = None) -> BagSummary:
    """Write a video as a camera bag: one message per frame, stamps at the frame rate."""
    video = Path(video)
    if not video.is_file():
        raise BagError(f'no video file at {video}')
    fps = fps or video_fps(video)
    t0 = time.perf_counter()
    with ImageBagWriter(out, topic, encoding, frame_id, custom) as w:
        for i, frame in enumerate(iter_video(video, frames)):
            w.write(frame, start_ns + int(round(i * 1e9 / fps)))
    if w.count == 0:
        raise BagError(f'{video} yielded no frames')
    return _summary(w, time.perf_counter() - t0)


def write_photo_bag(photos: Sequence[Tuple[str, Path]], out: Path, *,
                    encoding: str = 'bgr8', topic: str = '/camera/image_raw',
                    frame_id: str = 'camera', period_s: float = 0.5,
                    start_ns: int = START_NS) -> BagSummary:
    """
    Write still photos as a camera bag, ``period_s`` apart.

    Their names, in order, go into the bag's ``custom_data`` under ``photos`` (a JSON
    list), so a consumer can tell which output belongs to which photo.
    """
    import cv2
    t0 = time.perf_counter()
    custom = {'photos': json.dumps([ref for ref, _ in photos])}
    with ImageBagWriter(out, topic, encoding, frame_id, custom) as w:
        for i, (ref, path) in enumerate(photos):
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is None:
                raise BagError(f'photo {ref} ({path}) is not a readable image')
            w.write(img, start_ns + int(round(i * period_s * 1e9)))
    return _summary(w, time.perf_counter() - t0)


def _summary(w: ImageBagWriter, seconds: float) -> BagSummary:
    return BagSummary(path=w.out, topic=w.topic, msgtype=w.msgtype, messages=w.count,
                      nbytes=cache.dir_size(w.out), seconds=seconds,
                      start_ns=w.first_ns or 0, end_ns=w.last_ns)


# ---------------------------------------------------------------------- the cache
def bag_root() -> Path:
    return cache.cache_root() / 'bags'


def _sources(spec: BagSpec) -> List[Tuple[str, Path]]:
    from jetson_infer_ros.assets.data import cached_data
    data = cached_data()
    if spec.source == 'video':
        return [('opencv-doc/vtest.avi', data.video)]
    return [(ref, data.photo(ref)) for ref in PHOTO_REFS]


def bag_key(spec: BagSpec, sources: Sequence[Tuple[str, Path]]) -> str:
    """Hash of the source files' bytes, the writer version and the options."""
    parts: List[str] = [WRITER_VERSION, json.dumps(spec.options(), sort_keys=True)]
    for ref, path in sources:
        parts += [ref, cache.file_sha256(path)]
    return cache.digest(*parts)


def spec_of(name: str) -> BagSpec:
    spec = SPECS.get(name)
    if spec is None:
        raise BagError(f'no standard bag {name!r}; known: {", ".join(SPECS)}')
    return spec


def bag_path(name: str) -> Path:
    """Where the standard bag ``name`` lives (or will) for the current source files."""
    spec = spec_of(name)
    return bag_root() / f'{name}-{bag_key(spec, _sources(spec))}'


def cached_bag(name: str) -> Optional[Path]:
    """Return the standard bag if it is made already, else None (nothing is written)."""
    path = bag_path(name)
    return path if (path / 'metadata.yaml').is_file() else None


def prepare_bag(name: str, log: Log = print) -> Path:
    """Return the standard bag ``name``, making it first if needed (seconds, once)."""
    spec = spec_of(name)
    sources = _sources(spec)
    final = bag_root() / f'{name}-{bag_key(spec, sources)}'
    if (final / 'metadata.yaml').is_file():
        return final
    with cache.locked(final):
        if (final / 'metadata.yaml').is_file():
            return final
        cache.sweep_stale(final)
        log(f'[bags] writing {name}: {spec.description}')
        with cache.building(final) as tmp:
            inner = tmp / final.name
            if spec.source == 'video':
                summary = write_video_bag(sources[0][1], inner, encoding=spec.encoding,
                                          frames=spec.frames, topic=spec.topic,
                                          frame_id=spec.frame_id)
            else:
                summary = write_photo_bag(sources, inner, encoding=spec.encoding,
                                          topic=spec.topic, frame_id=spec.frame_id,
                                          period_s=spec.period_s)
            for f in inner.iterdir():   # the bag's files go to the top of the folder
                f.rename(tmp / f.name)
            inner.rmdir()
            facts = {'name': name, 'description': spec.description,
                     'writer_version': WRITER_VERSION, 'rosbags': _rosbags_version(),
                     'options': spec.options(),
                     'sources': [{'ref': r, 'sha256': cache.file_sha256(p)}
                                 for r, p in sources],
                     'messages': summary.messages, 'bytes': summary.nbytes,
                     'write_seconds': round(summary.seconds, 3),
                     'start_ns': summary.start_ns, 'end_ns': summary.end_ns}
            (tmp / 'source.json').write_text(json.dumps(facts, indent=2) + '\n')
        log(f'[bags] {name}: {summary.messages} messages, {summary.nbytes / 1e6:.1f} MB in '
            f'{summary.seconds:.1f} s -> {final}')
    return final


def prepare_bags(names: Optional[Sequence[str]] = None, log: Log = print) -> Dict[str, Path]:
    """Make (or find) several standard bags; all of them by default."""
    return {n: prepare_bag(n, log) for n in (names or list(SPECS))}


def _rosbags_version() -> str:
    try:
        from importlib.metadata import version
        return version('rosbags')
    except Exception:  # noqa: B902 - informative only
        return 'unknown'
