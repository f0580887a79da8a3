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

"""A transition the current state does not have is refused and the node lives (Jazzy too)."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.ros, pytest.mark.models]


def test_a_transition_in_the_wrong_state_is_refused_not_fatal(node_runner, client, processes):
    node = node_runner('infer.yaml', autostart=False)
    client.wait_for_node()
    assert not client.transition('deactivate')        # unconfigured has no deactivate
    assert not client.transition('activate')
    assert client.get_state() == 'unconfigured'
    assert node.poll() is None, processes.output(node)
    assert client.transition('configure')             # and it still works normally
    assert not client.transition('configure')
    assert client.get_state() == 'inactive'
    assert node.poll() is None, processes.output(node)
    assert processes.stop(node) == 0, processes.output(node)
