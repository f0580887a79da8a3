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

"""Several cameras, one node, one engine: outputs per camera, no cross-talk."""

from __future__ import annotations

import json

import pytest

from .conftest import read_jsonl, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.models]

# photo -> the ImageNet class EfficientNet-Lite0 gives it (test/data/classification_expected)
PHOTOS = [('opencv-doc/baboon.jpg', 372), ('opencv-doc/orange.jpg', 950),
          ('opencv-doc/apple.jpg', 948), ('opencv-doc/squirrel_cls.jpg', 335)]


@pytest.mark.parametrize('cameras,batch', [(2, 2), (4, 4)])
def test_cameras_share_one_node_without_cross_talk(cameras, batch, node_runner, publisher,
                                                   listener, data, processes, tmp_path):
    topics = [f'cam{i}/image' for i in range(cameras)]
    node = node_runner('infer.yaml', {'image_topics': topics, 'max_batch': batch,
                                      'max_batch_wait_ms': 20.0})
    lis = listener(*[f'classification=cam{i}/classification' for i in range(cameras)],
                   'diagnostics=/diagnostics')
    pubs, logs = [], []
    for i in range(cameras):
        log = tmp_path / f'pub{i}.jsonl'
        logs.append(log)
        pubs.append(publisher('--topic', topics[i], '--images', str(data.photo(PHOTOS[i][0])),
                              '--width', '640', '--height', '480', '--encoding', 'rgb8',
                              '--rate', '10', '--count', '20', '--frame-id', f'frame_cam{i}',
                              '--log', str(log), name=f'pub{i}'))
    assert wait_for(lambda: all(p.poll() is not None for p in pubs), 90)
    wait_for(lambda: False, 1.5)
    outputs = [r for r in read_jsonl(lis.out_path) if r['kind'] == 'classification']
    assert outputs, processes.output(node)
    for i in range(cameras):
        mine = [o for o in outputs if o['topic'] == f'cam{i}/classification']
        sent = {json.loads(line)['stamp_ns'] for line in logs[i].read_text().splitlines()}
        assert len(mine) >= 10, (i, len(mine), processes.output(node))
        for o in mine:
            assert o['frame_id'] == f'frame_cam{i}'         # its own header ...
            assert o['stamp_ns'] in sent                     # ... stamped by its camera
            assert o['results'][0][0] == PHOTOS[i][1]        # and its own picture's class
    diag = [r for r in read_jsonl(lis.out_path) if r['kind'] == 'diagnostics'][-1]
    names = [s['name'] for s in diag['status']]
    assert len(names) == cameras + 1          # the node, then one status per camera
    per_cam = {s['values']['topic']: s['values'] for s in diag['status'][1:]}
    assert set(per_cam) == set(topics)
    for values in per_cam.values():
        assert int(values['frames_received']) == int(values['frames_processed']) + \
            int(values['frames_dropped'])


@pytest.mark.parametrize('overrides,reason', [
    ({'image_topics': ['a/image', 'a/image']}, 'duplicate topic'),
    ({'image_topics': ['a/image', 'a/image_rect']}, 'same output namespace'),
    ({'image_topics': ['a/image', 'b/image'], 'output_namespaces': ['x']}, 'output_namespaces'),
])
def test_bad_camera_lists_fail_configure_with_a_reason(overrides, reason, node_runner, client,
                                                       processes):
    node = node_runner('infer.yaml', overrides, autostart=False)
    client.wait_for_node()
    assert not client.transition('configure')
    assert client.get_state() == 'unconfigured'
    assert wait_for(lambda: reason in processes.output(node), 5), processes.output(node)
    assert node.poll() is None
