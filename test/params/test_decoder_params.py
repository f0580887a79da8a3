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

"""Decoder options are parameters: each decoder takes its own, a wrong one is refused."""

from __future__ import annotations

import pytest

from jetson_infer_ros import decoder_params as D
from jetson_infer_ros import params as P
from jetson_infer_ros.postprocess import decoders


def test_every_option_parameter_is_in_the_table_and_every_decoder_declares_its_own():
    assert set(D.OPTION_PARAMS) <= set(P.BY_NAME)
    assert all(P.BY_NAME[n].group == 'decoder' for n in D.OPTION_PARAMS)
    assert set(D.TAKES) == {'softmax'} | set(decoders.DETECTION_DECODERS)
    for decoder, takes in D.TAKES.items():
        assert set(takes) <= set(D.OPTION_PARAMS), decoder
        if decoder == 'softmax':
            continue
        # What a decoder takes becomes options that decoder (or the NMS tail) knows.
        settings = {n: _a_set_value(n, decoder) for n in takes}
        options = D.to_options(decoder, settings)
        known = set(decoders.make_decoder(decoder, (64, 64)).defaults) | set(
            decoders.POSTPROCESS_OPTIONS)
        assert set(options) <= known, (decoder, set(options) - known)


def _a_set_value(name, decoder):
    p = P.BY_NAME[name]
    if name == 'score_activation':
        return {'nanodet': 'sigmoid', 'ssd': 'softmax', 'softmax': 'softmax'}[decoder]
    if name == 'nanodet_levels':
        return ['8:cls8:box8']
    if p.choices:
        return [c for c in p.choices if c != p.default][0]
    if p.type == P.BOOL:
        return not p.default
    if p.type == P.INT_ARRAY:
        return [8, 16, 32]
    if p.type == P.STRING:
        return 'out'
    return p.default + 1 if p.type == P.INT else 0.0


def test_parameters_become_the_decoders_options():
    assert D.to_options('ssd', {'box_units': 'pixels', 'box_order': 'yxyx',
                                'background_class': True}) == {
        'normalized': False, 'box_order': 'yxyx', 'background_class': True}
    assert D.to_options('yolov8', {'yolo_channels': 'last', 'box_units': 'normalized'}) == {
        'transposed': True, 'normalized': True}
    assert D.to_options('nanodet', {'nanodet_center_offset': 0.0, 'nanodet_levels': [
        '8:a:b', '16:c:d'], 'score_activation': 'sigmoid'}) == {
        'center_offset': 0.0, 'apply_sigmoid': True,
        'levels': [{'stride': 8, 'scores': 'a', 'boxes': 'b'},
                   {'stride': 16, 'scores': 'c', 'boxes': 'd'}]}
    assert D.to_options('softmax', {'score_activation': 'none'}) == {'apply_softmax': 'false'}
    assert D.to_options('end2end', {}) == {}
    with pytest.raises(D.DecoderParameterError, match='stride:scores_output'):
        D.to_options('nanodet', {'nanodet_levels': ['8:a']})


def test_a_set_parameter_the_decoder_does_not_take_is_named_with_what_it_takes():
    with pytest.raises(D.DecoderParameterError) as err:
        D.check('yolov8', {'box_order': 'yxyx'})
    assert 'box_order is set but decoder yolov8 does not take it' in str(err.value)
    assert 'yolo_channels' in str(err.value)
    with pytest.raises(D.DecoderParameterError, match="'sigmoid' does not apply to decoder"):
        D.check('softmax', {'score_activation': 'sigmoid'})
    takes = ('decoder_output, decoder_boxes_output, decoder_scores_output, '
             'decoder_labels_output, box_units')
    assert D.problems('end2end', {'multi_label': True, 'pre_nms_top_k': 10}) == [
        f'multi_label is set but decoder end2end does not take it (it takes: {takes})',
        f'pre_nms_top_k is set but decoder end2end does not take it (it takes: {takes})']


def test_only_parameters_that_differ_from_the_table_count_as_set():
    values = P.validate({'task': 'detection', 'box_order': 'xyxy', 'multi_label': True})
    assert D.set_parameters(values, P.defaults()) == {'multi_label': True}


def test_validate_refuses_an_option_of_another_decoder_when_the_decoder_is_named():
    with pytest.raises(P.ParameterError, match='nanodet_center_offset is set but decoder '
                                               'yolov8 does not take it'):
        P.validate({'task': 'detection', 'decoder': 'yolov8', 'nanodet_center_offset': 0.0})
    with pytest.raises(P.ParameterError, match='decoder softmax does not take it'):
        P.validate({'background_class': True})
    # With decoder auto the options narrow the choice; configure judges them.
    assert P.validate({'task': 'detection', 'nanodet_center_offset': 0.0})['decoder'] == 'auto'


@pytest.mark.parametrize('value, fragment', [
    ([8, 0], 'must be > 0'), ([8.0], 'expected integers'), ('8,16', 'list of integers'),
    ([True], 'expected integers')])
def test_integer_array_parameters_are_checked(value, fragment):
    with pytest.raises(P.ParameterError, match=fragment):
        P.validate({'decoder_strides': value}, partial=True)
    assert P.validate({'decoder_strides': [8, 16, 32]}, partial=True) == {
        'decoder_strides': [8, 16, 32]}
