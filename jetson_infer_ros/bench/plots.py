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
The report's two pictures: latency distributions, and where the milliseconds go.

``latency.png``: per model and size, the cumulative distribution of end-to-end latency
(camera stamp -> listener receipt) for our node (FP32, INT8), the naive node and the
relay, at the camera rate and at overload, with the raw backend's p50 marked.
``stages.png``: our node's p50 end-to-end latency split into DDS in, hand-off, each
pipeline stage and DDS out, with the relay's whole p50 (the transport floor) beneath.
Rendered with matplotlib's Agg backend (no display).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import numpy as np

from jetson_infer_ros.bench import aggregate

COLORS = {'ours-fp32': '#1f77b4', 'ours-int8': '#17becf', 'ours-int8-forced': '#9467bd',
          'naive-fp32': '#d62728', 'relay-fp32': '#7f7f7f', 'wire-fp32': '#ff7f0e'}
PARTS = ('dds_in_and_dispatch', 'handoff', 'convert', 'preprocess', 'infer', 'postprocess',
         'message', 'publish', 'dds_out')
PART_COLORS = ('#c7c7c7', '#dbdb8d', '#9edae5', '#98df8a', '#1f77b4', '#ffbb78', '#f7b6d2',
               '#c5b0d5', '#8c8c8c')


def _pyplot() -> Any:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def latency_plot(results: Dict[str, Any], path: Path) -> Optional[Path]:
    """Draw latency ECDFs per (model, size) and phase; None when there is nothing to draw."""
    runs = [r for r in results.get('e2e_runs', []) or [] if r.get('latencies')]
    if not runs:
        return None
    plt = _pyplot()
    combos: List[tuple] = []
    for r in runs:
        if (r['model'], r['size']) not in combos:
            combos.append((r['model'], r['size']))
    phases = [p for p in ('30hz', 'overload') if any(r['phase'] == p for r in runs)]
    fig, axes = plt.subplots(len(phases), len(combos), squeeze=False,
                             figsize=(4.2 * len(combos), 3.4 * len(phases)))
    for row, phase in enumerate(phases):
        for col, (model, size) in enumerate(combos):
            ax = axes[row][col]
            series: Dict[str, List[float]] = {}
            rates: Dict[str, float] = {}
            for r in runs:
                if r['phase'] == phase and r['model'] == model and r['size'] == size:
                    key = f'{r["kind"]}-{r["precision"]}'
                    series.setdefault(key, []).extend(r['latencies'])
                    rates[key] = r.get('rate_achieved') or r['rate']
            for key, values in sorted(series.items()):
                v = np.sort(np.asarray(values))
                ax.step(v, np.arange(1, v.size + 1) / v.size, where='post',
                        color=COLORS.get(key), label=f'{key} ({rates[key]:.0f} Hz)')
            for raw in results.get('raw_backend', []) or []:
                if raw.get('model') == model and raw.get('precision') == 'fp32':
                    ax.axvline(raw['infer_ms']['p50'], color='k', ls=':', lw=1,
                               label='raw infer p50 (fp32)')
            ax.set_xscale('log')
            ax.xaxis.set_minor_formatter(plt.NullFormatter())   # labels overlapped
            ax.set_title(f'{model} {size} - {"camera rate" if phase == "30hz" else phase}',
                         fontsize=9)
            ax.set_xlabel('end-to-end latency, ms (log)', fontsize=8)
            ax.set_ylabel('fraction of frames', fontsize=8)
            ax.grid(True, which='both', alpha=0.3)
            ax.legend(fontsize=7, loc='lower right')
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def stages_plot(results: Dict[str, Any], path: Path) -> Optional[Path]:
    """Draw stacked p50 bars of our node's latency per model/precision/size at 30 Hz."""
    groups = (results.get('summary') or {}).get('groups') or []
    rows = []
    for g in groups:
        if g.get('phase') == '30hz' and g.get('kind') == 'ours' and g.get('runs'):
            parts = aggregate.decomposition(g)
            if parts:
                rows.append((f'{g["model"]} {g["precision"]} {g["size"]}', parts))
                relay = aggregate.find(groups, phase='30hz', kind='relay', model=g['model'],
                                       size=g['size'])
                if relay is not None and g['precision'] == 'fp32':
                    p50 = relay['latency_ms']['p50']
                    rows.append((f'  relay (DDS floor) {g["size"]}',
                                 {'dds_in_and_dispatch': p50, 'end_to_end': p50}))
    if not rows:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(rows) + 1.6))
    for i, (label, parts) in enumerate(rows):
        left = 0.0
        for part, color in zip(PARTS, PART_COLORS):
            width = max(0.0, parts.get(part, 0.0) if parts.get(part) == parts.get(part)
                        else 0.0)
            ax.barh(i, width, left=left, color=color, edgecolor='white',
                    label=part if i == 0 else None)
            left += width
        ax.text(left, i, f' {parts["end_to_end"]:.1f} ms', va='center', fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r[0] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel('ms (p50 of each part; camera stamp -> listener receipt)')
    ax.set_title('Where the milliseconds go (our node, camera rate)')
    ax.legend(fontsize=7, ncol=5, loc='upper center', bbox_to_anchor=(0.5, -0.25))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
