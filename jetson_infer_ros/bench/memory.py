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
Idle memory of the configured node, and where those megabytes come from.

``idle_node_memory`` starts the real node (``infer_node --autostart``), waits until it
is active and idle, and reads RSS/USS/PSS of its pid with psutil. ``import_steps`` runs
this module as a fresh process that adds one piece at a time (rclpy and a node, NumPy,
OpenCV, ONNX Runtime, the loaded pipeline) and notes the RSS after each, so the report
can say which piece costs what.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

from jetson_infer_ros import ros_isolation
from jetson_infer_ros.bench import procs


def idle_node_memory(config: str, work: Path, settle: float = 3.0,
                     log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Start the configured node with no camera, let it settle, read its memory."""
    from jetson_infer_ros.bench.e2e import _wait_active, RunSpec, write_params
    work.mkdir(parents=True, exist_ok=True)
    spec = RunSpec(kind='ours', model=Path(config).stem, config=config, task='')
    params = write_params(spec, work / 'idle.params.yaml')
    env = procs.run_env(profile=True)
    listener_out = work / 'idle.listener.jsonl'
    children = []
    try:
        node = procs.Child('idle.node', [str(procs.bin_dir() / 'infer_node'), '--autostart',
                                         '--ros-args', '--params-file', str(params)],
                           ros_isolation.for_inference_node(env), work)
        children.append(node)
        listener = procs.Child('idle.listener', [
            sys.executable, '-m', 'jetson_infer_ros.testing.listener', '--out',
            str(listener_out), '--topic', 'label_info=label_info'], env, work)
        children.append(listener)
        listener.wait_for('listener ready', 60)
        _wait_active(node, listener_out, 90)
        time.sleep(settle)
        monitor = procs.Monitor(node.pid)
        monitor.sample()
        out: Dict[str, Any] = {'config': config, 'settle_s': settle}
        out.update(monitor.memory_now())
        out['vm_hwm_mb'] = round(monitor.vm_hwm_bytes / 2 ** 20, 1)
        out['smaps'] = smaps_breakdown(node.pid)
        return out
    except procs.BenchProcessError as exc:
        log(f'[bench] idle memory: FAILED: {str(exc).splitlines()[0]}')
        return {'config': config, 'error': str(exc)}
    finally:
        procs.stop_all(children)


# what a mapping's path says about who owns it (first match wins)
_OWNERS = (
    ('/dev/shm/', 'Fast DDS shared-memory segments (own + peers)'),
    ('onnxruntime', 'ONNX Runtime library'),
    ('cv2', 'OpenCV'),
    ('opencv', 'OpenCV'),
    ('numpy', 'NumPy'),
    ('ros_', 'ROS 2 libraries'),
    ('rcl', 'ROS 2 libraries'),
    ('fastrtps', 'ROS 2 libraries'),
    ('fastdds', 'ROS 2 libraries'),
    ('python3', 'Python'),
    ('.so', 'other shared libraries'),
)


def smaps_breakdown(pid: int, top: int = 8) -> Dict[str, Any]:
    """
    Group a process's resident memory by owner, from /proc/<pid>/smaps.

    RSS alone says how much, not whose; the report needs to say which of Fast DDS's
    segment, the libraries' code and the heap (ONNX Runtime's arena and weights live in
    anonymous memory) to shrink.
    """
    groups: Dict[str, float] = {}
    files: Dict[str, float] = {}
    anonymous: List[float] = []
    name = ''
    try:
        with open(f'/proc/{pid}/smaps') as f:
            for line in f:
                head = line.split(None, 5)
                if len(head) >= 5 and '-' in head[0] and not head[0].endswith(':'):
                    name = head[5].strip() if len(head) > 5 else ''
                elif head and head[0] == 'Rss:':
                    kb = float(head[1])
                    owner = 'anonymous (heap, arenas, weights)'
                    if name.startswith('['):
                        owner = 'anonymous (heap, arenas, weights)' if name == '[heap]' \
                            else 'other'
                    elif name:
                        low = name.lower()
                        owner = next((o for key, o in _OWNERS if key in low), 'other files')
                        files[name] = files.get(name, 0.0) + kb
                    groups[owner] = groups.get(owner, 0.0) + kb
                    if owner.startswith('anonymous'):
                        anonymous.append(kb)
    except OSError as exc:
        return {'error': str(exc)}
    largest = sorted(files.items(), key=lambda kv: -kv[1])[:top]
    return {'by_owner_mb': {k: round(v / 1024, 1) for k, v in
                            sorted(groups.items(), key=lambda kv: -kv[1])},
            'largest_files_mb': [[Path(k).name, round(v / 1024, 1)] for k, v in largest],
            'largest_anonymous_regions_mb': [round(v / 1024, 1) for v in
                                             sorted(anonymous, reverse=True)[:top]],
            'anonymous_regions': len(anonymous)}


def import_steps(config: str, work: Path) -> Dict[str, Any]:
    """Run the step-by-step RSS probe in a fresh isolated process and return its steps."""
    import subprocess
    env = procs.run_env(profile=True)
    proc = subprocess.run([sys.executable, '-m', 'jetson_infer_ros.bench.memory', '--steps',
                           '--config', config], capture_output=True, text=True, env=env,
                          timeout=180)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith('{'):
            return json.loads(line)
    return {'error': (proc.stderr or proc.stdout)[-2000:]}


_PARTICIPANT_PROBE = (
    'import json, psutil, rclpy\n'
    'rclpy.init(args=[])\n'
    'node = rclpy.create_node("rss_probe")\n'
    'm = psutil.Process().memory_full_info()\n'
    'print(json.dumps({"rss_mb": round(m.rss / 2 ** 20, 1),\n'
    '                  "uss_mb": round(m.uss / 2 ** 20, 1)}))\n')


def segment_rss(work: Path, sizes_mb: Sequence[int] = (32,)) -> List[Dict[str, Any]]:
    """
    RSS of a bare rclpy node: Fast DDS defaults, the shipped profile, smaller segments.

    The shared-memory segment of a participant is resident from the start, whatever is
    published; this shows how much of a node's idle RSS is that segment.
    """
    import re
    import subprocess
    from jetson_infer_ros.ros_isolation import profile_path
    work.mkdir(parents=True, exist_ok=True)
    shipped = profile_path()
    variants: List[Any] = [('Fast DDS defaults (512 KB segment)', None)]
    if shipped is not None:
        text = shipped.read_text()
        match = re.search(r'<segment_size>(\d+)</segment_size>', text)
        shipped_mb = int(match.group(1)) // 2 ** 20 if match else 0
        variants.append((f'shipped profile ({shipped_mb} MB segment)', str(shipped)))
        for mb in sizes_mb:
            path = work / f'fastdds_segment_{mb}mb.xml'
            path.write_text(re.sub(r'<segment_size>\d+</segment_size>',
                                   f'<segment_size>{mb * 2 ** 20}</segment_size>', text))
            variants.append((f'shipped profile with a {mb} MB segment', str(path)))
    out = []
    for label, profile in variants:
        env = procs.run_env(profile=False)
        if profile:
            ros_isolation.set_profile(env, profile)
        proc = subprocess.run([sys.executable, '-c', _PARTICIPANT_PROBE], capture_output=True,
                              text=True, env=env, timeout=120)
        row: Dict[str, Any] = {'variant': label}
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
        row.update(json.loads(lines[-1]) if lines else {'error': proc.stderr[-500:]})
        out.append(row)
    return out


def _rss_mb() -> float:
    import psutil
    return round(psutil.Process().memory_info().rss / 2 ** 20, 1)


def _steps(config: str) -> List[Dict[str, Any]]:
    steps = [{'step': 'python interpreter', 'rss_mb': _rss_mb()}]

    def note(name: str) -> None:
        steps.append({'step': name, 'rss_mb': _rss_mb()})

    import numpy  # noqa: F401
    note('+ numpy')
    import rclpy
    rclpy.init(args=[])
    node = rclpy.create_node('rss_probe')
    from sensor_msgs.msg import Image  # noqa: F401
    from vision_msgs.msg import Classification  # noqa: F401
    note('+ rclpy, a node, sensor_msgs/vision_msgs')
    import cv2  # noqa: F401
    note('+ opencv')
    import onnxruntime  # noqa: F401
    note('+ onnxruntime (imported)')
    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.pipeline import InferencePipeline
    pipeline = InferencePipeline(load_config(config))
    pipeline.load()
    note('+ model loaded (session, buffers, warm-up)')
    pipeline.release()
    node.destroy_node()
    rclpy.try_shutdown()
    return steps


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--steps', action='store_true', help='print the RSS of each import step')
    ap.add_argument('--config', default='config/infer.yaml')
    args = ap.parse_args(argv)
    if args.steps:
        print(json.dumps({'config': args.config, 'steps': _steps(args.config)}), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
