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
Play a bag back onto ROS topics the way it was recorded: timing, QoS and clock.

What a node does with a replay depends on how the replay is played: the message
spacing (scaled by ``rate``), the QoS the recording publishers offered (rosbag2 keeps
them in the metadata; reliable when a bag does not say), and for ``use_sim_time`` nodes
the ``/clock`` that makes "now" the bag's time. The recorded CDR bytes are published
as they are (rclpy's ``publish(bytes)``), so nothing is decoded or re-encoded.

Regression runs need every frame processed, as fast as the node can: ``rate 0`` with
an ``ack_topic`` keeps at most ``max_in_flight`` camera frames unanswered (an answer is
a message on the ack topic carrying the frame's header stamp), which paces the replay
to the consumer instead of overflowing its queue.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from jetson_infer_ros.bags import BagError
from jetson_infer_ros.bags import typestore as ts
from jetson_infer_ros.bags.reader import Bag, IMAGE_TYPES, stamp_ns

Log = Callable[[str], None]


class ReplayError(RuntimeError):
    """The replay could not go on: nobody subscribed, or the consumer stopped answering."""


@dataclasses.dataclass
class ReplayOptions:
    """How to play a bag; the defaults replay everything once at the recorded pace."""

    topics: Sequence[str] = ()
    rate: float = 1.0
    clock: bool = False
    clock_hz: float = 40.0
    loop: bool = False
    limit: int = 0
    remap: Dict[str, str] = dataclasses.field(default_factory=dict)
    reliability: str = 'auto'
    wait_subscribers: int = 0
    wait_timeout: float = 60.0
    ack_topic: str = ''
    max_in_flight: int = 4
    ack_timeout: float = 30.0
    start_delay: float = 0.0
    node_name: str = 'jetson_infer_replay'

    def check(self) -> None:
        if not self.rate >= 0:
            raise ValueError(f'rate must be >= 0 (0: as fast as possible), got {self.rate}')
        if self.clock and not self.clock_hz > 0:
            raise ValueError(f'clock_hz must be > 0, got {self.clock_hz}')
        if self.max_in_flight < 1:
            raise ValueError(f'max_in_flight must be >= 1, got {self.max_in_flight}')
        if self.reliability not in ('auto', 'reliable', 'best_effort'):
            raise ValueError(f'reliability must be auto, reliable or best_effort, got '
                             f'{self.reliability!r}')
        if self.limit < 0:
            raise ValueError(f'limit must be >= 0, got {self.limit}')


@dataclasses.dataclass
class ReplayStats:
    """What a replay published, and how fast."""

    messages: int = 0
    nbytes: int = 0
    seconds: float = 0.0
    passes: int = 0
    acked: int = 0
    unacked: int = 0
    per_topic: Dict[str, int] = dataclasses.field(default_factory=dict)

    def line(self) -> str:
        rate = self.messages / self.seconds if self.seconds > 0 else float('nan')
        mbs = self.nbytes / 1e6 / self.seconds if self.seconds > 0 else float('nan')
        acks = f', {self.acked} answered' if self.acked or self.unacked else ''
        missing = f', {self.unacked} NOT answered' if self.unacked else ''
        return (f'replayed {self.messages} messages ({self.nbytes / 1e6:.1f} MB) in '
                f'{self.seconds:.2f} s: {rate:.1f} msg/s, {mbs:.1f} MB/s{acks}{missing}')


def qos_for(info_qos: Sequence[Any], reliability: str = 'auto', depth: int = 10) -> Any:
    """
    Return the rclpy QoSProfile to replay a topic with, from its recorded offers.

    Reliable unless every recorded publisher offered best effort (or ``reliability``
    says otherwise); transient local only if every one offered it (latched topics).
    """
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    names = [(q.reliability.name, q.durability.name, int(q.depth)) for q in info_qos]
    if reliability == 'auto':
        best_effort = bool(names) and all(r == 'BEST_EFFORT' for r, _d, _n in names)
        reliability = 'best_effort' if best_effort else 'reliable'
    latched = bool(names) and all(d == 'TRANSIENT_LOCAL' for _r, d, _n in names)
    recorded_depth = max([n for _r, _d, n in names] + [1])
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST,
        depth=recorded_depth if latched else max(recorded_depth, depth),
        reliability=(ReliabilityPolicy.RELIABLE if reliability == 'reliable'
                     else ReliabilityPolicy.BEST_EFFORT),
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


class _Acks:
    """Answers seen on the ack topic, matched to sent frames by header stamp."""

    def __init__(self) -> None:
        self.sent: List[int] = []
        self.index: Dict[int, int] = {}
        self.done = 0          # frames known answered (or passed over) so far
        self.answers = 0
        self.last_progress = time.monotonic()

    def on_send(self, stamp: int) -> None:
        self.index[stamp] = len(self.sent)
        self.sent.append(stamp)

    def on_answer(self, raw: Any) -> None:
        self.answers += 1
        try:
            i = self.index.get(stamp_ns(raw))
        except BagError:
            i = None
        # in order: an answer to frame i means every frame before it was handled too
        upto = i + 1 if i is not None else self.done + 1
        if upto > self.done:
            self.done = min(upto, len(self.sent))
            self.last_progress = time.monotonic()

    @property
    def in_flight(self) -> int:
        return len(self.sent) - self.done

    def reset(self) -> None:
        self.sent, self.index, self.done = [], {}, 0


class Player:
    """Replays one open bag; ``run()`` returns when done (or raises ReplayError)."""

    def __init__(self, bag: Bag, options: Optional[ReplayOptions] = None,
                 log: Log = print) -> None:
        self.bag = bag
        self.opt = options or ReplayOptions()
        self.opt.check()
        self.log = log
        self.topics = [bag.topic(t) for t in self.opt.topics] if self.opt.topics else \
            list(bag.topics.values())
        if not self.topics:
            raise BagError(f'bag {bag.path} has no topics')
        self.classes = {t.name: ts.message_class(t.msgtype) for t in self.topics}
        has_images = any(t.msgtype in IMAGE_TYPES for t in self.topics)
        self._paced = {t.name for t in self.topics
                       if t.msgtype in IMAGE_TYPES or not has_images}
        self.stats = ReplayStats()
        self._acks = _Acks()
        self._clock_at = 0.0
        self._clock_ns = 0

    # ------------------------------------------------------------------ ROS set-up
    def run(self, keep_participant: bool = False) -> ReplayStats:
        """
        Play the bag; raise BagError/ReplayError when it cannot.

        ``keep_participant`` removes this replay's publishers and subscriptions but leaves
        its DDS participant for the process exit to drop: Fast DDS 3.2 can deadlock when
        a participant is destroyed while another process removes a writer (seen here in
        1 of ~10 runs). The CLI does that and then leaves with ``os._exit``.
        """
        import rclpy
        from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
        # The default context: a private one hangs in wait() after rclpy's SIGINT handler ran.
        owned = not rclpy.ok()
        if owned:
            rclpy.init(args=[])
        node = rclpy.create_node(self.opt.node_name)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        self._node, self._executor = node, executor
        self._pubs: Dict[str, Any] = {}
        self._clock_pub: Any = None
        self._ack_sub: Any = None
        try:
            for t in self.topics:
                out = self.opt.remap.get(t.name, t.name)
                depth = max(10, self.opt.max_in_flight + 1)
                self._pubs[t.name] = node.create_publisher(
                    self.classes[t.name], out, qos_for(t.qos, self.opt.reliability, depth))
            if self.opt.clock:
                from rclpy.qos import QoSProfile, ReliabilityPolicy
                from rosgraph_msgs.msg import Clock
                self._clock_pub = node.create_publisher(
                    Clock, '/clock', QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE))
                self._clock_msg = Clock()
            if self.opt.ack_topic:
                self._ack_sub = self._subscribe_acks()
            self._wait_for_peers()
            if self.opt.start_delay > 0:
                self._idle(time.monotonic() + self.opt.start_delay, self.bag.start_ns)
            self._play()
            self._finish()
        except (KeyboardInterrupt, ExternalShutdownException):
            self.log('[replay] interrupted; ' + self.stats.line())
        finally:
            for pub in list(self._pubs.values()) + [self._clock_pub]:
                if pub is not None:
                    node.destroy_publisher(pub)
            if self._ack_sub is not None:
                node.destroy_subscription(self._ack_sub)
            executor.shutdown(timeout_sec=1.0)
            if not keep_participant:
                node.destroy_node()
                if owned:
                    rclpy.try_shutdown()
        return self.stats

    def _subscribe_acks(self) -> Any:
        name = self._node.resolve_topic_name(self.opt.ack_topic)
        deadline = time.monotonic() + self.opt.wait_timeout
        while True:
            infos = self._node.get_publishers_info_by_topic(name)
            if infos:
                break
            if time.monotonic() > deadline:
                raise ReplayError(f'no publisher of the ack topic {name} appeared in '
                                  f'{self.opt.wait_timeout:g} s (is the node running?)')
            self._spin(0.05)
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        cls = ts.message_class(infos[0].topic_type)
        return self._node.create_subscription(
            cls, name, self._acks.on_answer,
            QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE), raw=True)

    def _wait_for_peers(self) -> None:
        need = self.opt.wait_subscribers
        deadline = time.monotonic() + self.opt.wait_timeout

        def ready() -> bool:
            subs_ok = all(p.get_subscription_count() >= need for p in self._pubs.values())
            acks_ok = self._ack_sub is None or self._ack_sub.get_publisher_count() >= 1
            return subs_ok and acks_ok
        while not ready():
            if time.monotonic() > deadline:
                missing = [p.topic_name for p in self._pubs.values()
                           if p.get_subscription_count() < need]
                what = (f'{need} subscriber(s) on {", ".join(missing)}' if missing
                        else f'a publisher on {self.opt.ack_topic}')
                raise ReplayError(f'waited {self.opt.wait_timeout:g} s for {what}')
            self._tick_clock(self.bag.start_ns)
            self._spin(0.05)

    # ------------------------------------------------------------------ playing
    def _play(self) -> None:
        o = self.opt
        total = sum(t.count for t in self.topics)
        total = min(total, o.limit) if o.limit else total
        self.log(f'[replay] {self.bag.path}: {total} messages on '
                 f'{", ".join(t.name for t in self.topics)}; rate '
                 f'{"max" if o.rate == 0 else o.rate}{", /clock" if o.clock else ""}'
                 f'{", paced by " + o.ack_topic if o.ack_topic else ""}')
        first_wall: Optional[float] = None
        while True:
            wall0: Optional[float] = None
            bag0 = 0
            for topic, _type, log_ns, raw in self.bag.messages([t.name for t in self.topics],
                                                               o.limit):
                paced = topic in self._paced
                if wall0 is None:
                    wall0, bag0 = time.monotonic(), log_ns
                target = wall0 + (log_ns - bag0) / 1e9 / o.rate if o.rate > 0 else 0.0
                blocked = self._wait_until(target, paced, bag0, wall0)
                if blocked > 0:
                    wall0 += blocked   # keep the recorded spacing after a consumer pause
                if first_wall is None:
                    first_wall = time.monotonic()
                self._tick_clock(log_ns, force=True)
                self._publish(topic, raw)
                if paced and self._ack_sub is not None:
                    self._acks.on_send(_safe_stamp(raw))
                self.stats.messages += 1
                self.stats.nbytes += len(raw)
                self.stats.per_topic[topic] = self.stats.per_topic.get(topic, 0) + 1
                self.stats.seconds = time.monotonic() - (first_wall or time.monotonic())
            self.stats.passes += 1
            if not o.loop:
                break
            self._drain_acks()
            self._acks.reset()

    def _wait_until(self, target: float, paced: bool, bag0: int, wall0: float) -> float:
        """
        Wait for the send time and a free slot in the window.

        Returns the time lost to the consumer (blocked on answers past the send time).
        """
        blocked = 0.0
        while True:
            now = time.monotonic()
            window_full = (paced and self._ack_sub is not None
                           and self._acks.in_flight >= self.opt.max_in_flight)
            if not window_full and now >= target:
                return blocked
            if window_full:
                if not self._stall_check():
                    raise ReplayError(
                        f'no answer on {self.opt.ack_topic} for {self.opt.ack_timeout:g} s '
                        f'with {self._acks.in_flight} frames in flight (after '
                        f'{self._acks.done} answered): did the consumer stop?')
                step = 0.002
            else:
                step = min(target - now, 0.01)
            if self.opt.rate > 0:
                self._tick_clock(bag0 + int((now - wall0) * self.opt.rate * 1e9))
            self._spin(step)
            if window_full and now >= target:
                blocked += time.monotonic() - now

    def _stall_check(self) -> bool:
        """Return False once the consumer has not answered for ``ack_timeout`` seconds."""
        return time.monotonic() - self._acks.last_progress <= self.opt.ack_timeout

    def _publish(self, topic: str, raw: bytes) -> None:
        pub = self._pubs[topic]
        for attempt in range(50):
            try:
                pub.publish(raw)
                return
            except Exception as exc:  # noqa: B902 - RCLError: history full under load
                if attempt == 49:
                    raise ReplayError(f'publishing on {pub.topic_name} failed: {exc}') from None
                self._spin(0.002 * (attempt + 1))

    def _tick_clock(self, bag_ns: int, force: bool = False) -> None:
        if self._clock_pub is None:
            return
        now = time.monotonic()
        if not force and now - self._clock_at < 1.0 / self.opt.clock_hz:
            return
        bag_ns = bag_ns if force else max(bag_ns, self._clock_ns)
        self._clock_msg.clock.sec = int(bag_ns // 1_000_000_000)
        self._clock_msg.clock.nanosec = int(bag_ns % 1_000_000_000)
        self._clock_pub.publish(self._clock_msg)
        self._clock_at, self._clock_ns = now, bag_ns

    def _idle(self, until: float, bag_ns: Optional[int]) -> None:
        while time.monotonic() < until:
            if bag_ns is not None:
                self._tick_clock(bag_ns)
            self._spin(min(0.01, max(0.0, until - time.monotonic())))

    def _spin(self, timeout: float) -> None:
        self._executor.spin_once(timeout_sec=max(0.0, timeout))

    def _drain_acks(self) -> None:
        """Wait for the answers still due (up to ack_timeout without progress)."""
        if self._ack_sub is None:
            return
        while self._acks.in_flight > 0:
            if not self._stall_check():
                self.log(f'[replay] warning: {self._acks.in_flight} frames not answered on '
                         f'{self.opt.ack_topic} within {self.opt.ack_timeout:g} s')
                break
            self._tick_clock(self._clock_ns)
            self._spin(0.01)
        self.stats.acked += self._acks.done
        self.stats.unacked += self._acks.in_flight

    def _finish(self) -> None:
        from rclpy.duration import Duration
        from rclpy.qos import ReliabilityPolicy
        self._drain_acks()
        for pub in self._pubs.values():
            if pub.qos_profile.reliability == ReliabilityPolicy.RELIABLE:
                pub.wait_for_all_acked(Duration(seconds=5))
        self.log('[replay] ' + self.stats.line())


def _safe_stamp(raw: bytes) -> int:
    try:
        return stamp_ns(raw)
    except BagError:
        return -1


def replay(path: Any, options: Optional[ReplayOptions] = None, log: Log = print) -> ReplayStats:
    """Open a bag and replay it (see ReplayOptions); raises BagError / ReplayError."""
    from jetson_infer_ros.bags.reader import open_bag
    with open_bag(path) as bag:
        return Player(bag, options, log).run()
