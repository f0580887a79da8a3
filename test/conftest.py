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
Session-wide isolation and process fixtures for every test.

The environment is isolated at import time, before any test module can import rclpy:
DDS discovery stays on this machine and each test session gets its own random domain.
"""

from __future__ import annotations

import os
from pathlib import Path
import subprocess
import sys
import time
from typing import List, Optional

import pytest

from jetson_infer_ros import child_process
from jetson_infer_ros import ros_isolation
from jetson_infer_ros import shm_cleanup

ROOT = Path(__file__).resolve().parent.parent

ISOLATED_ENV = ros_isolation.apply_to_this_process(
    domain_id=int(os.environ['JETSON_INFER_TEST_DOMAIN_ID'])
    if 'JETSON_INFER_TEST_DOMAIN_ID' in os.environ else None)


class ProcessGroup:
    """Child processes of one test, stopped like a user would: SIGINT, then SIGKILL."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.procs: List[subprocess.Popen] = []

    def start(self, cmd: List[str], name: str, env: Optional[dict] = None,
              cwd: Optional[Path] = None) -> subprocess.Popen:
        log = open(self.log_dir / f'{name}.log', 'wb')
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                env=env or dict(ISOLATED_ENV), cwd=str(cwd or ROOT))
        proc.log_path = self.log_dir / f'{name}.log'  # type: ignore[attr-defined]
        log.close()
        self.procs.append(proc)
        return proc

    def python(self, args: List[str], name: str, env: Optional[dict] = None) -> subprocess.Popen:
        return self.start([sys.executable] + args, name, env=env)

    def stop(self, proc: subprocess.Popen, grace: float = 5.0) -> int:
        return child_process.stop(proc, grace)

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)

    @staticmethod
    def output(proc: subprocess.Popen) -> str:
        return Path(proc.log_path).read_text(errors='replace')  # type: ignore[attr-defined]


@pytest.fixture
def processes(tmp_path):
    group = ProcessGroup(tmp_path)
    yield group
    group.stop_all()


@pytest.fixture
def in_fresh_process():
    """
    Run a module-level function in a new interpreter and return its result.

    rclpy started inside the pytest process leaves middleware threads behind, and a later
    test whose tool forks without exec (ament_flake8's worker pool) hangs on their locks
    (seen: flake8 after an in-process InferenceNode). Such tests run their ROS part here.
    """
    import multiprocessing

    def run(fn, *args, timeout: float = 120.0):
        with multiprocessing.get_context('spawn').Pool(1) as pool:
            return pool.apply_async(fn, args).get(timeout)
    return run


@pytest.fixture(scope='session')
def ros_env():
    """Environment for child processes: same isolated domain as this test session."""
    return dict(ISOLATED_ENV)


@pytest.fixture(scope='session')
def real_data():
    """Return the prepared real pictures and video (fail with the command to run if missing)."""
    from jetson_infer_ros.assets import data
    try:
        return data.cached_data()
    except data.DataNotPreparedError as exc:
        missing = str(exc)
    pytest.fail(missing, pytrace=False)


@pytest.fixture(scope='session')
def prepared_model():
    """
    Return a function from a default model's name to its (model.onnx path, meta).

    Tests of the real models use the user's prepared cache and fail, never skip, when a
    model is missing, with the command that prepares it (``make test`` runs it first).
    """
    from jetson_infer_ros.assets import models

    def load(name: str):
        try:
            return models.model_path(name), models.model_meta(name)
        except models.ModelNotPreparedError as exc:
            missing = str(exc)
        pytest.fail(missing, pytrace=False)
    return load


def pytest_sessionfinish(session, exitstatus):
    """Remove the Fast DDS files of killed children that were still in use at their kill."""
    time.sleep(0.2)
    shm_cleanup.remove_claimed()


def pytest_terminal_summary(terminalreporter):
    """Print what the real TensorRT builder built in this session (engine sizes, its lines)."""
    builds = sys.modules.get('jetson_infer_ros.testing.trt_builds')
    lines = builds.summary() if builds is not None else []
    if lines:
        terminalreporter.section('TensorRT engine builds (real builder)')
        for line in lines:
            terminalreporter.write_line(line)
