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
A reliable camera subscription the middleware stopped feeding: noticed and re-created.

Publish valid, valid, a zero-length sample (``publish(b'')``), then valid frames: a
reliable reader in another process receives the first two and never anything again
(Fast DDS 3.2.3 / rmw_fastrtps 9.3.3, every QoS profile tried; a best-effort reader
loses the empty sample and gets the rest; a reader in the publishing process gets all).
Reliable delivery is in order, and the empty sample is never accepted, so every later
sample waits behind it forever while the publisher stays matched and alive. Nothing in
rclpy reports it: no sample-lost event, no error, and a paused camera looks the same.

So each reliable camera subscription gets a probe: a best-effort, keep-last-1 reader of
the same topic, taken at most every ``PROBE_PERIOD`` s (one frame copied per period;
left untaken in between, through a TakeGate). Its publisher sequence numbers show what
each publisher has sent (on Jazzy, whose MessageInfo names no publisher, only while the
topic has one: a second one's numbers are not attributed, and numbers going back are a
restarted publisher, not a stall). When the probe has seen a publisher ahead of what the real
subscription delivered, for ``STALL_AFTER`` s during which the node could have taken a
frame at every check, the subscription is stalled: the node WARNs, counts the samples
the probe saw sent but never delivered as lost in transport, and re-creates the
subscription; the new reader starts with the publisher's next sample, and the samples
sent meanwhile show as a gap, counted as lost too. ``STALL_AFTER`` (5 s) is longer than
Fast DDS's 3 s heartbeat period, so a sample being repaired on a lossy link is not
taken for a stall.

Measured with the issue's sequence in lossless mode: before, 2 of 6 answered, the
rest never, diagnostics OK "running"; now the stall is reported and, after re-creation,
later frames are answered and every sample is either answered or counted.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Dict, Hashable, List, Mapping, Optional, Tuple

from jetson_infer_ros.input_gate import attribute, SOLE_PUBLISHER, TakeGate

PROBE_PERIOD = 0.5       # s between probe takes (and stall checks)
STALL_AFTER = 5.0        # s a publisher may stay ahead of what was delivered
WARN_FOR = 60.0          # s diagnostics keep reporting a stall after the last one
MAX_PUBLISHERS = 32      # publishers remembered per camera (drivers restart)


@dataclasses.dataclass(frozen=True)
class Stall:
    """One publisher whose samples stopped arriving: delivered up to, seen sent up to."""

    publisher: Hashable
    delivered: int
    seen: int
    since: float

    @property
    def missing(self) -> int:
        return self.seen - self.delivered


class StallWatch:
    """
    The rule, kept apart from rclpy so it can be driven with made-up sequence numbers.

    ``on_delivered`` for every sample the real subscription hands over, ``on_probe`` for
    every probe sample, ``check`` every period; ``recovered`` once the subscription was
    re-created for what ``check`` returned.
    """

    def __init__(self, stall_after: float = STALL_AFTER,
                 publishers: Optional[Callable[[], int]] = None) -> None:
        self.stall_after = stall_after
        self._publishers = publishers
        self._delivered: Dict[Hashable, int] = {}
        self._seen: Dict[Hashable, int] = {}
        self._first_seen: Dict[Hashable, int] = {}
        self._ahead_since: Dict[Hashable, float] = {}
        # publisher -> (counted lost up to this sequence number, last delivered before)
        self._resumed: Dict[Hashable, Tuple[int, int]] = {}
        self.stalls = 0
        self.lost = 0
        self.last_stall: Optional[Tuple[float, str]] = None

    def on_delivered(self, info: Optional[Mapping[str, Any]]) -> Tuple[int, int]:
        """
        Note a delivered sample; return (newly lost, gap already counted) for its publisher.

        The first sample after a re-creation reveals the samples sent while the new
        reader was being matched: newly lost. ``gap already counted`` is every sample
        between this one and the last delivered before the stall (those counted at the
        re-creation included), which the caller must not count again as skipped.
        """
        key, seq = self._seq(info)
        if key is None or seq is None:
            return 0, 0
        _remember(self._delivered, key, seq)
        self._ahead_since.pop(key, None)
        resumed = self._resumed.pop(key, None)
        if resumed is None:
            return 0, 0
        upto, before = resumed
        extra = max(0, seq - upto - 1)
        self.lost += extra
        return extra, max(0, seq - before - 1)

    def _seq(self, info: Optional[Mapping[str, Any]]
             ) -> Tuple[Optional[Hashable], Optional[int]]:
        key, seq, _why = attribute(info, self._publishers)
        return key, seq

    def on_probe(self, info: Optional[Mapping[str, Any]]) -> None:
        key, seq = self._seq(info)
        if key is None or seq is None:
            return
        if key == SOLE_PUBLISHER and seq < self._seen.get(key, -1):
            # numbers went back: another publisher (a restarted driver) under the one
            # key; what the old one sent says nothing about the new one
            for table in (self._seen, self._first_seen, self._delivered):
                table.pop(key, None)
            self._ahead_since.pop(key, None)
        if key not in self._first_seen:
            _remember(self._first_seen, key, seq)
        if seq > self._seen.get(key, -1):
            _remember(self._seen, key, seq)

    def check(self, now: float, could_take: bool,
              reliable: Callable[[Hashable], bool] = lambda _key: True) -> List[Stall]:
        """
        Return the publishers stalled at ``now``; ``could_take``: the node had room.

        A publisher nothing was ever delivered from counts only if ``reliable(key)``: a
        best-effort publisher reaches the probe but never a reliable subscription.
        """
        stalls = []
        for key, seen in list(self._seen.items()):
            delivered = self._delivered.get(key)
            if delivered is None:
                delivered = self._first_seen[key] - 1
            if not could_take or seen <= delivered or (
                    key not in self._delivered and not reliable(key)):
                self._ahead_since.pop(key, None)
                continue
            since = self._ahead_since.setdefault(key, now)
            if now - since >= self.stall_after:
                stalls.append(Stall(key, delivered, seen, since))
        return stalls

    def recovered(self, stalls: List[Stall], now: float) -> int:
        """Count what ``stalls`` lost once the subscription was re-created; return it."""
        lost = 0
        for s in stalls:
            lost += s.missing
            self._resumed[s.publisher] = (s.seen, s.delivered)
            _remember(self._delivered, s.publisher, s.seen)
            self._ahead_since.pop(s.publisher, None)
        self.stalls += len(stalls)
        self.lost += lost
        if stalls:
            worst = max(stalls, key=lambda s: s.missing)
            self.last_stall = (now, (
                f'input stalled: a publisher kept sending (seen up to sample {worst.seen}) '
                f'but nothing arrived after sample {worst.delivered} for '
                f'{now - worst.since:.1f} s; subscription re-created, {lost} sample(s) '
                f'counted lost in transport'))
        return lost

    def warning(self, now: float, keep_for: float = WARN_FOR) -> str:
        """Return the last stall, for diagnostics, until ``keep_for`` s after it; else ''."""
        if self.last_stall is None or now - self.last_stall[0] > keep_for:
            return ''
        return self.last_stall[1] + f' ({self.stalls} stall(s) since activate)'


def _remember(table: Dict[Hashable, int], key: Hashable, value: int) -> None:
    table.pop(key, None)
    table[key] = value
    while len(table) > MAX_PUBLISHERS:
        table.pop(next(iter(table)))


class StallGuard:
    """
    The probe subscription and the periodic check of one camera, on the input node.

    Everything runs on the input node's executor thread, so re-creating the camera
    subscription never races its callback. ``may_take`` tells whether the node had room
    for a frame; ``resubscribe`` re-creates the camera subscription; ``count_lost``
    receives the samples a stall lost.
    """

    def __init__(self, node: Any, msg_type: Any, topic: str, may_take: Callable[[], bool],
                 resubscribe: Callable[[], None], count_lost: Callable[[int], None],
                 warn: Callable[[str], None], watch: Optional[StallWatch] = None,
                 period: float = PROBE_PERIOD,
                 clock: Callable[[], float] = time.monotonic) -> None:
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        self.watch = watch or StallWatch(publishers=lambda: self.probe.get_publisher_count())
        self._node = node
        self._may_take = may_take
        self._resubscribe = resubscribe
        self._count_lost = count_lost
        self._warn = warn
        self._clock = clock
        self._period = period
        self._next_probe = 0.0

        def on_probe(_payload: Any, info: Any) -> None:
            self._next_probe = self._clock() + self._period
            self.watch.on_probe(info)

        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                         reliability=ReliabilityPolicy.BEST_EFFORT)
        self.probe = node.create_subscription(
            msg_type, topic, on_probe, qos, raw=True,
            callback_group=TakeGate(lambda: self._clock() >= self._next_probe))
        self.timer = node.create_timer(period, self._check)

    def _check(self) -> None:
        now = self._clock()
        stalls = self.watch.check(now, self._may_take(), self._offers_reliable)
        if not stalls:
            return
        self._resubscribe()
        lost = self.watch.recovered(stalls, now)
        self._count_lost(lost)
        text = self.watch.warning(now)
        if text:
            self._warn(text)

    def _offers_reliable(self, key: Hashable) -> bool:
        """Whether the graph shows this publisher offering reliable delivery."""
        from rclpy.qos import ReliabilityPolicy
        endpoints = self._node.get_publishers_info_by_topic(self.probe.topic_name)
        if key == SOLE_PUBLISHER:      # no id (Jazzy): the topic's one publisher
            return len(endpoints) == 1 and \
                endpoints[0].qos_profile.reliability == ReliabilityPolicy.RELIABLE
        gid = key[1] if isinstance(key, tuple) and len(key) == 2 else key
        for endpoint in endpoints:
            if bytes(endpoint.endpoint_gid) == gid:
                return endpoint.qos_profile.reliability == ReliabilityPolicy.RELIABLE
        return False

    def close(self) -> None:
        self._node.destroy_timer(self.timer)
        self._node.destroy_subscription(self.probe)
