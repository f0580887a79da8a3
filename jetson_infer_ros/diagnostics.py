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
/diagnostics for the node, in the standard key/value form aggregators read.

One DiagnosticStatus per node (name ``<node>: inference``, hardware_id ``backend/device``)
with level OK / WARN / ERROR from thresholds set by parameters, a one-line message that
says what is wrong first, and flat key/value pairs: rates, per-stage latency percentiles
over the window, drops by reason, backend, the precision actually in use (after any INT8
gate fallback), model and engine hashes.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Tuple

OK, WARN, ERROR, STALE = 0, 1, 2, 3


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return 'nan' if math.isnan(value) else f'{value:.3f}'
    return str(value)


def evaluate_levels(snapshot: Mapping[str, Any], input_rate: float, output_rate: float,
                    thresholds: Mapping[str, float], active: bool,
                    notes: Tuple[str, ...] = ()) -> Tuple[int, str]:
    """Grade a window of statistics: the worst finding sets level and message."""
    level, problems = OK, []
    p99 = snapshot.get('stages_ms', {}).get('latency', {}).get('p99', float('nan'))
    err_ms = thresholds.get('error_latency_ms', 0.0)
    warn_ms = thresholds.get('warn_latency_ms', 0.0)
    if err_ms > 0 and not math.isnan(p99) and p99 > err_ms:
        level = ERROR
        problems.append(f'p99 latency {p99:.1f} ms > {err_ms:g} ms')
    elif warn_ms > 0 and not math.isnan(p99) and p99 > warn_ms:
        level = max(level, WARN)
        problems.append(f'p99 latency {p99:.1f} ms > {warn_ms:g} ms')
    min_rate = thresholds.get('warn_output_rate_hz', 0.0)
    if (active and min_rate > 0 and not math.isnan(input_rate) and input_rate > 0
            and not math.isnan(output_rate) and output_rate < min_rate):
        level = max(level, WARN)
        problems.append(f'output {output_rate:.1f} Hz < {min_rate:g} Hz')
    errors = snapshot.get('drops', {}).get('inference_error', 0)
    if errors:
        level = max(level, WARN)
        problems.append(f'{errors} inference errors')
    for note in notes:
        level = max(level, WARN)
        problems.append(note)
    if not problems:
        return OK, 'running' if active else 'not active'
    return level, '; '.join(problems)


def build_values(snapshot: Mapping[str, Any], info: Mapping[str, Any], input_rate: float,
                 output_rate: float) -> List[Tuple[str, str]]:
    values: List[Tuple[str, str]] = [(k, _fmt(v)) for k, v in info.items()]
    values += [('input_rate_hz', _fmt(input_rate)), ('output_rate_hz', _fmt(output_rate)),
               ('frames_received', _fmt(snapshot.get('received', 0))),
               ('frames_taken', _fmt(snapshot.get('taken', 0))),
               ('frames_processed', _fmt(snapshot.get('processed', 0))),
               ('frames_published', _fmt(snapshot.get('published', 0)))]
    drops = snapshot.get('drops', {})
    values.append(('frames_dropped', _fmt(sum(drops.values()))))
    values.append(('frames_lost_in_transport', _fmt(snapshot.get('lost_in_transport', 0))))
    for reason in sorted(drops):
        values.append((f'dropped.{reason}', _fmt(drops[reason])))
    for stage, pct in snapshot.get('stages_ms', {}).items():
        for q, v in pct.items():
            values.append((f'{stage}_ms.{q}', _fmt(v)))
    return values


def status_msg(node_name: str, hardware_id: str, level: int, message: str,
               values: List[Tuple[str, str]]) -> Any:
    from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
    st = DiagnosticStatus()
    st.level = bytes([level])
    st.name = f'{node_name}: inference'
    st.message = message
    st.hardware_id = hardware_id
    st.values = [KeyValue(key=k, value=v) for k, v in values]
    return st


def array_msg(stamp: Any, statuses: List[Any]) -> Any:
    from diagnostic_msgs.msg import DiagnosticArray
    arr = DiagnosticArray()
    arr.header.stamp = stamp
    arr.status = statuses
    return arr


def parse_values(status: Any) -> Dict[str, str]:
    """Turn the KeyValue list back into a dict (tests, tools)."""
    return {kv.key: kv.value for kv in status.values}


def level_of(status: Any) -> int:
    raw: Any = status.level
    return raw[0] if isinstance(raw, (bytes, bytearray)) else int(raw)
