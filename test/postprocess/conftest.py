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

"""The families x options table of test_real_exports.py, printed at the end of the run."""

from __future__ import annotations

from typing import Any, Dict

import pytest

_TABLE: Dict[str, Dict[str, Any]] = {}


@pytest.fixture(scope='session')
def export_table():
    """Each passing real-export test writes its row here."""
    return _TABLE


def pytest_terminal_summary(terminalreporter):
    reports = terminalreporter.stats
    tried = [r for key in ('passed', 'failed', 'error') for r in reports.get(key, [])
             if 'test_export_decodes_like_its_exporter' in getattr(r, 'nodeid', '')
             and r.when == 'call']
    if not tried:
        return
    write = terminalreporter.write_line
    terminalreporter.section('real detector exports: node vs exporter')
    write('| export | decoder | result | detections / frames | max box error px | '
          'max score error | max raw error | zero-area boxes the exporter kept |')
    write('|---|---|---|---|---|---|---|---|')
    for r in sorted(tried, key=lambda r: r.nodeid):
        name = r.nodeid.split('[', 1)[1].rstrip(']')
        row = _TABLE.get(name)
        if r.passed and row:
            write(f"| {name} | {row['decoder']} | pass | {row['detections']} / "
                  f"{row['frames']} | {row['box_px']:.4f} | {row['score']:.2e} | "
                  f"{row['raw']:.2e} | {int(row['zero_area'])} |")
        else:
            write(f'| {name} | | FAIL | | | | | |')
