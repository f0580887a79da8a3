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
No DDS traffic leaves the machine from what tests, the demo and benchmarks start.

Captures every frame on the machine's non-loopback interfaces (AF_PACKET, root only)
while a camera publisher, the node and a listener exchange camera frames with the
isolated environment (LOCALHOST discovery, random domain, the shipped profile), and
counts RTPS packets among them; the same capture on the loopback interface must see the
exchange, so a silent capture cannot pass. Skipped only where
raw sockets are not allowed (not root), which is not the case in CI.
"""

from __future__ import annotations

import os
from pathlib import Path
import socket
import threading
import time

import pytest

from .conftest import read_jsonl, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.models]


def _interfaces():
    return [p.name for p in Path('/sys/class/net').iterdir() if p.name != 'lo']


class Capture:
    """Counts RTPS packets seen on the given interfaces."""

    def __init__(self, interfaces):
        self.rtps = 0
        self.frames = 0
        self._stop = threading.Event()
        self._socks = []
        for name in interfaces:
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
            s.bind((name, 0))
            s.settimeout(0.2)
            self._socks.append(s)
        self._threads = [threading.Thread(target=self._run, args=(s,), daemon=True)
                         for s in self._socks]
        for t in self._threads:
            t.start()

    def _run(self, sock):
        while not self._stop.is_set():
            try:
                data = sock.recv(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            self.frames += 1
            if b'RTPS' in data[14:80]:
                self.rtps += 1

    def close(self):
        self._stop.set()
        for t in self._threads:
            t.join(2)
        for s in self._socks:
            s.close()


@pytest.mark.skipif(os.geteuid() != 0, reason='raw packet capture needs root')
def test_zero_dds_packets_leave_the_machine(node_runner, publisher, listener, data,
                                            processes):
    outside = Capture(_interfaces())
    loopback = Capture(['lo'])      # the positive control: the same detector on lo
    try:
        node = node_runner('infer.yaml')
        lis = listener('classification=classification')
        pub = publisher('--images', str(data.photo('opencv-doc/baboon.jpg')), '--width', '640',
                        '--height', '480', '--encoding', 'rgb8', '--rate', '30', '--count', '90')
        assert wait_for(lambda: pub.poll() is not None, 60)
        assert wait_for(lambda: len(read_jsonl(lis.out_path)) > 30, 15), processes.output(node)
        time.sleep(2.0)      # discovery announcements keep going: give them time to show
    finally:
        outside.close()
        loopback.close()
    assert loopback.rtps > 0, 'the capture saw no RTPS at all: it would not notice a leak'
    assert outside.rtps == 0, f'{outside.rtps} RTPS packets left the machine'
