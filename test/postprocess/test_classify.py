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

"""Top-k classification: softmax only when needed, every output shape a classifier has."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp
import numpy as np
import pytest

from jetson_infer_ros.postprocess.classify import (
    as_rows, looks_like_probabilities, probabilities, softmax, top_k, top_k_arrays)
from jetson_infer_ros.postprocess.results import ClassScore


def ref_softmax(x):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_softmax_is_stable_for_huge_logits():
    logits = np.array([[1000.0, 999.0, -1000.0], [1e4, 1e4, 0.0]], np.float32)
    out = softmax(logits)
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, ref_softmax(logits), rtol=1e-6, atol=1e-7)


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, min_side=1,
                                               max_side=30),
                  elements=st.floats(-50, 50, width=32)))
def test_softmax_matches_float64_reference(logits):
    np.testing.assert_allclose(softmax(logits), ref_softmax(logits), rtol=1e-5, atol=1e-6)


def test_auto_applies_softmax_to_logits_only():
    logits = np.array([[2.0, 1.0, 0.5, -1.0]], np.float32)
    np.testing.assert_allclose(probabilities(logits, 'auto'), ref_softmax(logits), rtol=1e-6)
    probs = ref_softmax(logits).astype(np.float32)
    # Already probabilities: applying softmax again would flatten them; auto leaves them.
    np.testing.assert_array_equal(probabilities(probs, 'auto'), probs)
    np.testing.assert_allclose(probabilities(probs, True), ref_softmax(probs), rtol=1e-6)
    np.testing.assert_array_equal(probabilities(logits, False), logits)


def test_auto_accepts_fp16_probabilities():
    probs = ref_softmax(np.linspace(-3, 3, 1000)[None]).astype(np.float16)
    assert looks_like_probabilities(probs)
    np.testing.assert_array_equal(probabilities(probs, 'auto'), probs.astype(np.float32))


def test_logits_inside_unit_interval_but_not_summing_to_one_are_logits():
    x = np.array([[0.9, 0.8, 0.1]], np.float32)
    assert not looks_like_probabilities(x)
    np.testing.assert_allclose(probabilities(x), ref_softmax(x), rtol=1e-6)


@pytest.mark.parametrize('shape, rows', [((7,), (1, 7)), ((1, 7), (1, 7)), ((3, 7), (3, 7)),
                                         ((2, 7, 1, 1), (2, 7))])
def test_accepted_shapes(shape, rows):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    assert as_rows(x).shape == rows
    ids, scores = top_k_arrays(x, 3)
    assert ids.shape == (rows[0], 3) and scores.shape == (rows[0], 3)
    assert ids[0].tolist() == [6, 5, 4]


@pytest.mark.parametrize('shape', [(2, 3, 4), (1, 7, 2, 1), ()])
def test_other_shapes_raise_value_error_naming_the_shape(shape):
    with pytest.raises(ValueError, match=r'shape'):
        top_k(np.zeros(shape, np.float32), 1)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4), st.integers(1, 50), st.integers(1, 60), st.randoms())
def test_top_k_matches_full_sort(batch, classes, k, rnd):
    rng = np.random.default_rng(rnd.randint(0, 2 ** 32 - 1))
    # Distinct values so the expected order is unique.
    logits = rng.permutation(batch * classes).reshape(batch, classes).astype(np.float32) / 7
    result = top_k(logits, k, apply_softmax=True)
    probs = ref_softmax(logits)
    assert len(result) == batch
    for row, p in zip(result, probs):
        expected = np.argsort(-p, kind='stable')[:min(k, classes)]
        assert [c.class_id for c in row] == expected.tolist()
        np.testing.assert_allclose([c.score for c in row], p[expected], rtol=1e-5)
        assert all(isinstance(c, ClassScore) for c in row)


def test_ties_keep_the_lower_class_id_first():
    ids, _ = top_k_arrays(np.array([0.25, 0.25, 0.25, 0.25], np.float32), 4)
    assert ids[0].tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize('kwargs, message', [
    ({'k': 0}, 'top_k'),
    ({'k': 1, 'apply_softmax': 'sometimes'}, 'apply_softmax'),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        top_k(np.zeros((1, 3), np.float32), **kwargs)


def test_string_modes():
    x = np.array([[1.0, 2.0]], np.float32)
    np.testing.assert_array_equal(probabilities(x, 'false'), x)
    np.testing.assert_allclose(probabilities(x, 'true'), ref_softmax(x), rtol=1e-6)


def test_top_k_leaves_the_backend_output_untouched_and_matches_probabilities():
    rng = np.random.default_rng(3)
    for out in (rng.normal(0, 4, (2, 1000)).astype(np.float32),
                softmax(rng.normal(0, 4, (1, 1000))), rng.normal(0, 1, (1, 10)).astype(
                    np.float16)):
        before = out.copy()
        ids, scores = top_k_arrays(out, 5)
        np.testing.assert_array_equal(out, before)    # a view of the backend's buffer
        probs = probabilities(out)
        for row in range(out.shape[0]):
            np.testing.assert_array_equal(scores[row], probs[row, ids[row]])
            assert ids[row].tolist() == np.argsort(-probs[row], kind='stable')[:5].tolist()
        assert ids.dtype == np.int64 and scores.dtype == np.float32


def test_auto_treats_non_finite_and_out_of_range_rows_as_logits():
    for x in ([[0.2, np.nan, 0.3]], [[0.2, 0.3, np.inf]], [[-0.5, 0.7, 0.8]]):
        x = np.array(x, np.float32)
        assert not looks_like_probabilities(x)
        with np.errstate(invalid='ignore'):      # NaN/inf logits: softmax says so, once
            ids, _ = top_k_arrays(x, 1)
        assert ids.shape == (1, 1)
