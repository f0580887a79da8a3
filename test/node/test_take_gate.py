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

"""When the node leaves frames in the middleware, and how it counts them."""

from __future__ import annotations

import pytest

from jetson_infer_ros.batching import BatchCollector

pytestmark = [pytest.mark.ros]

GID = {'implementation_identifier': 'rmw_fastrtps_cpp', 'data': b'\x07' * 16}


def _info(seq, gid=GID):
    return {'source_timestamp': 0, 'received_timestamp': 0,
            'publication_sequence_number': seq, 'reception_sequence_number': None,
            'publisher_gid': gid}


class _Node:
    """An InferenceNode on its own context, never spun: its input logic is called directly."""

    def __enter__(self):
        import rclpy
        from rclpy.context import Context

        from jetson_infer_ros.node import Camera, InferenceNode
        self.ctx = Context()
        rclpy.init(context=self.ctx)
        self.node = InferenceNode('take_gate_test', context=self.ctx)
        self.node.cameras = [Camera(0, 'image', '/')]
        self.node._collector = BatchCollector(1, on_drop=self.node._count_drop)
        return self.node

    def __exit__(self, *exc):
        import rclpy
        self.node._collector = None
        self.node.teardown()
        self.node._input.close()
        self.node.destroy_node()
        rclpy.shutdown(context=self.ctx)


def _busy_worker_shuts_the_gate():
    with _Node() as node:
        cam = node.cameras[0]
        assert node._may_take(cam)
        node._on_image(cam, b'frame 10', _info(10))
        assert not node._may_take(cam)            # a frame waits for the worker
        assert node._collector.collect(timeout=0)
        node._worker_busy = True
        assert not node._may_take(cam)            # the worker is on it
        node._worker_busy = False
        assert node._may_take(cam)
        node._on_image(cam, b'frame 14', _info(14))   # 11, 12, 13 were replaced unread
        snap = node.stats.snapshot()
        return (snap['received'], snap['taken'], snap['drops']['stale'],
                cam.stats.snapshot()['received'])


def _without_sequence_numbers():
    with _Node() as node:
        cam = node.cameras[0]
        node._on_image(cam, b'frame', _info(None))
        counting = cam.sequences.counting
        node._worker_busy = True
        may_take = node._may_take(cam)
        node._on_image(cam, b'next', _info(None))     # replaces the waiting frame
        snap = node.stats.snapshot()
        return counting, may_take, (snap['received'], snap['taken'], snap['drops']['stale'])


def test_busy_worker_shuts_the_gate_and_skipped_frames_are_counted(in_fresh_process):
    assert in_fresh_process(_busy_worker_shuts_the_gate) == (5, 2, 3, 5)


def test_without_sequence_numbers_every_frame_is_taken_as_before(in_fresh_process):
    counting, may_take, counts = in_fresh_process(_without_sequence_numbers)
    assert not counting
    assert may_take                           # nothing could count what it left behind
    assert counts == (2, 2, 1)                # the replaced frame is counted as stale
