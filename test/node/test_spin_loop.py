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

"""The node's main spin loop: what ends it, what it rides over, what it lets through."""

from __future__ import annotations

import pytest
from rclpy.exceptions import InvalidHandle

from jetson_infer_ros.node import spin_until_shutdown


class Context:
    """An rclpy context that a signal can shut down."""

    def __init__(self):
        self.up = True

    def ok(self):
        return self.up


class Executor:
    """spin_once runs the next scripted step: a callable that may raise."""

    def __init__(self, steps):
        self.steps = list(steps)
        self.spins = 0

    def spin_once(self, timeout_sec=None):
        self.spins += 1
        self.steps.pop(0)()


def _raise(exc):
    def step():
        raise exc
    return step


def test_a_signal_between_ok_and_the_wait_set_ends_the_loop_quietly():
    ctx = Context()

    def signal_then_wait_set():           # SIGTERM lands, then rcl refuses the wait set
        ctx.up = False
        raise RuntimeError('failed to initialize wait set: the given context is not valid')
    ex = Executor([lambda: None, signal_then_wait_set])
    spin_until_shutdown(ex, ctx)
    assert ex.spins == 2


def test_an_entity_destroyed_under_the_wait_set_does_not_end_the_loop():
    ctx = Context()

    def stop():
        ctx.up = False
    ex = Executor([_raise(InvalidHandle('destruction was requested')), lambda: None, stop])
    spin_until_shutdown(ex, ctx)
    assert ex.spins == 3


def test_an_error_while_the_context_is_up_is_not_swallowed():
    ex = Executor([_raise(RuntimeError('a callback bug'))])
    with pytest.raises(RuntimeError, match='a callback bug'):
        spin_until_shutdown(ex, Context())
