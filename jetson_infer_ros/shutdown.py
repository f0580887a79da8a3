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
Leaving on a signal: exit 0, no traceback, however the signals arrive.

What happens on SIGINT or SIGTERM: rclpy's own handler (which must stay installed while
the executor spins: replacing it was seen to hang the executor) wakes the executors and
shuts the context down from a thread of its own, at once. Two things then went wrong:

- the inference worker, mid-batch, published into the dead context and printed
  ``RCLError: publisher's context is invalid`` (every signal under load). The context goes
  before the main thread can stop the worker, so the worker itself must take that error
  for what it is, count the frame, and stop (``context_gone``).
- Ctrl-C of ``ros2 launch`` signals the whole process group and launch then signals the
  node again, so a second SIGINT arrives during the teardown. rclpy chains SIGINT to
  Python's handler, which raised KeyboardInterrupt in the middle of the teardown, and the
  process died of it (``exit code -2``). ``hold_signals`` installs, before rclpy.init, a
  Python handler that rclpy chains to: the first signal acts as before (rclpy shuts the
  context down, so the spin loop ends; a first SIGINT also raises KeyboardInterrupt, as
  Python's handler does), and a later one is only noted. Once the spin loop has ended,
  ``ignore_from_now`` ignores both signals outright, through the teardown (bounded by
  node.py's ``_leave_middleware``) and the interpreter's exit.
"""

from __future__ import annotations

import signal
import threading
from typing import Any, List

_received: List[int] = []


def hold_signals() -> bool:
    """
    Make SIGINT/SIGTERM leave through the normal shutdown path only; call before rclpy.init.

    Returns False (and changes nothing) off the main thread, where Python cannot set
    signal handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _note)
    return True


def ignore_from_now() -> bool:
    """
    Ignore SIGINT/SIGTERM for the rest of the process; call once the spin loop has ended.

    The teardown and the interpreter's own exit come next. A repeat signal during the
    exit was fatal: Python resets handlers it set to SIG_DFL while it finalizes (it
    leaves SIG_IGN alone), and Fast DDS's threads are still stopping then, so a SIGINT
    that arrives there killed the process (``exit code -2``). Safe now, not earlier:
    rclpy's handler is replaced here, which hangs an executor that still spins.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)
    return True


def received() -> List[int]:
    """Return the signals noted so far (the first one and any repeats)."""
    return list(_received)


def _note(signum: int, _frame: Any) -> None:
    # rclpy's C handler runs first and chains here; it does the shutting down.
    first = not _received
    _received.append(signum)
    if first and signum == signal.SIGINT:
        # as Python's own handler does: interrupts a long start-up (an autostart
        # configure); the spin loop catches it. Never again: a repeat would land in the
        # teardown.
        raise KeyboardInterrupt


def context_gone(context: Any) -> bool:
    """Whether an error just raised by a publish was the context shutting down under it."""
    try:
        return not context.ok()
    except Exception:  # noqa: B902 - a context too far gone to answer is gone
        return True
