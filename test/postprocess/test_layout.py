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

"""``decoder: auto`` picks the one layout the shapes fit, says why, and never guesses."""

from __future__ import annotations

import pytest

from jetson_infer_ros import decoder_params
from jetson_infer_ros.postprocess.layout import choose_decoder, LayoutError


def no_settings(_name):
    return {}


@pytest.mark.parametrize('shapes, input_hw, classes, chosen, says', [
    ({'output0': (1, 84, 8400)}, (640, 640), None, 'yolov8',
     "'output0' (1, 84, 8400): channels first, 4 box + 80 classes over 8400 anchors = "
     'strides 8/16/32 at 640x640'),
    ({'output0': (1, 84, 5040)}, (384, 640), 80, 'yolov8', '5040 anchors'),
    ({'output0': (2, 8400, 84)}, (640, 640), 80, 'yolov8', 'channels last'),
    ({'output0': (1, 25200, 85)}, (640, 640), None, 'yolov5',
     '4 box + objectness + 80 classes over 25200 anchors = strides 8/16/32 x 3 per cell'),
    ({'output0': (1, 300, 6)}, (640, 640), None, 'end2end', '300 final rows'),
    ({'boxes': (1, 3234, 4), 'scores': (1, 3234, 91)}, (320, 320), None, 'ssd',
     "boxes 'boxes' (1, 3234, 4), scores 'scores' (1, 3234, 91)"),
    ({'cls8': (1, 2704, 80), 'box8': (1, 2704, 44), 'cls16': (1, 676, 80),
      'box16': (1, 676, 44), 'cls32': (1, 169, 80), 'box32': (1, 169, 44)}, (416, 416), None,
     'nanodet', '3 levels'),
    ({'output': (1, 2100, 112)}, (320, 320), 80, 'nanodet', 'strides [8, 16, 32] combined'),
])
def test_each_layout_is_found_and_the_log_line_says_why(shapes, input_hw, classes, chosen,
                                                        says):
    choice = choose_decoder(shapes, input_hw, classes, no_settings)
    assert choice.decoder == chosen
    assert choice.reason.startswith(f'decoder auto: {chosen}, from ')
    assert says in choice.reason and 'no other layout fits' in choice.reason


def test_two_fits_fail_with_the_shapes_and_the_choices_and_labels_settle_it():
    # NanoDet-Plus at 416 (strides 8..64 combined: 3598 cells) has exactly the anchor
    # count of a YOLOv8 P6 head, channels last, and of a YOLOX one: without labels all
    # three read the tensor, each with another class count.
    shapes = {'output': (1, 3598, 112)}
    with pytest.raises(LayoutError) as err:
        choose_decoder(shapes, (416, 416), None, no_settings)
    text = str(err.value)
    assert "outputs 'output' (1, 3598, 112) at input 416x416 fit 3 layouts" in text
    assert "set decoder to one of ['nanodet', 'yolov5', 'yolov8']" in text
    assert 'labels_file' in text
    assert choose_decoder(shapes, (416, 416), 80, no_settings).decoder == 'nanodet'
    assert choose_decoder(shapes, (416, 416), 107, no_settings).decoder == 'yolov5'
    assert choose_decoder(shapes, (416, 416), 108, no_settings).decoder == 'yolov8'
    # So does a transposed YOLOv8 head at 640: (8400, 84) is 80 classes without
    # objectness, 79 with it (YOLOX), or NanoDet-m's 8400 combined cells; 80 labels decide.
    shapes = {'output0': (1, 8400, 84)}
    with pytest.raises(LayoutError, match=r"one of \['nanodet', 'yolov5', 'yolov8'\]"):
        choose_decoder(shapes, (640, 640), None, no_settings)
    assert choose_decoder(shapes, (640, 640), 80, no_settings).decoder == 'yolov8'


def test_no_fit_lists_the_shapes_and_every_decoders_verdict():
    with pytest.raises(LayoutError) as err:
        choose_decoder({'logits': (1, 1000)}, (224, 224), None, no_settings)
    text = str(err.value)
    assert text.startswith("decoder auto: no detection decoder fits outputs 'logits' (1, 1000)"
                           ' at input 224x224 (')
    for name in ('nanodet:', 'yolov5:', 'yolov8:', 'end2end:', 'ssd:'):
        assert name in text
    assert '\n' not in text


def test_a_label_count_that_stops_the_only_fit_is_named():
    with pytest.raises(LayoutError) as err:
        choose_decoder({'output0': (1, 84, 8400)}, (640, 640), 79, no_settings,
                       labels_source='labels file coco79.txt')
    assert str(err.value).startswith(
        "labels file coco79.txt has 79 names but the yolov8 layout of outputs 'output0' "
        '(1, 84, 8400) at input 640x640 carries 80 classes')


def test_set_options_narrow_the_candidates():
    settings = {'nanodet_center_offset': 0.0}

    def options_for(name):
        return decoder_params.to_options(name, settings)
    shapes = {'output': (1, 3598, 112)}      # ambiguous without labels, as above
    choice = choose_decoder(shapes, (416, 416), None, options_for)
    assert choice.decoder == 'nanodet'
    with pytest.raises(LayoutError) as err:
        choose_decoder({'output0': (1, 84, 8400)}, (640, 640), None, options_for)
    assert 'yolov8: not a candidate: nanodet_center_offset is set but decoder yolov8 does ' \
        'not take it' in str(err.value)


def test_ultralytics_metadata_names_the_end_to_end_variant():
    free = {'author': 'Ultralytics', 'description': 'Ultralytics YOLO26n model ',
            'head': 'Detect', 'end2end': 'True', 'args': "{'nms': False}"}
    inside = dict(free, end2end='False', args="{'batch': 1, 'nms': True}")
    shapes = {'output0': (1, 300, 6)}
    assert 'Ultralytics YOLO26n model, Detect NMS-free head' in choose_decoder(
        shapes, (640, 640), None, no_settings, free).reason
    assert 'exported with nms=True: NMS inside the model' in choose_decoder(
        shapes, (640, 640), None, no_settings, inside).reason
