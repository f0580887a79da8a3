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
Camera image bytes to NumPy and back, without cv_bridge.

cv_bridge is not on PyPI and is tied to one ROS distribution's OpenCV, and it copies
every frame. A ``sensor_msgs/Image`` is a flat byte buffer plus four numbers, so a
correctly strided NumPy *view* of it is all that preprocessing needs. This module
builds that view, and refuses malformed frames with an :class:`ImageFormatError`
before anything large is allocated, because camera drivers and bags do send
inconsistent ``step``/``data`` sizes and a node must drop such a frame, not die
inside NumPy.

``ImageFormatError.reason`` is one of:

* ``'bad_encoding'``: the encoding is not one this module understands.
* ``'bad_size'``: width/height not positive, too many pixels, or odd width for YUV 4:2:2.
* ``'bad_step'``: ``step`` is shorter than one row of pixels.
* ``'bad_length'``: ``len(data) != step * height``.
* ``'bad_endian'``: ``is_bigendian`` is not 0 or 1.
* ``'bad_data'``: ``data`` is not a contiguous byte buffer.
* ``'decode_error'``: compressed bytes are corrupt, truncated or not what the format says.
* ``'bad_format'``: a ``CompressedImage.format`` string this module cannot decode.
* ``'truncated'``: (raised by :mod:`jetson_infer_ros.raw_image`) serialized bytes end early.
"""

from __future__ import annotations

import struct
import sys
from typing import NamedTuple, Optional, Tuple

import numpy as np

#: Refuse frames with more pixels than this unless a caller raises the limit.
DEFAULT_MAX_PIXELS = 8192 * 8192

COLORS = ('rgb', 'bgr', 'rgba', 'bgra', 'mono')

REASONS = ('bad_encoding', 'bad_size', 'bad_step', 'bad_length', 'bad_endian', 'bad_data',
           'decode_error', 'bad_format', 'truncated')


class ImageFormatError(ValueError):
    """A frame that cannot be turned into a picture; ``reason`` says why in one word."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


class Picture(NamedTuple):
    """
    An HxWxC image and the order of its channels.

    ``array`` is uint8 (uint16 for 16-bit mono), C is 1, 3 or 4, and it is usually a
    read-only view into the message's buffer: copy it to keep it past the callback.
    """

    array: np.ndarray
    color: str


class _Enc(NamedTuple):
    channels: int      # channels in the returned Picture
    itemsize: int      # bytes per channel in the wire format
    color: str         # colour of the returned Picture
    yuv: Optional[str]  # 'uyvy' / 'yuyv' for packed 4:2:2, else None


_ENCODINGS = {
    'rgb8': _Enc(3, 1, 'rgb', None),
    'bgr8': _Enc(3, 1, 'bgr', None),
    'rgba8': _Enc(4, 1, 'rgba', None),
    'bgra8': _Enc(4, 1, 'bgra', None),
    'mono8': _Enc(1, 1, 'mono', None),
    'mono16': _Enc(1, 2, 'mono', None),
    # OpenCV type names: no colour information; cv_bridge treats 3/4 channels as BGR(A).
    '8uc1': _Enc(1, 1, 'mono', None),
    '8uc3': _Enc(3, 1, 'bgr', None),
    '8uc4': _Enc(4, 1, 'bgra', None),
    '16uc1': _Enc(1, 2, 'mono', None),
    # Packed YUV 4:2:2, two bytes a pixel. Humble calls UYVY 'yuv422' and YUYV
    # 'yuv422_yuy2'; Jazzy adds the explicit 'uyvy' / 'yuyv' names.
    'uyvy': _Enc(3, 1, 'rgb', 'uyvy'),
    'yuv422': _Enc(3, 1, 'rgb', 'uyvy'),
    'yuyv': _Enc(3, 1, 'rgb', 'yuyv'),
    'yuv422_yuy2': _Enc(3, 1, 'rgb', 'yuyv'),
}

#: Every encoding :func:`image_to_picture` accepts (lower case; matching ignores case).
SUPPORTED_ENCODINGS = tuple(sorted(_ENCODINGS))


def _wire_bytes_per_pixel(enc: _Enc) -> int:
    return 2 if enc.yuv else enc.channels * enc.itemsize


def _lookup_encoding(encoding) -> _Enc:
    enc = _ENCODINGS.get(str(encoding).strip().lower()) if encoding is not None else None
    if enc is None:
        raise ImageFormatError(
            'bad_encoding', 'unsupported image encoding %r (supported: %s)'
            % (encoding, ', '.join(SUPPORTED_ENCODINGS)))
    return enc


def as_byte_view(data) -> memoryview:
    """Return a flat byte memoryview of ``data`` without copying it."""
    try:
        view = memoryview(data)
    except TypeError:
        raise ImageFormatError(
            'bad_data', 'image data of type %s is not a byte buffer' % type(data).__name__
        ) from None
    if not view.c_contiguous:
        raise ImageFormatError('bad_data', 'image data is not a contiguous buffer')
    if view.format != 'B' or view.ndim != 1:
        view = view.cast('B')
    return view


def _as_int(value, name: str) -> int:
    try:
        result = int(value)
    except (TypeError, ValueError):
        raise ImageFormatError('bad_size', '%s %r is not an integer' % (name, value)) from None
    if result != value:
        raise ImageFormatError('bad_size', '%s %r is not an integer' % (name, value))
    return result


def image_to_picture(height, width, encoding, step, is_bigendian, data,
                     max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """
    Build a Picture from ``sensor_msgs/Image`` fields.

    Everything except YUV and big-endian 16-bit is a zero-copy view honouring row
    padding (``step``); those two allocate because no strided view can express them.
    All checks run before that allocation.
    """
    enc = _lookup_encoding(encoding)
    if is_bigendian not in (0, 1, False, True):
        raise ImageFormatError('bad_endian', 'is_bigendian must be 0 or 1, got %r'
                               % (is_bigendian,))
    height = _as_int(height, 'height')
    width = _as_int(width, 'width')
    if height <= 0 or width <= 0:
        raise ImageFormatError('bad_size', 'image size %dx%d is empty' % (width, height))
    if width * height > max_pixels:
        raise ImageFormatError('bad_size', 'image %dx%d has %d pixels, more than max_pixels %d'
                               % (width, height, width * height, max_pixels))
    if enc.yuv and width % 2:
        raise ImageFormatError('bad_size', 'width %d of %s image must be even (4:2:2 pairs)'
                               % (width, encoding))
    try:
        step = _as_int(step, 'step')
    except ImageFormatError as exc:
        raise ImageFormatError('bad_step', str(exc)) from None
    bpp = _wire_bytes_per_pixel(enc)
    if step < width * bpp:
        raise ImageFormatError('bad_step', 'step %d < width*channels*bytes %d for %s %dx%d'
                               % (step, width * bpp, encoding, width, height))
    view = as_byte_view(data)
    if view.nbytes != step * height:
        raise ImageFormatError(
            'bad_length', 'data has %d bytes, expected step*height = %d*%d = %d for %s %dx%d'
            % (view.nbytes, step, height, step * height, encoding, width, height))
    if enc.yuv:
        packed = np.ndarray((height, width, 2), np.uint8, buffer=view, strides=(step, 2, 1))
        return Picture(_yuv422_to_rgb(packed, enc.yuv), 'rgb')
    dtype: np.dtype = np.dtype(np.uint8)
    if enc.itemsize == 2:
        dtype = np.dtype('>u2' if is_bigendian else '<u2')
    array = np.ndarray((height, width, enc.channels), dtype, buffer=view,
                       strides=(step, enc.channels * enc.itemsize, enc.itemsize))
    if not (dtype.isnative and array.flags.aligned):  # OpenCV takes neither
        array = array.astype(np.uint16)
    return Picture(array, enc.color)


def _yuv422_to_rgb(packed: np.ndarray, order: str) -> np.ndarray:
    import cv2
    code = cv2.COLOR_YUV2RGB_UYVY if order == 'uyvy' else cv2.COLOR_YUV2RGB_YUYV
    return cv2.cvtColor(packed, code)


def msg_to_picture(msg, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """Picture view of a ``sensor_msgs/msg/Image`` (valid while the message lives)."""
    return image_to_picture(msg.height, msg.width, msg.encoding, msg.step, msg.is_bigendian,
                            msg.data, max_pixels=max_pixels)


_NATIVE_BIG = sys.byteorder == 'big'


def picture_to_image_fields(array: np.ndarray, encoding: str, step: Optional[int] = None,
                            bigendian: bool = False
                            ) -> Tuple[int, int, str, int, int, bytes]:
    """
    Serialise an array as ``(height, width, encoding, step, is_bigendian, data)``.

    For publishers and tests: ``step`` larger than a row pads each row with zeros, and
    ``bigendian`` writes 16-bit data big-endian. For YUV encodings ``array`` is the
    packed HxWx2 bytes (this function does not convert colour).
    """
    enc = _lookup_encoding(encoding)
    array = np.asarray(array)
    if array.ndim == 2:
        array = array[:, :, None]
    want_channels = 2 if enc.yuv else enc.channels
    want_dtype = np.uint16 if enc.itemsize == 2 else np.uint8
    if array.ndim != 3 or array.shape[2] != want_channels or array.dtype != want_dtype:
        raise ImageFormatError(
            'bad_size', 'array of shape %s and dtype %s does not fit encoding %s (HxWx%d %s)'
            % (array.shape, array.dtype, encoding, want_channels, np.dtype(want_dtype).name))
    height, width = array.shape[:2]
    row = width * want_channels * enc.itemsize
    step = row if step is None else int(step)
    if step < row:
        raise ImageFormatError('bad_step', 'step %d < width*channels*bytes %d for %s %dx%d'
                               % (step, row, encoding, width, height))
    big = bool(bigendian) and enc.itemsize > 1
    dtype = np.dtype('>u2' if big else '<u2') if enc.itemsize == 2 else np.dtype(np.uint8)
    rows = np.zeros((height, step), np.uint8)
    rows[:, :row] = array.astype(dtype, copy=False).reshape(height, -1).view(np.uint8)
    return height, width, encoding, step, int(big), rows.tobytes()


def picture_to_msg(array: np.ndarray, encoding: str, header=None, step: Optional[int] = None,
                   bigendian: bool = False):
    """Build a ``sensor_msgs/msg/Image`` from an array (see picture_to_image_fields)."""
    from sensor_msgs.msg import Image
    height, width, encoding, step, is_bigendian, data = picture_to_image_fields(
        array, encoding, step=step, bigendian=bigendian)
    msg = Image()
    if header is not None:
        msg.header = header
    msg.height = height
    msg.width = width
    msg.encoding = encoding
    msg.step = step
    msg.is_bigendian = is_bigendian
    msg.data = data
    return msg


# ---------------------------------------------------------------------------------------
# CompressedImage

_JPEG_MAGIC = b'\xff\xd8\xff'
_PNG_MAGIC = b'\x89PNG\r\n\x1a\n'
_CODEC_ALIASES = {'jpeg': 'jpeg', 'jpg': 'jpeg', 'png': 'png'}


def parse_compressed_format(fmt) -> Optional[str]:
    """
    Return 'jpeg' or 'png' for a CompressedImage format string, None when it is empty.

    Accepts the plain names and image_transport's ``'<enc>; <codec> compressed <enc>'``.
    ``compressedDepth`` (a private header in front of the PNG) is not supported.
    """
    if not isinstance(fmt, str):
        raise ImageFormatError('bad_format', 'compressed format %r is not a string' % (fmt,))
    text = fmt.strip().lower()
    if not text:
        return None
    if ';' in text:
        text = text.split(';', 1)[1].strip()
        if 'compresseddepth' in text:
            raise ImageFormatError('bad_format', 'compressedDepth format %r is not supported'
                                   % fmt)
    words = text.split()
    codec = _CODEC_ALIASES.get(words[0]) if words else None
    if codec is None or (len(words) > 1 and words[1] != 'compressed'):
        raise ImageFormatError('bad_format', 'unsupported compressed format %r (want jpeg or '
                               'png, optionally "<enc>; <codec> compressed <enc>")' % fmt)
    return codec


def _jpeg_size(buf: bytes) -> Tuple[int, int]:
    """(width, height) from the SOF segment; also checks the scan ends with EOI."""
    pos = 2
    size = None
    end = len(buf)
    while True:
        if pos >= end or buf[pos] != 0xFF:
            raise ImageFormatError('decode_error', 'JPEG marker missing at byte %d' % pos)
        while pos < end and buf[pos] == 0xFF:  # a marker may be preceded by fill bytes
            pos += 1
        if pos >= end:
            raise ImageFormatError('decode_error', 'JPEG truncated in its headers')
        marker = buf[pos]
        pos += 1
        if marker == 0xD8 or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            continue  # markers without a length
        if marker == 0xD9:
            raise ImageFormatError('decode_error', 'JPEG ends before its image data')
        if pos + 2 > end:
            raise ImageFormatError('decode_error', 'JPEG truncated in its headers')
        length = struct.unpack_from('>H', buf, pos)[0]
        if length < 2 or pos + length > end:
            raise ImageFormatError('decode_error', 'JPEG segment length %d runs past the end'
                                   % length)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if length < 8:
                raise ImageFormatError('decode_error', 'JPEG SOF segment too short')
            height, width = struct.unpack_from('>HH', buf, pos + 3)
            size = (width, height)
        elif marker == 0xDA:
            if size is None:
                raise ImageFormatError('decode_error', 'JPEG has no SOF before its scan')
            # Entropy-coded data escapes 0xFF as FF00, so FFD9 after the first scan
            # header can only be the end-of-image marker: no FFD9, truncated file.
            if buf.find(b'\xff\xd9', pos + length) < 0:
                raise ImageFormatError('decode_error', 'JPEG truncated: no end-of-image marker')
            return size
        pos += length


def _png_size(buf: bytes) -> Tuple[int, int]:
    if len(buf) < 33 or buf[12:16] != b'IHDR':
        raise ImageFormatError('decode_error', 'PNG without an IHDR header')
    width, height = struct.unpack_from('>II', buf, 16)
    return width, height


def compressed_size(codec: str, buf: bytes) -> Tuple[int, int]:
    """(width, height) read from the header, after checking the magic bytes."""
    if codec == 'jpeg':
        if not buf.startswith(_JPEG_MAGIC):
            raise ImageFormatError('decode_error', 'data does not start like a JPEG (FFD8FF)')
        return _jpeg_size(buf)
    if not buf.startswith(_PNG_MAGIC):
        raise ImageFormatError('decode_error', 'data does not start with the PNG signature')
    return _png_size(buf)


def decode_compressed(fmt, data, max_pixels: int = DEFAULT_MAX_PIXELS) -> Picture:
    """
    Decode a ``sensor_msgs/CompressedImage`` into a bgr/bgra/mono Picture.

    The header's width and height are checked against ``max_pixels`` before OpenCV
    allocates anything, so a forged 60000x60000 header costs nothing. An empty
    ``fmt`` is accepted and the codec is taken from the magic bytes.
    """
    codec = parse_compressed_format(fmt)
    view = as_byte_view(data)
    buf = view.tobytes() if not isinstance(data, bytes) else data
    if codec is None:
        if buf.startswith(_JPEG_MAGIC):
            codec = 'jpeg'
        elif buf.startswith(_PNG_MAGIC):
            codec = 'png'
        else:
            raise ImageFormatError('decode_error', 'empty format and data is neither JPEG '
                                   'nor PNG')
    width, height = compressed_size(codec, buf)
    if width <= 0 or height <= 0:
        raise ImageFormatError('bad_size', '%s header says %dx%d' % (codec, width, height))
    if width * height > max_pixels:
        raise ImageFormatError('bad_size', '%s image %dx%d has more than max_pixels %d'
                               % (codec, width, height, max_pixels))
    import cv2
    try:
        image = cv2.imdecode(np.frombuffer(buf, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageFormatError('decode_error', 'cannot decode %s: %s' % (codec, exc)) from None
    if image is None:
        raise ImageFormatError('decode_error', 'cannot decode %s data (%d bytes)'
                               % (codec, len(buf)))
    if image.shape[0] != height or image.shape[1] != width:
        raise ImageFormatError('decode_error', 'decoded %s is %dx%d, header said %dx%d'
                               % (codec, image.shape[1], image.shape[0], width, height))
    if image.ndim == 2:
        return Picture(image[:, :, None], 'mono')
    if image.dtype != np.uint8:  # 16-bit colour PNG: keep the top byte
        image = np.right_shift(image, 8).astype(np.uint8)
    if image.shape[2] == 4:
        return Picture(image, 'bgra')
    if image.shape[2] == 3:
        return Picture(image, 'bgr')
    raise ImageFormatError('decode_error', 'decoded %s has %d channels'
                           % (codec, image.shape[2]))


def encode_compressed(array: np.ndarray, fmt: str = 'jpeg', quality: int = 90) -> bytes:
    """Encode a bgr/bgra/mono array as JPEG or PNG bytes (for tests and bags)."""
    import cv2
    codec = parse_compressed_format(fmt) or 'jpeg'
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if codec == 'jpeg':
        params = [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)]
    else:
        params = []
    ok, encoded = cv2.imencode('.jpg' if codec == 'jpeg' else '.png', array, params)
    if not ok:
        raise ImageFormatError('bad_format', 'OpenCV could not encode %s as %s'
                               % (array.shape, codec))
    return encoded.tobytes()
