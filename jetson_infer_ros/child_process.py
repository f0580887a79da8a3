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
Child processes stopped the way a user stops them, and their logs read back.

A ROS node shuts down cleanly on SIGINT (Ctrl-C): it leaves the graph, so the other
processes see it go at once, and it removes its shared-memory files. Only a child that
has not finished ``grace`` seconds after SIGINT is killed, and the Fast DDS files it owned
are removed then (shm_cleanup.py). The demo, the regression
runs and the test fixtures start nodes, players and recorders as their own processes,
and stop them, and quote their logs in errors, all the same way.
"""

from __future__ import annotations

from pathlib import Path
import signal
import subprocess
from typing import Union

from jetson_infer_ros import shm_cleanup


def stop(proc: subprocess.Popen, grace: float = 10.0) -> int:
    """Stop ``proc`` if it still runs: SIGINT, then SIGKILL after ``grace`` s; return its code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            shm_cleanup.kill(proc)     # and remove the shared-memory files it leaves
    return proc.returncode


def read_log(path: Union[str, Path]) -> str:
    """Return a child's log file ('' when it cannot be read, e.g. not written yet)."""
    try:
        return Path(path).read_text(errors='replace')
    except OSError:
        return ''


def log_tail(path: Union[str, Path], n: int) -> str:
    """Return the last ``n`` lines of a child's log on one line, for an error message."""
    return ' | '.join(line.strip() for line in read_log(path).splitlines()[-n:])
