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
A stand-in for nav2_lifecycle_manager, for tests: the same rules, in Python, as a process.

nav2 has no wheels, so the tests cannot run the real manager. This one does what
nav2_lifecycle_manager (Jazzy / Kilted, lifecycle_manager.cpp) does with the nodes it
manages: configure each node, then activate each; after each activation ``get_state``
must say active and the node's bond must form within bond_timeout / 2; once all are
up, every 200 ms a broken bond is a CRITICAL FAILURE that takes every node down
(deactivate, cleanup, in reverse order, carrying on past failures). Shutting down
deactivates, cleans up and shuts down every node, dropping each bond after its node's
deactivation. What it does not model: respawn (re-running startup when a crashed node
comes back), the manage_nodes / is_active services and diagnostics.

Its side of the bond is written here from bondcpp's behaviour (ros/bond_core), not
shared with the node's implementation (jetson_infer_ros/lifecycle_bond.py), so a test
does not check that code against itself. One difference, on the strict side: bondcpp's
heartbeat timer starts with the sister's second heartbeat; here it starts with the
first.

Every event is a JSON line in ``--events`` (flushed at once), for the test to read:
``state``, ``bond_formed``, ``bond_not_formed``, ``active``, ``startup_failed``,
``critical_failure``, ``heartbeats`` (count, largest gap, the node's announced period
and timeout), ``shutdown``.

    python -m jetson_infer_ros.testing.lifecycle_manager --node-names jetson_infer
        --events events.jsonl --run-for 10
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any, Dict, List, Optional
import uuid

# ros/bond_core bond/msg/Constants
CONNECT_TIMEOUT = 10.0
DISCONNECT_TIMEOUT = 2.0


class ManagerBond:
    """The lifecycle manager's side of one bond (bondcpp: bond::Bond)."""

    def __init__(self, node: Any, bond_id: str, heartbeat_timeout: float,
                 heartbeat_period: float = 0.10, topic: str = 'bond',
                 callback_group: Any = None) -> None:
        from bond.msg import Status
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        self.node, self.id = node, bond_id
        self.instance_id = str(uuid.uuid4())
        self.heartbeat_timeout, self.heartbeat_period = heartbeat_timeout, heartbeat_period
        self.state = 'waiting'
        self.reason = ''
        self.beats: List[float] = []         # arrival of each sister heartbeat while alive
        self.sister: Dict[str, Any] = {}     # the sister's last Status, as announced
        self._status = Status
        self._lock = threading.RLock()
        self._started = time.monotonic()
        self._dying_since = 0.0
        self._pub = node.create_publisher(
            Status, topic, QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        self._sub = node.create_subscription(
            Status, topic, self._on_status,
            QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE),
            callback_group=callback_group)
        self._beat_timer = node.create_timer(heartbeat_period, self._heartbeat,
                                             callback_group=callback_group)
        self._watch_timer = node.create_timer(0.02, self._watch, callback_group=callback_group)

    # ---------------------------------------------------------------- what bondcpp does
    def _on_status(self, msg: Any) -> None:
        if msg.id != self.id or msg.instance_id == self.instance_id:
            return
        now = time.monotonic()
        ack = False
        with self._lock:
            self.sister = {'instance_id': msg.instance_id, 'active': bool(msg.active),
                           'heartbeat_period': float(msg.heartbeat_period),
                           'heartbeat_timeout': float(msg.heartbeat_timeout)}
            if msg.active:
                if self.state == 'waiting':
                    self.state = 'alive'
                if self.state == 'alive':
                    self.beats.append(now)
            elif self.state in ('waiting', 'alive'):
                self._die('the node broke the bond (active: false)')
                ack = True                   # the sister died first: acknowledge at once
            elif self.state == 'awaiting_sister_death':
                self._die(self.reason or 'broken by the manager')
        if ack:
            self._send(False)

    def _watch(self) -> None:
        now = time.monotonic()
        with self._lock:
            if self.state == 'waiting' and now - self._started > CONNECT_TIMEOUT:
                self._die('connect timeout')
            elif self.state == 'alive':
                last = self.beats[-1] if self.beats else self._started
                if now - last > self.heartbeat_timeout:
                    self._die(f'no heartbeat for {self.heartbeat_timeout:.2f} s')
            elif self.state == 'awaiting_sister_death' and \
                    now - self._dying_since > DISCONNECT_TIMEOUT:
                self._die(self.reason)

    def _heartbeat(self) -> None:
        with self._lock:
            state = self.state
        if state in ('waiting', 'alive'):
            self._send(True)
        elif state == 'awaiting_sister_death':
            self._send(False)

    def _die(self, reason: str) -> None:
        self.state = 'dead'
        self.reason = reason

    def _send(self, active: bool) -> None:
        msg = self._status()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.id, msg.instance_id, msg.active = self.id, self.instance_id, active
        msg.heartbeat_timeout = float(self.heartbeat_timeout)
        msg.heartbeat_period = float(self.heartbeat_period)
        try:
            self._pub.publish(msg)
        except Exception:  # noqa: B902 - shutting down
            pass

    # ---------------------------------------------------------------- what the manager calls
    def wait_until_formed(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.state != 'waiting':
                    return True
            time.sleep(0.01)
        with self._lock:
            return self.state != 'waiting'

    def is_broken(self) -> bool:
        with self._lock:
            return self.state == 'dead'

    def break_bond(self) -> None:
        """Break the bond as ~Bond does when the manager drops it: tell the sister."""
        with self._lock:
            if self.state == 'dead':
                return
            if self.state == 'waiting':
                self._die('broken by the manager')
            else:
                self.state, self._dying_since = 'awaiting_sister_death', time.monotonic()
                self.reason = 'broken by the manager'
        self._send(False)

    def destroy(self) -> None:
        self.break_bond()
        deadline = time.monotonic() + 0.1           # ~Bond: waitUntilBroken(100 ms)
        while not self.is_broken() and time.monotonic() < deadline:
            time.sleep(0.01)
        for timer in (self._beat_timer, self._watch_timer):
            self.node.destroy_timer(timer)
        self.node.destroy_subscription(self._sub)
        self.node.destroy_publisher(self._pub)

    def heartbeat_summary(self) -> Dict[str, Any]:
        with self._lock:
            beats = list(self.beats)
        gaps = [b - a for a, b in zip(beats, beats[1:])]
        return {'node': self.id, 'count': len(beats),
                'max_gap_s': round(max(gaps), 4) if gaps else None,
                'announced_period': self.sister.get('heartbeat_period'),
                'announced_timeout': self.sister.get('heartbeat_timeout')}


class LifecycleManager:
    """nav2_lifecycle_manager's startup, bond watch, reset and shutdown."""

    PRIMARY = {'configure': 'inactive', 'activate': 'active', 'deactivate': 'inactive',
               'cleanup': 'unconfigured', 'shutdown': 'finalized'}

    def __init__(self, node_names: List[str], bond_timeout: float = 4.0,
                 service_timeout: float = 5.0, events: Optional[str] = None,
                 name: str = 'lifecycle_manager') -> None:
        import rclpy
        from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
        from rclpy.executors import MultiThreadedExecutor
        self.node_names = list(node_names)
        self.bond_timeout, self.service_timeout = bond_timeout, service_timeout
        self._events = open(events, 'a') if events else None
        rclpy.init(args=[])
        self.node = rclpy.create_node(name)
        self._group = MutuallyExclusiveCallbackGroup()
        self.bonds: Dict[str, ManagerBond] = {}
        self.active = False
        self.failures: List[Dict[str, Any]] = []
        self._bond_timer: Any = None
        self.resetting: Optional[threading.Thread] = None
        self._clients: Dict[str, Any] = {}
        self._executor = MultiThreadedExecutor(num_threads=3)
        self._executor.add_node(self.node)
        self._stop = threading.Event()
        self._spin = threading.Thread(target=self._spin_until_closed, daemon=True)
        self._spin.start()

    def _spin_until_closed(self) -> None:
        # Our own loop, not executor.spin(): close() must know the loop has left rclpy
        # before it destroys the node and the context. A daemon thread still inside
        # rclpy at interpreter exit aborted the process (CI: exit -6 instead of 1, once)
        import rclpy
        from rclpy.exceptions import InvalidHandle
        while not self._stop.is_set() and rclpy.ok():
            try:
                self._executor.spin_once(timeout_sec=0.05)
            except InvalidHandle:
                continue       # a bond's timer destroyed by close() under the wait set
            except Exception:  # noqa: B902 - the context went down under the loop
                if self._stop.is_set() or not rclpy.ok():
                    return
                raise

    # ---------------------------------------------------------------- events
    def event(self, kind: str, **fields: Any) -> None:
        record = dict(kind=kind, t=round(time.monotonic(), 3), **fields)
        line = json.dumps(record)
        print(f'[lifecycle_manager] {line}', flush=True)
        if self._events:
            self._events.write(line + '\n')
            self._events.flush()

    # ---------------------------------------------------------------- services
    def _client(self, name: str, kind: str) -> Any:
        from lifecycle_msgs.srv import ChangeState, GetState
        key = f'{name}/{kind}'
        if key not in self._clients:
            srv = ChangeState if kind == 'change_state' else GetState
            self._clients[key] = self.node.create_client(srv, key)
        return self._clients[key]

    def _call(self, client: Any, request: Any, timeout: Optional[float]) -> Any:
        if not client.wait_for_service(timeout_sec=self.service_timeout):
            raise TimeoutError(f'{client.srv_name} not available after '
                               f'{self.service_timeout:.1f} s')
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout):
            client.remove_pending_request(future)
            raise TimeoutError(f'{client.srv_name} did not answer in {timeout} s')
        return future.result()

    def get_state(self, name: str) -> str:
        from lifecycle_msgs.srv import GetState
        return self._call(self._client(name, 'get_state'), GetState.Request(),
                          self.service_timeout).current_state.label

    def change_state(self, name: str, transition: str) -> bool:
        """One transition as changeStateForNode: the call, then get_state must agree."""
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState
        ids = {'configure': Transition.TRANSITION_CONFIGURE,
               'activate': Transition.TRANSITION_ACTIVATE,
               'deactivate': Transition.TRANSITION_DEACTIVATE,
               'cleanup': Transition.TRANSITION_CLEANUP,
               'shutdown': Transition.TRANSITION_UNCONFIGURED_SHUTDOWN}
        req = ChangeState.Request()
        req.transition.id = ids[transition]
        try:
            # the transition itself has no timeout in nav2 (a configure may build an engine)
            ok = bool(self._call(self._client(name, 'change_state'), req, 600.0).success)
            state = self.get_state(name)
        except TimeoutError as exc:
            self.event('state', node=name, transition=transition, ok=False, error=str(exc))
            return False
        ok = ok and state == self.PRIMARY[transition]
        self.event('state', node=name, transition=transition, ok=ok, state=state)
        if ok and transition == 'activate':
            return self._create_bond(name)
        if ok and transition == 'deactivate':
            self._drop_bond(name)
        return ok

    def change_all(self, transition: str, hard: bool = False) -> bool:
        order = self.node_names if transition in ('configure', 'activate') else \
            list(reversed(self.node_names))
        for name in order:
            if not self.change_state(name, transition) and not hard:
                return False
        return True

    # ---------------------------------------------------------------- bonds
    def _create_bond(self, name: str) -> bool:
        if name in self.bonds or self.bond_timeout <= 0.0:
            return True
        bond = ManagerBond(self.node, name, self.bond_timeout, callback_group=self._group)
        self.bonds[name] = bond
        started = time.monotonic()
        if not bond.wait_until_formed(self.bond_timeout / 2):
            self.event('bond_not_formed', node=name,
                       message=f'Server {name} was unable to be reached after '
                               f'{self.bond_timeout:.2f}s by bond. This server may be '
                               'misconfigured.')
            return False
        self.event('bond_formed', node=name, after_s=round(time.monotonic() - started, 3))
        return True

    def _drop_bond(self, name: str) -> None:
        bond = self.bonds.pop(name, None)
        if bond is not None:
            self.event('heartbeats', **bond.heartbeat_summary())
            bond.destroy()

    def _check_bonds(self) -> None:
        if not self.active or not self.bonds:
            return
        for name in self.node_names:
            bond = self.bonds.get(name)
            if bond is not None and bond.is_broken():
                self.event('critical_failure', node=name, reason=bond.reason,
                           message=f'CRITICAL FAILURE: SERVER {name} IS DOWN after not '
                                   'receiving a heartbeat for '
                                   f'{int(self.bond_timeout * 1000)} ms. Shutting down '
                                   'related nodes.')
                self.active = False
                resetting = threading.Thread(target=self._reset_after_failure, daemon=True)
                resetting.start()
                # main() joins the reset once it sees the failure: started before either
                # is visible (CI: "cannot join thread before it is started", once)
                self.resetting = resetting
                self.failures.append({'node': name, 'reason': bond.reason})
                return

    def _reset_after_failure(self) -> None:
        self.reset(hard=True)
        for name in list(self.bonds):       # a crashed server's bond is not dropped by a
            self._drop_bond(name)           # deactivation: clear it by hand, as nav2 does
        self.event('reset', after='critical_failure')

    # ---------------------------------------------------------------- commands
    def startup(self) -> bool:
        if not (self.change_all('configure') and self.change_all('activate')):
            self.event('startup_failed',
                       message='Failed to bring up all requested nodes. Aborting bringup.')
            return False
        self.active = True
        self.event('active', nodes=self.node_names)
        if self.bond_timeout > 0.0:
            self._bond_timer = self.node.create_timer(0.2, self._check_bonds,
                                                      callback_group=self._group)
        return True

    def _stop_bond_timer(self) -> None:
        if self._bond_timer is not None:
            self.node.destroy_timer(self._bond_timer)
            self._bond_timer = None

    def reset(self, hard: bool = False) -> bool:
        self._stop_bond_timer()
        self.active = False
        ok = self.change_all('deactivate', hard) and self.change_all('cleanup', hard)
        return ok or hard

    def shutdown(self) -> None:
        self._stop_bond_timer()
        self.active = False
        for transition in ('deactivate', 'cleanup', 'shutdown'):
            self.change_all(transition)
        self.event('shutdown')

    def heartbeat_summaries(self) -> None:
        for bond in list(self.bonds.values()):
            self.event('heartbeats', **bond.heartbeat_summary())

    def close(self) -> None:
        import rclpy
        for name in list(self.bonds):
            self._drop_bond(name)
        self._stop.set()
        self._spin.join(timeout=10.0)
        self._executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        rclpy.try_shutdown()
        if self._events:
            self._events.close()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--node-names', nargs='+', required=True)
    parser.add_argument('--bond-timeout', type=float, default=4.0)
    parser.add_argument('--service-timeout', type=float, default=5.0)
    parser.add_argument('--events', default=None, help='JSON lines of what happened')
    parser.add_argument('--run-for', type=float, default=0.0,
                        help='seconds to stay up once active (0: until SIGINT), then shut '
                             'the nodes down')
    parser.add_argument('--wait-nodes', type=float, default=60.0,
                        help="seconds to wait for every node's lifecycle services first")
    args = parser.parse_args(argv)
    manager = LifecycleManager(args.node_names, args.bond_timeout, args.service_timeout,
                               args.events)
    code = 1
    try:
        for name in args.node_names:       # nav2 waits for the services inside each call;
            client = manager._client(name, 'get_state')    # here a slow start is not a fail
            client.wait_for_service(timeout_sec=args.wait_nodes)
        if manager.startup():
            deadline = time.monotonic() + args.run_for if args.run_for else None
            while (deadline is None or time.monotonic() < deadline) and not manager.failures:
                time.sleep(0.05)
            manager.heartbeat_summaries()
            if not manager.failures:
                manager.shutdown()
                code = 0
            elif manager.resetting is not None:
                manager.resetting.join(timeout=120.0)
    except KeyboardInterrupt:
        manager.heartbeat_summaries()
    finally:
        manager.close()
    return code


if __name__ == '__main__':
    sys.exit(main())
