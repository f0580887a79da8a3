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

import hashlib
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
                           str(photo_dir), '--samples', '10', '--out', str(out))
    assert rc == 0, err
    summary = json.loads(stdout)
    assert summary['frames'] == 10 and summary['method'] == 'percentile'   # the default
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
    # predict with --model X.int8.onnx --precision int8: same results shape as FP32, and
    # every line says what ran (5 evaluation frames: the test lowers the evidence minimum)
    image = str(eval_dir / 'img_000.png')
    easy = make_config(tmp_path / 'easy.yaml', tmp_path / 'tiny.onnx',
                       int8_min_top1_agreement=0.0, int8_min_eval_frames=1)
    rc, fp32_out, _ = _cli(capsys, 'predict', '--config', str(easy), image)
    assert rc == 0
    rc, int8_out, err = _cli(capsys, 'predict', '--config', str(easy), '--model', str(out),
                             '--precision', 'int8', '--strict', image)
    assert rc == 0 and 'INT8 accepted: tiny.int8.cpu.onnx' in err
    a, b = json.loads(fp32_out), json.loads(int8_out)
    assert a.keys() == b.keys() and len(a['results']) == len(b['results']) == 5
    assert [set(r) for r in a['results']] == [set(r) for r in b['results']]
    cpu_layout = tmp_path / 'tiny.int8.cpu.onnx'
    assert {k: b[k] for k in ('precision_requested', 'precision_in_use', 'backend', 'device',
                              'model', 'model_sha256')} == {
        'precision_requested': 'int8', 'precision_in_use': 'int8', 'backend': 'onnxruntime',
        'device': 'cpu', 'model': str(cpu_layout),
        'model_sha256': hashlib.sha256(cpu_layout.read_bytes()).hexdigest()}
    assert 'fallback' not in b
    assert a['precision_in_use'] == 'fp32' and a['model'] == str(tmp_path / 'tiny.onnx')
    # refused: exit 0 with the FP32 answer and the reason in the JSON; --strict: exit 3
    strict = make_config(tmp_path / 'strict.yaml', tmp_path / 'tiny.onnx',
                         int8_min_top1_agreement=0.0)
    rc, refused_out, err = _cli(capsys, 'predict', '--config', str(strict), '--model', str(out),
                                '--precision', 'int8', image)
    assert rc == 0 and 'INT8 refused: too little evidence: 5 evaluation frames < 200' in err
    refused = json.loads(refused_out)
    assert refused['results'] == a['results']          # the FP32 model answered
    assert refused['precision_requested'] == 'int8' and refused['precision_in_use'] == 'fp32'
    assert refused['model'] == str(tmp_path / 'tiny.onnx')
    assert 'too little evidence' in refused['fallback']
    rc, stdout, err = _cli(capsys, 'predict', '--config', str(strict), '--model', str(out),
                           '--precision', 'int8', '--strict', image)
    assert rc == 3 and stdout == ''
    assert 'jetson-infer predict: --strict: int8 requested, fp32 in use (INT8 refused' in err


def test_a_two_frame_evaluation_no_longer_gets_int8_accepted(tmp_path, capsys, tiny_config,
                                                             photo_dir, make_photos):
    out = tmp_path / 'tiny.int8.onnx'
    assert _cli(capsys, 'calibrate', '--config', str(tiny_config), '--images', str(photo_dir),
                '--out', str(out))[0] == 0
    make_photos(tmp_path / 'eval', 20, seed=3)
    rc, stdout, err = _cli(capsys, 'evaluate', '--config', str(tiny_config), '--images',
                           str(tmp_path / 'eval'), '--samples', '2', '--model-int8', str(out),
                           '--check')
    assert rc == 1 and json.loads(stdout)['frames'] == 2         # --check: gate refuses
    assert 'refuse: too little evidence: 2 evaluation frames' in err
    rc, stdout, err = _cli(capsys, 'predict', '--config', str(tiny_config), '--model', str(out),
                           '--precision', 'int8', str(tmp_path / 'eval' / 'img_000.png'))
    assert rc == 0 and 'INT8 accepted' not in err
    line = json.loads(stdout)
    assert line['precision_in_use'] == 'fp32' and 'too little evidence' in line['fallback']


def test_evaluate_labels_matching_no_image_is_one_error_line(tmp_path, capsys, tiny_config,
                                                             photo_dir):
    out = tmp_path / 'tiny.int8.onnx'
    assert _cli(capsys, 'calibrate', '--config', str(tiny_config), '--images', str(photo_dir),
                '--out', str(out))[0] == 0
    labels = tmp_path / 'labels.csv'
    labels.write_text('other.jpg,3\n')
    rc, stdout, err = _cli(capsys, 'evaluate', '--config', str(tiny_config), '--images',
                           str(photo_dir), '--model-int8', str(out), '--labels', str(labels))
    assert rc == 2 and stdout == ''
    assert 'none of its 1 entries names one of the 12 evaluation images' in \
        _one_error_line(err, 'evaluate')
    assert not out.with_name('tiny.int8.eval.json').exists()


def test_calibrate_help_shows_the_few_options_and_groups_the_rest(capsys):
    with pytest.raises(SystemExit):
        main(['calibrate', '--help'])
    text = capsys.readouterr().out
    usage, advanced = text.split('\nadvanced:')
    for option in ('--config', '--images', '--bag', '--method', '--samples', '--out'):
        assert option in usage
    for option in ('--distill-lr', '--distill-augment', '--rounding-frames', '--bins',
                   '--keep-float', '--weight-rounding'):
        assert option not in usage and option in advanced
    assert '[advanced options]' in usage


def test_evaluate_without_an_artefact_is_one_error_line(capsys, tiny_config, photo_dir):
    rc, stdout, err = _cli(capsys, 'evaluate', '--config', str(tiny_config), '--images',
                           str(photo_dir))
    assert rc != 0 and stdout == ''
    assert 'no INT8 model at' in _one_error_line(err, 'evaluate')


def test_model_path_keeps_the_class_names(tmp_path, capsys, tiny_model, photo_dir,
                                          make_config):
    """--model X.int8.onnx prints the labels its calibration's config had, not "0", "4"."""
    names = tmp_path / 'tiny_labels.txt'
    names.write_text(''.join(f'thing{i}\n' for i in range(10)))
    labelled = make_config(tmp_path / 'labelled.yaml', tiny_model, labels_file=str(names))
    out = tmp_path / 'tiny.int8.onnx'
    assert _cli(capsys, 'calibrate', '--config', str(labelled), '--images', str(photo_dir),
                '--out', str(out))[0] == 0
    bare = make_config(tmp_path / 'bare.yaml', tmp_path / 'other.onnx')   # no labels_file
    image = str(photo_dir / 'img_000.png')
    for model in (out, out.with_name('tiny.int8.cpu.onnx')):
        rc, stdout, err = _cli(capsys, 'predict', '--config', str(bare), '--model', str(model),
                               image)
        assert rc == 0, err
        assert all(r['label'] == f'thing{r["class_id"]}'
                   for r in json.loads(stdout)['results'])
    rc, stdout, _ = _cli(capsys, 'predict', '--config', str(bare), '--model', str(tiny_model),
                         image)
    assert rc == 0 and all(r['label'] == str(r['class_id'])   # a plain file: no labels known
                           for r in json.loads(stdout)['results'])


def test_a_default_model_file_or_its_artefact_has_the_bundled_labels(tmp_path, monkeypatch):
    from jetson_infer_ros import pipeline
    from jetson_infer_ros.assets import models
    cached = tmp_path / 'cache' / 'model.onnx'
    cached.parent.mkdir()
    cached.write_bytes(b'onnx')
    monkeypatch.setattr(models, 'model_dir',
                        lambda name: cached.parent if name == 'nanodet' else tmp_path / 'x')
    assert pipeline.resolve_model(str(cached))[1].endswith('coco.txt')
    art = tmp_path / 'n.int8.onnx'
    art.write_bytes(b'q')
    art.with_name('n.int8.calib.json').write_text(json.dumps(
        {'config': {'model_path': 'efficientnet_lite0', 'labels_file': ''}}))
    assert pipeline.resolve_model(str(art))[1].endswith('imagenet.txt')
    assert pipeline.resolve_model(str(art.with_name('n.int8.cpu.onnx')))[1].endswith(
        'imagenet.txt')
    assert pipeline.resolve_model(str(tmp_path / 'plain.onnx'))[1] is None
