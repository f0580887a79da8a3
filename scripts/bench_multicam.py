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
Benchmark for issue 10: 4 cameras in one node (batch 4) vs 4 nodes (batch 1 each).

Starts 4 camera publishers (separate processes, real street-video frames, 640x480 rgb8
at a given rate) and either one node serving all four topics with max_batch 4, or four
nodes each serving one topic; measures the nodes' summed RSS (psutil), their CPU, and
the answers per second per camera from each node's /diagnostics. Prints JSON.

    .venv/bin/python scripts/bench_multicam.py --config config/infer.yaml --rate 30
"""

import argparse
import json
from pathlib import Path
import subprocess
import sys
import tempfile
import time

import psutil
import yaml

from jetson_infer_ros import shm_cleanup
from jetson_infer_ros.assets.data import cached_data
from jetson_infer_ros.config import read_ros_parameters
from jetson_infer_ros.ros_isolation import isolated_env

ROOT = Path(__file__).resolve().parent.parent


def _params(tmp: Path, name: str, config: str, **overrides) -> Path:
    values = read_ros_parameters(ROOT / config)
    values.update(overrides)
    path = tmp / f'{name}.yaml'
    path.write_text(yaml.safe_dump({name: {'ros__parameters': values}}))
    return path


def run(mode: str, config: str, rate: float, duration: float, tmp: Path) -> dict:
    env = isolated_env()
    exe = str(Path(sys.prefix) / 'bin' / 'infer_node')
    topics = [f'cam{i}/image' for i in range(4)]
    nodes = []
    if mode == 'one_node_b4':
        p = _params(tmp, 'jetson_infer', config, image_topics=topics, max_batch=4,
                    max_batch_wait_ms=10.0)
        nodes.append(subprocess.Popen([exe, '--autostart', '--ros-args', '--params-file',
                                       str(p)], env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    else:
        for i, t in enumerate(topics):
            name = f'jetson_infer_{i}'
            p = _params(tmp, name, config, image_topics=[t])
            nodes.append(subprocess.Popen(
                [exe, '--autostart', '--ros-args', '--params-file', str(p), '-r',
                 f'__node:={name}'], env=env, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL))
    diag = tmp / f'{mode}_diag.jsonl'
    lis = subprocess.Popen([sys.executable, '-m', 'jetson_infer_ros.testing.listener', '--out',
                            str(diag), '--topic', 'diagnostics=/diagnostics'], env=env,
                           stdout=subprocess.DEVNULL)
    time.sleep(4.0)
    video = str(cached_data().video)
    pubs = [subprocess.Popen([sys.executable, '-m', 'jetson_infer_ros.testing.publisher',
                              '--topic', t, '--video', video, '--video-frames', '20',
                              '--width', '640', '--height', '480', '--encoding', 'rgb8',
                              '--rate', str(rate), '--count', str(int(rate * (duration + 6))),
                              '--wait-subscribers', '1'],
                             env=env, stdout=subprocess.DEVNULL) for t in topics]
    time.sleep(5.0)
    procs = [psutil.Process(n.pid) for n in nodes]
    for p in procs:
        p.cpu_percent()
    rss, t0 = [], time.monotonic()
    while time.monotonic() - t0 < duration:
        time.sleep(1.0)
        rss.append(sum(p.memory_info().rss for p in procs))
    cpu = sum(p.cpu_percent() for p in procs)
    for p in pubs + [lis] + nodes:
        p.send_signal(2)
    for p in pubs + [lis] + nodes:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            shm_cleanup.kill(p)
    last = {}
    for line in diag.read_text().splitlines():
        for st in json.loads(line)['status']:
            last[st['name']] = st['values']
    processed = sum(int(v.get('frames_processed', 0)) for k, v in last.items()
                    if ': inference' in k)
    received = sum(int(v.get('frames_received', 0)) for k, v in last.items()
                   if ': inference' in k)
    return {'mode': mode, 'nodes': len(nodes), 'rss_mb_peak': max(rss) / 2**20,
            'rss_mb_mean': sum(rss) / len(rss) / 2**20, 'cpu_percent': cpu,
            'frames_received': received, 'frames_processed': processed,
            'answered_per_s_per_camera_approx': processed / (duration + 5.0) / 4}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--config', default='config/infer.yaml')
    ap.add_argument('--rate', type=float, default=30.0)
    ap.add_argument('--duration', type=float, default=20.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [run(m, args.config, args.rate, args.duration, Path(tmp))
                   for m in ('one_node_b4', 'four_nodes_b1')]
    print(json.dumps({'config': args.config, 'rate_hz': args.rate, 'results': results},
                     indent=2))


if __name__ == '__main__':
    main()
