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


@pytest.fixture
def node():
    import rclpy
    from rclpy.context import Context

    from jetson_infer_ros.node import Camera, InferenceNode
    ctx = Context()
    rclpy.init(context=ctx)
    n = InferenceNode('take_gate_test', context=ctx)
    n.cameras = [Camera(0, 'image', '/')]
    n._collector = BatchCollector(1, on_drop=n._count_drop)
    yield n
    n._collector = None
    n.teardown()
    n._input.close()
    n.destroy_node()
    rclpy.shutdown(context=ctx)


def test_busy_worker_shuts_the_gate_and_skipped_frames_are_counted(node):
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
    assert (snap['received'], snap['taken'], snap['drops']['stale']) == (5, 2, 3)
    assert cam.stats.snapshot()['received'] == 5


def test_without_sequence_numbers_every_frame_is_taken_as_before(node):
    cam = node.cameras[0]
    node._on_image(cam, b'frame', _info(None))
    assert not cam.sequences.counting
    node._worker_busy = True
    assert node._may_take(cam)                # nothing could count what it left behind
    node._on_image(cam, b'next', _info(None))     # replaces the waiting frame: counted
    snap = node.stats.snapshot()
    assert (snap['received'], snap['taken'], snap['drops']['stale']) == (2, 2, 1)
