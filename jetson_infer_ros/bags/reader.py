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
Open a rosbag2 bag (folder, .mcap or .db3) and hand out its serialized messages.

Replay, the regression harness and the demo all need the same few things from a bag:
its topics with their types, counts and offered QoS, the messages in log-time order as
the CDR bytes they were recorded as (published as they are, never re-encoded), and the
header of a message without building it. Everything rosbags can raise is turned into a
one-line BagError that names the bag, so a missing, truncated or foreign file is a
clear message and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
import struct
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from jetson_infer_ros.bags import BagError
from jetson_infer_ros.bags import typestore as ts

IMAGE_TYPES = (ts.IMAGE, ts.COMPRESSED_IMAGE)


@dataclasses.dataclass(frozen=True)
class TopicInfo:
    """
    One topic of a bag: its type, how many messages, and the QoS its publishers offered.

    ``qos`` holds rosbags ``Qos`` tuples; it is empty when the bag did not record any
    (bags from other tools often do not).
    """

    name: str
    msgtype: str
    count: int
    qos: Tuple[Any, ...]


class Bag:
    """An open bag; use as a context manager (or call close)."""

    def __init__(self, path: Any) -> None:
        self.path = Path(path).expanduser()
        self._reader = _open_reader(self.path)
        try:
            self.topics: Dict[str, TopicInfo] = self._read_topics()
        except BagError:
            self.close()
            raise

    def __enter__(self) -> 'Bag':
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._reader is not None:
            try:
                self._reader.close()
            except Exception:  # noqa: B902 - closing a damaged bag must not mask the error
                pass
            self._reader = None

    # ------------------------------------------------------------------ metadata
    def _read_topics(self) -> Dict[str, TopicInfo]:
        topics: Dict[str, TopicInfo] = {}
        for conn in self._reader.connections:
            qos = tuple(getattr(conn.ext, 'offered_qos_profiles', ()) or ())
            msgtype = conn.msgtype
            old = topics.get(conn.topic)
            if old is not None and old.msgtype != msgtype:
                raise BagError(f'{self.path}: topic {conn.topic} holds two types '
                               f'({old.msgtype}, {msgtype}); replay one of them is not '
                               'supported')
            count = (old.count if old else 0) + int(conn.msgcount or 0)
            topics[conn.topic] = TopicInfo(conn.topic, msgtype, count,
                                           (old.qos if old else ()) + qos)
        return topics

    @property
    def message_count(self) -> int:
        return sum(t.count for t in self.topics.values())

    @property
    def start_ns(self) -> int:
        """Log time of the first message (ns since the epoch)."""
        return int(self._reader.start_time) if self.message_count else 0

    @property
    def end_ns(self) -> int:
        """Log time of the last message."""
        return max(int(self._reader.end_time) - 1, self.start_ns) if self.message_count else 0

    def custom_data(self) -> Dict[str, str]:
        """Return the bag's ``custom_data`` (rosbag2 metadata); empty when it has none."""
        try:
            return dict(self._reader.storage.metadata.custom or {})
        except AttributeError:
            return {}

    def topic(self, name: str) -> TopicInfo:
        """Return a topic by name; a BagError listing what the bag has otherwise."""
        info = self.topics.get(name) or self.topics.get('/' + name.lstrip('/'))
        if info is None:
            have = ', '.join(f'{t.name} ({t.msgtype})' for t in self.topics.values())
            raise BagError(f'bag {self.path} has no topic {name} (it has: {have or "none"})')
        return info

    def image_topic(self, name: Optional[str] = None) -> TopicInfo:
        """Return the camera topic: ``name``, or the bag's only Image/CompressedImage topic."""
        if name:
            info = self.topic(name)
            if info.msgtype not in IMAGE_TYPES:
                raise BagError(f'topic {info.name} of {self.path} is {info.msgtype}, not '
                               'sensor_msgs/Image or CompressedImage')
            return info
        images = [t for t in self.topics.values() if t.msgtype in IMAGE_TYPES]
        if len(images) != 1:
            what = ', '.join(t.name for t in images) or 'none'
            raise BagError(f'bag {self.path}: {len(images)} image topics ({what}); name one '
                           'with --topic')
        return images[0]

    # ------------------------------------------------------------------ messages
    def messages(self, topics: Optional[Sequence[str]] = None, limit: int = 0
                 ) -> Iterator[Tuple[str, str, int, bytes]]:
        """
        Yield (topic, type, log time ns, CDR bytes) in log-time order.

        ``limit`` stops after that many messages (0: all). A damaged message stream
        raises BagError naming the message where it broke.
        """
        wanted = [self.topic(t).name for t in topics] if topics else list(self.topics)
        conns = [c for c in self._reader.connections if c.topic in wanted]
        n = 0
        it = self._reader.messages(connections=conns) if conns else iter(())
        while not limit or n < limit:
            try:
                conn, log_ns, raw = next(it)
            except StopIteration:
                return
            except Exception as exc:  # noqa: B902 - rosbags raises many kinds on bad data
                raise BagError(f'bag {self.path} is damaged after {n} messages: '
                               f'{_one_line(exc)}') from None
            n += 1
            yield conn.topic, conn.msgtype, int(log_ns), bytes(raw)

    def stamps(self, topic: str) -> List[Tuple[int, str]]:
        """Return (header stamp ns, frame_id) of every message of a topic, in order."""
        return [_stamp_and_frame(raw) for _t, _m, _ns, raw in self.messages([topic])]


def open_bag(path: Any) -> Bag:
    """Open a bag folder (metadata.yaml), or a single .mcap / .db3 file."""
    return Bag(path)


def _open_reader(path: Path) -> Any:
    from rosbags.rosbag2 import Reader
    if not path.exists():
        raise BagError(f'no bag at {path}')
    target = path
    if path.is_dir() and not (path / 'metadata.yaml').exists():
        # a recording that was killed leaves no metadata.yaml; its one .mcap still reads
        files = sorted(path.glob('*.mcap')) + sorted(path.glob('*.db3'))
        if len(files) != 1:
            raise BagError(f'{path} is not a bag: no metadata.yaml and '
                           f'{len(files)} .mcap/.db3 files')
        target = files[0]
    elif path.is_file() and path.suffix not in ('.mcap', '.db3'):
        raise BagError(f'{path} is not a bag: expected a rosbag2 folder, a .mcap or a .db3 '
                       'file')
    try:
        reader = Reader(target)
        reader.open()
    except Exception as exc:  # noqa: B902 - ReaderError, OSError, struct.error, yaml errors
        hint = ''
        if 'magic' in str(exc).lower() or isinstance(exc, (EOFError, struct.error)):
            hint = ' (truncated or not a complete MCAP file; `mcap recover` can salvage one)'
        raise BagError(f'cannot read bag {path}: {_one_line(exc)}{hint}') from None
    return reader


def header_of(raw: Any) -> Tuple[int, int, str]:
    """
    Return (sec, nanosec, frame_id) of a CDR message whose first field is a Header.

    That is every stamped message (Image, CompressedImage, Detection2DArray,
    Classification, ...). Reads the bytes in place; no message is built.
    """
    buf = memoryview(raw)
    if len(buf) < 16 or buf[0] != 0:
        raise BagError('not a CDR message with a header (too short or unknown encapsulation)')
    endian = '<' if buf[1] & 1 else '>'
    sec, nanosec, length = struct.unpack_from(endian + 'iII', buf, 4)
    if length < 1 or 16 + length > len(buf):
        raise BagError('not a CDR message with a header (bad frame_id length)')
    frame_id = bytes(buf[16:16 + length - 1]).decode('utf-8', 'replace')
    return sec, nanosec, frame_id


def decode_image(raw: Any, msgtype: str) -> Any:
    """
    Return a recorded Image / CompressedImage as a BGR uint8 array (contact sheets, tests).

    Goes through the node's own conversion code, so every encoding the node accepts
    decodes here the same way.
    """
    from jetson_infer_ros.image_convert import decode_compressed, image_to_picture
    from jetson_infer_ros.pipeline import to_bgr
    store = ts.typestore()
    msg: Any = store.deserialize_cdr(raw, msgtype)
    if msgtype == ts.COMPRESSED_IMAGE:
        picture = decode_compressed(msg.format, msg.data)
    elif msgtype == ts.IMAGE:
        picture = image_to_picture(msg.height, msg.width, msg.encoding, msg.step,
                                   msg.is_bigendian, msg.data)
    else:
        raise BagError(f'{msgtype} is not an image type')
    return to_bgr(picture)


def stamp_ns(raw: Any) -> int:
    """Header stamp of a stamped CDR message, in ns."""
    sec, nanosec, _ = header_of(raw)
    return sec * 1_000_000_000 + nanosec


def _stamp_and_frame(raw: Any) -> Tuple[int, str]:
    sec, nanosec, frame_id = header_of(raw)
    return sec * 1_000_000_000 + nanosec, frame_id


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
