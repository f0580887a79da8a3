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
Take a camera frame only when the worker can start it.

A camera faster than the model used to have every frame taken out of the middleware,
copied into Python and then thrown away in the hand-over slot. At 1280x720 and ~480 Hz
that is 1.3 GB/s of copies on the input thread, all of it competing with inference for
the CPU and the GIL: measured p99 16-20 ms where the frame's own work is ~5.5 ms.
Instead the subscription is left untaken while the worker is busy; the middleware's
keep-last history keeps the newest sample, and that is the one taken when the worker is
free (interleaved A/B, EfficientNet-Lite0 at 1280x720 and 480 Hz, 6 runs each: p99
13.4 vs 17.6 ms).

The frames the middleware replaced meanwhile are still counted as dropped (``stale``,
the same meaning as a replacement in the hand-over slot): each publisher numbers its
samples, so the gap since the last sample taken from that publisher is the number of
frames skipped. Where rclpy or the RMW cannot give a publisher's sequence numbers and id
(Humble, whose callbacks get no MessageInfo; RMWs without them; Jazzy, whose MessageInfo
has no publisher id, once a second publisher shares the topic), the gate stays open and
every frame is taken as before.

What the numbers cannot show: frames a publisher sent before the node first took one
of its frames, and after the last. With one camera driver per topic that is nothing in
steady state (its newest frame always stays in the history to be taken); with several
publishers on one topic, or a driver restarting while the node is busy, a few frames at
the ends of a publisher's life go uncounted.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Dict, Hashable, Mapping, Optional, Tuple

from rclpy.callback_groups import MutuallyExclusiveCallbackGroup

# distinct publishers remembered per camera (a camera driver restarting gets a new one)
MAX_PUBLISHERS = 32


def message_info_supported() -> bool:
    """
    Return True when this rclpy hands a subscription callback the sample's MessageInfo.

    Iron and later do, with the publication sequence number: Kilted with the publisher's
    id beside it (``publisher_gid``), Jazzy without it, so there the numbers count only
    while the topic has one publisher (PublisherSequences.skipped); Humble passes none.
    """
    from rclpy import subscription
    return hasattr(subscription.Subscription, 'CallbackType')


def publisher_ids_supported() -> bool:
    """Return True when the MessageInfo also names the publisher (Kilted, not Jazzy)."""
    from rclpy import subscription
    info = getattr(subscription, 'MessageInfo', None)
    return message_info_supported() and \
        'publisher_gid' in getattr(info, '__annotations__', {})


class TakeGate(MutuallyExclusiveCallbackGroup):
    """
    A callback group whose entities the executor leaves alone while ``is_open()`` is False.

    rclpy's executors put into their wait set only the entities whose group can execute,
    so while the gate is shut a ready subscription is not taken at all: its sample stays
    in the middleware. Whoever opens the gate must wake the executor (``Executor.wake``),
    or the subscription is only looked at again when the executor's wait times out.
    """

    def __init__(self, is_open: Callable[[], bool]) -> None:
        super().__init__()
        self._is_open = is_open

    def can_execute(self, entity: Any) -> bool:
        return self._is_open() and super().can_execute(entity)

    def beginning_execution(self, entity: Any) -> bool:
        return self._is_open() and super().beginning_execution(entity)


class PublisherSequences:
    """
    Frames a camera's publishers sent that were never taken, from their sequence numbers.

    A gap also holds the samples the middleware reported lost on the way (they never
    reached the reader, and are counted as lost in transport): those are subtracted, so
    a frame is counted once. A loss report that arrives after the take that reveals its
    gap would be counted twice; the executor runs event callbacks before subscriptions
    of the same wait, so that needs the loss to be reported later than the next sample.
    """

    def __init__(self, max_publishers: int = MAX_PUBLISHERS) -> None:
        self._last: Dict[Hashable, int] = collections.OrderedDict()
        self._max = max_publishers
        self.counting = True     # False once a sample's publisher could not be told
        self.why_not = ''        # why counting stopped, for the log
        self._lost_unclaimed = 0

    def note_lost(self, count: int) -> None:
        """Count samples the middleware reported lost (they are part of the next gap)."""
        self._lost_unclaimed += max(0, int(count))

    def skipped(self, info: Optional[Mapping[str, Any]],
                publishers: Optional[Callable[[], int]] = None) -> int:
        """
        Return how many frames of this sample's publisher were skipped before it.

        The first sample of a publisher, and a sequence number that does not increase
        (a publisher restarted under the same id), start a new count with no gap.
        Without a publisher id (Jazzy's rclpy gives sequence numbers but no
        publisher_gid) the numbers are attributable only while ``publishers()`` says the
        topic has exactly one publisher; a second one ends counting (``why_not``).
        """
        key, seq, why = attribute(info, publishers)
        if key is None or seq is None:
            return self._stop(why)
        last = self._last.pop(key, None)
        self._last[key] = int(seq)
        while len(self._last) > self._max:
            self._last.pop(next(iter(self._last)))
        gap = int(seq) - last - 1 if last is not None and int(seq) > last else 0
        claimed = min(gap, self._lost_unclaimed)
        self._lost_unclaimed = 0     # a loss not in this gap belongs to no later one
        return gap - claimed

    def _stop(self, why: str) -> int:
        self.counting = False
        self.why_not = why
        return 0


SOLE_PUBLISHER = ('sole publisher',)   # the key while one publisher has no id


def attribute(info: Optional[Mapping[str, Any]],
              publishers: Optional[Callable[[], int]] = None
              ) -> Tuple[Optional[Hashable], Optional[int], str]:
    """
    Return (publisher key, sequence number, '') of a sample, or (None, None, why not).

    Without a publisher id (Jazzy) a sample is the sole publisher's only while
    ``publishers()`` says the topic has at most one (0: it just left).
    """
    seq = info.get('publication_sequence_number') if info else None
    gid = info.get('publisher_gid') if info else None
    if seq is None:
        return None, None, 'the middleware gives no publisher sequence numbers'
    if gid:
        return publisher_key(gid), int(seq), ''
    if publishers is not None and publishers() <= 1:
        return SOLE_PUBLISHER, int(seq), ''
    return None, None, ('the middleware gives no publisher ids, and the topic has more '
                        'than one publisher')


def publisher_key(gid: Any) -> Hashable:
    """Return a hashable key for a MessageInfo ``publisher_gid``."""
    if isinstance(gid, Mapping):
        return (gid.get('implementation_identifier'), bytes(gid.get('data') or b''))
    if isinstance(gid, (bytes, bytearray, memoryview)):
        return bytes(gid)
    return tuple(gid) if isinstance(gid, (list, tuple)) else gid
