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
Tiny ONNX models built in the tests, whose right answers are known by construction.

Backends, model specs and decoders are tested on real ONNX Runtime sessions without
downloading a model: a classifier whose logits are a matrix product of the channel
means, and "heads" whose outputs are fixed tables shifted by the input's mean, so every
batch item gets different, predictable boxes. Imported as ``from test import
synthetic_onnx`` (the root conftest puts the repository root first on ``sys.path``).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

OPSET = 13
IR_VERSION = 8   # old enough for the ONNX Runtime releases JetPack ships


def _onnx():
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    return onnx, helper, numpy_helper, TensorProto


def _dims(shape: Sequence[int], dynamic_batch: bool):
    dims: List[Any] = list(shape)
    if dynamic_batch:
        dims[0] = 'N'
    return [d if isinstance(d, str) or d >= 0 else None for d in dims]


def _finish(graph, path: str) -> str:
    onnx, helper, _, _ = _onnx()
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', OPSET)],
                              producer_name='jetson_infer_ros-tests')
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return str(path)


def classifier(path: str, input_shape: Tuple[int, ...] = (1, 3, 32, 48),
               weights: Optional[np.ndarray] = None, dynamic_batch: bool = False,
               softmax: bool = False, layout: str = 'NCHW', dtype=np.float32,
               output_4d: bool = False) -> str:
    """Build logits = channel means (B, 3) @ weights (3, C), softmax optional."""
    onnx, helper, numpy_helper, tp = _onnx()
    elem = tp.FLOAT16 if dtype == np.float16 else tp.FLOAT
    if weights is None:
        weights = np.arange(3 * 5, dtype=np.float32).reshape(3, 5) / 10.0
    classes = weights.shape[1]
    axes = [2, 3] if layout == 'NCHW' else [1, 2]
    nodes = []
    src = 'x'
    if dtype == np.float16:
        nodes.append(helper.make_node('Cast', ['x'], ['x32'], to=tp.FLOAT))
        src = 'x32'
    nodes += [
        helper.make_node('ReduceMean', [src], ['m'], axes=axes, keepdims=0),
        helper.make_node('MatMul', ['m', 'w'], ['logits']),
    ]
    last = 'logits'
    if softmax:
        nodes.append(helper.make_node('Softmax', [last], ['probs'], axis=1))
        last = 'probs'
    if output_4d:
        nodes.append(helper.make_node('Unsqueeze', [last, 'ax'], ['y4']))
        last = 'y4'
    nodes.append(helper.make_node('Identity', [last], ['scores']))
    inits = [numpy_helper.from_array(weights.astype(np.float32), 'w'),
             numpy_helper.from_array(np.array([2, 3], np.int64), 'ax')]
    out_shape = ['N' if dynamic_batch else input_shape[0], classes] + \
        ([1, 1] if output_4d else [])
    graph = helper.make_graph(
        nodes, 'classifier',
        [helper.make_tensor_value_info('x', elem, _dims(input_shape, dynamic_batch))],
        [helper.make_tensor_value_info('scores', tp.FLOAT, out_shape)], inits)
    return _finish(graph, path)


def reference_classifier(x: np.ndarray, weights: np.ndarray, layout: str = 'NCHW',
                         softmax: bool = False) -> np.ndarray:
    """Compute what ``classifier`` computes, in float64."""
    axes = (2, 3) if layout == 'NCHW' else (1, 2)
    logits = x.astype(np.float64).mean(axis=axes) @ weights.astype(np.float64)
    if softmax:
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        logits = e / e.sum(axis=1, keepdims=True)
    return logits


def shifted_heads(path: str, input_shape: Tuple[int, ...],
                  outputs: Dict[str, Tuple[np.ndarray, Optional[np.ndarray]]],
                  dynamic_batch: bool = True, extra_input: bool = False) -> str:
    """
    Build a model whose outputs are ``table + mean(x_b) * mask`` per batch item b.

    ``table`` has a leading 1 (broadcast over the batch); ``mask`` has the same rank,
    e.g. (1, 1, K) to shift chosen channels of every row. Every output keeps a batch
    dimension equal to the input's.
    """
    onnx, helper, numpy_helper, tp = _onnx()
    nodes = [helper.make_node('ReduceMean', ['x'], ['xmean'], axes=[1, 2, 3], keepdims=1)]
    inits = []
    outs = []
    for i, (name, (table, mask)) in enumerate(outputs.items()):
        table = np.asarray(table, np.float32)
        rank = table.ndim
        shape_name, s_name = f'shape{i}', f's{i}'
        inits.append(numpy_helper.from_array(
            np.array([-1] + [1] * (rank - 1), np.int64), shape_name))
        nodes.append(helper.make_node('Reshape', ['xmean', shape_name], [s_name]))
        inits.append(numpy_helper.from_array(table, f'table{i}'))
        m = np.zeros((1,) * rank, np.float32) if mask is None else np.asarray(mask, np.float32)
        inits.append(numpy_helper.from_array(m, f'mask{i}'))
        nodes.append(helper.make_node('Mul', [s_name, f'mask{i}'], [f'shift{i}']))
        nodes.append(helper.make_node('Add', [f'table{i}', f'shift{i}'], [name]))
        batch = 'N' if dynamic_batch else input_shape[0]
        outs.append(helper.make_tensor_value_info(name, tp.FLOAT,
                                                  [batch] + list(table.shape[1:])))
    inputs = [helper.make_tensor_value_info('x', tp.FLOAT, _dims(input_shape, dynamic_batch))]
    if extra_input:
        inputs.append(helper.make_tensor_value_info('y', tp.FLOAT, [1]))
    graph = helper.make_graph(nodes, 'heads', inputs, outs, inits)
    return _finish(graph, path)


def rtdetr_like(path: str, queries: np.ndarray, height: int, width: int) -> str:
    """
    Build an RT-DETR-shaped export: inputs images + orig_target_sizes, split outputs.

    ``queries`` rows are (cx, cy, w, h normalised, score, class); boxes come out as
    x1 y1 x2 y2 times (width, height) from ``orig_target_sizes``, plus the image mean
    (so the image input is used), as RT-DETR's postprocessor scales its boxes.
    """
    onnx, helper, numpy_helper, tp = _onnx()
    k = len(queries)
    cxcywh = queries[None, :, :4].astype(np.float32)
    to_corners = np.array([[1, 0, 1, 0], [0, 1, 0, 1], [-0.5, 0, 0.5, 0], [0, -0.5, 0, 0.5]],
                          np.float32)
    inits = [numpy_helper.from_array(cxcywh, 'q'), numpy_helper.from_array(to_corners, 'm'),
             numpy_helper.from_array(queries[None, :, 4].astype(np.float32), 's'),
             numpy_helper.from_array(queries[None, :, 5].astype(np.int64), 'l'),
             numpy_helper.from_array(np.array([1, 2], np.int64), 'rep'),
             numpy_helper.from_array(np.array([-1, 1, 4], np.int64), 'shape3')]
    nodes = [
        helper.make_node('MatMul', ['q', 'm'], ['xyxy']),
        helper.make_node('Cast', ['orig_target_sizes'], ['sizes_f'], to=tp.FLOAT),
        helper.make_node('Tile', ['sizes_f', 'rep'], ['sizes4']),
        helper.make_node('Reshape', ['sizes4', 'shape3'], ['scale']),
        helper.make_node('Mul', ['xyxy', 'scale'], ['boxes_nomean']),
        helper.make_node('ReduceMean', ['images'], ['mean'], axes=[1, 2, 3], keepdims=1),
        helper.make_node('Squeeze', ['mean'], ['mean0']),
        helper.make_node('Add', ['boxes_nomean', 'mean0'], ['boxes']),
        helper.make_node('Identity', ['s'], ['scores']),
        helper.make_node('Identity', ['l'], ['labels']),
    ]
    graph = helper.make_graph(
        nodes, 'rtdetr_like',
        [helper.make_tensor_value_info('images', tp.FLOAT, [1, 3, height, width]),
         helper.make_tensor_value_info('orig_target_sizes', tp.INT64, [1, 2])],
        [helper.make_tensor_value_info('labels', tp.INT64, [1, k]),
         helper.make_tensor_value_info('boxes', tp.FLOAT, [1, k, 4]),
         helper.make_tensor_value_info('scores', tp.FLOAT, [1, k])], inits)
    return _finish(graph, path)
