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

"""The photo bag through the classifier: goldens, the CLI's exit codes, real top-1s."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from jetson_infer_ros.bags.make_bags import PHOTO_REFS

from .conftest import GOLDEN, ROOT

pytestmark = [pytest.mark.ros, pytest.mark.models]

CLI = [sys.executable, '-m', 'jetson_infer_ros.cli.main']


def test_photos_match_their_golden_and_the_curated_labels(regression, bag):
    result = regression(ROOT / 'config' / 'infer.yaml', bag('photos'),
                        GOLDEN / 'photos_efficientnet_lite0.json')
    assert result.ok, result.report()
    expected = json.loads((ROOT / 'test' / 'data' / 'classification_expected.json').read_text())
    accept = {p['photo']: p['accept'] for p in expected['photos']}
    for ref, out in zip(PHOTO_REFS, result.run.outputs):
        assert len(out.results) == 5
        if accept[ref]:
            assert out.results[0][0] in accept[ref], (ref, out.results[0])


def _regress(*args, env):
    return subprocess.run(CLI + ['regress'] + list(args), capture_output=True, text=True,
                          env=env, timeout=600, stdin=subprocess.DEVNULL)


def test_regress_cli_updates_passes_and_fails(bag, ros_env, tmp_path):
    golden = tmp_path / 'photos.json'
    common = ['--config', str(ROOT / 'config' / 'infer.yaml'), '--bag', str(bag('photos')),
              '--golden', str(golden)]
    made = _regress(*common, '--update', env=ros_env)
    assert made.returncode == 0 and 'golden written' in made.stdout, made.stderr
    same = _regress(*common, '--json', env=ros_env)
    assert same.returncode == 0, same.stdout + same.stderr
    report = json.loads(same.stdout)
    assert report['ok'] and report['frames'] == report['answers'] == 12
    doc = json.loads(golden.read_text())
    doc['frames'][3]['results'][0][0] = 1      # photo 4 (an apple) was a goldfish once
    doc['frames'][5]['results'][1][1] += 0.2   # and a runner-up was far more likely
    golden.write_text(json.dumps(doc))
    changed = _regress(*common, '--work-dir', str(tmp_path / 'work'), env=ros_env)
    assert changed.returncode == 1, changed.stdout + changed.stderr
    assert 'FAILED' in changed.stdout and 'frame 3: class 1' in changed.stdout
    assert 'frame 5: class' in changed.stdout
    assert (tmp_path / 'work' / 'outputs' / 'metadata.yaml').is_file()   # kept to look at
