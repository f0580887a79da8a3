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

"""A node process reads its model's inputs and outputs without ever importing ``onnx``."""

from __future__ import annotations

import json
import subprocess
import sys

from jetson_infer_ros.model_spec import inspect_onnx
from jetson_infer_ros.testing import synthetic_onnx

PROBE = """
import json, sys
from jetson_infer_ros.model_spec import inspect_onnx, ModelSpecError
try:
    inputs, outputs = inspect_onnx(sys.argv[1])
    out = {'inputs': [[t.name, list(t.shape), str(t.dtype)] for t in inputs],
           'outputs': [[t.name, list(t.shape), str(t.dtype)] for t in outputs]}
except ModelSpecError as exc:
    out = {'error': str(exc)}
out['onnx_imported'] = 'onnx' in sys.modules
print(json.dumps(out))
"""


def _probe(path):
    done = subprocess.run([sys.executable, '-c', PROBE, str(path)], capture_output=True,
                          text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_onnx_runtime_reading_equals_the_onnx_reading(tmp_path):
    path = synthetic_onnx.classifier(str(tmp_path / 'c.onnx'), input_shape=(1, 3, 32, 48))
    got = _probe(path)
    assert got['onnx_imported'] is False
    inputs, outputs = inspect_onnx(path)          # this process has onnx loaded
    assert got['inputs'] == [[t.name, list(t.shape), str(t.dtype)] for t in inputs]
    assert got['outputs'] == [[t.name, list(t.shape), str(t.dtype)] for t in outputs]


def test_a_file_that_is_not_onnx_is_a_one_line_error_on_that_path_too(tmp_path):
    bad = tmp_path / 'bad.onnx'
    bad.write_text('not a model\n')
    got = _probe(bad)
    assert got['onnx_imported'] is False
    assert got['error'].startswith(f'{bad} is not a readable ONNX model')
    assert '\n' not in got['error']
