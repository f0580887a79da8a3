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
Postprocessing: raw output tensors in, classes or source-pixel boxes out.

Split by job (``classify``, ``decoders``, ``nms``, ``results``) so that each piece is
testable against an independent reference; this package only re-exports the names the
node and the CLI use. Everything here needs NumPy only.
"""

from __future__ import annotations

from jetson_infer_ros.postprocess.classify import classify, softmax, top_k, top_k_arrays
from jetson_infer_ros.postprocess.decoders import (
    DecoderShapeError, detect, DetectionPostprocessor, make_decoder, postprocessor_for_spec)
from jetson_infer_ros.postprocess.nms import nms
from jetson_infer_ros.postprocess.results import ClassScore, Detection, DetectionBatch

__all__ = [
    'ClassScore', 'classify', 'DecoderShapeError', 'Detection', 'DetectionBatch',
    'DetectionPostprocessor', 'detect', 'make_decoder', 'nms', 'postprocessor_for_spec',
    'softmax', 'top_k', 'top_k_arrays',
]
