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

"""The jetson_infer lifecycle node: camera frames in, vision_msgs out.

Where a frame goes (read top to bottom):
  1. ``_on_image``: the subscription callback only parses the header (zero-copy from
     the CDR bytes on the raw path) and hands the frame to the input slot. It never
     blocks: the newest frame replaces one not yet started (counted as ``stale``), or
     in lossless mode it joins a bounded queue.
  2. ``_worker_loop`` (a plain thread, not an executor callback, so inference never
     holds up lifecycle, parameter or diagnostics services): takes a frame and calls
     ``_process``.
  3. ``_process``: convert (bytes -> HxWxC view) -> pipeline.run (preprocess into the
     backend's preallocated input -> infer -> decode/NMS/top-k in source pixels) ->
     vision_msgs with the input header -> publish. Every stage is timed; a frame that
     fails is counted under its reason, never silently lost.

Lifecycle (driven by a lifecycle manager or the launch file's autostart):
  configure  validate parameters, load the model / engine, create publishers
  activate   subscribe, start the worker, latch label_info
  deactivate unsubscribe, drain, stop the worker
  cleanup    free the backend and publishers (configure/cleanup repeat without leaks)
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Dict, List, Optional

from jetson_infer_ros import diagnostics as diag
from jetson_infer_ros import messages
from jetson_infer_ros import params as P
from jetson_infer_ros.config import DEFAULT_NODE_NAME, InferConfig
from jetson_infer_ros.frame_slot import FrameQueue, LatestFrameSlot
from jetson_infer_ros.image_convert import ImageFormatError
from jetson_infer_ros.stats import PipelineStats, RateMeter, StageTimer

from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNodeMixin, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy


class RateLimitedLog:
    """One log line per key per period, with the count of what was suppressed."""

    def __init__(self, logger: Any, period: float = 5.0) -> None:
        self._logger = logger
        self._period = period
        self._last: Dict[str, float] = {}
        self._suppressed: Dict[str, int] = {}

    def warn(self, key: str, text: str) -> None:
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._period:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return
        n = self._suppressed.pop(key, 0)
        self._last[key] = now
        more = f' ({n} more since last report)' if n else ''
        self._logger.warning(f'{text}{more}')


class Frame:
    """A received frame: its serialized bytes or message, and when it arrived."""

    __slots__ = ('payload', 'received')

    def __init__(self, payload: Any, received: float) -> None:
        self.payload = payload
        self.received = received


class InferenceNode(LifecycleNodeMixin, Node):
    """Lifecycle node running one model on one camera topic.

    Built from the mixin (not rclpy's LifecycleNode, which does not forward it) so the
    lifecycle services get their own reentrant callback group: get_state answers while
    a long configure, such as a TensorRT engine build, is still running.
    """

    def __init__(self, node_name: str = DEFAULT_NODE_NAME, **kwargs: Any) -> None:
        Node.__init__(self, node_name, **kwargs)
        self._lifecycle_group = ReentrantCallbackGroup()
        LifecycleNodeMixin.__init__(self, callback_group=self._lifecycle_group)
        self._input_group = MutuallyExclusiveCallbackGroup()
        self._diag_group = MutuallyExclusiveCallbackGroup()
        self._param_errors: List[str] = []
        self._declare_parameters()
        self._configured = False
        self._active = False
        self.cfg: Optional[InferConfig] = None
        self.pipeline: Any = None
        self.stats = PipelineStats()
        self._timer = StageTimer(self.stats)
        self._log_limited = RateLimitedLog(self.get_logger())
        self._slot: Any = None
        self._worker: Optional[threading.Thread] = None
        self._stop = threading.Event()
        self._sub: Any = None
        self._pub_out: Any = None
        self._pub_labels: Any = None
        self._pub_debug: Any = None
        self._live = {}
        self._in_rate, self._out_rate = RateMeter(), RateMeter()
        self._notes: List[str] = []
        from diagnostic_msgs.msg import DiagnosticArray
        self._pub_diag = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        period = self.get_parameter('diagnostics_period').value
        self._diag_timer = self.create_timer(float(period), self._publish_diagnostics,
                                             callback_group=self._diag_group)
        self.add_on_set_parameters_callback(self._on_set_parameters)

    # ------------------------------------------------------------------ parameters
    def _declare_parameters(self) -> None:
        """Declare every table entry; a bad override is reported, never fatal."""
        for p in P.PARAMETERS:
            try:
                self.declare_parameter(p.name, P._copy(p.default), P.descriptor(p))
                P.coerce(p, self.get_parameter(p.name).value)
            except Exception as exc:  # noqa: B902 - any bad override must not kill the node
                text = f'parameter {p.name}: {_one_line(exc)}'
                self._param_errors.append(text)
                self.get_logger().error(text + ' (configure will fail until it is fixed)')
                if not self.has_parameter(p.name):
                    self.declare_parameter(p.name, P._copy(p.default), P.descriptor(p),
                                           ignore_override=True)

    def _read_config(self) -> InferConfig:
        values = {p.name: self.get_parameter(p.name).value for p in P.PARAMETERS}
        return InferConfig(P.validate(values))

    def _on_set_parameters(self, changes: List[Any]) -> SetParametersResult:
        for change in changes:
            p = P.BY_NAME.get(change.name)
            if p is None:
                continue  # e.g. use_sim_time
            try:
                P.coerce(p, change.value)
            except P.ParameterError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
            if not p.runtime and self._configured:
                return SetParametersResult(
                    successful=False,
                    reason=f'{p.name} shapes the engine or subscription: it can only change '
                           'while unconfigured (cleanup, set, configure)')
        if self._configured and self.cfg is not None:
            updated = dict(self.cfg)
            updated.update({c.name: c.value for c in changes if c.name in P.BY_NAME})
            try:
                self.cfg = InferConfig(P.validate(updated))
            except P.ParameterError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
            if self.pipeline is not None:
                self.pipeline.update_runtime(self.cfg)
        self._param_errors = [e for e in self._param_errors
                              if not any(e.startswith(f'parameter {c.name}:') for c in changes)]
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load model and engine; FAILURE (-> unconfigured) with one line on any problem."""
        from jetson_infer_ros.pipeline import InferencePipeline
        log = self.get_logger()
        if self._param_errors:
            log.error('configure failed: ' + '; '.join(self._param_errors))
            return TransitionCallbackReturn.FAILURE
        try:
            cfg = self._read_config()
            pipeline = InferencePipeline(cfg, log=log.info)
            pipeline.load()
        except Exception as exc:  # noqa: B902 - whatever failed, stay alive and say why
            log.error(f'configure failed: {_one_line(exc)}')
            return TransitionCallbackReturn.FAILURE
        self.cfg, self.pipeline = cfg, pipeline
        self.stats = PipelineStats()
        self._timer = StageTimer(self.stats)
        self._create_publishers(cfg)
        self._configured = True
        info = pipeline.info()
        log.info(f'configured: {info.get("model", "")} on {info.get("backend")} '
                 f'({info.get("device", "")}, {info.get("precision_in_use")}), '
                 f'input {info.get("input_shape")}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Activate publishers, then subscribe and start the worker."""
        ret = super().on_activate(state)
        if ret != TransitionCallbackReturn.SUCCESS:
            return ret
        assert self.cfg is not None
        self._publish_label_info()
        self._start_worker(self.cfg)
        self._subscribe(self.cfg)
        self._active = True
        return ret

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe, let the worker finish what it holds, stop it."""
        self._active = False
        self._unsubscribe()
        self._stop_worker()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free backend, buffers and publishers."""
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.teardown()
        return super().on_shutdown(state)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.get_logger().error('error in a transition: releasing everything')
        self.teardown()
        return TransitionCallbackReturn.SUCCESS

    def teardown(self) -> None:
        """Unsubscribe, stop the worker and free everything, from any state."""
        self._active = False
        self._unsubscribe()
        self._stop_worker()
        self._release()

    def _release(self) -> None:
        for pub in (self._pub_out, self._pub_labels, self._pub_debug):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self._pub_out = self._pub_labels = self._pub_debug = None
        if self.pipeline is not None:
            self.pipeline.release()
        self.pipeline = None
        self._configured = False

    # ------------------------------------------------------------------ wiring
    def _create_publishers(self, cfg: InferConfig) -> None:
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Classification, Detection2DArray, LabelInfo
        out_qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        if cfg.task == 'detection':
            self._pub_out = self.create_lifecycle_publisher(Detection2DArray, 'detections',
                                                            out_qos)
        else:
            self._pub_out = self.create_lifecycle_publisher(Classification, 'classification',
                                                            out_qos)
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._pub_labels = self.create_lifecycle_publisher(LabelInfo, 'label_info', latched)
        self._pub_debug = self.create_lifecycle_publisher(
            Image, 'debug_image', QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))

    def _input_qos(self, cfg: InferConfig) -> QoSProfile:
        if cfg.lossless:
            return QoSProfile(history=HistoryPolicy.KEEP_LAST,
                              depth=max(cfg.qos_depth, cfg.lossless_queue_size),
                              reliability=ReliabilityPolicy.RELIABLE)
        rel = (ReliabilityPolicy.RELIABLE if cfg.qos_reliability == 'reliable'
               else ReliabilityPolicy.BEST_EFFORT)
        return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=cfg.qos_depth, reliability=rel)

    def _subscribe(self, cfg: InferConfig) -> None:
        from sensor_msgs.msg import CompressedImage, Image
        msg_type, topic = (Image, 'image') if cfg.input_type == 'raw' else (
            CompressedImage, 'image/compressed')
        self._sub = self.create_subscription(
            msg_type, topic, self._on_image, self._input_qos(cfg),
            callback_group=self._input_group, raw=bool(cfg.zero_copy_input))
        self.get_logger().info(
            f'subscribed to {self._sub.topic_name} ({msg_type.__name__}, '
            f'{"lossless, reliable" if cfg.lossless else cfg.qos_reliability}, '
            f'{"raw CDR" if cfg.zero_copy_input else "message"} path)')

    def _unsubscribe(self) -> None:
        if self._sub is not None:
            self.destroy_subscription(self._sub)
            self._sub = None

    def _start_worker(self, cfg: InferConfig) -> None:
        if cfg.lossless:
            self._slot = FrameQueue(cfg.lossless_queue_size, on_drop=self._count_drop)
        else:
            self._slot = LatestFrameSlot(on_drop=self._count_drop)
        self._stop.clear()
        self._worker = threading.Thread(target=self._worker_loop, name='jetson_infer_worker',
                                        daemon=True)
        self._worker.start()

    def _stop_worker(self) -> None:
        if self._slot is not None:
            self._slot.close()
        if self._worker is not None:
            self._stop.set()
            self._worker.join(timeout=30.0)
            self._worker = None
        if isinstance(self._slot, FrameQueue):
            self._slot.drain_dropped()
        self._slot = None

    def _count_drop(self, reason: str, _frame: Any) -> None:
        self.stats.drop(reason)

    # ------------------------------------------------------------------ data flow
    def _on_image(self, payload: Any) -> None:
        """Subscription callback: stamp arrival, hand over, return at once."""
        self.stats.count_received()
        slot = self._slot
        if slot is None:
            self.stats.drop('inactive')
            return
        slot.put(Frame(payload, time.perf_counter()))

    def _worker_loop(self) -> None:
        slot = self._slot
        while slot is not None:
            frame = slot.get(timeout=0.1)
            if frame is None:
                if self._stop.is_set():
                    return
                continue
            self._process(frame)

    def _process(self, frame: Frame) -> None:
        cfg, pipeline, timer = self.cfg, self.pipeline, self._timer
        if cfg is None or pipeline is None:
            self.stats.drop('inactive')
            return
        try:
            with timer('convert'):
                header, picture = pipeline.convert(frame.payload, raw=cfg.zero_copy_input,
                                                   compressed=cfg.input_type == 'compressed')
        except ImageFormatError as exc:
            self.stats.drop(exc.reason)
            self._log_limited.warn(exc.reason, f'dropped frame ({exc.reason}): {exc}')
            return
        try:
            result = pipeline.run([picture], timer)[0]
        except Exception as exc:  # noqa: B902 - count, report, keep serving
            self.stats.drop('inference_error')
            self._log_limited.warn('inference_error', f'inference failed: {_one_line(exc)}')
            return
        with timer('message'):
            ros_header = messages.make_header(*header)
            if result.boxes is not None:
                msg = messages.detection_array_msg(ros_header, result.boxes, result.scores,
                                                   result.class_ids)
            else:
                msg = messages.classification_msg(ros_header, result.class_ids, result.scores)
        with timer('publish'):
            self._pub_out.publish(msg)
            if cfg.publish_debug_image and result.boxes is not None:
                self._publish_debug(ros_header, picture, result)
        self.stats.record('total', (time.perf_counter() - frame.received) * 1e3)
        now = self.get_clock().now().nanoseconds
        stamp_ns = header[0] * 1_000_000_000 + header[1]
        if stamp_ns > 0:
            self.stats.record('latency', (now - stamp_ns) / 1e6)
        self.stats.count_processed()

    def _publish_debug(self, ros_header: Any, picture: Any, result: Any) -> None:
        if self._pub_debug is None or self._pub_debug.get_subscription_count() == 0:
            return
        from jetson_infer_ros.image_convert import picture_to_msg
        from jetson_infer_ros.pipeline import to_bgr
        drawn = messages.draw_detections(to_bgr(picture), result.boxes, result.scores,
                                         result.class_ids, self.pipeline.labels)
        self._pub_debug.publish(picture_to_msg(drawn, 'bgr8', header=ros_header))

    def _publish_label_info(self) -> None:
        if self._pub_labels is None or self.pipeline is None or self.cfg is None:
            return
        header = messages.make_header(0, 0, '')
        header.stamp = self.get_clock().now().to_msg()
        self._pub_labels.publish(messages.label_info_msg(header, self.pipeline.labels,
                                                         self.cfg.score_threshold))

    # ------------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self) -> None:
        snap = self.stats.snapshot()
        in_rate = self._in_rate.rate(int(snap['received']))
        out_rate = self._out_rate.rate(int(snap['published']))
        info: Dict[str, Any] = {'state': self._state_label()}
        if self.pipeline is not None:
            info.update(self.pipeline.info())
        if self._sub is not None:
            info['input_topic'] = self._sub.topic_name
        thresholds = {k: float(self.get_parameter(k).value) for k in (
            'warn_latency_ms', 'error_latency_ms', 'warn_output_rate_hz')}
        level, text = diag.evaluate_levels(snap, in_rate, out_rate, thresholds, self._active,
                                           tuple(self._notes))
        if self._param_errors:
            level, text = diag.ERROR, '; '.join(self._param_errors)
        hw = f'{info.get("backend", "none")}/{info.get("device", "none")}'
        status = diag.status_msg(self.get_name(), hw, level, text,
                                 diag.build_values(snap, info, in_rate, out_rate))
        self._pub_diag.publish(diag.array_msg(self.get_clock().now().to_msg(), [status]))

    def _state_label(self) -> str:
        try:
            return str(self._state_machine.current_state[1])
        except Exception:  # noqa: B902 - diagnostics must never fail
            return 'unknown'


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f'{type(exc).__name__}: {text[0]}' if text else type(exc).__name__


def main(args: Optional[List[str]] = None) -> int:
    """Run the node; ``--autostart`` (before --ros-args) configures and activates it."""
    argv = list(sys.argv if args is None else args)
    autostart = '--autostart' in argv
    argv = [a for a in argv if a != '--autostart']
    rclpy.init(args=argv)
    node = InferenceNode()
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    code = 0
    try:
        if autostart:
            if node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
                node.trigger_activate()
            else:
                node.get_logger().error('autostart: configure failed; waiting for a '
                                        'lifecycle manager (node stays up, unconfigured)')
        # spin_once in a loop: executor.spin() was seen to miss the first SIGTERM.
        while rclpy.ok():
            executor.spin_once(timeout_sec=0.2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        try:
            node.teardown()
        except Exception as exc:  # noqa: B902 - best effort on the way out
            print(f'jetson_infer: shutdown: {exc}', file=sys.stderr)
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return code


if __name__ == '__main__':
    sys.exit(main())
