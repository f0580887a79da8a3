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

"""The label files map class ids to the names the default models were trained with."""

from __future__ import annotations

from pathlib import Path

import pytest

LABELS = Path(__file__).resolve().parents[2] / 'jetson_infer_ros' / 'labels'


def _read(name):
    text = (LABELS / name).read_text(encoding='utf-8')
    assert text.endswith('\n') and not text.endswith('\n\n')
    return text[:-1].split('\n')


@pytest.mark.parametrize('name, count', [('imagenet.txt', 1000), ('coco.txt', 80)])
def test_one_label_per_class(name, count):
    labels = _read(name)
    assert len(labels) == count
    assert all(label and label == label.strip() for label in labels)


@pytest.mark.parametrize('index, label', [
    (0, 'tench'), (1, 'goldfish'), (207, 'golden retriever'), (281, 'tabby'),
    (282, 'tiger cat'), (335, 'fox squirrel'), (817, 'sports car'), (948, 'Granny Smith'),
    (950, 'orange'), (999, 'toilet tissue')])
def test_imagenet_names_at_known_ids(index, label):
    assert _read('imagenet.txt')[index] == label


@pytest.mark.parametrize('index, label', [
    (0, 'person'), (1, 'bicycle'), (2, 'car'), (7, 'truck'), (11, 'stop sign'),
    (15, 'cat'), (16, 'dog'), (62, 'tv'), (79, 'toothbrush')])
def test_coco_names_in_contiguous_80_class_order(index, label):
    assert _read('coco.txt')[index] == label


def test_coco_has_no_placeholders():
    labels = _read('coco.txt')
    assert len(set(labels)) == 80
    assert not {'N/A', '__background__'} & set(labels)
