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
The node's side of a bond with nav2's lifecycle manager (the ros/bond_core protocol).

nav2_lifecycle_manager, after activating each node it manages, waits bond_timeout / 2
(2 s by default) for that node's bond and aborts the whole bringup without one; while
the system runs, a bond with no heartbeat for bond_timeout (4 s) takes every node down.
nav2's own nodes (nav2_util::LifecycleNode) create the bond at the end of on_activate
and destroy it on deactivate, with id = the node's name on the topic ``bond``. This
module speaks the same protocol as bondcpp, with no bondcpp: each side publishes
``bond/msg/Status`` every heartbeat period; a side is alive while the sister's heartbeats
arrive; breaking is publishing ``active: false`` until the sister answers in kind.

The states follow bondcpp's state machine (BondSM): waiting for the sister -> alive ->
(broken by us) awaiting the sister's death -> dead. Like nav2's nodes, which set
``/bond_disable_heartbeat_timeout``, the node never breaks the bond because the manager's
heartbeats stop (the manager is the one watching); it logs that once instead.

BondStateMachine is the protocol alone (no ROS, so it is tested on its own); NodeBond
ties it to a node: a publisher, a subscription and a steady-clock timer in their own
callback group, so heartbeats neither wait for inference (which runs on its own thread)
nor follow /clock during a bag replay with use_sim_time.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Optional
import uuid

TOPIC = 'bond'
# bond/msg/Constants (ros/bond_core), used by bondcpp on both sides
CONNECT_TIMEOUT = 10.0
DISCONNECT_TIMEOUT = 2.0
DEAD_PUBLISH_PERIOD = 0.05

WAITING = 'waiting_for_sister'
ALIVE = 'alive'
AWAIT_SISTER_DEATH = 'await_sister_death'
DEAD = 'dead'


class BondStateMachine:
    """
    One side of a bond: what to publish, and what the sister's messages and time do.

    ``now`` is any monotonic clock in seconds. Every method returns the ``active`` value
    of a Status to publish right away, or None.
    """

    def __init__(self, bond_id: str, heartbeat_period: float, heartbeat_timeout: float,
                 now: float, instance_id: Optional[str] = None) -> None:
        self.id = bond_id
        self.instance_id = instance_id or str(uuid.uuid4())
        self.heartbeat_period = float(heartbeat_period)
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.state = WAITING
        self.sister_instance_id = ''
        self.sister_died_first = False
        self.heartbeat_late = False        # the sister went quiet while alive (logged once)
        self._started = now
        self._last_sister = now
        self._dying_since = now
        self._next_publish = now
        self._tick = self.tick_period(self.heartbeat_period)

    @staticmethod
    def tick_period(heartbeat_period: float) -> float:
        """How often the timer must call tick(): heartbeats, and the dead-publish rate."""
        return min(DEAD_PUBLISH_PERIOD, heartbeat_period)

    def on_status(self, bond_id: str, instance_id: str, active: bool,
                  now: float) -> Optional[bool]:
        """Take a Status from the bond topic (ours and other bonds' arrive there too)."""
        if bond_id != self.id or instance_id == self.instance_id:
            return None
        if not self.sister_instance_id:
            self.sister_instance_id = instance_id
        self._last_sister = now
        self.heartbeat_late = False
        if active:
            if self.state == WAITING:
                self.state = ALIVE
            return None
        if self.state in (WAITING, ALIVE):
            self.sister_died_first = True
            self.state = DEAD
            return False           # bondcpp acknowledges the sister's death at once
        if self.state == AWAIT_SISTER_DEATH:
            self.state = DEAD
        return None

    def tick(self, now: float) -> Optional[bool]:
        """Advance the timer: time out what has to, and say whether a heartbeat is due."""
        if self.state == WAITING and now - self._started >= CONNECT_TIMEOUT:
            self.state = DEAD
        elif self.state == ALIVE and now - self._last_sister >= self.heartbeat_timeout:
            self.heartbeat_late = True     # not broken: nav2's nodes never time out the manager
        elif self.state == AWAIT_SISTER_DEATH and \
                now - self._dying_since >= DISCONNECT_TIMEOUT:
            self.state = DEAD
        if self.state == AWAIT_SISTER_DEATH:
            return False                   # every DEAD_PUBLISH_PERIOD until the sister answers
        # half a timer tick early counts as on time: timers jitter, and a heartbeat
        # skipped to the next tick would stretch the period by half
        if self.state == DEAD or now < self._next_publish - self._tick / 2:
            return None
        self._next_publish = now + self.heartbeat_period
        return True

    def break_bond(self, now: float) -> Optional[bool]:
        """Break the bond from this side (bondcpp's breakBond / SM Die)."""
        if self.state == ALIVE:
            self.state = AWAIT_SISTER_DEATH
            self._dying_since = now
            return False
        if self.state == WAITING:
            self.state = DEAD
            return False
        return None


class NodeBond:
    """A bond of a running node with its lifecycle manager, made and broken by the node."""

    def __init__(self, node: Any, status_type: Any, bond_id: str, heartbeat_period: float,
                 heartbeat_timeout: float, topic: str = TOPIC,
                 callback_group: Any = None) -> None:
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
        from rclpy.clock import Clock, ClockType
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        self._node = node
        self._status_type = status_type
        self._clock = Clock(clock_type=ClockType.STEADY_TIME)
        self._lock = threading.Lock()
        self._sm = BondStateMachine(bond_id, heartbeat_period, heartbeat_timeout,
                                    time.monotonic())
        self._warned_late = False
        self._closed = False
        group = callback_group or MutuallyExclusiveCallbackGroup()
        # bondcpp: reliable, keep last 5 out and 100 in
        self._pub = node.create_publisher(
            status_type, topic, QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        self._sub = node.create_subscription(
            status_type, topic, self._on_status,
            QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE),
            callback_group=group)
        tick = BondStateMachine.tick_period(heartbeat_period)
        self._timer = node.create_timer(tick, self._on_tick, callback_group=group,
                                        clock=self._clock)
        self._on_tick()                    # the first heartbeat now, not a tick later

    @property
    def state(self) -> str:
        return self._sm.state

    @property
    def instance_id(self) -> str:
        return self._sm.instance_id

    def break_bond(self, wait: float = 0.2) -> bool:
        """
        Tell the manager the bond is broken, and wait up to ``wait`` s for its answer.

        Returns True once the bond is dead (the manager acknowledged, or nothing was ever
        formed). The heartbeat timer keeps repeating ``active: false`` meanwhile, as
        bondcpp's dead-publish timer does, until the answer or the disconnect timeout.
        """
        import rclpy
        with self._lock:
            active = self._sm.break_bond(time.monotonic())
        if not rclpy.ok(context=self._node.context):
            return False     # shut down already (a signal): the manager's timeout tells it
        if active is not None:
            self._publish(active)
        deadline = time.monotonic() + max(0.0, wait)
        while self._sm.state != DEAD and time.monotonic() < deadline:
            time.sleep(0.01)
        return self._sm.state == DEAD

    def destroy(self) -> None:
        """Break (if still formed) and release the publisher, subscription and timer."""
        if self._closed:
            return
        self.break_bond()
        self._closed = True
        node = self._node
        for destroy, entity in ((node.destroy_timer, self._timer),
                                (node.destroy_subscription, self._sub),
                                (node.destroy_publisher, self._pub)):
            try:
                destroy(entity)
            except Exception:  # noqa: B902 - the node is being destroyed on the way out
                pass

    def _on_status(self, msg: Any) -> None:
        with self._lock:
            active = self._sm.on_status(msg.id, msg.instance_id, bool(msg.active),
                                        time.monotonic())
        if active is not None:
            self._publish(active)

    def _on_tick(self) -> None:
        with self._lock:
            active = self._sm.tick(time.monotonic())
            late = self._sm.heartbeat_late
        if active is not None:
            self._publish(active)
        if late and not self._warned_late:
            self._warned_late = True
            self._node.get_logger().warning(
                f'bond {self._sm.id}: no heartbeat from the lifecycle manager for '
                f'{self._sm.heartbeat_timeout:.1f} s; the bond is kept (like nav2 nodes, '
                'this node never times the manager out)')
        elif not late:
            self._warned_late = False

    def _publish(self, active: bool) -> None:
        if self._closed:
            return
        msg = self._status_type()
        msg.header.stamp = self._clock.now().to_msg()
        msg.id = self._sm.id
        msg.instance_id = self._sm.instance_id
        msg.active = active
        msg.heartbeat_timeout = self._sm.heartbeat_timeout
        msg.heartbeat_period = self._sm.heartbeat_period
        try:
            self._pub.publish(msg)
        except Exception:  # noqa: B902 - the context is shutting down under us
            pass


def form(node: Any, heartbeat_period: float, heartbeat_timeout: float) -> Optional[NodeBond]:
    """
    Start the node's bond (end of on_activate), as nav2_util::LifecycleNode::createBond.

    None when ``heartbeat_period`` is 0 (bonds off, as nav2's ``bond_heartbeat_period``
    <= 0) or when the bond messages are not installed (one log line says what the
    lifecycle manager then needs).
    """
    if heartbeat_period <= 0.0:
        return None
    try:
        from bond.msg import Status
    except ImportError:
        node.get_logger().warning(
            'no bond with a lifecycle manager: the ROS package `bond` (bond/msg/Status) is '
            'not installed; nav2_lifecycle_manager then needs bond_timeout: 0.0 '
            '(or apt install ros-$ROS_DISTRO-bond)')
        return None
    name = node.get_name()
    node.get_logger().info(f'Creating bond ({name}) to lifecycle manager.')
    return NodeBond(node, Status, name, heartbeat_period, heartbeat_timeout)
