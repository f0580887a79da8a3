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
`make demo`: the node on real footage, end to end, showing what a person wants to see.

Prepares what it needs (the default model, the data, the bag), starts the node with
the given config as its own process, replays the street video (detection) or the
still photos (classification) at the recorded pace, and listens to the answers and to
/diagnostics in this process. It prints a compact line every few frames (or every
photo's top-1), then per-class counts, the per-stage latency percentiles the node
reports (``<stage>_ms.p50/p90/p99``) and dropped frames; and writes a contact sheet
(frames with their boxes drawn, PNG) and a JSON summary to the output folder.

Every ROS process here (this one included) runs isolated: localhost discovery, a
random domain, the large-data Fast DDS profile.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import math
from pathlib import Path
import re
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from jetson_infer_ros import child_process
from jetson_infer_ros import shm_cleanup

Log = Callable[[str], None]
STAGES = ('convert', 'preprocess', 'infer', 'postprocess', 'message', 'publish', 'total')
_STAGE_KEY = re.compile(r'^(?:.*/)?([a-z_]+)_ms\.(p50|p90|p99)$')


@dataclasses.dataclass
class DemoOptions:
    """What to run and where the results go."""

    config: Path
    out_dir: Path = Path('out/demo')
    bag: Optional[Path] = None       # default: the standard bag for the task
    topic: Optional[str] = None
    rate: float = 1.0
    limit: int = 0
    every: int = 0                   # print a line every N frames (0: 50, or 1 for photos)
    sheet_tiles: int = 9
    docs_png: Optional[Path] = None  # also write a small (< 300 KB) copy here
    startup_timeout: float = 300.0


class _Answers:
    """What the in-process listener collected (filled from the executor thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.outputs: Dict[int, List[List[float]]] = {}
        self.order: List[int] = []
        self.labels: List[str] = []
        self.diagnostics: Dict[str, str] = {}
        self.diag_count = 0


def standard_bag_for(task: str, input_type: str) -> str:
    """Return the standard bag the demo plays for a task and input type."""
    if task == 'detection':
        return 'vtest_jpeg' if input_type == 'compressed' else 'vtest_bgr8'
    if input_type == 'compressed':
        raise ValueError('no compressed photo bag: pass --bag for a classification config '
                         'with input_type compressed')
    return 'photos'


def run_demo(opt: DemoOptions, log: Log = print) -> Dict[str, Any]:
    """Run the demo; return the summary that is also written as JSON."""
    from jetson_infer_ros import ros_isolation
    from jetson_infer_ros.config import config_from_mapping, read_ros_parameters
    values = read_ros_parameters(opt.config)
    cfg = config_from_mapping(values)
    bag_path = _prepare(opt, cfg, log)
    env = ros_isolation.apply_to_this_process()   # before rclpy is imported, here and below
    from jetson_infer_ros.bags.reader import open_bag
    with open_bag(bag_path) as bag:
        info = bag.image_topic(opt.topic)
        inputs = bag.stamps(info.name)
        photos = json.loads(bag.custom_data().get('photos', 'null') or 'null')
    if opt.limit:
        inputs = inputs[:opt.limit]
    compressed = info.msgtype.endswith('CompressedImage')
    values['input_type'] = 'compressed' if compressed else 'raw'
    out_dir = Path(opt.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    every = opt.every or (1 if cfg.task == 'classification' else 50)
    log(f'[demo] {opt.config}: {cfg.model_path} ({cfg.task}) on {bag_path.name} '
        f'({info.name}, {len(inputs)} frames, rate {opt.rate:g})')
    answers, wall = _run_ros(opt, cfg, values, env, bag_path, info.name, inputs, photos,
                             every, out_dir, log)
    summary = _summarize(opt, cfg, bag_path, info.name, inputs, photos, answers, wall)
    _print_summary(summary, log)
    sheet = out_dir / 'contact_sheet.png'
    write_contact_sheet(bag_path, info.name, inputs, answers.outputs, answers.labels, cfg.task,
                        sheet, opt.sheet_tiles, photos)
    summary['contact_sheet'] = str(sheet)
    _write_answers(out_dir / 'answers.jsonl', inputs, answers.outputs)
    if opt.docs_png:   # four larger tiles, so labels stay readable at README size
        four = out_dir / 'contact_sheet_4.png'
        write_contact_sheet(bag_path, info.name, inputs, answers.outputs, answers.labels,
                            cfg.task, four, 4, photos, tile_width=576)
        size = write_small_png(four, Path(opt.docs_png))
        summary['docs_png'] = {'path': str(opt.docs_png), 'bytes': size}
        log(f'[demo] small copy ({size / 1e3:.0f} KB): {opt.docs_png}')
    (out_dir / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    log(f'[demo] contact sheet: {sheet}')
    log(f'[demo] summary: {out_dir / "summary.json"}')
    return summary


def _write_answers(path: Path, inputs: Sequence[Tuple[int, str]],
                   outputs: Dict[int, List[List[float]]]) -> None:
    """Write one JSON line per sent frame: its index, stamp and the node's answer (or null)."""
    with open(path, 'w') as f:
        for i, (stamp, frame_id) in enumerate(inputs):
            rows = outputs.get(stamp)
            f.write(json.dumps({'frame': i, 'stamp_ns': stamp, 'frame_id': frame_id,
                                'results': [[round(v, 4) for v in r] for r in rows]
                                if rows is not None else None}) + '\n')


def _prepare(opt: DemoOptions, cfg: Any, log: Log) -> Path:
    from jetson_infer_ros.assets.data import prepare_data
    from jetson_infer_ros.bags.make_bags import prepare_bag
    from jetson_infer_ros.pipeline import DEFAULT_LABELS
    if cfg.model_path in DEFAULT_LABELS:
        from jetson_infer_ros.assets.models import prepare_models
        prepare_models([cfg.model_path], log=log)
    if opt.bag:
        return Path(opt.bag)
    prepare_data(log=log)
    return prepare_bag(standard_bag_for(cfg.task, cfg.input_type), log=log)


def _run_ros(opt: DemoOptions, cfg: Any, values: Dict[str, Any], env: Dict[str, str],
             bag_path: Path, topic: str, inputs: List[Tuple[int, str]],
             photos: Optional[List[str]], every: int, out_dir: Path,
             log: Log) -> Tuple[_Answers, float]:
    import yaml
    from jetson_infer_ros import ros_isolation
    params = out_dir / 'params.yaml'
    params.write_text(yaml.safe_dump({'/**': {'ros__parameters': values}}))
    remap = ('image/compressed:=' if values['input_type'] == 'compressed' else 'image:=') + topic
    node_log = open(out_dir / 'node.log', 'wb')
    node = subprocess.Popen([sys.executable, '-m', 'jetson_infer_ros.node', '--autostart',
                             '--ros-args', '--params-file', str(params), '-r', remap],
                            stdout=node_log, stderr=subprocess.STDOUT,
                            env=ros_isolation.for_inference_node(env),
                            stdin=subprocess.DEVNULL)
    answers = _Answers()
    index = {stamp: i for i, (stamp, _f) in enumerate(inputs)}
    listener = _Listener(cfg.task, answers, index, photos, every, len(inputs), log)
    replay: Optional[subprocess.Popen] = None
    t0 = time.monotonic()
    try:
        listener.start()
        deadline = time.monotonic() + opt.startup_timeout
        while not listener.ready():
            if node.poll() is not None:
                raise RuntimeError(f'the node exited (code {node.returncode}): '
                                   f'{child_process.log_tail(out_dir / "node.log", 3)}')
            if time.monotonic() > deadline:
                raise RuntimeError(f'the node did not come up in {opt.startup_timeout:g} s: '
                                   f'{child_process.log_tail(out_dir / "node.log", 3)}')
            time.sleep(0.1)
        cmd = [sys.executable, '-m', 'jetson_infer_ros.cli.main', 'replay', str(bag_path),
               '--topic', topic, '--rate', str(opt.rate), '--wait-subscribers', '1']
        if opt.limit:
            cmd += ['--limit', str(opt.limit)]
        with open(out_dir / 'replay.log', 'wb') as rlog:
            replay = subprocess.Popen(cmd, stdout=rlog, stderr=subprocess.STDOUT, env=env,
                                      stdin=subprocess.DEVNULL)
        t0 = time.monotonic()
        while replay.poll() is None:
            if node.poll() is not None:
                raise RuntimeError(f'the node exited (code {node.returncode}): '
                                   f'{child_process.log_tail(out_dir / "node.log", 3)}')
            time.sleep(0.1)
        if replay.returncode != 0:
            raise RuntimeError('replay failed: '
                               + child_process.log_tail(out_dir / 'replay.log', 3))
        wall = time.monotonic() - t0
        m = re.search(r'replayed .* in ([0-9.]+) s:', (out_dir / 'replay.log').read_text())
        wall = float(m.group(1)) if m else wall
        # the last answers, then a diagnostics message that has counted them all
        settle = time.monotonic() + 10.0
        while time.monotonic() < settle and len(answers.order) < len(inputs):
            time.sleep(0.05)
        seen = answers.diag_count
        settle = time.monotonic() + 2.0 * float(values.get('diagnostics_period', 1.0)) + 2.0
        while time.monotonic() < settle and answers.diag_count < seen + 2:
            time.sleep(0.05)
    finally:
        if replay is not None and replay.poll() is None:
            shm_cleanup.kill(replay)
        child_process.stop(node)
        node_log.close()
        listener.stop()
    return answers, wall


class _Listener:
    """rclpy in a thread: answers, label_info and /diagnostics of the node under demo."""

    def __init__(self, task: str, answers: _Answers, index: Dict[int, int],
                 photos: Optional[List[str]], every: int, total: int, log: Log) -> None:
        self.task, self.answers, self.index = task, answers, index
        self.photos, self.every, self.total, self.log = photos, every, total, log
        self._thread: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._sub: Any = None
        self._started = threading.Event()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._spin, name='demo_listener', daemon=True)
        self._thread.start()
        self._started.wait(30)

    def ready(self) -> bool:
        return (self._sub is not None and self._sub.get_publisher_count() > 0
                and bool(self.answers.labels))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _spin(self) -> None:
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from vision_msgs.msg import Classification, Detection2DArray, LabelInfo
        rclpy.init(args=[], signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
        node = rclpy.create_node('jetson_infer_demo')
        reliable = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        if self.task == 'detection':
            self._sub = node.create_subscription(Detection2DArray, '/detections',
                                                 self._on_detections, reliable)
        else:
            self._sub = node.create_subscription(Classification, '/classification',
                                                 self._on_classification, reliable)
        node.create_subscription(LabelInfo, '/label_info', self._on_labels, latched)
        node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        self._started.set()
        while not self._stop.is_set():
            executor.spin_once(timeout_sec=0.05)
        # the process leaves with os._exit: no participant teardown (see bags.exit_process)

    def _on_labels(self, msg: Any) -> None:
        labels = [''] * (max((c.class_id for c in msg.class_map), default=-1) + 1)
        for c in msg.class_map:
            labels[c.class_id] = c.class_name
        with self.answers.lock:
            self.answers.labels = labels

    def _name(self, cid: int) -> str:
        labels = self.answers.labels
        return labels[cid] if 0 <= cid < len(labels) else str(cid)

    def _record(self, msg: Any, rows: List[List[float]]) -> Optional[int]:
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        with self.answers.lock:
            self.answers.outputs[stamp] = rows
            self.answers.order.append(stamp)
            n = len(self.answers.order)
        return n

    def _on_detections(self, msg: Any) -> None:
        rows = []
        for d in msg.detections:
            hyp = d.results[0].hypothesis if d.results else None
            cx, cy = d.bbox.center.position.x, d.bbox.center.position.y
            rows.append([int(hyp.class_id) if hyp else -1, float(hyp.score) if hyp else 0.0,
                         cx - d.bbox.size_x / 2, cy - d.bbox.size_y / 2,
                         cx + d.bbox.size_x / 2, cy + d.bbox.size_y / 2])
        n = self._record(msg, rows)
        if n is not None and (n % self.every == 0 or n == 1 or n == self.total):
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            frame = self.index.get(stamp, -1)
            counts = collections.Counter(self._name(int(r[0])) for r in rows)
            what = ', '.join(f'{k} {v}' for k, v in counts.most_common(4)) or 'nothing'
            infer = self.answers.diagnostics.get('infer_ms.p50')
            timing = f'; infer p50 {infer} ms' if infer else ''
            self.log(f'[demo] frame {frame + 1:4d}/{self.total}: {len(rows):2d} objects '
                     f'({what}){timing}')

    def _on_classification(self, msg: Any) -> None:
        rows = [[int(r.class_id), float(r.score)] for r in msg.results]
        n = self._record(msg, rows)
        stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        frame = self.index.get(stamp, -1)
        name = (self.photos[frame] if self.photos and 0 <= frame < len(self.photos)
                else f'frame {frame + 1}')
        if n is not None and (n % self.every == 0 or n == self.total) and rows:
            self.log(f'[demo] {frame + 1:3d}/{self.total} {name}: {self._name(int(rows[0][0]))} '
                     f'({rows[0][1]:.2f})')

    def _on_diagnostics(self, msg: Any) -> None:
        for st in msg.status:
            if st.name.endswith(': inference'):
                with self.answers.lock:
                    self.answers.diagnostics = {kv.key: kv.value for kv in st.values}
                    self.answers.diag_count += 1


# ---------------------------------------------------------------------- summary
def stage_latencies(values: Dict[str, str]) -> Dict[str, Dict[str, float]]:
    """Pick ``<stage>_ms.p50/p90/p99`` out of diagnostics values (NaN when absent)."""
    out: Dict[str, Dict[str, float]] = {}
    for key, value in values.items():
        m = _STAGE_KEY.match(key)
        if not m:
            continue
        try:
            v = float(value)
        except ValueError:
            continue
        out.setdefault(m.group(1), {})[m.group(2)] = v
    return out


def _summarize(opt: DemoOptions, cfg: Any, bag_path: Path, topic: str,
               inputs: List[Tuple[int, str]], photos: Optional[List[str]],
               answers: _Answers, wall: float) -> Dict[str, Any]:
    diag = dict(answers.diagnostics)
    labels = answers.labels

    def name(cid: int) -> str:
        return labels[cid] if 0 <= cid < len(labels) else str(cid)
    answered = [s for s, _f in inputs if s in answers.outputs]
    summary: Dict[str, Any] = {
        'config': str(opt.config), 'model': cfg.model_path, 'task': cfg.task,
        'backend': diag.get('backend', ''), 'device': diag.get('device', ''),
        'precision': diag.get('precision_in_use', ''),
        'bag': str(bag_path), 'topic': topic, 'rate': opt.rate,
        'frames_sent': len(inputs), 'frames_answered': len(answered),
        'replay_seconds': round(wall, 2),
        'node': {k: v for k, v in diag.items()
                 if k.startswith(('frames_', 'dropped', 'input_rate', 'output_rate'))},
        'latency_ms': {k: v for k, v in stage_latencies(diag).items() if k in STAGES},
    }
    dropped = {k.split('.', 1)[1]: int(float(v)) for k, v in diag.items()
               if k.startswith('dropped.') and _is_number(v) and float(v) > 0}
    received = diag.get('frames_received', '')
    summary['dropped'] = {'unanswered': len(inputs) - len(answered),
                          'by_reason': dropped,
                          'total_reported': int(float(diag.get('frames_dropped', '0') or 0)),
                          'never_reached_the_node': len(inputs) - int(float(received))
                          if _is_number(received) else None}
    if cfg.task == 'detection':
        counts: 'collections.Counter[str]' = collections.Counter()
        frames_with: 'collections.Counter[str]' = collections.Counter()
        for stamp in answered:
            rows = answers.outputs[stamp]
            for r in rows:
                counts[name(int(r[0]))] += 1
            for cls in {name(int(r[0])) for r in rows}:
                frames_with[cls] += 1
        summary['detections_per_class'] = dict(counts.most_common())
        summary['frames_with_class'] = dict(frames_with.most_common())
        summary['detections_total'] = sum(counts.values())
    else:
        tops = []
        for i, (stamp, _f) in enumerate(inputs):
            rows = answers.outputs.get(stamp) or []
            tops.append({'photo': photos[i] if photos and i < len(photos) else str(i),
                         'top1': name(int(rows[0][0])) if rows else None,
                         'class_id': int(rows[0][0]) if rows else None,
                         'score': round(float(rows[0][1]), 4) if rows else None})
        summary['top1'] = tops
    return summary


def _is_number(v: str) -> bool:
    try:
        return not math.isnan(float(v))
    except ValueError:
        return False


def _print_summary(s: Dict[str, Any], log: Log) -> None:
    log('')
    log(f'== {s["model"]} ({s["task"]}) on {s["backend"] or "?"} ({s["device"] or "?"}, '
        f'{s["precision"] or "?"}); bag {Path(s["bag"]).name}, rate {s["rate"]:g}')
    d = s['dropped']
    reasons = ', '.join(f'{k} {v}' for k, v in d['by_reason'].items()) or 'none'
    log(f'frames: {s["frames_sent"]} sent in {s["replay_seconds"]:.1f} s, '
        f'{s["frames_answered"]} answered; dropped by the node: {d["total_reported"]} '
        f'({reasons}); never reached the node: {d["never_reached_the_node"]}')
    if d['never_reached_the_node']:
        log('  (the default input QoS is best effort, depth 1: a frame that arrives while the '
            'previous one is still waiting replaces it; lossless: true answers every frame)')
    if s['task'] == 'detection':
        log(f'detections per class ({s["detections_total"]} in all; frames containing it):')
        for cls, n in s['detections_per_class'].items():
            log(f'  {cls:<16} {n:6d}   ({s["frames_with_class"].get(cls, 0)} frames)')
    lat = s['latency_ms']
    if lat:
        log('time per stage, ms (node /diagnostics)     p50      p90      p99')
        for stage in [x for x in STAGES if x in lat]:
            q = lat[stage]
            log(f'  {stage:<38}' + ''.join(f'{q.get(p, float("nan")):9.2f}'
                                           for p in ('p50', 'p90', 'p99')))
        log('  (total: from arrival in the node to publish; the stamp-to-now latency is left '
            'out: these stamps are from the recording)')


# ---------------------------------------------------------------------- pictures
def _pick(n_total: int, n: int) -> List[int]:
    if n_total <= n:
        return list(range(n_total))
    return sorted({int(round(i * (n_total - 1) / (n - 1))) for i in range(n)})


def write_contact_sheet(bag_path: Path, topic: str, inputs: Sequence[Tuple[int, str]],
                        outputs: Dict[int, List[List[float]]], labels: Sequence[str],
                        task: str, out: Path, tiles: int = 9,
                        photos: Optional[List[str]] = None, tile_width: int = 384) -> Path:
    """Draw the answers on evenly spaced frames of the bag and tile them into one PNG."""
    import cv2
    from jetson_infer_ros.bags.reader import decode_image, open_bag
    from jetson_infer_ros.messages import draw_detections
    answered = [i for i, (s, _f) in enumerate(inputs) if s in outputs]
    chosen = {answered[k] for k in _pick(len(answered), tiles)}
    images: List[np.ndarray] = []
    with open_bag(bag_path) as bag:
        for i, (_t, msgtype, _ns, raw) in enumerate(bag.messages([topic], len(inputs))):
            if i not in chosen:
                continue
            bgr = decode_image(raw, msgtype)
            rows = outputs.get(inputs[i][0], [])
            if task == 'detection' and rows:
                a = np.asarray(rows, dtype=np.float64).reshape(-1, 6)
                bgr = draw_detections(bgr, a[:, 2:6], a[:, 1], a[:, 0].astype(np.int64),
                                      list(labels))
            scale = tile_width / bgr.shape[1]
            tile = cv2.resize(bgr, (tile_width, max(1, int(round(bgr.shape[0] * scale)))),
                              interpolation=cv2.INTER_AREA)
            if task == 'detection':
                caption = f'frame {i + 1}: {len(rows)} objects'
            else:
                top = rows[0] if rows else None
                who = photos[i].split('/')[-1] if photos and i < len(photos) else f'#{i + 1}'
                what = (f'{labels[int(top[0])] if 0 <= int(top[0]) < len(labels) else top[0]} '
                        f'{top[1]:.2f}') if top else '-'
                caption = f'{who}: {what}'
            images.append(_captioned(tile, caption))
    if not images:
        raise ValueError('no answered frames to draw')
    return _grid(images, out)


def _captioned(tile: np.ndarray, text: str) -> np.ndarray:
    import cv2
    bar = np.full((22, tile.shape[1], 3), 32, np.uint8)
    cv2.putText(bar, text[:60], (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (235, 235, 235), 1,
                cv2.LINE_AA)
    return np.vstack([tile, bar])


def _grid(images: List[np.ndarray], out: Path, pad: int = 4) -> Path:
    import cv2
    cols = int(math.ceil(math.sqrt(len(images))))
    rows = int(math.ceil(len(images) / cols))
    h = max(i.shape[0] for i in images)
    w = max(i.shape[1] for i in images)
    sheet = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        y, x = pad + r * (h + pad), pad + c * (w + pad)
        sheet[y:y + img.shape[0], x:x + img.shape[1]] = img
    out.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(out), sheet, [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f'cannot write {out}')
    return out


def write_small_png(src: Path, dst: Path, max_bytes: int = 300_000) -> int:
    """Write a copy of a PNG that fits ``max_bytes`` (for docs): scaled, fewer colours."""
    import cv2
    img = cv2.imread(str(src), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f'cannot read {src}')
    for width in (1152, 1024, 896, 768, 640, 512):
        scale = min(1.0, width / img.shape[1])
        small = cv2.resize(img, (int(img.shape[1] * scale), int(img.shape[0] * scale)),
                           interpolation=cv2.INTER_AREA)
        for levels in (32, 16):
            step = 256 // levels
            quant = ((small // step) * step + step // 2).astype(np.uint8)
            ok, buf = cv2.imencode('.png', quant, [cv2.IMWRITE_PNG_COMPRESSION, 9])
            if ok and len(buf) <= max_bytes:
                dst.parent.mkdir(parents=True, exist_ok=True)
                dst.write_bytes(buf.tobytes())
                return len(buf)
    raise ValueError(f'cannot fit {src} into {max_bytes} bytes')
