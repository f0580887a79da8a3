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
glibc heap settings: frame-sized blocks kept mapped between frames; freed pages returned.

Why ``keep_frame_buffers``: every camera frame that reaches a Python subscriber is copied
into freshly allocated buffers (rmw's serialized message, then the ``bytes`` object
rclpy hands over), about 1 MB each at 640x480 rgb8. When that happens on a process's
main thread, glibc gives the freed blocks back by trimming the top of the main heap, so
the next frame touches fresh pages and takes a page fault per 4 KB page: ``perf`` on
the bench's raw-CDR image subscriber showed 57 % of its time in page faults (1280x720 at
100 Hz). Keeping blocks below 32 MB on the heap (``M_MMAP_THRESHOLD``) and trimming only
past 64 MB of free top (``M_TRIM_THRESHOLD``) lets the next frame reuse the same pages:
camera stamp to that subscriber's callback fell from 1.86 to 0.95 ms at 640x480 and from
4.87 to 1.60 ms at 1280x720 on the 2-core bench machine. Setting it in the camera process
instead changed nothing; it is the receiving side that pays.

The inference node does not call it: it takes frames on its input thread, whose glibc
arena keeps the pages by itself (a thread doing the same allocations faulted 8 times per
frame against 418 on the main thread), and an interleaved A/B of the node with and
without the setting (3 x 240 frames each, 30 Hz) gave 7.66 and 7.76 ms p50 end to end,
within the noise. The bench's own subscribers (wire, relay) spin on their main thread,
so they call it to be the floors of the node's topology rather than slower than the node.

glibc reads ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` from the environment;
a process started with either keeps its own values and nothing is changed here. On other
C libraries (musl, macOS) both functions do nothing.

Why ``release_freed``: building an ONNX Runtime session frees large intermediates that
glibc would otherwise keep resident for the node's lifetime (onnxruntime_backend.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from typing import Any, Mapping, NamedTuple, Optional

#: glibc's ``mallopt`` parameter numbers (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: The largest mmap threshold glibc accepts on 64-bit (HEAP_MAX_SIZE / 2): a 1920x1080
#: rgb8 frame is 6.2 MB, a 4K one 24.9 MB, both below it.
KEEP_BELOW_BYTES = 32 * 1024 * 1024
#: Free heap top kept before trimming: two blocks of the largest size kept.
TRIM_ABOVE_BYTES = 2 * KEEP_BELOW_BYTES

ENV_KEYS = ('MALLOC_MMAP_THRESHOLD_', 'MALLOC_TRIM_THRESHOLD_')


class HeapSetting(NamedTuple):
    """What :func:`keep_frame_buffers` did, and why, for the caller's log."""

    applied: bool
    reason: str


def glibc() -> Optional[Any]:
    """Return glibc as a ctypes library, or None on another C library."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c') or 'libc.so.6')
        libc.mallopt
        libc.malloc_trim
    except (OSError, AttributeError):
        return None
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.malloc_trim.restype = ctypes.c_int
    return libc


def keep_frame_buffers(environ: Optional[Mapping[str, str]] = None,
                       libc: Optional[Any] = None) -> HeapSetting:
    """Keep frame-sized heap blocks mapped for reuse (see the module docstring)."""
    env = os.environ if environ is None else environ
    preset = [k for k in ENV_KEYS if env.get(k)]
    if preset:
        return HeapSetting(False, f'left to the environment ({", ".join(preset)} set)')
    lib = glibc() if libc is None else libc
    if lib is None:
        return HeapSetting(False, 'not glibc: allocator left as it is')
    # the trim threshold first: setting the mmap threshold also fixes glibc's dynamic
    # thresholds, and a trim threshold below it would give the pages straight back
    if not lib.mallopt(M_TRIM_THRESHOLD, TRIM_ABOVE_BYTES):
        return HeapSetting(False, 'mallopt(M_TRIM_THRESHOLD) refused')
    if not lib.mallopt(M_MMAP_THRESHOLD, KEEP_BELOW_BYTES):
        return HeapSetting(False, 'mallopt(M_MMAP_THRESHOLD) refused')
    return HeapSetting(True, f'blocks below {KEEP_BELOW_BYTES >> 20} MB stay on the heap, '
                             f'trimmed past {TRIM_ABOVE_BYTES >> 20} MB free')


def release_freed(libc: Optional[Any] = None) -> bool:
    """Return freed heap pages to the OS now (glibc only); True when it could ask."""
    lib = glibc() if libc is None else libc
    if lib is None:
        return False
    lib.malloc_trim(0)
    return True
