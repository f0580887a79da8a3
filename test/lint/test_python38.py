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

"""The package must run on Python 3.8 (JetPack 5 on a Xavier NX ships it)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _package_sources():
    for d in ('jetson_infer_ros', 'launch', 'tools'):
        yield from sorted((ROOT / d).rglob('*.py'))


@pytest.mark.linter
@pytest.mark.parametrize('path', list(_package_sources()), ids=lambda p: p.name)
def test_parses_as_python38(path):
    source = path.read_text()
    tree = ast.parse(source, filename=str(path), feature_version=(3, 8))
    has_future = any(isinstance(n, ast.ImportFrom) and n.module == '__future__'
                     and any(a.name == 'annotations' for a in n.names) for n in tree.body)
    uses_annotations = any(isinstance(n, (ast.AnnAssign, ast.arg)) and getattr(
        n, 'annotation', None) is not None for n in ast.walk(tree)) or any(
        isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.returns is not None
        for n in ast.walk(tree))
    if uses_annotations and path.name != 'setup.py':
        assert has_future, f'{path.name}: annotations need `from __future__ import annotations`'
    banned = ('.removeprefix(', '.removesuffix(', 'functools.cache(', '@cache\n', 'slots=True',
              'kw_only=True', 'zip(strict', 'match ')
    for token in banned[:-1]:
        assert token not in source, f'{path.name}: uses {token!r}, not on Python 3.8'
