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
Regression runs: a bag through the real node, its answers held against golden ones.

A model, a config or a backend change is safe when the node still answers a known
recording the same way. This starts the node (lossless, so every frame is answered, in
order) as its own process, replays the bag as fast as the node answers
(``jetson-infer replay --rate 0 --ack-topic``), records the answers into a bag
(``jetson-infer record``), then checks them: one answer per input, in order, with the
input's header stamp and frame_id; classes and counts exact; scores and box corners
within tolerances. ``update=True`` (``--update``) writes the golden file instead, once,
explicitly. Detections whose score sits within the score tolerance of the threshold
are "borderline": another CPU or backend may keep or drop them, so they may come and
go without failing a run (``Tolerances.borderline``).

Every ROS process gets ``ros_isolation.isolated_env()`` (localhost discovery, a random
domain, the large-data Fast DDS profile), so runs never see a robot's graph or each
other. Use it from pytest through the ``regression`` fixture::

    from jetson_infer_ros.regression import regression  # noqa: F401  (in conftest.py)

    def test_my_model(regression):
        result = regression('config/mine.yaml', 'bags/drive1', 'golden/drive1.json')
        assert result.ok, result.report()

(``JETSON_INFER_UPDATE_GOLDEN=1 pytest ...`` rewrites the goldens instead.)
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from jetson_infer_ros import child_process

GOLDEN_FORMAT = 1
UPDATE_ENV = 'JETSON_INFER_UPDATE_GOLDEN'
Log = Callable[[str], None]


class RegressionError(RuntimeError):
    """The run could not be made or judged (node failed, no golden, broken bag...)."""


@dataclasses.dataclass(frozen=True)
class Tolerances:
    """How far an answer may move from the golden one and still pass."""

    score: float = 0.02      # absolute, on scores in [0, 1]
    box_px: float = 2.0      # largest move of any box corner, in source pixels
    borderline: bool = True  # detections within `score` of the threshold may come and go


@dataclasses.dataclass
class FrameOutput:
    """
    The node's answer to one frame.

    ``results`` rows are ``[class_id, score, x_min, y_min, x_max, y_max]`` for detections
    and ``[class_id, score]`` for classifications, in the order the node published them.
    """

    stamp_ns: int
    frame_id: str
    results: List[List[float]]


@dataclasses.dataclass
class RunResult:
    """One pass of a bag through the node."""

    config: str
    bag: str
    topic: str
    task: str
    score_threshold: float
    inputs: List[Tuple[int, str]]
    outputs: List[FrameOutput]
    seconds: float
    work_dir: Path
    replay_line: str = ''
    transport_retries: List[str] = dataclasses.field(default_factory=list)

    @property
    def frames_per_s(self) -> float:
        return len(self.outputs) / self.seconds if self.seconds > 0 else float('nan')


@dataclasses.dataclass
class Comparison:
    """Differences between two sets of answers (empty ``problems``: they agree)."""

    frames: int
    items: int
    problems: List[str]

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclasses.dataclass
class RegressionResult:
    """What ``regress`` found; ``report()`` is the text a person reads."""

    run: RunResult
    golden: Path
    run_problems: List[str]
    comparison: Optional[Comparison]
    updated: bool = False

    @property
    def ok(self) -> bool:
        return not self.run_problems and (self.comparison is None or self.comparison.ok)

    def as_dict(self) -> Dict[str, Any]:
        r = self.run
        c = self.comparison
        return {'ok': self.ok, 'updated': self.updated, 'config': r.config, 'bag': r.bag,
                'topic': r.topic, 'task': r.task, 'frames': len(r.inputs),
                'answers': len(r.outputs), 'seconds': round(r.seconds, 3),
                'frames_per_s': round(r.frames_per_s, 2), 'golden': str(self.golden),
                'transport_retries': r.transport_retries,
                'problems': self.run_problems + (c.problems if c else [])}

    def report(self, limit: int = 20) -> str:
        r = self.run
        lines = [f'{r.config} on {r.bag} ({r.topic}, {len(r.inputs)} frames, {r.task})',
                 f'  node answered {len(r.outputs)}/{len(r.inputs)} frames in '
                 f'{r.seconds:.1f} s ({r.frames_per_s:.1f} frames/s)']
        for retry in r.transport_retries:
            lines.append(f'  (started again after a transport stall: {retry})')
        problems = list(self.run_problems)
        if self.updated:
            lines.append(f'  golden written: {self.golden}')
        elif self.comparison is not None:
            c = self.comparison
            verdict = 'OK' if c.ok else f'FAILED ({len(c.problems)} differences)'
            lines.append(f'  compared with {self.golden}: {verdict} ({c.frames} frames, '
                         f'{c.items} results)')
            problems += c.problems
        for p in problems[:limit]:
            lines.append(f'  - {p}')
        if len(problems) > limit:
            lines.append(f'  ... and {len(problems) - limit} more')
        return '\n'.join(lines)


# ---------------------------------------------------------------------- the run
def _node_values(config: Any, overrides: Optional[Dict[str, Any]], compressed: bool
                 ) -> Dict[str, Any]:
    from jetson_infer_ros.config import config_from_mapping, read_ros_parameters
    values = read_ros_parameters(config)
    values.update(overrides or {})
    values['lossless'] = True
    values['input_type'] = 'compressed' if compressed else 'raw'
    try:
        config_from_mapping(values)
    except ValueError as exc:
        raise RegressionError(f'invalid configuration {config}: {exc}') from None
    return values


class _Procs:
    """The child processes of one run; stopped like a user would: SIGINT, then SIGKILL."""

    def __init__(self, work: Path, env: Dict[str, str]) -> None:
        self.work, self.env = work, env
        self.procs: Dict[str, subprocess.Popen] = {}

    def start(self, name: str, args: List[str],
              env: Optional[Dict[str, str]] = None) -> subprocess.Popen:
        with open(self.work / f'{name}.log', 'wb') as log:
            proc = subprocess.Popen([sys.executable] + args, stdout=log,
                                    stderr=subprocess.STDOUT, env=env or self.env,
                                    stdin=subprocess.DEVNULL)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return child_process.read_log(self.work / f'{name}.log')

    def tail(self, name: str, n: int = 8) -> str:
        return child_process.log_tail(self.work / f'{name}.log', n)

    def stop(self, name: str, grace: float = 10.0) -> None:
        proc = self.procs.get(name)
        if proc is not None:
            child_process.stop(proc, grace)

    def stop_all(self) -> None:
        for name in reversed(list(self.procs)):
            self.stop(name)


class TransportStall(RegressionError):
    """Messages stopped flowing between processes while every process was alive."""


def run_node_on_bag(config: Any, bag: Any, topic: Optional[str] = None,
                    overrides: Optional[Dict[str, Any]] = None,
                    work_dir: Optional[Path] = None, env: Optional[Dict[str, str]] = None,
                    max_in_flight: int = 4, startup_timeout: float = 300.0,
                    ack_timeout: float = 30.0, attempts: int = 3,
                    log: Log = print) -> RunResult:
    """
    Start the node on ``config`` (lossless), replay ``bag`` into it, record the answers.

    Raises RegressionError when the run cannot complete (the node does not come up or
    stops answering); answers that are merely wrong are for ``check_run``/``compare``.

    A reliable DDS stream between two live processes was seen to stop for good now and
    then on a loaded machine (with the project's node and with a trivial echo node, over
    shared memory and over UDP alike). Such a transport stall -- no answer for
    ``ack_timeout`` seconds while every process is alive, or answers the replay saw but
    the recorder did not -- is retried from scratch (new processes, new domain) up to
    ``attempts`` times in all; each retry is logged and kept in ``transport_retries``.
    """
    from jetson_infer_ros.bags.reader import open_bag
    with open_bag(bag) as b:
        info = b.image_topic(topic)
        inputs = b.stamps(info.name)
    compressed = info.msgtype.endswith('CompressedImage')
    values = _node_values(config, overrides, compressed)
    work = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix='jetson-regress-'))
    retries: List[str] = []
    for attempt in range(1, max(1, attempts) + 1):
        where = work if attempt == 1 else work / f'retry{attempt - 1}'
        try:
            run = _run_once(config, bag, info, inputs, values, where, env, max_in_flight,
                            startup_timeout, ack_timeout, log)
        except TransportStall as exc:
            if attempt >= attempts:
                raise
            retries.append(str(exc))
            log(f'[regress] warning: transport stall (attempt {attempt}/{attempts}): {exc}; '
                'starting again')
            continue
        run.transport_retries = retries
        return run
    raise AssertionError('unreachable')


def _run_once(config: Any, bag: Any, info: Any, inputs: List[Tuple[int, str]],
              values: Dict[str, Any], work: Path, env: Optional[Dict[str, str]],
              max_in_flight: int, startup_timeout: float, ack_timeout: float,
              log: Log) -> RunResult:
    import yaml
    from jetson_infer_ros.ros_isolation import for_inference_node, isolated_env
    compressed = info.msgtype.endswith('CompressedImage')
    task = values.get('task', 'classification')
    out_topic = '/detections' if task == 'detection' else '/classification'
    work.mkdir(parents=True, exist_ok=True)
    outputs_bag = work / 'outputs'
    if outputs_bag.exists():
        shutil.rmtree(outputs_bag)
    params = work / 'params.yaml'
    params.write_text(yaml.safe_dump({'/**': {'ros__parameters': values}}))
    procs = _Procs(work, isolated_env(env))
    cli = ['-m', 'jetson_infer_ros.cli.main']
    remap = ('image/compressed:=' if compressed else 'image:=') + info.name
    log(f'[regress] {config} on {Path(bag).name} ({info.name}, {len(inputs)} frames): '
        f'logs in {work}')
    try:
        node = procs.start('node', ['-m', 'jetson_infer_ros.node', '--autostart', '--ros-args',
                                    '--params-file', str(params), '-r', remap],
                           env=for_inference_node(procs.env))
        procs.start('record', cli + ['record', '--topics', out_topic, '--out', str(outputs_bag),
                                     '--count', str(len(inputs))])
        deadline = time.monotonic() + startup_timeout
        while '[record] ready' not in procs.log('record'):
            _check_alive(procs, ('node', 'record'))
            if time.monotonic() > deadline:
                raise RegressionError(f'the node did not publish {out_topic} within '
                                      f'{startup_timeout:g} s: {procs.tail("node")}')
            time.sleep(0.1)
        t0 = time.monotonic()
        replay = procs.start('replay', cli + [
            'replay', str(bag), '--topic', info.name, '--rate', '0', '--wait-subscribers', '1',
            '--ack-topic', out_topic, '--max-in-flight', str(max_in_flight),
            '--ack-timeout', str(ack_timeout)])
        while replay.poll() is None:
            _check_alive(procs, ('node', 'record'))
            time.sleep(0.1)
        seconds = time.monotonic() - t0
        replay_log = procs.log('replay')
        if replay.returncode != 0:
            what = (TransportStall if 'no answer on' in procs.log('replay')
                    and procs.procs['node'].poll() is None else RegressionError)
            raise what(f'replay failed (exit {replay.returncode}): '
                       f'{procs.tail("replay", 1)}; node: {procs.tail("node", 2)}')
        rec = procs.procs['record']
        try:
            rec.wait(timeout=15)
        except subprocess.TimeoutExpired:
            procs.stop('record')
        procs.stop('node')
        if node.returncode not in (0, -signal.SIGINT, 130):
            log(f'[regress] warning: node exit {node.returncode}: {procs.tail("node", 3)}')
    finally:
        procs.stop_all()
    line = next((ln for ln in replay_log.splitlines() if 'replayed' in ln), '')
    m = re.search(r' in ([0-9.]+) s:', line)
    if m:   # the replay's own first-to-last publish time, without process start-up
        seconds = float(m.group(1))
    outputs = read_outputs(outputs_bag) if outputs_bag.exists() else []
    answered = re.search(r', ([0-9]+) answered', line)
    if answered and int(answered.group(1)) >= len(inputs) > len(outputs):
        raise TransportStall(f'the replay saw {answered.group(1)} answers, the recorder only '
                             f'{len(outputs)}')
    threshold = float(values.get('score_threshold', 0.0))
    return RunResult(config=str(config), bag=str(bag), topic=info.name, task=task,
                     score_threshold=threshold, inputs=inputs, outputs=outputs,
                     seconds=seconds, work_dir=work, replay_line=line.strip())


def _check_alive(procs: _Procs, names: Sequence[str]) -> None:
    for name in names:
        proc = procs.procs.get(name)
        if proc is not None and proc.poll() is not None:
            raise RegressionError(f'{name} exited early (exit {proc.returncode}): '
                                  f'{procs.tail(name, 4)}')


def read_outputs(path: Any) -> List[FrameOutput]:
    """Read recorded Detection2DArray / Classification messages back as FrameOutputs."""
    from rosbags.highlevel import AnyReader
    from jetson_infer_ros.bags import typestore as ts
    frames: List[FrameOutput] = []
    with AnyReader([Path(path)], default_typestore=ts.typestore()) as reader:
        for conn, _t, raw in reader.messages():
            msg: Any = reader.deserialize(raw, conn.msgtype)
            stamp = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
            if hasattr(msg, 'detections'):
                rows = []
                for d in msg.detections:
                    hyp = d.results[0].hypothesis if d.results else None
                    cx, cy = d.bbox.center.position.x, d.bbox.center.position.y
                    rows.append([int(hyp.class_id) if hyp else -1,
                                 float(hyp.score) if hyp else 0.0,
                                 cx - d.bbox.size_x / 2, cy - d.bbox.size_y / 2,
                                 cx + d.bbox.size_x / 2, cy + d.bbox.size_y / 2])
            else:
                rows = [[int(r.class_id), float(r.score)] for r in msg.results]
            frames.append(FrameOutput(stamp, msg.header.frame_id, rows))
    return frames


def check_run(run: RunResult) -> List[str]:
    """Lossless contract: one answer per input, in order, with the input's header."""
    problems = []
    if len(run.outputs) != len(run.inputs):
        problems.append(f'{len(run.outputs)} answers for {len(run.inputs)} input frames')
    for i, (out, (stamp, frame_id)) in enumerate(zip(run.outputs, run.inputs)):
        if out.stamp_ns != stamp:
            problems.append(f'answer {i}: stamp {out.stamp_ns} != input stamp {stamp}')
        elif out.frame_id != frame_id:
            problems.append(f'answer {i}: frame_id {out.frame_id!r} != {frame_id!r}')
    return problems


# ---------------------------------------------------------------------- comparing
def compare(expected: Sequence[FrameOutput], actual: Sequence[FrameOutput], task: str,
            tolerances: Tolerances = Tolerances(), score_threshold: float = 0.0
            ) -> Comparison:
    """Compare answers frame by frame (frames matched by position, stamps must agree)."""
    problems: List[str] = []
    if len(expected) != len(actual):
        problems.append(f'{len(actual)} frames, expected {len(expected)}')
    items = 0
    for i, (e, a) in enumerate(zip(expected, actual)):
        if e.stamp_ns != a.stamp_ns:
            problems.append(f'frame {i}: stamp {a.stamp_ns}, expected {e.stamp_ns}')
            continue
        items += len(e.results)
        if task == 'detection':
            problems += _compare_detections(i, e.results, a.results, tolerances,
                                            score_threshold)
        else:
            problems += _compare_classes(i, e.results, a.results, tolerances)
    return Comparison(frames=min(len(expected), len(actual)), items=items, problems=problems)


def _box_shift(a: Sequence[float], b: Sequence[float]) -> float:
    return max(abs(float(x) - float(y)) for x, y in zip(a[2:6], b[2:6]))


def _compare_detections(i: int, exp: List[List[float]], act: List[List[float]],
                        tol: Tolerances, threshold: float) -> List[str]:
    def borderline(d: Sequence[float]) -> bool:
        return tol.borderline and float(d[1]) < threshold + tol.score

    problems = []
    free = list(range(len(act)))
    for e in sorted(exp, key=lambda d: -float(d[1])):
        same = [j for j in free if int(act[j][0]) == int(e[0])]
        j = min(same, key=lambda k: _box_shift(e, act[k])) if same else None
        if j is None or _box_shift(e, act[j]) > max(tol.box_px * 8, 16.0):
            if not borderline(e):
                problems.append(f'frame {i}: class {int(e[0])} score {e[1]:.3f} at '
                                f'{_fmt_box(e)} is missing')
            continue
        free.remove(j)
        shift, ds = _box_shift(e, act[j]), abs(float(act[j][1]) - float(e[1]))
        if shift > tol.box_px:
            problems.append(f'frame {i}: class {int(e[0])} box moved {shift:.2f} px '
                            f'({_fmt_box(e)} -> {_fmt_box(act[j])})')
        if ds > tol.score:
            problems.append(f'frame {i}: class {int(e[0])} at {_fmt_box(e)} score '
                            f'{e[1]:.4f} -> {act[j][1]:.4f}')
    for j in free:
        if not borderline(act[j]):
            problems.append(f'frame {i}: extra class {int(act[j][0])} score {act[j][1]:.3f} '
                            f'at {_fmt_box(act[j])}')
    return problems


def _compare_classes(i: int, exp: List[List[float]], act: List[List[float]],
                     tol: Tolerances) -> List[str]:
    problems = []
    if len(exp) != len(act):
        problems.append(f'frame {i}: {len(act)} classes, expected {len(exp)}')
    got = {int(c): float(s) for c, s in act}
    lowest = min(got.values()) if got else 0.0
    for c, s in exp:
        if int(c) not in got:
            if float(s) > lowest + tol.score:   # not a swap at the top-k boundary
                problems.append(f'frame {i}: class {int(c)} (score {s:.4f}) is missing')
        elif abs(got[int(c)] - float(s)) > tol.score:
            problems.append(f'frame {i}: class {int(c)} score {s:.4f} -> {got[int(c)]:.4f}')
    if exp and act and int(exp[0][0]) != int(act[0][0]):
        e_top, a_top = float(exp[0][1]), got.get(int(exp[0][0]), 0.0)
        if abs(float(act[0][1]) - a_top) > tol.score or abs(e_top - float(act[0][1])) > \
                tol.score:
            problems.append(f'frame {i}: top-1 class {int(act[0][0])}, expected '
                            f'{int(exp[0][0])}')
    return problems


def _fmt_box(d: Sequence[float]) -> str:
    return '[' + ', '.join(f'{float(v):.1f}' for v in d[2:6]) + ']' if len(d) > 2 else '[]'


# ---------------------------------------------------------------------- golden files
def golden_document(run: RunResult, tolerances: Tolerances = Tolerances()) -> Dict[str, Any]:
    """Return the golden file content for a run (rounded: scores 1e-3, boxes 0.1 px)."""
    from jetson_infer_ros.assets.cache import digest
    frames = []
    for out in run.outputs:
        rows = [[int(r[0]), round(float(r[1]), 3)] + [round(float(v), 1) for v in r[2:]]
                for r in out.results]
        frames.append({'stamp_ns': out.stamp_ns, 'frame_id': out.frame_id, 'results': rows})
    stamps = [str(s) for s, _ in run.inputs]
    return {
        'format': GOLDEN_FORMAT,
        'about': 'Golden answers of jetson_infer_ros for one config on one bag; rewrite with '
                 '`jetson-infer regress --update`. results rows: [class_id, score, x_min, '
                 'y_min, x_max, y_max] (detection) or [class_id, score] (classification).',
        'config': run.config, 'task': run.task, 'score_threshold': run.score_threshold,
        'bag': {'name': Path(run.bag).name, 'topic': run.topic, 'frames': len(run.inputs),
                'first_stamp_ns': run.inputs[0][0] if run.inputs else 0,
                'last_stamp_ns': run.inputs[-1][0] if run.inputs else 0,
                'stamps_digest': digest(*stamps)},
        'tolerances': dataclasses.asdict(tolerances),
        'frames': frames,
    }


def write_golden(path: Any, document: Dict[str, Any]) -> None:
    """Write a golden file atomically, one frame per line (reviewable diffs)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    head = {k: v for k, v in document.items() if k != 'frames'}
    text = json.dumps(head, indent=2)[:-2] + ',\n  "frames": [\n'
    text += ',\n'.join('    ' + json.dumps(f, separators=(',', ':'))
                       for f in document['frames'])
    text += '\n  ]\n}\n'
    tmp = path.with_name(f'.{path.name}.tmp-{os.getpid()}')
    tmp.write_text(text)
    os.replace(tmp, path)


def read_golden(path: Any) -> Tuple[Dict[str, Any], List[FrameOutput]]:
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise RegressionError(f'no golden file {path}; make it with --update') from None
    except ValueError as exc:
        raise RegressionError(f'golden file {path} is not valid JSON: {exc}') from None
    if doc.get('format') != GOLDEN_FORMAT:
        raise RegressionError(f'golden file {path}: format {doc.get("format")!r}, expected '
                              f'{GOLDEN_FORMAT}')
    frames = [FrameOutput(int(f['stamp_ns']), f.get('frame_id', ''), f['results'])
              for f in doc['frames']]
    return doc, frames


def golden_tolerances(path: Any) -> Tolerances:
    """Return the tolerances a golden file was written with (defaults if it has none)."""
    doc, _frames = read_golden(path)
    return Tolerances(**doc.get('tolerances', {}))


def regress(config: Any, bag: Any, golden: Any, topic: Optional[str] = None,
            update: bool = False, tolerances: Optional[Tolerances] = None,
            overrides: Optional[Dict[str, Any]] = None, work_dir: Optional[Path] = None,
            env: Optional[Dict[str, str]] = None, log: Log = print) -> RegressionResult:
    """Run ``config`` on ``bag`` and compare with (or, with ``update``, write) ``golden``."""
    golden = Path(golden)
    doc = None
    if not update:
        doc, expected = read_golden(golden)   # fail before a long run, not after
    run = run_node_on_bag(config, bag, topic, overrides, work_dir, env, log=log)
    problems = check_run(run)
    if update:
        if problems:
            raise RegressionError('not writing a golden from a run that broke the lossless '
                                  f'contract: {problems[0]}')
        write_golden(golden, golden_document(run, tolerances or Tolerances()))
        return RegressionResult(run, golden, [], None, updated=True)
    assert doc is not None
    tol = tolerances or Tolerances(**doc.get('tolerances', {}))
    bag_doc = doc.get('bag', {})
    if bag_doc.get('frames') not in (None, len(run.inputs)):
        problems.append(f'the golden was made from {bag_doc.get("frames")} frames, the bag '
                        f'has {len(run.inputs)} (a different bag?)')
    comparison = compare(expected, run.outputs, run.task, tol, run.score_threshold)
    return RegressionResult(run, golden, problems, comparison)


def __getattr__(name: str) -> Any:
    """Build the ``regression`` pytest fixture on first use (pytest stays optional)."""
    if name != 'regression':
        raise AttributeError(name)
    import pytest

    @pytest.fixture
    def regression(tmp_path: Path) -> Callable[..., RegressionResult]:
        """
        Return ``run(config, bag, golden, **kw) -> RegressionResult`` for this test.

        Goldens are rewritten instead of compared when JETSON_INFER_UPDATE_GOLDEN=1.
        """
        update = os.environ.get(UPDATE_ENV, '') not in ('', '0')

        def run(config: Any, bag: Any, golden: Any, **kw: Any) -> RegressionResult:
            kw.setdefault('work_dir', tmp_path / 'regression')
            return regress(config, bag, golden, update=update, **kw)
        return run
    globals()['regression'] = regression
    return regression
