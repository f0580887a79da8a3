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
Every source file carries the Apache-2.0 header.

ament_copyright does this on a ROS install; it is not on PyPI, so the check lives here.
"""

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEADER = [
    '# Copyright 20',
    '#',
    '# Licensed under the Apache License, Version 2.0 (the "License");',
]
SOURCE_DIRS = ('jetson_infer_ros', 'test', 'launch', 'ros_env', 'scripts', 'tools')


def _sources():
    for d in SOURCE_DIRS:
        base = ROOT / d
        if base.exists():
            yield from sorted(p for p in base.rglob('*.py') if '__pycache__' not in p.parts)
    yield ROOT / 'setup.py'


@pytest.mark.copyright
@pytest.mark.linter
def test_copyright():
    missing = []
    for path in _sources():
        lines = path.read_text().splitlines()
        if path.stat().st_size == 0:
            continue
        head = lines[:3]
        ok = (len(head) == 3 and head[0].startswith(HEADER[0]) and head[1] == HEADER[1]
              and head[2] == HEADER[2])
        if not ok:
            missing.append(str(path.relative_to(ROOT)))
    assert not missing, 'files without the Apache-2.0 header:\n' + '\n'.join(missing)
