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
A transition asked for in the wrong state is refused, never fatal, on every distro.

Jazzy's rclpy (7.x) lets the RCLError of an unregistered transition ("Transition is not
registered") escape the change_state service callback; the executor re-raises it out of
spin_once and the node process dies. Seen under nav2's rules: after a broken bond the
lifecycle manager deactivates every node, and one still deactivating was killed by it.
Kilted's rclpy (9.x) answers ``success: false``, as rclcpp does. The guard makes Jazzy
answer the same way.
"""

from __future__ import annotations

from typing import Any


def refuse_invalid_transitions(node: Any) -> None:
    """Wrap the node's change_state service so an invalid transition answers False."""
    from rclpy.impl.implementation_singleton import rclpy_implementation as _rclpy
    service = node._service_change_state
    serve = service.callback

    def guarded(request: Any, response: Any) -> Any:
        try:
            return serve(request, response)
        except _rclpy.RCLError as exc:
            state = node._state_machine.current_state[1]
            node.get_logger().error(
                f'transition {request.transition.id} {request.transition.label!r} refused '
                f'in state {state}: {str(exc).splitlines()[0]}')
            response.success = False
            return response

    service.callback = guarded
