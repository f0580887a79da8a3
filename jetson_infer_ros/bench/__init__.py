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
Benchmarks behind `jetson-infer bench`: where the milliseconds of a frame go.

The numbers come from the same code that runs on a robot: the raw backend and the
in-process pipeline use InferencePipeline; the per-stage numbers are read from the
node's own /diagnostics; end to end runs three real processes (camera -> node ->
listener) over DDS. Two reference nodes live here only to give those numbers a scale:
a tutorial-style node (``naive_node``) and a node that does nothing but echo the header
(``relay_node``: the transport floor).
"""
