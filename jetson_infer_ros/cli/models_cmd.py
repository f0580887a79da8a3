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

"""`jetson-infer models`: prepare the default models into the cache (idempotent)."""

from __future__ import annotations

import argparse

from jetson_infer_ros.cli.common import print_paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('names', nargs='*', help='models to prepare (default: all)')
    parser.add_argument('--json', action='store_true', help='print name -> path as JSON')


def run(args: argparse.Namespace) -> int:
    from jetson_infer_ros.assets.models import prepare_models
    paths = prepare_models(args.names or None)
    print_paths(paths, args.json)
    return 0
