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
Drive a node from outside, the way a lifecycle manager and `ros2 param set` do.

Service calls are retried: a service that was discovered at once was seen to time out
on its first call on these machines.
"""

from __future__ import annotations

import time
from typing import Any, Optional


class RosClient:
    """Lifecycle transitions, state queries and parameter sets against one node."""

    def __init__(self, node_fqn: str = '/jetson_infer', name: str = 'test_client') -> None:
        import rclpy
        from lifecycle_msgs.srv import ChangeState, GetState
        from rcl_interfaces.srv import GetParameters, SetParameters
        self._rclpy = rclpy
        self.context = rclpy.context.Context()
        rclpy.init(args=[], context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.fqn = node_fqn
        self._change: Any = self.node.create_client(ChangeState, f'{node_fqn}/change_state')
        self._get: Any = self.node.create_client(GetState, f'{node_fqn}/get_state')
        self._set_params: Any = self.node.create_client(SetParameters,
                                                        f'{node_fqn}/set_parameters')
        self._get_params: Any = self.node.create_client(GetParameters,
                                                        f'{node_fqn}/get_parameters')

    def close(self) -> None:
        self.node.destroy_node()
        self._rclpy.shutdown(context=self.context)

    def _call(self, client: Any, request: Any, timeout: float = 30.0, tries: int = 5) -> Any:
        from rclpy.executors import SingleThreadedExecutor
        deadline = time.monotonic() + timeout
        if not client.wait_for_service(timeout_sec=timeout):
            raise TimeoutError(f'service {client.srv_name} not available')
        executor = SingleThreadedExecutor(context=self.context)
        executor.add_node(self.node)
        try:
            for _ in range(tries):
                future = client.call_async(request)
                per_try = max(0.5, min(timeout / tries * 2, deadline - time.monotonic()))
                executor.spin_until_future_complete(future, timeout_sec=per_try)
                if future.done():
                    return future.result()
                client.remove_pending_request(future)
            raise TimeoutError(f'service {client.srv_name} did not answer')
        finally:
            executor.remove_node(self.node)
            executor.shutdown()

    def wait_for_node(self, timeout: float = 30.0) -> None:
        if not self._get.wait_for_service(timeout_sec=timeout):
            raise TimeoutError(f'{self.fqn} did not come up')

    def get_state(self, timeout: float = 10.0) -> str:
        from lifecycle_msgs.srv import GetState
        return self._call(self._get, GetState.Request(), timeout).current_state.label

    def transition(self, label: str, timeout: float = 120.0) -> bool:
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState
        ids = {'configure': Transition.TRANSITION_CONFIGURE,
               'activate': Transition.TRANSITION_ACTIVATE,
               'deactivate': Transition.TRANSITION_DEACTIVATE,
               'cleanup': Transition.TRANSITION_CLEANUP,
               'shutdown': Transition.TRANSITION_UNCONFIGURED_SHUTDOWN}
        if label == 'shutdown':
            state = self.get_state()
            ids['shutdown'] = {'inactive': Transition.TRANSITION_INACTIVE_SHUTDOWN,
                               'active': Transition.TRANSITION_ACTIVE_SHUTDOWN}.get(
                                   state, Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
        req = ChangeState.Request()
        req.transition.id = ids[label]
        return bool(self._call(self._change, req, timeout, tries=1).success)

    def set_parameter(self, name: str, value: Any) -> Any:
        """Set one parameter; returns the SetParametersResult (successful, reason)."""
        from rclpy.parameter import Parameter
        from rcl_interfaces.srv import SetParameters
        req = SetParameters.Request()
        req.parameters = [Parameter(name, value=value).to_parameter_msg()]
        return self._call(self._set_params, req).results[0]

    def get_parameter(self, name: str) -> Optional[Any]:
        from rclpy.parameter import parameter_value_to_python
        from rcl_interfaces.srv import GetParameters
        req = GetParameters.Request()
        req.names = [name]
        values = self._call(self._get_params, req).values
        return parameter_value_to_python(values[0]) if values else None

    def dump_parameters(self) -> dict:
        """
        Return what ``ros2 param dump`` prints: ListParameters, then GetParameters of all.

        rclpy answers GetParameters with no values at all when one name has none, so the
        result maps names to values only when every name got one (else it is empty).
        """
        from rclpy.parameter import parameter_value_to_python
        from rcl_interfaces.srv import GetParameters, ListParameters
        lister: Any = self.node.create_client(ListParameters, f'{self.fqn}/list_parameters')
        try:
            names = sorted(self._call(lister, ListParameters.Request()).result.names)
        finally:
            self.node.destroy_client(lister)
        req = GetParameters.Request()
        req.names = names
        values = self._call(self._get_params, req).values
        self.last_dump_names = names
        return {n: parameter_value_to_python(v) for n, v in zip(names, values)} \
            if len(values) == len(names) else {}

    def set_parameters(self, parameters: list) -> list:
        """One SetParameters call with many parameters, as ``ros2 param load`` makes."""
        from rcl_interfaces.srv import SetParameters
        req = SetParameters.Request()
        req.parameters = list(parameters)
        return list(self._call(self._set_params, req).results)

    def node_names(self, timeout: float = 5.0) -> list:
        """Return the full names of all nodes in the graph (``ros2 node list -a``)."""
        deadline = time.monotonic() + timeout
        names: list = []
        while time.monotonic() < deadline:
            names = sorted(ns.rstrip('/') + '/' + n for n, ns in
                           self.node.get_node_names_and_namespaces())
            if any(n == self.fqn for n in names):
                break
            time.sleep(0.2)
        return names
