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
Input starvation in the middleware, told apart from a slow node.

Kept apart from the node so that the rule (which evidence, how much of it, which cause
to name) can be exercised with made-up arrivals instead of a real DDS stream.
"""

from __future__ import annotations

import collections
from typing import Optional

import numpy as np

# Fast DDS's default shared-memory segment; larger samples fall back to fragmented UDP.
DEFAULT_SHM_SEGMENT = 512 * 1024

# the segment that matters is the sender's: a reader maps the writer's segment
PROFILE_HINT = ('give the camera driver (the sending process) the shipped large-data '
                'profile: FASTDDS_DEFAULT_PROFILES_FILE=<share>/config/fastdds_large_data.xml '
                '(Fast DDS 2.x, Jazzy and Humble: FASTRTPS_DEFAULT_PROFILES_FILE)')


class TransportWatch:
    """
    Notices input starving in the middleware and says why, once.

    Two signals: DDS reports lost samples (a best-effort reader seeing sequence gaps),
    and header stamps reveal the camera's own rate (the 10th percentile of the gaps
    between received stamps, robust to a bursty publisher), so a receive rate far below
    it, in two checks in a row, means frames vanish on the way.

    The cause is read from the same counters, never from this node's own middleware
    settings: a reader takes each sample from the *sender's* shared-memory segment, so
    the node's profile (the launch file always gives it one) says nothing about whether
    a camera's frames fit. Samples lost in transport while the frames are larger than
    Fast DDS's default 512 KB segment, or lost before any arrived at all (every
    fragmented sample died, so their size is unknown), name the sender's segment. No
    loss reported while the rate is far below the camera's means the frames reached the
    middleware and were left there: this node is not taking them as fast as they come.
    """

    def __init__(self) -> None:
        self.lost = 0
        self.received = 0
        self.bytes_last = 0
        self._gaps: collections.deque = collections.deque(maxlen=256)
        self._last_stamp_ns: Optional[int] = None
        self._window = (0.0, 0, 0)     # (time, received, lost) at the last check
        self._suspect = False
        self.warned = ''
        self.disabled = False    # lossless replay is paced by design: not starvation

    def on_frame(self, stamp_ns: int, nbytes: int) -> None:
        self.received += 1
        self.bytes_last = nbytes
        if self._last_stamp_ns is not None and stamp_ns > self._last_stamp_ns:
            self._gaps.append(stamp_ns - self._last_stamp_ns)
        self._last_stamp_ns = stamp_ns

    def diagnosis(self, now: float) -> str:
        """One line naming the likely cause, once enough evidence is in; else ''."""
        t0, rx0, lost0 = self._window
        if self.disabled or self.warned or now - t0 < 3.0:
            return ''
        self._window = (now, self.received, self.lost)
        if t0 == 0.0 or self.received == rx0 and self.lost == lost0:
            self._suspect = False
            return ''
        rx_rate = (self.received - rx0) / (now - t0)
        lost = self.lost - lost0
        cam_rate = 1e9 / float(np.percentile(self._gaps, 10)) if len(self._gaps) >= 5 else 0.0
        lost_share = lost / max(1, lost + self.received - rx0)
        starving = lost_share > 0.2 or (cam_rate > 0 and rx_rate < 0.3 * cam_rate)
        confirmed, self._suspect = starving and self._suspect, starving
        if not confirmed:
            return ''
        self.warned = (f'input starving: {rx_rate:.1f} Hz received, camera stamps show '
                       f'~{cam_rate:.1f} Hz, {lost} samples reported lost'
                       f'{self._cause(lost)}')
        return self.warned

    def _cause(self, lost: int) -> str:
        big = self.bytes_last > DEFAULT_SHM_SEGMENT
        size = f'{self.bytes_last // 1024} KB'
        if lost > 0 and big:
            return (f"; frames of {size} exceed Fast DDS's default 512 KB shared-memory "
                    "segment and are lost in transport: the sender's segment is what "
                    'counts (a subscriber reads from it), and without a larger one there '
                    f'they fall back to fragmented UDP: {PROFILE_HINT}')
        if self.received == 0 and lost > 0:
            return ("; no sample has arrived at all, which is what Fast DDS's default "
                    '512 KB shared-memory segment does to larger frames (they fall back '
                    f'to fragmented UDP and are lost): {PROFILE_HINT}')
        if lost == 0 and big:
            return (f'; none reported lost: this node is not taking frames as fast as '
                    f'they arrive (CPU load), or frames of {size} travel as fragmented UDP '
                    f"because the sender has Fast DDS's default 512 KB segment "
                    f'(reliable QoS retransmits instead of losing them): {PROFILE_HINT}')
        if lost == 0:
            return ('; none reported lost, so the frames reach the middleware and are left '
                    'there: this node is not taking them as fast as they arrive (CPU load)')
        return ''
