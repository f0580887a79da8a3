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
The share directory is laid out as colcon --symlink-install lays it out.

``ros2 launch <package> <file>`` finds the file by walking the package's share directory
with os.walk (ros2launch's get_share_file_path_from_package), which does not enter
symlinked directories: the launch and config files must be linked one by one into real
directories.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
import subprocess
import sys

ROOT = Path(__file__).resolve().parents[2]


def _setup_env():
    spec = importlib.util.spec_from_file_location('setup_env', ROOT / 'ros_env' / 'setup_env.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _walk_for(share: Path, file_name: str):
    """Return every path ros2launch would consider for ``file_name`` (os.walk, by name)."""
    return [os.path.join(root, name) for root, _dirs, files in os.walk(share)
            for name in files if name == file_name]


def test_the_dev_environment_share_dir_is_walkable_like_ros2launch_walks_it(ros_env):
    code = ('from ament_index_python.packages import get_package_share_directory as g; '
            'print(g("jetson_infer_ros"))')
    out = subprocess.run([sys.executable, '-c', code], env=ros_env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    share = Path(out.stdout.strip().splitlines()[-1])
    found = _walk_for(share, 'infer.launch.py')
    assert found == [str(share / 'launch' / 'infer.launch.py')], found
    for name in ('detect.yaml', 'infer.yaml', 'fastdds_large_data.xml', 'fastdds_node.xml'):
        assert _walk_for(share, name) == [str(share / 'config' / name)], name
    for sub in ('launch', 'config'):
        assert not (share / sub).is_symlink(), f'{sub}/ is a directory link'
    # files stay links into the source tree, so edits show without a rebuild
    assert (share / 'launch' / 'infer.launch.py').resolve() == \
        (ROOT / 'launch' / 'infer.launch.py').resolve()


def test_linking_replaces_old_directory_links_and_drops_removed_files(tmp_path):
    setup_env = _setup_env()
    src, prefix = tmp_path / 'src', tmp_path / 'prefix'
    (src / 'launch').mkdir(parents=True)
    (src / 'config').mkdir()
    (src / 'launch' / 'a.launch.py').write_text('x')
    (src / 'config' / 'one.yaml').write_text('1')
    (src / 'config' / 'two.yaml').write_text('2')
    share = prefix / 'share' / 'pkg'
    share.mkdir(parents=True)
    (share / 'launch').symlink_to(src / 'launch')      # what the environment had before
    files = [('share/pkg/launch', ['launch/a.launch.py']),
             ('share/pkg/config', ['config/one.yaml', 'config/two.yaml'])]
    setup_env.link_data_files(src, prefix, files)
    assert _walk_for(share, 'a.launch.py') == [str(share / 'launch' / 'a.launch.py')]
    assert not (share / 'launch').is_symlink()
    assert (share / 'config' / 'two.yaml').is_symlink()
    (src / 'config' / 'two.yaml').write_text('changed')
    assert (share / 'config' / 'two.yaml').read_text() == 'changed'
    setup_env.link_data_files(src, prefix, files[:1] + [('share/pkg/config',
                                                        ['config/one.yaml'])])
    assert sorted(p.name for p in (share / 'config').iterdir()) == ['one.yaml']


def test_the_files_linked_are_setup_pys_data_files():
    setup_env = _setup_env()
    files = dict(setup_env._data_files())
    assert 'launch/infer.launch.py' in files['share/jetson_infer_ros/launch']
    assert 'config/detect.yaml' in files['share/jetson_infer_ros/config']
