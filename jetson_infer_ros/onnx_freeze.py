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
Turn an ONNX model's extra input into a constant, so that one image input remains.

RT-DETR's export (lyuwenyu/RT-DETR, PaddleDetection) takes the image and
``orig_target_sizes``, the original image size its postprocessor scales normalised boxes
by. The node maps boxes back to the source image itself (letterbox, crop, per frame), so
that input should be the network's own size: then boxes come out in network pixels, the
same for every frame, which is exactly a constant. Freezing it keeps the node, both
backends and the TensorRT engine cache single-input, and the rewritten file is an
ordinary model anyone can inspect. ``jetson-infer freeze-input`` is the command; it needs
the ``onnx`` package (a tool-time dependency, not the node's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Sequence, Union

import numpy as np


def freeze_input(src: Union[str, Path], dst: Union[str, Path], name: str,
                 values: Sequence[float]) -> Dict[str, object]:
    """Write ``src`` to ``dst`` with input ``name`` replaced by the constant ``values``."""
    import onnx
    from onnx import helper, numpy_helper
    model = onnx.load(str(src))
    graph = model.graph
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    found = [i for i in inputs if i.name == name]
    if not found:
        raise ValueError(f'{src} has no input {name!r}; its inputs are '
                         f'{[i.name for i in inputs]}')
    if len(inputs) < 2:
        raise ValueError(f'{src}: {name!r} is its only input; nothing would feed the model')
    tensor_type = found[0].type.tensor_type
    dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tensor_type.elem_type))
    dims = [d.dim_value if d.HasField('dim_value') and d.dim_value > 0 else 1
            for d in tensor_type.shape.dim]
    array = np.asarray(values, dtype=np.float64)
    if array.size != int(np.prod(dims)):
        raise ValueError(f'input {name!r} has shape {dims} (dynamic dims as 1): '
                         f'{int(np.prod(dims))} values needed, {array.size} given')
    constant = array.reshape(dims).astype(dtype)
    graph.input.remove(found[0])
    graph.initializer.append(numpy_helper.from_array(constant, name))
    if model.ir_version < 4:
        model.ir_version = 4     # initializers that are not inputs need IR 4
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return {'input': name, 'shape': dims, 'dtype': str(dtype), 'values': constant.tolist()}
