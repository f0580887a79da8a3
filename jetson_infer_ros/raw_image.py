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
Images straight from serialized CDR bytes, skipping the Python message.

A subscription created with ``raw=True`` hands over the serialized message. Building a
``sensor_msgs/msg/Image`` from it copies the pixel buffer into an ``array.array`` and
creates several Python objects per frame; the layout of ``Image`` and
``CompressedImage`` is fixed and simple, so reading the few header fields and taking a
zero-copy ``memoryview`` of the pixels is cheaper and allocates nothing per pixel.

Wire format (OMG CDR version 1, what rmw_fastrtps writes): a 4-byte encapsulation
header (``00 00`` big endian or ``00 01`` little endian, then two option bytes), then
the fields in order; a 4-byte field is aligned to 4 counted from the end of the
encapsulation header; a string is a uint32 length that includes a NUL terminator,
then the bytes; a ``uint8[]`` is a uint32 count then the bytes. The types have no
8-byte fields, so there is no 8-byte alignment to handle. Bytes after the last field
(alignment padding) are ignored.

Errors are :class:`~jetson_infer_ros.image_convert.ImageFormatError` with ``reason``:

* ``'truncated'``: the buffer ends before a field, or a string or sequence length runs
  past its end (no length is trusted before it is checked against the buffer, so a
  forged length never causes a large allocation).
* ``'bad_format'``: not CDR version 1 (unknown encapsulation), or a string without its
  NUL terminator.
* ``'bad_data'``: the buffer is not a contiguous byte buffer.

Strings are decoded as UTF-8 with invalid bytes replaced, so an odd ``frame_id`` never
drops a frame.

:func:`checked_message` is the message path (``zero_copy_input: false``) built on the
same checks. rclpy's own take hands over only what the middleware could deserialize:
a truncated or length-forged sample vanished there uncounted (the middleware logs
"sequence size exceeds remaining buffer" and the take returns nothing), and what it
did decode it decoded leniently: an unknown encapsulation id such as ``00 07`` read as
CDR, a string without its NUL accepted, one with bytes after an inner NUL
(``bgr8<NUL>junk``) cut at that NUL, and all three answered as valid frames. Taking
the serialized bytes and checking them here first gives the two paths the same
verdict, under the same reason, for every sample.
"""

from __future__ import annotations

import struct
from typing import Any, NamedTuple, Tuple

from .image_convert import (
    as_byte_view,
    decode_compressed,
    DEFAULT_MAX_PIXELS,
    image_to_picture,
    ImageFormatError,
    Picture,
)

_U32 = {'<': struct.Struct('<I'), '>': struct.Struct('>I')}
_STAMP = {'<': struct.Struct('<iI'), '>': struct.Struct('>iI')}
_SIZE = {'<': struct.Struct('<II'), '>': struct.Struct('>II')}

_ORIGIN = 4  # alignment is counted from the end of the encapsulation header


class RawImage(NamedTuple):
    """The fields of a ``sensor_msgs/msg/Image``; ``data`` is a view into the buffer."""

    stamp_sec: int
    stamp_nanosec: int
    frame_id: str
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: memoryview

    def to_picture(self, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
        """Validate and view the pixels (see image_convert.image_to_picture)."""
        return image_to_picture(self.height, self.width, self.encoding, self.step,
                                self.is_bigendian, self.data, max_pixels=max_pixels)


class RawCompressedImage(NamedTuple):
    """The fields of a ``sensor_msgs/msg/CompressedImage``; ``data`` is a view."""

    stamp_sec: int
    stamp_nanosec: int
    frame_id: str
    format: str  # noqa: A003 (the message's field name)
    data: memoryview

    def decode(self, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
        """Decode the pixels (see image_convert.decode_compressed)."""
        return decode_compressed(self.format, self.data, max_pixels=max_pixels)


class _Cursor:
    """Reads CDR fields from a byte view, checking every length against its end."""

    __slots__ = ('view', 'pos', 'order', 'end', 'type_name')

    def __init__(self, buffer, type_name: str):
        self.type_name = type_name
        self.view = as_byte_view(buffer)
        self.end = self.view.nbytes
        if self.end < 4:
            self._truncated('encapsulation header', 4)
        kind = bytes(self.view[0:2])
        if kind == b'\x00\x01':
            self.order = '<'
        elif kind == b'\x00\x00':
            self.order = '>'
        else:
            raise ImageFormatError(
                'bad_format', 'serialized %s has encapsulation %s; only CDR version 1 '
                '(00 00 / 00 01) is understood' % (type_name, kind.hex()))
        self.pos = _ORIGIN

    def _truncated(self, what: str, need: int):
        raise ImageFormatError(
            'truncated', 'serialized %s (%d bytes) ends inside %s: need %d bytes at offset %d'
            % (self.type_name, self.end, what, need, getattr(self, 'pos', 0)))

    def align4(self):
        self.pos += (-(self.pos - _ORIGIN)) % 4

    def unpack(self, codec: struct.Struct, what: str) -> Tuple[int, ...]:
        self.align4()
        if self.pos + codec.size > self.end:
            self._truncated(what, codec.size)
        values = codec.unpack_from(self.view, self.pos)
        self.pos += codec.size
        return values

    def u32(self, what: str) -> int:
        return self.unpack(_U32[self.order], what)[0]

    def u8(self, what: str) -> int:
        if self.pos + 1 > self.end:
            self._truncated(what, 1)
        value = self.view[self.pos]
        self.pos += 1
        return value

    def string(self, what: str) -> str:
        length = self.u32(what + ' length')
        if length == 0:  # not what rmw writes, but unambiguous
            return ''
        if length > self.end - self.pos:
            self._truncated(what + ' (length %d)' % length, length)
        start = self.pos
        self.pos += length
        if self.view[self.pos - 1] != 0:
            raise ImageFormatError('bad_format', '%s of serialized %s is not NUL-terminated'
                                   % (what, self.type_name))
        return bytes(self.view[start:self.pos - 1]).decode('utf-8', 'replace')

    def octets(self, what: str) -> memoryview:
        length = self.u32(what + ' length')
        if length > self.end - self.pos:
            self._truncated(what + ' (length %d)' % length, length)
        start = self.pos
        self.pos += length
        return self.view[start:self.pos]

    def header(self) -> Tuple[int, int, str]:
        sec, nanosec = self.unpack(_STAMP[self.order], 'header.stamp')
        return sec, nanosec, self.string('header.frame_id')


def parse_image(buffer) -> RawImage:
    """Read a serialized ``sensor_msgs/msg/Image`` (bytes, bytearray or memoryview)."""
    cur = _Cursor(buffer, 'sensor_msgs/msg/Image')
    sec, nanosec, frame_id = cur.header()
    height, width = cur.unpack(_SIZE[cur.order], 'height/width')
    encoding = cur.string('encoding')
    is_bigendian = cur.u8('is_bigendian')
    step = cur.u32('step')
    data = cur.octets('data')
    return RawImage(sec, nanosec, frame_id, height, width, encoding, is_bigendian, step, data)


def checked_message(buffer, compressed: bool = False):
    """
    Return the ``sensor_msgs`` message in ``buffer`` after the raw path's checks.

    Raises ImageFormatError with the reason the raw path gives; a string the
    deserializer would cut at an inner NUL is refused too (``bad_encoding`` for an
    Image encoding, ``bad_format`` for a CompressedImage format, as the raw path's
    lookup of the whole string refuses them), and anything the deserializer still
    rejects is ``bad_format``.
    """
    from rclpy.serialization import deserialize_message
    if compressed:
        from sensor_msgs.msg import CompressedImage
        raw: object = parse_compressed_image(buffer)
        msg_type: type = CompressedImage
        field, reason = 'format', 'bad_format'
    else:
        from sensor_msgs.msg import Image
        raw = parse_image(buffer)
        msg_type, field, reason = Image, 'encoding', 'bad_encoding'
    try:
        msg: Any = deserialize_message(bytes(as_byte_view(buffer)), msg_type)
    except Exception as exc:  # noqa: B902 - rclpy raises its own RMWError type
        raise ImageFormatError('bad_format', 'the middleware cannot deserialize this %s: %s'
                               % (msg_type.__name__, str(exc).strip()[:200])) from None
    if getattr(msg, field) != getattr(raw, field):
        raise ImageFormatError(reason, '%s %r has a NUL inside it'
                               % (field, getattr(raw, field)))
    return msg


def parse_compressed_image(buffer) -> RawCompressedImage:
    """Read a serialized ``sensor_msgs/msg/CompressedImage``."""
    cur = _Cursor(buffer, 'sensor_msgs/msg/CompressedImage')
    sec, nanosec, frame_id = cur.header()
    fmt = cur.string('format')
    data = cur.octets('data')
    return RawCompressedImage(sec, nanosec, frame_id, fmt, data)
