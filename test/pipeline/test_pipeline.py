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

"""The per-frame pipeline the node and the CLI share: batching, errors, live updates."""

from __future__ import annotations

import numpy as np
import pytest

from jetson_infer_ros.config import load_config
from jetson_infer_ros.image_convert import Picture
from jetson_infer_ros.pipeline import InferencePipeline
from jetson_infer_ros.testing import synthetic_onnx


def _cfg(model, **kw):
    values = {'model_path': str(model), 'mean': [0.0, 0.0, 0.0], 'std': [1.0, 1.0, 1.0],
              'resize_mode': 'stretch', 'backend': 'onnxruntime'}
    values.update(kw)
    return load_config(None, **values)


def _pictures(n, seed=0):
    rng = np.random.default_rng(seed)
    return [Picture(rng.integers(0, 256, (48 + 8 * i, 64, 3), dtype=np.uint8), 'rgb')
            for i in range(n)]


def test_fixed_batch_model_refuses_a_larger_batch(tmp_path):
    model = synthetic_onnx.classifier(str(tmp_path / 'fixed.onnx'), (1, 3, 32, 48))
    pipe = InferencePipeline(_cfg(model, max_batch=2))
    with pytest.raises(ValueError, match='fixed at batch 1'):
        pipe.load()


def test_batch_results_equal_single_frame_results(tmp_path):
    model = synthetic_onnx.classifier(str(tmp_path / 'dyn.onnx'), (1, 3, 32, 48),
                                      dynamic_batch=True)
    pics = _pictures(3)
    batched = InferencePipeline(_cfg(model, max_batch=3, top_k=5))
    batched.load()
    single = InferencePipeline(_cfg(model, max_batch=1, top_k=5))
    single.load()
    try:
        together = batched.run(pics)
        alone = [single.run([p])[0] for p in pics]
        assert len(together) == 3
        for a, b in zip(together, alone):
            assert a.class_ids.tolist() == b.class_ids.tolist()
            np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5, atol=1e-6)
        two = batched.run(pics[:2])        # a partial batch runs too
        assert [r.class_ids.tolist() for r in two] == [r.class_ids.tolist() for r in alone[:2]]
        with pytest.raises(ValueError, match='at most 3'):
            batched.run(_pictures(4))
    finally:
        batched.release()
        single.release()


def test_top_k_changes_live(tmp_path):
    model = synthetic_onnx.classifier(str(tmp_path / 'dyn.onnx'), dynamic_batch=True)
    pipe = InferencePipeline(_cfg(model, top_k=5))
    pipe.load()
    assert len(pipe.run(_pictures(1))[0].class_ids) == 5
    pipe.update_runtime(pipe.cfg.replace(top_k=2))
    assert len(pipe.run(_pictures(1))[0].class_ids) == 2
    pipe.release()


def test_configuration_errors_are_one_clear_line(tmp_path):
    model = synthetic_onnx.classifier(str(tmp_path / 'm.onnx'))
    labels = tmp_path / 'labels.txt'
    labels.write_text('a\nb\nc\n')
    with pytest.raises(ValueError, match='3 labels given but'):
        InferencePipeline(_cfg(model, labels_file=str(labels))).load()
    with pytest.raises(ValueError, match='unreadable'):
        InferencePipeline(_cfg(model, labels_file=str(tmp_path / 'none.txt'))).load()
    with pytest.raises(ValueError, match='model file not found'):
        InferencePipeline(_cfg(tmp_path / 'missing.onnx')).load()
    junk = tmp_path / 'junk.onnx'
    junk.write_bytes(b'this is not a protobuf')
    with pytest.raises(ValueError) as err:
        InferencePipeline(_cfg(junk)).load()
    assert '\n' not in str(err.value)
