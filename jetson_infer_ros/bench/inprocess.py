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
The in-process measurements: raw backend, the node's per-frame path, conversion, memory.

No DDS here, so these are the quiet numbers the end-to-end runs are compared against:

* raw backend: ``backend.infer()`` alone on a real preprocessed frame, after warm-up,
  back to back and paced at the camera rate. The paced runs are the like-for-like
  reference for the end-to-end runs: between frames at 30 Hz the CPU idles 30 ms, and
  the next inference starts with cold caches and sleeping pool threads, measured 0.5 to
  1.8 ms slower at p50 than back to back on the 2-core bench machine (both default
  models, FP32 and INT8) with no node and no DDS involved;
* the node's per-frame path without ROS transport: serialized ``sensor_msgs/Image``
  bytes -> ``pipeline.convert`` (raw CDR) -> ``pipeline.run`` -> vision_msgs message,
  timed with the node's own StageTimer;
* issue 11's conversion paths: raw CDR (``parse_image`` + ``image_to_picture``) against
  the standard path (``deserialize_message`` + ``msg_to_picture``);
* tracemalloc over steady-state frames: what the per-frame path allocates and keeps.

The caller must have isolated the process (rclpy message types are imported here).
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from jetson_infer_ros.bench.summary import summarize


def load_pipeline(config: str, precision: str = 'fp32', force_int8: bool = False,
                  int8_model: str = '') -> Any:
    """
    Load the pipeline the node would run; ``force_int8`` skips the accuracy gate.

    The raw-backend timing of an INT8 artefact is worth knowing even when its accuracy
    keeps the node from using it; whether the gate accepts it is reported separately.
    """
    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.pipeline import InferencePipeline
    overrides: Dict[str, Any] = {'precision': precision}
    if int8_model:
        overrides['int8_model_path'] = int8_model
    if force_int8 and precision == 'int8':
        from jetson_infer_ros.quant.gate import PERMISSIVE
        overrides.update(PERMISSIVE)
    cfg = load_config(config, **overrides)
    pipeline = InferencePipeline(cfg)
    pipeline.load()
    return pipeline


def serialized_frames(frames: Sequence[np.ndarray], encoding: str = 'rgb8') -> List[bytes]:
    """Serialize frames as sensor_msgs/Image CDR bytes, as a raw subscription receives them."""
    from rclpy.serialization import serialize_message
    from jetson_infer_ros.image_convert import picture_to_msg
    out = []
    for i, frame in enumerate(frames):
        msg = picture_to_msg(frame, encoding)
        msg.header.stamp.sec = 1_700_000_000 + i
        msg.header.frame_id = 'camera_optical_frame'
        out.append(serialize_message(msg))
    return out


def raw_backend(pipeline: Any, frame: np.ndarray, runs: int = 300, warmup: int = 20,
                pace_hz: float = 0.0, from_device: bool = False) -> Dict[str, Any]:
    """
    Time ``backend.infer(1)`` alone, on the input buffer holding a real frame.

    ``pace_hz`` > 0 starts one inference per period (the camera's rhythm) instead of
    back to back; only the inference itself is timed either way. ``from_device``: time
    ``infer_from_device(1)`` on the input the GPU kernel left on the device instead.
    """
    from jetson_infer_ros.image_convert import Picture
    pipeline.run([Picture(frame, 'rgb')])       # leaves the preprocessed frame in the buffer
    backend = pipeline.backend
    infer = backend.infer_from_device if from_device else backend.infer
    for _ in range(warmup):
        infer(1)
    period = 1.0 / pace_hz if pace_hz > 0 else 0.0
    times = np.empty(runs, dtype=np.float64)
    t_next = time.perf_counter()
    for i in range(runs):
        if period:
            t_next += period
            time.sleep(max(0.0, t_next - time.perf_counter()))
        t0 = time.perf_counter()
        infer(1)
        times[i] = (time.perf_counter() - t0) * 1e3
    return {'runs': runs, 'warmup': warmup, 'pace_hz': pace_hz, 'infer_ms': summarize(times),
            'samples': [round(float(v), 3) for v in times]}


class NodePath:
    """The node's per-frame work on serialized bytes, minus DDS: convert, run, message."""

    def __init__(self, pipeline: Any) -> None:
        from jetson_infer_ros.stats import PipelineStats, StageTimer
        self.pipeline = pipeline
        self.stats = PipelineStats()
        self.timer = StageTimer(self.stats)

    def __call__(self, payload: bytes) -> Any:
        from jetson_infer_ros import messages
        timer = self.timer
        with timer('convert'):
            header, picture = self.pipeline.convert(payload, raw=True, compressed=False)
        result = self.pipeline.run([picture], timer)[0]
        with timer('message'):
            ros_header = messages.make_header(*header)
            if result.boxes is not None:
                msg = messages.detection_array_msg(ros_header, result.boxes, result.scores,
                                                   result.class_ids)
            else:
                msg = messages.classification_msg(ros_header, result.class_ids, result.scores)
        return msg


def node_path_stages(pipeline: Any, payloads: Sequence[bytes], frames: int = 200,
                     warmup: int = 10) -> Dict[str, Any]:
    """Per-stage percentiles of the node's per-frame path over ``frames`` frames."""
    path = NodePath(pipeline)
    for i in range(warmup):
        path(payloads[i % len(payloads)])
    path.stats.clear_window()
    detections = []
    for i in range(frames):
        t0 = time.perf_counter()
        msg = path(payloads[i % len(payloads)])
        path.stats.record('total', (time.perf_counter() - t0) * 1e3)
        if hasattr(msg, 'detections'):
            detections.append(len(msg.detections))
    out: Dict[str, Any] = {'frames': frames, 'stages_ms': {}}
    for stage in ('convert', 'preprocess', 'infer', 'postprocess', 'message', 'total'):
        out['stages_ms'][stage] = summarize(path.stats.rings[stage].values())
    if detections:
        out['detections_per_frame'] = round(float(np.mean(detections)), 2)
    return out


def conversion(frame: np.ndarray, runs: int = 200) -> Dict[str, Any]:
    """Time the raw CDR path against the standard message path for one frame size."""
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image
    from jetson_infer_ros.image_convert import msg_to_picture
    from jetson_infer_ros.raw_image import parse_image
    data = serialized_frames([frame])[0]

    def raw_parse() -> Any:
        return parse_image(data).to_picture()

    def raw_with_take() -> Any:
        # rclpy's raw take hands over a fresh bytes object: include that one copy
        return parse_image(bytes(memoryview(data))).to_picture()

    def standard() -> Any:
        return msg_to_picture(deserialize_message(data, Image))

    out: Dict[str, Any] = {'bytes': len(data), 'runs': runs}
    for name, fn in (('raw_parse', raw_parse), ('raw_with_take_copy', raw_with_take),
                     ('standard', standard)):
        pic = fn()
        assert pic.array.shape == frame.shape   # both paths must see the same picture
        out[name] = summarize(_time(fn, runs))
    out['speedup_p50'] = round(out['standard']['p50'] / out['raw_with_take_copy']['p50'], 1)
    return out


def _time(fn: Callable[[], Any], runs: int, warmup: int = 5) -> np.ndarray:
    for _ in range(warmup):
        fn()
    times = np.empty(runs, dtype=np.float64)
    for i in range(runs):
        t0 = time.perf_counter()
        fn()
        times[i] = (time.perf_counter() - t0) * 1e3
    return times


def allocations(step: Callable[[int], Any], frames: int = 100, warmup: int = 20
                ) -> Dict[str, Any]:
    """
    Measure what ``step(i)`` allocates per frame in steady state, with tracemalloc.

    ``retained_bytes_per_frame``: growth of traced memory over ``frames`` frames,
    divided by frames (a leak or a growing cache shows here). ``transient_peak_bytes``:
    the most one frame had allocated at once above where it started (a per-frame copy
    of an image would show as hundreds of KB). NumPy buffers are traced; memory that
    ONNX Runtime and OpenCV allocate natively is not.
    """
    for i in range(warmup):
        step(i)
    gc.collect()
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    peaks = np.zeros(frames, dtype=np.int64)
    try:
        for i in range(warmup):     # frames under tracing first fill caches of their own
            step(i)
        gc.collect()
        before, _ = tracemalloc.get_traced_memory()
        snap0 = tracemalloc.take_snapshot()
        for i in range(frames):
            start, _ = tracemalloc.get_traced_memory()
            if hasattr(tracemalloc, 'reset_peak'):      # Python >= 3.9
                tracemalloc.reset_peak()
            step(i)
            peaks[i] = tracemalloc.get_traced_memory()[1] - start
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
        snap1 = tracemalloc.take_snapshot()
    finally:
        if started_here:
            tracemalloc.stop()
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, __file__)]
    growth = snap1.filter_traces(ignore).compare_to(snap0.filter_traces(ignore), 'lineno')
    top = [{'where': str(s.traceback[0]), 'size_diff': s.size_diff, 'count_diff': s.count_diff}
           for s in sorted(growth, key=lambda s: -abs(s.size_diff))[:3] if s.size_diff]
    return {'frames': frames,
            'retained_bytes_per_frame': round((after - before) / frames, 1),
            'transient_peak_bytes_p50': int(np.median(peaks)),
            'transient_peak_bytes_max': int(peaks.max()),
            'peak_measured': hasattr(tracemalloc, 'reset_peak'),
            'top_growth': top}


def allocation_checks(pipeline: Any, frame: np.ndarray, payloads: Sequence[bytes],
                      frames: int = 100) -> Dict[str, Any]:
    """Tracemalloc over pipeline.run on one frame, and over the node's whole per-frame path."""
    from jetson_infer_ros.image_convert import Picture
    picture = Picture(frame, 'rgb')
    path = NodePath(pipeline)
    return {
        'frame_bytes': int(frame.nbytes),
        'pipeline_run': allocations(lambda i: pipeline.run([picture]), frames),
        'node_path': allocations(lambda i: path(payloads[i % len(payloads)]), frames),
    }


def maybe(fn: Callable[[], Any], log: Optional[Callable[[str], None]] = None,
          what: str = '') -> Optional[Any]:
    """Run fn; on failure log one line and return None (a section never sinks the bench)."""
    try:
        return fn()
    except Exception as exc:  # noqa: B902 - reported in the results, the bench goes on
        if log is not None:
            log(f'[bench] {what}: FAILED: {type(exc).__name__}: {exc}')
        return {'error': f'{type(exc).__name__}: {exc}'}
