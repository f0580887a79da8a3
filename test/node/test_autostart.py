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

"""`infer_node --autostart` spins first, so its services answer during a long configure."""

from __future__ import annotations

import errno
import os
from pathlib import Path
import threading
import time

import pytest

from .conftest import wait_for

pytestmark = [pytest.mark.ros, pytest.mark.models]

LABELS = Path(__file__).resolve().parents[2] / 'jetson_infer_ros' / 'labels' / 'imagenet.txt'


class FifoFeeder:
    """Serve a file through a named pipe, only once released: until then, readers block."""

    def __init__(self, fifo: Path, content: bytes) -> None:
        self.fifo, self.content = fifo, content
        self.released = threading.Event()
        self.stopped = threading.Event()
        self.served = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        self.released.wait()
        while not self.stopped.is_set():
            try:                                  # no reader yet: ENXIO, try again
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
                time.sleep(0.02)
                continue
            try:
                os.write(fd, self.content)        # fits the pipe buffer: written at once
                self.served += 1
            except OSError:                       # the reader read what it needed and left
                pass
            finally:
                os.close(fd)
            time.sleep(0.05)

    def stop(self) -> None:
        self.released.set()
        self.stopped.set()
        self._thread.join(timeout=5)


def test_autostart_answers_services_while_configure_is_still_running(
        node_runner, client, processes, tmp_path):
    # A configure that cannot finish until the test lets it: its labels file is a named
    # pipe that nothing writes yet (open() blocks), as an engine build keeps it busy.
    fifo = tmp_path / 'labels.fifo'
    os.mkfifo(fifo)
    content = LABELS.read_bytes()
    assert len(content) < 65536                   # one write into the pipe buffer
    feeder = FifoFeeder(fifo, content)
    try:
        node = node_runner('infer.yaml', {'labels_file': str(fifo)}, autostart=True)
        client.wait_for_node(60)
        states = []
        for _ in range(3):
            states.append(client.get_state(timeout=10))
            time.sleep(0.5)
        assert states == ['configuring'] * 3, processes.output(node)
        assert client.get_parameter('model_path') == 'efficientnet_lite0'
        feeder.released.set()                     # the "build" finishes
        assert wait_for(lambda: client.get_state() == 'active', 60), processes.output(node)
        assert feeder.served >= 1
    finally:
        feeder.stop()
    assert processes.stop(node) == 0, processes.output(node)
