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
Constant folding for exported ONNX graphs, shared by the tool-env export scripts.

Exporters leave subgraphs that compute fixed values at run time: torch's legacy
exporter spells each static ``ZeroPad2d`` as a dozen nodes ending in a reversing Slice,
tf2onnx spells NanoDet's reshape targets as ``Add(const, ScatterND(...))``. Folding them
into initializers leaves a graph every runtime and TensorRT parser reads the same way,
and exposes the reshape targets so the batch dimension can be made dynamic.

The export scripts import this file by its bare name (their folder is ``sys.path[0]``
inside the tool env); onnx is imported lazily so the package can import it too.
"""

from __future__ import annotations

from typing import Any

_NONDETERMINISTIC = frozenset((
    'RandomNormal', 'RandomNormalLike', 'RandomUniform', 'RandomUniformLike',
    'Multinomial', 'Bernoulli'))


def fold_constants(proto: Any) -> int:
    """
    Replace each node whose inputs are all constant by an initializer; return how many.

    ``proto`` is an ``onnx.ModelProto`` whose nodes are in topological order (as every
    exporter writes them). It is changed in place; unused initializers are dropped.
    """
    import numpy as np
    from onnx import numpy_helper
    from onnx.reference import ReferenceEvaluator

    graph = proto.graph
    known = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    produced = {}
    kept = []
    for node in graph.node:
        inputs = [i for i in node.input if i]
        foldable = (node.op_type not in _NONDETERMINISTIC and not node.domain
                    and all(i in known for i in inputs))
        if foldable:
            outs = ReferenceEvaluator(node).run(None, {i: known[i] for i in inputs})
            for name, value in zip(node.output, outs):
                known[name] = produced[name] = np.asarray(value)
        else:
            kept.append(node)
    used = {i for n in kept for i in n.input} | {o.name for o in graph.output}
    del graph.node[:]
    graph.node.extend(kept)
    graph.initializer.extend(numpy_helper.from_array(v, name)
                             for name, v in produced.items() if name in used)
    live = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(live)
    return len(produced)
