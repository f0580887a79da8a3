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
Child processes of a benchmark: started isolated, watched with psutil, stopped cleanly.

Every ROS process started here gets ``ros_isolation.isolated_env()`` (LOCALHOST
discovery, a domain id of its own run, the large-data Fast DDS profile unless a run is
explicitly about its absence). A Monitor thread samples the node's CPU time and RSS so
a run can report CPU% and peak RSS over exactly its measured window. Processes are
stopped like a user would (SIGINT, then SIGKILL); the Fast DDS shared-memory files of a
killed child are removed with it, only those it owned (shm_cleanup.py).
"""

from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

from jetson_infer_ros import ros_isolation
from jetson_infer_ros import shm_cleanup


class BenchProcessError(RuntimeError):
    """A child process did not come up; the message carries the end of its log."""


def run_env(profile: bool = True, domain_id: Optional[int] = None) -> Dict[str, str]:
    """
    Return an isolated environment on a fresh domain, with or without the shipped profile.

    Any Fast DDS profile inherited from the caller is removed first, so the
    "with profile" runs use exactly the shipped profile and "without" uses Fast DDS
    defaults.
    """
    base = dict(os.environ)
    ros_isolation.set_profile(base, None)
    if domain_id is None:
        # a domain no other run on this machine holds (kept until this process ends)
        domain_id = ros_isolation.random_domain_id()
    env = ros_isolation.isolated_env(base, domain_id=domain_id, large_data_profile=profile)
    env['PYTHONUNBUFFERED'] = '1'
    return env


def bin_dir() -> Path:
    """Return the directory of this Python's console scripts (infer_node lives there)."""
    return Path(sys.executable).parent


class Child:
    """One child process with its log file."""

    def __init__(self, name: str, cmd: Sequence[str], env: Dict[str, str],
                 log_dir: Path) -> None:
        self.name = name
        self.log_path = Path(log_dir) / f'{name}.log'
        with open(self.log_path, 'wb') as log:
            self.proc = subprocess.Popen(list(cmd), stdout=log, stderr=subprocess.STDOUT,
                                         env=env)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors='replace')
        except OSError:
            return ''

    def wait_for(self, text: str, timeout: float) -> None:
        """Wait until ``text`` appears in the log; raise BenchProcessError if it never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if text in self.log():
            return
        tail = '\n'.join(self.log().splitlines()[-15:])
        state = 'exited %s' % self.proc.returncode if self.proc.poll() is not None else 'running'
        raise BenchProcessError(f'{self.name} ({state}) never printed {text!r}; log:\n{tail}')

    def wait_exit(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def stop(self, grace: float = 5.0) -> Optional[int]:
        """SIGINT, then SIGKILL after ``grace`` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            if not self.wait_exit(grace):
                shm_cleanup.kill(self.proc)
        return self.proc.returncode


def stop_all(children: Sequence[Child], grace: float = 5.0) -> None:
    """Stop several children at once: SIGINT to all, then SIGKILL whoever is left."""
    live = [c for c in children if c.proc.poll() is None]
    for c in live:
        c.proc.send_signal(signal.SIGINT)
    deadline = time.monotonic() + grace
    for c in live:
        if not c.wait_exit(max(0.0, deadline - time.monotonic())):
            shm_cleanup.kill(c.proc)


class Monitor(threading.Thread):
    """Sample a process's CPU time and RSS every ``period`` seconds."""

    def __init__(self, pid: int, period: float = 0.05) -> None:
        super().__init__(name=f'monitor-{pid}', daemon=True)
        import psutil
        self._proc = psutil.Process(pid)
        self._period = period
        self._stop_event = threading.Event()
        # (wall time ns, cpu seconds user+system, rss bytes)
        self.samples: List[Tuple[int, float, int]] = []
        self.vm_hwm_bytes = 0

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.sample()
            self._stop_event.wait(self._period)

    def sample(self) -> Optional[Tuple[int, float, int]]:
        try:
            with self._proc.oneshot():
                t = self._proc.cpu_times()
                rss = self._proc.memory_info().rss
        except Exception:  # noqa: B902 - the process ended: keep what we have
            return None
        s = (time.time_ns(), t.user + t.system, rss)
        self.samples.append(s)
        self.vm_hwm_bytes = max(self.vm_hwm_bytes, _vm_hwm(self._proc.pid))
        return s

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=2.0)

    def window(self, start_ns: int, end_ns: int) -> Dict[str, float]:
        """CPU% (100 = one core) and peak sampled RSS between two wall times."""
        inside = [s for s in self.samples if start_ns <= s[0] <= end_ns]
        if len(inside) < 2:
            return {'cpu_percent': float('nan'), 'rss_peak_mb': float('nan')}
        (t0, c0, _), (t1, c1, _) = inside[0], inside[-1]
        return {'cpu_percent': round(100.0 * (c1 - c0) / ((t1 - t0) / 1e9), 1),
                'rss_peak_mb': round(max(s[2] for s in inside) / 2 ** 20, 1)}

    def memory_now(self) -> Dict[str, float]:
        """RSS, USS and PSS now, in MiB (USS/PSS where the platform has them)."""
        out = {}
        try:
            full = self._proc.memory_full_info()
            out['rss_mb'] = round(full.rss / 2 ** 20, 1)
            for key in ('uss', 'pss'):
                if hasattr(full, key):
                    out[f'{key}_mb'] = round(getattr(full, key) / 2 ** 20, 1)
        except Exception:  # noqa: B902 - ended or not permitted: report what we can
            pass
        return out


def _vm_hwm(pid: int) -> int:
    """Return the kernel's peak resident set (VmHWM) in bytes; 0 where unavailable."""
    try:
        with open(f'/proc/{pid}/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0
