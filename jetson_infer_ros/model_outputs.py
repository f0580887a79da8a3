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
What a model's outputs really are: concrete shapes, and what the exporter wrote down.

A decoder can only be checked against shapes it knows. An export with dynamic output
dimensions (``dynamic=True`` in Ultralytics makes batch, height, width and the anchor
count symbolic) declares ``(-1, 84, -1)``, which fits several layouts and proves none,
so configure runs the model once on a blank input of the configured size and checks the
decoder against the shapes that come out; without this, a wrong layout would pass
configure and then answer every frame wrongly. Exporters also describe their models in
ONNX metadata: Ultralytics writes the class names, the head and the export arguments,
which give the labels when none are configured and say which end-to-end variant a
``(1, 300, 6)`` output is.
"""

from __future__ import annotations

import ast
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

Shape = Tuple[int, ...]


def needs_probe(outputs: Sequence[object]) -> bool:
    """Tell whether an output has a dynamic dimension besides the batch."""
    return any(any(d < 0 for d in tuple(getattr(o, 'shape'))[1:]) for o in outputs)


def probe_output_shapes(path: str, input_name: str, input_shape: Shape,
                        dtype: str) -> Optional[Dict[str, Shape]]:
    """
    Run the model once on zeros of ``input_shape``; return each output's shape.

    Uses ONNX Runtime on the CPU (the node's own inspection tool); returns None when it
    is not installed (the decoder then binds at the first frame, as before) and raises
    ValueError with one line when the model does not run at that size.
    """
    try:
        import onnxruntime
    except ImportError:
        return None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_BASIC
    try:
        session = onnxruntime.InferenceSession(path, options,
                                               providers=['CPUExecutionProvider'])
        feed = {input_name: np.zeros(input_shape, np.dtype(dtype))}
        results = session.run(None, feed)
    except Exception as exc:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ValueError(f'{path}: a probe run at input {tuple(input_shape)} failed: '
                         f'{text}') from None
    return {meta.name: tuple(int(d) for d in np.shape(value))
            for meta, value in zip(session.get_outputs(), results)}


def metadata_labels(metadata: Mapping[str, str]) -> Tuple[str, ...]:
    """
    Class names an exporter stored in the model, in class order (empty if none).

    Ultralytics writes ``names`` as a Python dict literal ``{0: 'person', 1: ...}``; it
    is read with ``ast.literal_eval`` (literals only, nothing is executed) and used only
    when its keys are exactly 0..N-1.
    """
    text = metadata.get('names')
    if not text:
        return ()
    try:
        names = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return ()
    if isinstance(names, (list, tuple)):
        return tuple(str(n) for n in names)
    if not isinstance(names, dict) or sorted(names) != list(range(len(names))):
        return ()
    return tuple(str(names[i]) for i in range(len(names)))
