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
Issue 11: camera-sized frames across processes, with and without the DDS profile.

A camera process publishes rgb8 frames best effort at 30 Hz; an image sink process (the
node's input QoS: best effort, keep last 1, raw CDR) notes each arrival. With the
shipped large-data Fast DDS profile and with Fast DDS defaults, alternately, the run
reports delivered/sent and the camera -> subscriber latency. No inference is involved:
this is the transport alone. With the profile, the sink also runs once with glibc's
heap defaults instead of ``heap.keep_frame_buffers``: the page faults a Python
subscriber spinning on its main thread pays per frame without it (heap.py).
"""

from __future__ import annotations

import json
from pathlib import Path
import sys
import time
from typing import Any, Callable, Dict, Tuple

from jetson_infer_ros import ros_isolation
from jetson_infer_ros.bench import procs
from jetson_infer_ros.bench.e2e import read_jsonl
from jetson_infer_ros.bench.summary import summarize


def run_delivery(size: Tuple[int, int], profile: bool, work: Path, rate: float = 30.0,
                 duration: float = 5.0, warmup: float = 1.0,
                 log: Callable[[str], None] = print, glibc_heap: bool = False) -> Dict[str, Any]:
    """Publish best effort for ``duration`` s and count what the sink received."""
    label = f'transport-{size[0]}x{size[1]}-{"profile" if profile else "defaults"}'
    label += '-glibcheap' if glibc_heap else ''
    work.mkdir(parents=True, exist_ok=True)
    env = procs.run_env(profile=profile)
    out = work / f'{label}.sink.jsonl'
    summary_path = work / f'{label}.camera.json'
    result: Dict[str, Any] = {'size': f'{size[0]}x{size[1]}', 'profile': profile,
                              'heap': 'glibc' if glibc_heap else 'kept',
                              'rate': rate, 'duration': duration,
                              'profile_file': ros_isolation.profile_in(env) or ''}
    children = []
    try:
        sink = procs.Child(f'{label}.sink', [sys.executable, '-m',
                                             'jetson_infer_ros.bench.image_sink', '--out',
                                             str(out)] + (['--glibc-heap'] if glibc_heap
                                                          else []), env, work)
        children.append(sink)
        sink.wait_for('sink ready', 60)
        camera = procs.Child(f'{label}.camera', [
            sys.executable, '-m', 'jetson_infer_ros.bench.camera', '--width', str(size[0]),
            '--height', str(size[1]), '--rate', str(rate), '--duration', str(duration),
            '--warmup', str(warmup), '--depth', '1', '--summary', str(summary_path)], env, work)
        children.append(camera)
        if not camera.wait_exit(warmup + duration + 60) or not summary_path.is_file():
            raise procs.BenchProcessError('camera did not finish:\n' + camera.log()[-2000:])
        time.sleep(0.5)
    except procs.BenchProcessError as exc:
        result['error'] = str(exc)
        log(f'[bench] {label}: FAILED: {str(exc).splitlines()[0]}')
        return result
    finally:
        procs.stop_all(children)
    camera_summary = json.loads(summary_path.read_text())
    arrived = {int(r['stamp_ns']): int(r['received_ns']) for r in read_jsonl(out)}
    sent = [int(s) for s in camera_summary['stamps']]
    latencies = [(arrived[s] - s) / 1e6 for s in sent if s in arrived]
    result.update(sent=len(sent), delivered=len(latencies),
                  delivered_share=round(len(latencies) / len(sent), 4) if sent else 0.0,
                  rate_achieved=camera_summary.get('rate_achieved'),
                  latency_ms=summarize(latencies),
                  camera_publish_ms=summarize(camera_summary.get('publish_ms', [])))
    return result
