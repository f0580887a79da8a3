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

"""The calibrate / evaluate / predict commands: one error line on bad input, the loop works."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from jetson_infer_ros.cli.main import main


def _cli(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _one_error_line(err, command):
    errors = [line for line in err.splitlines() if 'error' in line.lower()]
    assert len(errors) == 1, err
    assert errors[0].startswith(f'jetson-infer {command}: error: ')
    return errors[0]


@pytest.mark.parametrize('case', ['empty folder', 'unreadable image', 'bag without topic',
                                  'already quantized', 'missing model', 'bad distill steps'])
def test_bad_input_is_one_line_nonzero_and_writes_nothing(tmp_path, capsys, tiny_config,
                                                          photo_dir, make_bag, make_config,
                                                          case):
    out_dir = tmp_path / 'out'
    out = out_dir / 'm.int8.onnx'
    config = tiny_config
    source = ['--images', str(photo_dir)]
    if case == 'empty folder':
        (tmp_path / 'empty').mkdir()
        source = ['--images', str(tmp_path / 'empty')]
        expect = 'no images'
    elif case == 'unreadable image':
        (photo_dir / 'img_005.png').write_bytes(b'\x89PNG\r\n not really')
        expect = 'not a readable image: .*img_005.png'
    elif case == 'bag without topic':
        bag = make_bag(tmp_path / 'bag', '/cam', [np.zeros((8, 8, 3), np.uint8)])
        source = ['--bag', str(bag), '--topic', '/camera/image_raw']
        expect = "no topic '/camera/image_raw'; image topics: /cam"
    elif case == 'already quantized':
        assert _cli(capsys, 'calibrate', '--config', str(tiny_config), *source,
                    '--method', 'minmax', '--out', str(tmp_path / 'q.int8.onnx'))[0] == 0
        config = make_config(tmp_path / 'q.yaml', tmp_path / 'q.int8.onnx')
        expect = 'already quantized'
    elif case == 'bad distill steps':
        source += ['--distill-steps', '-3']
        expect = 'distill steps must be >= 0, got -3'
    else:
        config = make_config(tmp_path / 'x.yaml', tmp_path / 'nope.onnx')
        expect = 'model not found'
    rc, stdout, err = _cli(capsys, 'calibrate', '--config', str(config), *source,
                           '--method', 'minmax', '--out', str(out))
    assert rc != 0 and stdout == ''
    assert re.search(expect, _one_error_line(err, 'calibrate'))
    assert not out_dir.exists() or list(out_dir.iterdir()) == []


def test_calibrate_evaluate_predict_loop(tmp_path, capsys, tiny_config, photo_dir,
                                         make_photos, make_config):
    out = tmp_path / 'tiny.int8.onnx'
    rc, stdout, err = _cli(capsys, 'calibrate', '--config', str(tiny_config), '--images',
                           str(photo_dir), '--method', 'percentile', '--samples', '10',
                           '--out', str(out))
    assert rc == 0, err
    summary = json.loads(stdout)
    assert summary['frames'] == 10 and summary['method'] == 'percentile'
    assert '[calibrate] frames 10/10 (100%)' in err and 'warning: only 10' in err
    eval_dir = tmp_path / 'eval'
    make_photos(eval_dir, 5, seed=11)
    rc, stdout, err = _cli(capsys, 'evaluate', '--config', str(tiny_config), '--images',
                           str(eval_dir), '--precision', 'int8', '--reference', 'fp32',
                           '--model-int8', str(out))
    assert rc == 0, err
    report = json.loads(stdout)
    assert report['stored'] == str(tmp_path / 'tiny.int8.eval.json')
    assert '| layout | model | top-1 agreement' in err
    # predict with --model X.int8.onnx --precision int8: same JSON shape as FP32
    image = str(eval_dir / 'img_000.png')
    easy = make_config(tmp_path / 'easy.yaml', tmp_path / 'tiny.onnx',
                       int8_min_top1_agreement=0.0)
    rc, fp32_out, _ = _cli(capsys, 'predict', '--config', str(easy), image)
    assert rc == 0
    rc, int8_out, err = _cli(capsys, 'predict', '--config', str(easy), '--model', str(out),
                             '--precision', 'int8', image)
    assert rc == 0 and 'INT8 accepted: tiny.int8.cpu.onnx' in err
    a, b = json.loads(fp32_out), json.loads(int8_out)
    assert a.keys() == b.keys() and len(a['results']) == len(b['results']) == 5
    assert [set(r) for r in a['results']] == [set(r) for r in b['results']]
    strict = make_config(tmp_path / 'strict.yaml', tmp_path / 'tiny.onnx',
                         int8_min_top1_agreement=1.0)
    report_path = tmp_path / 'tiny.int8.eval.json'
    stored = json.loads(report_path.read_text())
    stored['variants']['onnxruntime']['top1_agreement'] = 0.5
    report_path.write_text(json.dumps(stored))
    rc, refused_out, err = _cli(capsys, 'predict', '--config', str(strict), '--model', str(out),
                                '--precision', 'int8', image)
    assert rc == 0 and 'INT8 refused: top-1 agreement with FP32 50.00%' in err
    assert json.loads(refused_out) == a          # the FP32 model answered


def test_evaluate_without_an_artefact_is_one_error_line(capsys, tiny_config, photo_dir):
    rc, stdout, err = _cli(capsys, 'evaluate', '--config', str(tiny_config), '--images',
                           str(photo_dir))
    assert rc != 0 and stdout == ''
    assert 'no INT8 model at' in _one_error_line(err, 'evaluate')
