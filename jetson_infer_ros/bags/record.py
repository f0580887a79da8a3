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
Record topics into a rosbag2 MCAP bag, as the serialized bytes that arrived.

The node's answers to a replay are kept the same way the input was: in a bag. Each
topic is subscribed with ``raw=True`` (no Python message is built, so recording costs
a copy) once a publisher shows its type, with the QoS those publishers offer (reliable
only if all of them are, as rosbag2 adapts), and the offered profiles go into the bag's
metadata so a later replay can offer them again. The bag is written beside its final
name and renamed into place when recording stops: a bag is whole or absent.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
import shutil
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from jetson_infer_ros import shutdown
from jetson_infer_ros.bags import BagError
from jetson_infer_ros.bags import typestore as ts

Log = Callable[[str], None]


@dataclasses.dataclass
class RecordOptions:
    """What to record and when to stop (whichever comes first; none: until Ctrl-C)."""

    topics: Sequence[str]
    out: Path
    count: int = 0            # messages on the first topic
    duration: float = 0.0     # seconds after the first message
    idle_timeout: float = 0.0  # seconds without any message, once one arrived
    depth: int = 1000
    node_name: str = 'jetson_infer_record'


@dataclasses.dataclass
class RecordStats:
    path: Path
    messages: int = 0
    nbytes: int = 0
    per_topic: Dict[str, int] = dataclasses.field(default_factory=dict)


def rosbags_qos(profile: Any) -> Any:
    """Convert an rclpy QoSProfile (as discovered) into rosbags' Qos for the metadata."""
    from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness,
                                    QosReliability, QosTime)

    def enum(kind: Any, value: Any, unknown: str) -> Any:
        try:
            return kind(int(getattr(value, 'value', value)))
        except (ValueError, TypeError):
            return kind[unknown]

    def span(duration: Any) -> Any:
        ns = int(getattr(duration, 'nanoseconds', 0) or 0)
        return QosTime(ns // 1_000_000_000, ns % 1_000_000_000)
    return Qos(enum(QosHistory, profile.history, 'UNKNOWN'), int(profile.depth),
               enum(QosReliability, profile.reliability, 'UNKNOWN'),
               enum(QosDurability, profile.durability, 'UNKNOWN'),
               span(profile.deadline), span(profile.lifespan),
               enum(QosLiveliness, profile.liveliness, 'UNKNOWN'),
               span(profile.liveliness_lease_duration),
               bool(profile.avoid_ros_namespace_conventions))


class Recorder:
    """Subscribe, write, stop; ``run()`` returns the stats once the bag is in place."""

    def __init__(self, options: RecordOptions, log: Log = print,
                 on_ready: Optional[Callable[[], None]] = None) -> None:
        if not options.topics:
            raise ValueError('nothing to record: name at least one topic')
        self.opt = options
        self.out = Path(options.out).expanduser()
        if self.out.exists():
            raise BagError(f'{self.out} exists already; not overwriting a bag')
        self.log = log
        self.on_ready = on_ready
        self.stats = RecordStats(self.out)
        self._writer: Any = None
        self._subs: Dict[str, Any] = {}
        self._first: Optional[float] = None
        self._last: Optional[float] = None

    def run(self, keep_participant: bool = False) -> RecordStats:
        """
        Record until a stop condition or Ctrl-C; the bag is in place when this returns.

        ``keep_participant``: see ``replay.Player.run`` (the CLI leaves with os._exit).
        """
        import rclpy
        from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
        from rosbags.rosbag2 import StoragePlugin, Writer
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp_root = Path(tempfile.mkdtemp(prefix=f'.{self.out.name}.tmp-', dir=self.out.parent))
        inner = tmp_root / self.out.name
        try:
            self._writer = Writer(inner, version=9, storage_plugin=StoragePlugin.MCAP)
            self._writer.open()
            # The default context: a private one hangs in wait() after rclpy's SIGINT handler
            # ran.
            owned = not rclpy.ok()
            if owned:
                rclpy.init(args=[])
            node = rclpy.create_node(self.opt.node_name)
        except BaseException:
            shutil.rmtree(tmp_root, ignore_errors=True)   # nothing half-made is left behind
            raise
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        names = [node.resolve_topic_name(t) for t in self.opt.topics]
        ok = False
        try:
            ready_said = False
            self.log(f'[record] waiting for {", ".join(names)}')
            while rclpy.ok() and not self._done(names[0]):
                for name in names:
                    if name not in self._subs:
                        self._try_subscribe(node, name)
                if not ready_said and len(self._subs) == len(names) and all(
                        s.get_publisher_count() > 0 for s in self._subs.values()):
                    ready_said = True
                    self.log('[record] ready')
                    if self.on_ready is not None:
                        self.on_ready()
                executor.spin_once(timeout_sec=0.02)
            ok = True
        except (KeyboardInterrupt, ExternalShutdownException):
            ok = True
        except Exception:  # noqa: B902 - judged below
            # Ctrl-C shut the context down between rclpy.ok() and the wait set's creation
            # (RCLError "the given context is not valid"): a stop like any other, and what
            # was recorded is kept (CI, Jazzy: the whole bag was thrown away, once)
            if not shutdown.context_gone(node.context):
                raise
            ok = True
        finally:
            for sub in self._subs.values():
                node.destroy_subscription(sub)
            executor.shutdown(timeout_sec=1.0)
            self._close(tmp_root, inner, keep=ok)
            if not keep_participant:
                node.destroy_node()
                if owned:
                    rclpy.try_shutdown()
        self.log(f'[record] wrote {self.stats.messages} messages '
                 f'({self.stats.nbytes / 1e6:.1f} MB) to {self.out}')
        return self.stats

    def _try_subscribe(self, node: Any, name: str) -> None:
        infos = node.get_publishers_info_by_topic(name)
        if not infos:
            return
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
        msgtype = ts.normalize(infos[0].topic_type)
        cls = ts.message_class(msgtype)
        msgdef, digest = ts.definition(msgtype)
        offered = [i.qos_profile for i in infos]
        reliable = all(q.reliability == ReliabilityPolicy.RELIABLE for q in offered)
        latched = all(q.durability == DurabilityPolicy.TRANSIENT_LOCAL for q in offered)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self.opt.depth,
                         reliability=ReliabilityPolicy.RELIABLE if reliable
                         else ReliabilityPolicy.BEST_EFFORT,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL if latched
                         else DurabilityPolicy.VOLATILE)
        conn = self._writer.add_connection(name, msgtype, msgdef=msgdef, rihs01=digest,
                                           offered_qos_profiles=[rosbags_qos(q)
                                                                 for q in offered])

        def on_message(raw: bytes, conn: Any = conn, name: str = name) -> None:
            now = time.monotonic()
            self._first = self._first if self._first is not None else now
            self._last = now
            self._writer.write(conn, time.time_ns(), raw)
            self.stats.messages += 1
            self.stats.nbytes += len(raw)
            self.stats.per_topic[name] = self.stats.per_topic.get(name, 0) + 1
        self._subs[name] = node.create_subscription(cls, name, on_message, qos, raw=True)
        self.log(f'[record] {name}: {msgtype}, '
                 f'{"reliable" if reliable else "best effort"}'
                 f'{", transient local" if latched else ""}')

    def _done(self, first_topic: str) -> bool:
        o = self.opt
        if o.count and self.stats.per_topic.get(first_topic, 0) >= o.count:
            return True
        now = time.monotonic()
        if o.duration and self._first is not None and now - self._first >= o.duration:
            return True
        if o.idle_timeout and self._last is not None and now - self._last >= o.idle_timeout:
            return True
        return False

    def _close(self, tmp_root: Path, inner: Path, keep: bool) -> None:
        try:
            self._writer.close()
        except Exception:  # noqa: B902 - a failed close leaves no bag behind
            keep = False
        if keep:
            os.rename(inner, self.out)
        shutil.rmtree(tmp_root, ignore_errors=True)


def record(options: RecordOptions, log: Log = print,
           on_ready: Optional[Callable[[], None]] = None) -> RecordStats:
    """Record until a stop condition or Ctrl-C; return what was written (see Recorder)."""
    return Recorder(options, log, on_ready).run()


def topic_list(values: Sequence[str]) -> List[str]:
    """Split ``--topics a b,c`` style arguments into a flat list of names."""
    out: List[str] = []
    for v in values:
        out.extend(t for t in v.replace(',', ' ').split() if t)
    return out
