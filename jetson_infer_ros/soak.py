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
Soak: the node on the looping street video at 30 Hz for a long time, watched for leaks.

Samples the node process's RSS, open file descriptors and threads every few seconds and
reports growth after a warm-up: a node on a robot runs for hours, and what grows by a
few bytes per frame shows only here. Not part of `make test` (it runs for 30 minutes);
`make soak` runs it and writes out/soak/soak.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Any, Dict, List

from jetson_infer_ros import shm_cleanup


def _proc(pid: int) -> Dict[str, Any]:
    rss = 0
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            rss = int(line.split()[1])
    return {'rss_kb': rss, 'fds': len(os.listdir(f'/proc/{pid}/fd')),
            'threads': len(os.listdir(f'/proc/{pid}/task'))}


def run_soak(config: str, duration: float, warmup: float, rate: float, out_dir: Path,
             interval: float = 10.0, log=print) -> Dict[str, Any]:
    from jetson_infer_ros.assets.data import cached_data
    from jetson_infer_ros.ros_isolation import for_inference_node, isolated_env
    env = isolated_env()
    out_dir.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.prefix) / 'bin' / 'infer_node'
    node_log = open(out_dir / 'node.log', 'wb')
    node = subprocess.Popen([str(exe), '--autostart', '--ros-args', '--params-file', config],
                            env=for_inference_node(env), stdout=node_log, stderr=subprocess.STDOUT)
    diag_file = out_dir / 'diagnostics.jsonl'
    listener = subprocess.Popen(
        [sys.executable, '-m', 'jetson_infer_ros.testing.listener', '--out', str(diag_file),
         '--topic', 'diagnostics=/diagnostics'], env=env, stdout=subprocess.DEVNULL)
    time.sleep(3.0)
    pub = subprocess.Popen(
        [sys.executable, '-m', 'jetson_infer_ros.testing.publisher', '--video',
         str(cached_data().video), '--stream', '--rate', str(rate), '--count', '0',
         '--wait-subscribers', '0'], env=env, stdout=subprocess.DEVNULL)
    samples: List[Dict[str, Any]] = []
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < duration:
            time.sleep(interval)
            if node.poll() is not None:
                raise RuntimeError(f'the node exited with {node.returncode}')
            if pub.poll() is not None:
                raise RuntimeError(f'the camera publisher exited with {pub.returncode}')
            s = _proc(node.pid)
            s['t'] = round(time.monotonic() - t0, 1)
            s['frames_received'] = int(_last_diag(diag_file).get('frames_received', 0))
            samples.append(s)
            log(f'soak t={s["t"]:.0f}s rss={s["rss_kb"] / 1024:.1f} MB fds={s["fds"]} '
                f'threads={s["threads"]} received={s["frames_received"]}')
    finally:
        for p in (pub, listener, node):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in (pub, listener, node):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                shm_cleanup.kill(p)
        node_log.close()
    after = [s for s in samples if s['t'] >= warmup]
    last_diag = _last_diag(diag_file)
    report = {
        'config': config, 'duration_s': duration, 'warmup_s': warmup, 'rate_hz': rate,
        'samples': samples,
        'rss_growth_after_warmup_mb': (after[-1]['rss_kb'] - after[0]['rss_kb']) / 1024
        if len(after) > 1 else None,
        'rss_max_mb': max(s['rss_kb'] for s in samples) / 1024 if samples else None,
        'fds_min_max': [min(s['fds'] for s in after), max(s['fds'] for s in after)]
        if after else None,
        'threads_min_max': [min(s['threads'] for s in after), max(s['threads'] for s in after)]
        if after else None,
        'node_counters': last_diag,
        'input_rate_hz': (after[-1]['frames_received'] - after[0]['frames_received'])
        / (after[-1]['t'] - after[0]['t']) if len(after) > 1 else None,
    }
    (out_dir / 'soak.json').write_text(json.dumps(report, indent=2))
    return report


def _last_diag(path: Path) -> Dict[str, str]:
    if not path.exists():
        return {}
    values: Dict[str, str] = {}
    for line in reversed(path.read_text().splitlines()):
        try:
            values = json.loads(line)['status'][0]['values']
            break
        except (ValueError, KeyError, IndexError):
            continue      # a line still being written
    return {k: v for k, v in values.items() if k.startswith(('frames_', 'dropped.', 'latency',
                                                             'total'))}
