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
The node under a lifecycle manager that keeps nav2's rules (testing/lifecycle_manager.py).

The manager is its own process, as nav2_lifecycle_manager is: it configures and activates
the node, gives its bond bond_timeout / 2 to form, watches the heartbeats while camera
frames flow, and takes the system down on a broken bond. Its side of the bond is written
apart from the node's (lifecycle_bond.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from jetson_infer_ros import shm_cleanup

from .conftest import read_jsonl, wait_for

pytestmark = [pytest.mark.ros, pytest.mark.models]


@pytest.fixture
def manager(processes, ros_env, tmp_path):
    def start(*args: str, name: str = 'manager'):
        events = tmp_path / f'{name}.jsonl'
        proc = processes.python(['-m', 'jetson_infer_ros.testing.lifecycle_manager',
                                 '--node-names', 'jetson_infer', '--events', str(events)]
                                + list(args), name, env=ros_env)
        proc.events = events
        return proc
    return start


def _events(mgr, kind=None):
    return [e for e in read_jsonl(mgr.events) if kind is None or e['kind'] == kind]


def _camera(publisher, data):
    return publisher('--images', str(data.photo('opencv-doc/orange.jpg')), '--rate', '30',
                     '--count', '100000', '--wait-subscribers', '0')


def _outputs(lis):
    return [r for r in read_jsonl(lis.out_path) if r['kind'] == 'classification']


def _log(processes, *procs):
    return '\n\n'.join(processes.output(p) for p in procs)


def test_the_manager_brings_the_node_up_and_the_bond_holds_while_frames_flow(
        node_runner, manager, publisher, listener, client, data, processes):
    node = node_runner('infer.yaml', autostart=False)
    lis = listener('classification=classification')
    pub = _camera(publisher, data)
    mgr = manager('--run-for', '8')
    assert wait_for(lambda: mgr.poll() is not None, 150), _log(processes, mgr, node)
    assert mgr.returncode == 0, _log(processes, mgr, node)
    kinds = [e['kind'] for e in _events(mgr)]
    assert kinds.index('bond_formed') < kinds.index('active') < kinds.index('shutdown')
    assert 'critical_failure' not in kinds and 'bond_not_formed' not in kinds
    beats = _events(mgr, 'heartbeats')[0]
    print('heartbeats seen by the manager:', beats)
    assert beats['announced_period'] == pytest.approx(0.1)      # nav2's defaults, from the
    assert beats['announced_timeout'] == pytest.approx(4.0)     # parameter table
    assert beats['count'] >= 20, beats            # heartbeats kept coming for the 8 s
    assert len(_outputs(lis)) >= 10, 'frames did not flow while the manager watched'
    # the manager's shutdown: deactivate (bond dropped after it), cleanup, shutdown
    assert client.get_state() == 'finalized'
    assert 'Creating bond (jetson_infer) to lifecycle manager.' in processes.output(node)
    processes.stop(pub)
    assert processes.stop(node) == 0, processes.output(node)


def test_deactivating_the_node_behind_the_managers_back_breaks_the_bond(
        node_runner, manager, client, processes):
    node = node_runner('infer.yaml', autostart=False)
    mgr = manager()
    assert wait_for(lambda: _events(mgr, 'active'), 120), _log(processes, mgr, node)
    assert client.transition('deactivate')            # e.g. `ros2 lifecycle set` by hand
    assert wait_for(lambda: _events(mgr, 'critical_failure'), 15), _log(processes, mgr, node)
    failure = _events(mgr, 'critical_failure')[0]
    assert failure['node'] == 'jetson_infer'
    assert failure['reason'] == 'the node broke the bond (active: false)'  # not a timeout
    assert wait_for(lambda: mgr.poll() is not None, 60), _log(processes, mgr)
    assert mgr.returncode == 1, _log(processes, mgr, node)
    assert _events(mgr, 'reset'), _log(processes, mgr, node)   # the manager took it down,
    assert node.poll() is None, processes.output(node)    # and the node lived through it
    # (its deactivate arrives while the node is inactive: refused; cleanup then works,
    # unless it raced the node's own deactivation)
    assert client.get_state() in ('unconfigured', 'inactive')


def test_a_killed_node_is_a_broken_bond(node_runner, manager, processes):
    node = node_runner('infer.yaml', autostart=False)
    mgr = manager()
    assert wait_for(lambda: _events(mgr, 'active'), 120), _log(processes, mgr, node)
    shm_cleanup.kill(node)                             # SIGKILL: no goodbye on the bond
    node.wait(10)
    assert wait_for(lambda: _events(mgr, 'critical_failure'), 15), _log(processes, mgr)
    failure = _events(mgr, 'critical_failure')[0]
    assert failure['node'] == 'jetson_infer'
    assert failure['reason'] == 'no heartbeat for 4.00 s'
    # (the reset that follows waits on the dead node's services, as nav2's would: the
    # transition call has no timeout; the fixture stops the manager)


def test_without_the_bond_messages_the_node_says_so_and_the_manager_aborts_bringup(
        node_runner, manager, client, processes, ros_env, tmp_path):
    hidden = tmp_path / 'no_bond' / 'bond'
    hidden.mkdir(parents=True)
    (hidden / '__init__.py').write_text("raise ImportError('bond hidden by the test')\n")
    env = dict(ros_env, PYTHONPATH=str(hidden.parent))
    node = node_runner('infer.yaml', autostart=False, env=env)
    mgr = manager()
    assert wait_for(lambda: mgr.poll() is not None, 120), _log(processes, mgr, node)
    assert mgr.returncode == 1, _log(processes, mgr, node)
    kinds = [e['kind'] for e in _events(mgr) if e['kind'] != 'heartbeats']
    assert kinds == ['state', 'state', 'bond_not_formed', 'startup_failed'], kinds
    assert _events(mgr, 'bond_not_formed')[0]['message'] == (
        'Server jetson_infer was unable to be reached after 4.00s by bond. '
        'This server may be misconfigured.')
    log = processes.output(node)
    assert log.count('no bond with a lifecycle manager') == 1, log
    assert 'bond_timeout: 0.0' in log
    assert client.get_state() == 'active'             # the node itself runs on, bond-less
    assert processes.stop(node) == 0, log


def test_bond_timeout_zero_runs_the_bond_less_node(node_runner, manager, processes):
    """What the README tells users of a node without bond: nav2 with bond_timeout 0.0."""
    node = node_runner('infer.yaml', {'bond_heartbeat_period': 0.0}, autostart=False)
    mgr = manager('--bond-timeout', '0.0', '--run-for', '2')
    assert wait_for(lambda: mgr.poll() is not None, 120), _log(processes, mgr, node)
    assert mgr.returncode == 0, _log(processes, mgr, node)
    kinds = [e['kind'] for e in _events(mgr)]
    assert 'active' in kinds and 'bond_formed' not in kinds
    assert 'Creating bond' not in processes.output(node)


def test_the_managers_side_is_not_the_nodes_code():
    """The manager stand-in must not lean on the implementation it tests."""
    source = (Path(__file__).resolve().parents[2] / 'jetson_infer_ros' / 'testing'
              / 'lifecycle_manager.py').read_text()
    assert 'lifecycle_bond' not in source.replace('lifecycle_bond.py', '')
    assert 'jetson_infer_ros' not in source.split('"""', 2)[2]
