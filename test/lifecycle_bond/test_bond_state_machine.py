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

"""The node's side of the bond follows bondcpp's state machine, step by step in time."""

from __future__ import annotations

from jetson_infer_ros.lifecycle_bond import (ALIVE, AWAIT_SISTER_DEATH, BondStateMachine,
                                             CONNECT_TIMEOUT, DEAD, DISCONNECT_TIMEOUT,
                                             WAITING)

SISTER = 'manager-instance'


def _sm(period=0.1, timeout=4.0):
    return BondStateMachine('jetson_infer', period, timeout, now=0.0, instance_id='mine')


def _published(sm, start, stop, step=0.05):
    """Run the timer from ``start`` to ``stop``; return (time, active) of what it sent."""
    out, t = [], start
    while t < stop - 1e-9:
        active = sm.tick(t)
        if active is not None:
            out.append((round(t, 3), active))
        t += step
    return out


def test_heartbeats_every_period_while_waiting_and_alive():
    sm = _sm(period=0.1)
    sent = _published(sm, 0.0, 0.5)
    assert [a for _, a in sent] == [True] * 5
    assert [t for t, _ in sent] == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert sm.on_status('jetson_infer', SISTER, True, 0.5) is None
    assert sm.state == ALIVE
    assert [a for _, a in _published(sm, 0.5, 1.0)] == [True] * 5


def test_messages_of_other_bonds_and_our_own_are_ignored():
    sm = _sm()
    sm.on_status('amcl', SISTER, True, 0.1)
    sm.on_status('jetson_infer', 'mine', True, 0.1)       # our own heartbeat, heard back
    assert sm.state == WAITING
    sm.on_status('amcl', SISTER, False, 0.2)
    assert sm.state == WAITING


def test_breaking_publishes_false_until_the_sister_answers():
    sm = _sm()
    sm.on_status('jetson_infer', SISTER, True, 0.0)
    assert sm.break_bond(1.0) is False
    assert sm.state == AWAIT_SISTER_DEATH
    assert [a for _, a in _published(sm, 1.0, 1.3)] == [False] * 6    # every 50 ms
    assert sm.on_status('jetson_infer', SISTER, True, 1.3) is None    # late heartbeat
    assert sm.state == AWAIT_SISTER_DEATH
    assert sm.on_status('jetson_infer', SISTER, False, 1.35) is None
    assert sm.state == DEAD
    assert _published(sm, 1.4, 2.0) == []


def test_a_broken_bond_the_sister_never_answers_dies_after_the_disconnect_timeout():
    sm = _sm()
    sm.on_status('jetson_infer', SISTER, True, 0.0)
    sm.break_bond(1.0)
    _published(sm, 1.0, 1.0 + DISCONNECT_TIMEOUT - 0.1)
    assert sm.state == AWAIT_SISTER_DEATH
    _published(sm, 1.0 + DISCONNECT_TIMEOUT - 0.1, 1.0 + DISCONNECT_TIMEOUT + 0.1)
    assert sm.state == DEAD


def test_the_sister_breaking_first_is_acknowledged_at_once():
    sm = _sm()
    sm.on_status('jetson_infer', SISTER, True, 0.0)
    assert sm.on_status('jetson_infer', SISTER, False, 0.5) is False   # ack: active false
    assert sm.state == DEAD and sm.sister_died_first
    assert _published(sm, 0.5, 1.0) == []
    assert sm.break_bond(1.0) is None                   # nothing left to break


def test_no_sister_within_the_connect_timeout_is_a_dead_bond():
    sm = _sm()
    _published(sm, 0.0, CONNECT_TIMEOUT - 0.05)
    assert sm.state == WAITING
    _published(sm, CONNECT_TIMEOUT - 0.05, CONNECT_TIMEOUT + 0.1)
    assert sm.state == DEAD
    assert _published(sm, CONNECT_TIMEOUT + 0.1, CONNECT_TIMEOUT + 1.0) == []


def test_a_quiet_manager_is_reported_but_never_breaks_the_bond():
    sm = _sm(period=0.1, timeout=4.0)
    sm.on_status('jetson_infer', SISTER, True, 0.0)
    sent = _published(sm, 0.0, 10.0)
    assert sm.state == ALIVE and sm.heartbeat_late
    assert len(sent) == 100 and all(a for _, a in sent)   # heartbeats go on regardless
    sm.on_status('jetson_infer', SISTER, True, 10.0)
    assert not sm.heartbeat_late


def test_breaking_before_the_sister_came_is_immediate():
    sm = _sm()
    assert sm.break_bond(0.3) is False
    assert sm.state == DEAD
    assert _published(sm, 0.3, 1.0) == []


def test_the_period_and_timeout_given_are_what_the_bond_announces():
    sm = _sm(period=0.25, timeout=6.0)
    assert (sm.heartbeat_period, sm.heartbeat_timeout) == (0.25, 6.0)
    assert [t for t, _ in _published(sm, 0.0, 1.0)] == [0.0, 0.25, 0.5, 0.75]
