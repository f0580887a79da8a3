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
Turn a classifier's output tensor into the top-k classes with meaningful scores.

Classifiers disagree on whether the graph ends in a softmax: some export logits, some
probabilities. Publishing logits as scores would make a score threshold meaningless, and
applying softmax twice flattens the distribution, so ``apply_softmax='auto'`` looks at
the numbers once per call. Top-k uses ``argpartition`` so the cost does not grow with
sorting all 1000 ImageNet classes.

``top_k_arrays`` is on every classified frame's path and runs right after inference,
when the caches are cold, so each NumPy call it makes costs several times its warm
price (measured: the node's postprocess stage took 0.22 ms p50 for a 1000-class
output whose warm cost is 0.03 ms). It therefore does the fewest passes that give the
same scores: the 'auto' probe stops at the row maximum for logits, the softmax
normalises only the k winners (``exp(x - max) / sum``, the same float32 arithmetic as
``softmax``), and the winners are picked from the unnormalised values without negating
the whole row.
"""

from __future__ import annotations

from typing import Any, List, Mapping, Tuple, Union

import numpy as np

from jetson_infer_ros.postprocess.results import ClassScore

SoftmaxMode = Union[bool, str]


def softmax(logits: np.ndarray, axis: int = -1) -> np.ndarray:
    """Apply softmax stably: the row maximum is subtracted before ``exp``."""
    x = np.asarray(logits, dtype=np.float32)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def looks_like_probabilities(scores: np.ndarray, tolerance: float = 1e-2) -> bool:
    """
    Tell whether every row is in [0, 1] and sums to 1 within ``tolerance``.

    The tolerance is loose enough for FP16 outputs (a 1000-way softmax in half precision
    sums to 1 only within a few thousandths) and far too tight for logits to pass.
    """
    s = np.asarray(scores, dtype=np.float32)
    if s.size == 0:
        return False
    # max first: logits almost always exceed 1, and NaN/inf show in max or min
    high = s.max()
    if not (np.isfinite(high) and high <= 1.0 + 1e-6):
        return False
    low = s.min()
    if not (np.isfinite(low) and low >= -1e-6):
        return False
    return bool(np.all(np.abs(s.sum(axis=-1) - 1.0) <= tolerance))


def as_rows(output: np.ndarray) -> np.ndarray:
    """
    View a classifier output as (batch, classes).

    Accepts (C,), (B, C) and (B, C, 1, 1) (convolutional heads without a flatten).
    """
    out = np.asarray(output)
    if out.ndim == 1:
        return out.reshape(1, -1)
    if out.ndim >= 2 and all(d == 1 for d in out.shape[2:]):
        return out.reshape(out.shape[0], out.shape[1])
    raise ValueError(
        f'classification output has shape {out.shape}; expected (C,), (B, C) or (B, C, 1, 1)')


def _resolve_mode(apply_softmax: SoftmaxMode) -> SoftmaxMode:
    if isinstance(apply_softmax, (bool, np.bool_)):
        return bool(apply_softmax)
    if isinstance(apply_softmax, str):
        mode = apply_softmax.strip().lower()
        if mode == 'auto':
            return 'auto'
        if mode in ('true', 'yes', 'always', '1'):
            return True
        if mode in ('false', 'no', 'never', '0'):
            return False
    raise ValueError(f"apply_softmax must be True, False or 'auto', got {apply_softmax!r}")


def probabilities(output: np.ndarray, apply_softmax: SoftmaxMode = 'auto') -> np.ndarray:
    """Return (B, C) float32 scores: softmax of logits, or the probabilities as they are."""
    mode = _resolve_mode(apply_softmax)
    rows = as_rows(output)
    if rows.shape[1] == 0:
        raise ValueError('classification output has no classes')
    if mode == 'auto':
        mode = not looks_like_probabilities(rows)
    if mode:
        return softmax(rows)
    return rows.astype(np.float32, copy=False)


def top_k_arrays(output: np.ndarray, k: int,
                 apply_softmax: SoftmaxMode = 'auto') -> Tuple[np.ndarray, np.ndarray]:
    """
    Return class ids (B, k) int64 and scores (B, k) float32, best first; k <= C.

    Scores are those of ``probabilities()`` for the same classes; equal scores keep the
    lower class id first.
    """
    if int(k) < 1:
        raise ValueError(f'top_k must be >= 1, got {k}')
    mode = _resolve_mode(apply_softmax)
    rows = as_rows(output)
    classes = rows.shape[1]
    if classes == 0:
        raise ValueError('classification output has no classes')
    x = rows if rows.dtype == np.float32 else rows.astype(np.float32)
    high = x.max(axis=1, keepdims=True)
    if mode == 'auto':
        top = float(high.max())
        # logits almost always exceed 1: then the full probe is not needed
        mode = not (top <= 1.0 + 1e-6 and looks_like_probabilities(x))
    if mode:
        x = np.exp(np.subtract(x, high))        # softmax's steps, normalised below
        total = x.sum(axis=1, keepdims=True)
    k = min(int(k), classes)
    part = np.argpartition(x, classes - k, axis=1)[:, classes - k:]
    scores = np.take_along_axis(x, part, axis=1)
    if mode:
        scores /= total
    if len(part) == 1:      # one frame: sorting k Python numbers beats two more NumPy calls
        ids_1, scores_1 = part[0].tolist(), scores[0].tolist()
        order_1 = sorted(range(k), key=lambda i: (-scores_1[i], ids_1[i]))
        return (np.array([[ids_1[i] for i in order_1]], np.int64),
                np.array([[scores_1[i] for i in order_1]], np.float32))
    # best first; equal scores by class id (lexsort: the last key is the primary one)
    order = np.lexsort((part, -scores), axis=-1)
    return (np.take_along_axis(part, order, axis=1).astype(np.int64),
            np.take_along_axis(scores, order, axis=1))


def top_k(output: np.ndarray, k: int,
          apply_softmax: SoftmaxMode = 'auto') -> List[List[ClassScore]]:
    """Return the k best classes of every batch item, as ``ClassScore`` lists."""
    ids, scores = top_k_arrays(output, k, apply_softmax)
    return [[ClassScore(int(c), float(s)) for c, s in zip(row_ids, row_scores)]
            for row_ids, row_scores in zip(ids.tolist(), scores.tolist())]


def classify(outputs: Mapping[str, np.ndarray], spec: Any) -> List[List[ClassScore]]:
    """
    Return the top-k classes of each batch item for a classification ``ModelSpec``.

    Uses the spec's ``top_k`` and its ``apply_softmax`` decoder option (default 'auto');
    with several outputs, the first of ``spec.outputs`` shaped like class scores is used.
    """
    mode = dict(getattr(spec, 'decoder_options', None) or {}).get('apply_softmax', 'auto')
    names = [o.name for o in getattr(spec, 'outputs', ()) if o.name in outputs] or list(outputs)
    for name in names:
        try:
            as_rows(outputs[name])
        except ValueError:
            continue
        return top_k(outputs[name], spec.top_k, mode)
    shapes = {name: np.shape(value) for name, value in outputs.items()}
    raise ValueError(f'no classification output of shape (B, C) among {shapes}')
