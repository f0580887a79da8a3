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
The jetson_infer lifecycle node: camera frames in, vision_msgs out.

Where a frame goes (read top to bottom):
  1. ``_on_image``: the subscription callback of a camera only stamps the arrival and
     hands the serialized frame to that camera's slot. It never blocks: the newest
     frame replaces one not yet started (counted as ``stale``), or in lossless mode it
     joins a bounded in-order queue. Outside lossless mode the subscription is not even
     taken while the worker is busy (input_gate.py): the middleware keeps the newest
     sample, and the frames it replaced are counted as ``stale`` from the publisher's
     sequence numbers.
  2. ``_worker_loop`` (a plain thread, not an executor callback, so inference never
     holds up lifecycle, parameter or diagnostics services): collects a batch, at most
     one frame per camera (see batching.py for the wait bound and fairness rule).
  3. ``_process``: convert each frame (CDR bytes -> HxWxC view) -> pipeline.run
     (preprocess into the backend's preallocated input -> infer once for the batch ->
     decode/NMS/top-k in source pixels) -> vision_msgs with each input's own header ->
     publish on that camera's output topic. Every stage is timed; a frame that fails
     is counted under its reason, never silently lost.

Lifecycle (driven by a lifecycle manager or the launch file's autostart):
  configure  validate parameters, load the model / engine, create publishers
  activate   subscribe, start the worker, latch label_info, form the bond (nav2)
  deactivate unsubscribe, drain, stop the worker, break the bond
  cleanup    free the backend and publishers (configure/cleanup repeat without leaks)
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional

from rcl_interfaces.msg import SetParametersResult
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.exceptions import InvalidHandle
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.lifecycle import LifecycleNodeMixin, LifecycleState, TransitionCallbackReturn
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from jetson_infer_ros import diagnostics as diag
from jetson_infer_ros import input_qos
from jetson_infer_ros import lifecycle_bond
from jetson_infer_ros import messages
from jetson_infer_ros import param_sources
from jetson_infer_ros import params as P
from jetson_infer_ros import shutdown
from jetson_infer_ros.batching import BatchCollector
from jetson_infer_ros.config import DEFAULT_NODE_NAME, InferConfig
from jetson_infer_ros.image_convert import ImageFormatError
from jetson_infer_ros.input_gate import PublisherSequences, TakeGate
from jetson_infer_ros.stall_watch import StallGuard
from jetson_infer_ros.stats import PipelineStats, RateMeter, StageTimer
from jetson_infer_ros.transition_guard import refuse_invalid_transitions
from jetson_infer_ros.transport_watch import TransportWatch

try:  # iron and later
    from rclpy.event_handler import SubscriptionEventCallbacks
except ImportError:  # humble
    from rclpy.qos_event import SubscriptionEventCallbacks  # type: ignore[no-redef]


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


class Camera:
    """One input topic with its own outputs, counters and transport watch."""

    def __init__(self, index: int, topic: str, out_ns: str) -> None:
        self.index = index
        self.topic = topic
        self.out_ns = out_ns
        self.sub: Any = None
        self.pub_out: Any = None
        self.pub_debug: Any = None
        self.stats = PipelineStats(window=512)
        self.in_rate, self.out_rate = RateMeter(), RateMeter()
        self.transport = TransportWatch()
        self.sequences = PublisherSequences()
        self.stall: Optional[StallGuard] = None      # reliable input only (stall_watch.py)

    def out_topic(self, name: str) -> str:
        return f'{self.out_ns}/{name}' if self.out_ns else name


def output_namespace(topic: str) -> str:
    """``front/image`` -> ``front``; ``image`` -> '' (outputs beside the node)."""
    topic = topic.rstrip('/')
    return topic.rsplit('/', 1)[0] if '/' in topic.lstrip('/') else (
        '/' if topic.startswith('/') and topic.count('/') > 1 else '')


class InferenceNode(LifecycleNodeMixin, Node):
    """
    Lifecycle node running one model for one or several camera topics.

    Built from the mixin (not rclpy's LifecycleNode, which does not forward it) so the
    lifecycle services get their own reentrant callback group: get_state answers while
    a long configure, such as a TensorRT engine build, is still running.
    """

    def __init__(self, node_name: str = DEFAULT_NODE_NAME, **kwargs: Any) -> None:
        Node.__init__(self, node_name, **kwargs)
        self._lifecycle_group = ReentrantCallbackGroup()
        LifecycleNodeMixin.__init__(self, callback_group=self._lifecycle_group)
        refuse_invalid_transitions(self)     # Jazzy's rclpy dies of one, Kilted's refuses
        self._input = InputSpinner(self)
        self._diag_group = MutuallyExclusiveCallbackGroup()
        self._param_errors: List[str] = []
        self._declare_parameters()
        self._configured = False
        self._active = False
        self.cfg: Optional[InferConfig] = None
        self.pipeline: Any = None
        self.cameras: List[Camera] = []
        self.stats = PipelineStats()
        self._timer = StageTimer(self.stats)
        self._log_limited = RateLimitedLog(self.get_logger())
        self._collector: Optional[BatchCollector] = None
        self._worker: Optional[threading.Thread] = None
        self._worker_busy = False
        self._pub_labels: Any = None
        self._bond: Optional[lifecycle_bond.NodeBond] = None
        self._in_rate, self._out_rate = RateMeter(), RateMeter()
        from diagnostic_msgs.msg import DiagnosticArray
        self._pub_diag = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        period = self._param('diagnostics_period')
        self._diag_timer = self.create_timer(float(period), self._publish_diagnostics,
                                             callback_group=self._diag_group)
        self.add_on_set_parameters_callback(self._on_set_parameters)

    # ------------------------------------------------------------------ parameters
    def _declare_parameters(self) -> None:
        """Declare every table entry; a bad override is reported, never fatal."""
        from rclpy.parameter import Parameter
        for p in P.PARAMETERS:
            # An empty list has no ROS type of its own: declare the type, default later.
            default = (P.empty_list_type(p) if p.default == [] else P._copy(p.default))
            try:
                self.declare_parameter(p.name, default, P.descriptor(p))
                P.coerce(p, self._param(p.name))
            except Exception as exc:  # noqa: B902 - any bad override must not kill the node
                text = f'parameter {p.name}: {_one_line(exc)}'
                self._param_errors.append(text)
                self.get_logger().error(text + ' (configure will fail until it is fixed)')
                if not self.has_parameter(p.name):
                    self.declare_parameter(p.name, default, P.descriptor(p),
                                           ignore_override=True)
            if p.default == [] and not self._param_is_set(p.name):
                # a typed parameter without a value makes rclpy's GetParameters answer
                # nothing at all for a request naming it (ros2 param dump: {})
                self.set_parameters([Parameter(p.name, P.empty_list_type(p), [])])

    def _param_is_set(self, name: str) -> bool:
        from rclpy.exceptions import ParameterUninitializedException
        try:
            self.get_parameter(name)
        except ParameterUninitializedException:
            return False
        return True

    def _param(self, name: str) -> Any:
        from rclpy.exceptions import ParameterUninitializedException
        try:
            return self.get_parameter(name).value
        except ParameterUninitializedException:
            return P._copy(P.BY_NAME[name].default)

    def _read_config(self) -> InferConfig:
        return InferConfig(P.validate({p.name: self._param(p.name) for p in P.PARAMETERS}))

    def _on_set_parameters(self, changes: List[Any]) -> SetParametersResult:
        for change in changes:
            p = P.BY_NAME.get(change.name)
            if p is None:
                continue  # e.g. use_sim_time
            try:
                value = P.coerce(p, change.value)
            except P.ParameterError as exc:
                return SetParametersResult(successful=False, reason=str(exc))
            if not p.runtime and self._configured and self.cfg is not None and \
                    value != self.cfg.get(p.name):   # its own value again: ros2 param load
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
            if any(c.name == 'score_threshold' for c in changes):
                self._publish_label_info()     # latched: late subscribers get the new one
        self._param_errors = [e for e in self._param_errors
                              if not any(e.startswith(f'parameter {c.name}:') for c in changes)]
        return SetParametersResult(successful=True)

    # ------------------------------------------------------------------ lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Load model and engine; FAILURE (-> unconfigured) with one line on any problem."""
        from jetson_infer_ros.pipeline import InferencePipeline
        log = self.get_logger()
        log.info(param_sources.overrides_report(
            self.get_fully_qualified_name(), getattr(self, '_parameter_overrides', {}),
            P.BY_NAME, self.has_parameter))
        if self._param_errors:
            log.error('configure failed: ' + '; '.join(self._param_errors))
            return TransitionCallbackReturn.FAILURE
        try:
            cfg = self._read_config()
            cameras = self._plan_cameras(cfg)
            pipeline = InferencePipeline(cfg, log=lambda m: None if log.info(m) else None)
            pipeline.load()
        except Exception as exc:  # noqa: B902 - whatever failed, stay alive and say why
            log.error(f'configure failed: {_one_line(exc)}')
            return TransitionCallbackReturn.FAILURE
        self.cfg, self.pipeline, self.cameras = cfg, pipeline, cameras
        self.stats = PipelineStats()
        self._timer = StageTimer(self.stats)
        self._create_publishers(cfg)
        self._configured = True
        info = pipeline.info()
        log.info(f'configured: {info.get("model", "")} on {info.get("backend")} '
                 f'({info.get("device", "")}, {info.get("precision_in_use")}), '
                 f'input {info.get("input_shape")}, {len(cameras)} camera(s), '
                 f'batch {cfg.max_batch}')
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Activate publishers, then start the worker and subscribe."""
        ret = super().on_activate(state)
        if ret != TransitionCallbackReturn.SUCCESS:
            return ret
        assert self.cfg is not None
        self._publish_label_info()
        self._start_worker(self.cfg)
        for cam in self.cameras:
            self._subscribe(cam, self.cfg)
        self._active = True
        self._bond = lifecycle_bond.form(self, self.cfg.bond_heartbeat_period,
                                         self.cfg.bond_heartbeat_timeout)
        return ret

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Unsubscribe, let the worker finish what it holds, stop it, break the bond."""
        self._active = False
        self._unsubscribe()
        self._stop_worker()
        self._break_bond()      # last, as nav2's nodes do: the manager reacts at once
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Free backend, buffers and publishers."""
        self._break_bond()
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
        self._break_bond()
        self._active = False
        self._unsubscribe()
        self._stop_worker()
        self._release()

    def _break_bond(self) -> None:
        bond, self._bond = self._bond, None
        if bond is not None:
            bond.destroy()

    def _release(self) -> None:
        pubs = [self._pub_labels] + [p for c in self.cameras for p in (c.pub_out, c.pub_debug)]
        for pub in pubs:
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        for cam in self.cameras:
            cam.pub_out = cam.pub_debug = None
        self._pub_labels = None
        if self.pipeline is not None:
            self.pipeline.release()
        self.pipeline = None
        self._configured = False

    # ------------------------------------------------------------------ wiring
    def _plan_cameras(self, cfg: InferConfig) -> List[Camera]:
        topics = list(cfg.image_topics)
        spaces = list(cfg.output_namespaces) or [output_namespace(t) for t in topics]
        if len(topics) > 1 and len(set(spaces)) != len(spaces):
            raise ValueError(f'image_topics {topics} would publish into the same output '
                             f'namespace(s) {spaces}; set output_namespaces')
        return [Camera(i, t, ns.rstrip('/') if ns != '/' else '/')
                for i, (t, ns) in enumerate(zip(topics, spaces))]

    def _create_publishers(self, cfg: InferConfig) -> None:
        from sensor_msgs.msg import Image
        from vision_msgs.msg import Classification, Detection2DArray, LabelInfo
        out_qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        kind, name = ((Detection2DArray, 'detections') if cfg.task == 'detection'
                      else (Classification, 'classification'))
        for cam in self.cameras:
            cam.pub_out = self.create_lifecycle_publisher(kind, cam.out_topic(name), out_qos)
            cam.pub_debug = self.create_lifecycle_publisher(
                Image, cam.out_topic('debug_image'),
                QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT))
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        self._pub_labels = self.create_lifecycle_publisher(LabelInfo, 'label_info', latched)

    def _subscribe(self, cam: Camera, cfg: InferConfig) -> None:
        from sensor_msgs.msg import CompressedImage, Image
        cam.transport.disabled = bool(cfg.lossless)
        compressed = cfg.input_type == 'compressed'
        msg_type = CompressedImage if compressed else Image
        topic = cam.topic + '/compressed' if compressed else cam.topic

        def on_lost(info: Any, cam: Camera = cam) -> None:
            # samples the middleware dropped before our callback saw them: counted too
            change = int(info.total_count_change)
            self.stats.count_lost(change)
            cam.stats.count_lost(change)
            cam.transport.lost = int(info.total_count)
            cam.sequences.note_lost(change)

        cam.sequences = PublisherSequences()   # frames sent while inactive are no gap
        gated = input_qos.takes_when_ready(cfg)

        def with_info(payload: Any, info: Any, cam: Camera = cam) -> None:
            self._on_image(cam, payload, info)

        def message_only(payload: Any, cam: Camera = cam) -> None:
            self._on_image(cam, payload)

        # rclpy hands MessageInfo to a callback that takes two arguments
        callback: Callable[..., None] = with_info if gated else message_only
        resolved = self._input.resolve(topic)   # the input node has no remaps of its own

        def create() -> Any:
            return self._input.node.create_subscription(
                msg_type, resolved, callback, input_qos.input_qos(cfg),
                callback_group=TakeGate(functools.partial(self._may_take, cam))
                if gated else None,
                event_callbacks=SubscriptionEventCallbacks(message_lost=on_lost),
                raw=True)    # the message path too: malformed samples are counted (raw_image)

        cam.sub = create()
        if gated and input_qos.watches_stalls(cfg):
            cam.stall = StallGuard(self._input.node, msg_type, resolved,
                                   functools.partial(self._may_take, cam),
                                   functools.partial(self._resubscribe, cam, create),
                                   functools.partial(self._count_lost, cam),
                                   functools.partial(self._warn_input, cam))
        taking = ('every frame in order' if cfg.lossless else
                  'the newest frame when the worker is free' if gated else
                  'every frame, the newest kept (this rclpy gives no MessageInfo)')
        self.get_logger().info(
            f'camera {cam.index}: {cam.sub.topic_name} ({msg_type.__name__}, '
            f'{"lossless, reliable" if cfg.lossless else cfg.qos_reliability}, '
            f'{"raw CDR" if cfg.zero_copy_input else "message"} path, takes {taking}) -> '
            f'{cam.pub_out.topic_name}')

    def _unsubscribe(self) -> None:
        for cam in self.cameras:
            if cam.stall is not None:
                cam.stall.close()
                cam.stall = None
            if cam.sub is not None:
                self._input.node.destroy_subscription(cam.sub)
                cam.sub = None

    def _resubscribe(self, cam: Camera, create: Callable[[], Any]) -> None:
        """Replace a camera subscription the middleware stopped feeding (stall_watch.py)."""
        if cam.sub is not None:
            self._input.node.destroy_subscription(cam.sub)
        cam.sub = create()

    def _warn_input(self, cam: Camera, text: str) -> None:
        self.get_logger().warning(f'{cam.topic}: {text}')

    def _count_lost(self, cam: Camera, count: int) -> None:
        if count:
            self.stats.count_lost(count)
            cam.stats.count_lost(count)

    def _start_worker(self, cfg: InferConfig) -> None:
        self._collector = BatchCollector(
            len(self.cameras), max_batch=cfg.max_batch, max_wait=cfg.max_batch_wait_ms / 1e3,
            lossless=cfg.lossless, queue_size=cfg.lossless_queue_size,
            on_drop=self._count_drop)
        self._worker = threading.Thread(target=self._worker_loop,
                                        args=(self._collector,
                                              input_qos.takes_when_ready(cfg), cfg.lossless),
                                        name='jetson_infer_worker', daemon=True)
        self._worker.start()

    def _stop_worker(self) -> None:
        collector = self._collector
        if collector is not None:
            collector.close()
        if self._worker is not None:
            self._worker.join(timeout=30.0)
            self._worker = None
        if collector is not None:
            collector.discard_pending()
        self._collector = None

    def _count_drop(self, camera: int, reason: str, _frame: Any, count: int = 1) -> None:
        self.stats.drop(reason, count)
        if camera < len(self.cameras):
            self.cameras[camera].stats.drop(reason, count)

    # ------------------------------------------------------------------ data flow
    def _may_take(self, cam: Camera) -> bool:
        """Whether the input executor may take this camera's next sample now."""
        if not cam.sequences.counting:
            return True       # frames left in the middleware could not be counted
        collector = self._collector
        if collector is None:
            return True
        if collector.lossless:   # one frame ready behind the one in service
            return collector.pending(cam.index) == 0
        return not self._worker_busy and collector.pending(cam.index) == 0

    def _on_image(self, cam: Camera, payload: Any, info: Any = None) -> None:
        """Subscription callback: stamp arrival, hand over, return at once."""
        if info is not None and cam.stall is not None:
            lost, claimed = cam.stall.watch.on_delivered(info)
            self._count_lost(cam, lost)      # sent while the subscription was re-created
            cam.sequences.note_lost(claimed)
        if info is not None and cam.sequences.counting:
            sub = cam.sub
            skipped = cam.sequences.skipped(info, sub.get_publisher_count if sub else None)
            if skipped:       # replaced in the middleware's history while we were busy
                self.stats.count_received(skipped, taken=False)
                cam.stats.count_received(skipped, taken=False)
                reason = input_qos.skipped_reason(self.cfg) if self.cfg is not None else 'stale'
                self._count_drop(cam.index, reason, None, skipped)
            elif not cam.sequences.counting:
                self.get_logger().warning(
                    f'{cam.topic}: {cam.sequences.why_not}, so frames left unread could '
                    'not be counted: taking every frame instead')
        self.stats.count_received()
        cam.stats.count_received()
        collector = self._collector
        if collector is None:
            self._count_drop(cam.index, 'inactive', None)
            return
        collector.put(cam.index, Frame(payload, time.perf_counter()))

    def _worker_loop(self, collector: BatchCollector, gated: bool, lossless: bool) -> None:
        """Run batches until deactivated, then drain what is still pending."""
        while True:
            batch = collector.collect(timeout=0.1)
            if batch:
                self._worker_busy = True
                if gated and lossless:    # room for the next frame while this one runs
                    self._wake_input()
                try:
                    self._process(batch)
                finally:
                    self._worker_busy = False
                    if gated:      # the subscriptions may be taken again: rebuild the wait set
                        self._wake_input()
            elif collector._closed and collector.pending() == 0:
                return

    def _wake_input(self) -> None:
        try:
            self._input.wake()
        except Exception:  # noqa: B902 - a signal shut the context down: nothing to wake
            if not shutdown.context_gone(self.context):
                raise

    def _process(self, batch: List[Any]) -> None:
        cfg, pipeline, timer = self.cfg, self.pipeline, self._timer
        if cfg is None or pipeline is None or shutdown.context_gone(self.context):
            reason = 'inactive' if cfg is None or pipeline is None else 'shutdown'
            for cam_index, _frame in batch:   # after a signal: nothing can be published
                self._count_drop(cam_index, reason, None)
            return
        ready = []
        for cam_index, frame in batch:
            cam = self.cameras[cam_index]
            try:
                with timer('convert'):
                    header, picture = pipeline.convert(frame.payload,
                                                       raw=cfg.zero_copy_input,
                                                       compressed=cfg.input_type == 'compressed')
            except ImageFormatError as exc:
                self._count_drop(cam_index, exc.reason, None)
                self._log_limited.warn(exc.reason, f'{cam.topic}: dropped frame '
                                                   f'({exc.reason}): {exc}')
                continue
            cam.transport.on_frame(header[0] * 1_000_000_000 + header[1],
                                   _payload_size(frame.payload))
            ready.append((cam, frame, header, picture))
        if not ready:
            return
        try:
            results = pipeline.run([r[3] for r in ready], timer)
        except Exception as exc:  # noqa: B902 - count, report, keep serving
            for cam, _f, _h, _p in ready:
                self._count_drop(cam.index, 'inference_error', None)
            self._log_limited.warn('inference_error', f'inference failed: {_one_line(exc)}')
            return
        now_ns = self.get_clock().now().nanoseconds
        for (cam, frame, header, picture), result in zip(ready, results):
            self._publish_result(cam, frame, header, picture, result, now_ns)

    def _publish_result(self, cam: Camera, frame: Frame, header: Any, picture: Any,
                        result: Any, now_ns: int) -> None:
        timer = self._timer
        with timer('message'):
            ros_header = messages.make_header(*header)
            if result.boxes is not None:
                msg = messages.detection_array_msg(ros_header, result.boxes, result.scores,
                                                   result.class_ids)
            else:
                msg = messages.classification_msg(ros_header, result.class_ids, result.scores)
        with timer('publish'):
            try:
                cam.pub_out.publish(msg)
                if self.cfg is not None and self.cfg.publish_debug_image and \
                        result.boxes is not None:
                    self._publish_debug(cam, ros_header, picture, result)
            except Exception:  # noqa: B902 - only the shutdown race is expected here
                if not shutdown.context_gone(self.context):
                    raise
                self._count_drop(cam.index, 'shutdown', None)   # a signal beat us to it
                return
        total_ms = (time.perf_counter() - frame.received) * 1e3
        self.stats.record('total', total_ms)
        cam.stats.record('total', total_ms)
        stamp_ns = header[0] * 1_000_000_000 + header[1]
        if stamp_ns > 0:
            latency = (now_ns - stamp_ns) / 1e6
            self.stats.record('latency', latency)
            cam.stats.record('latency', latency)
        self.stats.count_processed()
        cam.stats.count_processed()

    def _publish_debug(self, cam: Camera, ros_header: Any, picture: Any, result: Any) -> None:
        if cam.pub_debug is None or cam.pub_debug.get_subscription_count() == 0:
            return
        from jetson_infer_ros.image_convert import picture_to_msg
        from jetson_infer_ros.pipeline import to_bgr
        drawn = messages.draw_detections(to_bgr(picture), result.boxes, result.scores,
                                         result.class_ids, self.pipeline.labels)
        cam.pub_debug.publish(picture_to_msg(drawn, 'bgr8', header=ros_header))

    def _publish_label_info(self) -> None:
        if self._pub_labels is None or self.pipeline is None or self.cfg is None:
            return
        header = messages.make_header(0, 0, '')
        header.stamp = self.get_clock().now().to_msg()
        self._pub_labels.publish(messages.label_info_msg(header, self.pipeline.labels,
                                                         self.cfg.score_threshold))

    # ------------------------------------------------------------------ diagnostics
    def _publish_diagnostics(self) -> None:
        now = time.monotonic()
        snap = self.stats.snapshot()
        in_rate = self._in_rate.rate(_count(snap['received']))
        out_rate = self._out_rate.rate(_count(snap['published']))
        info: Dict[str, Any] = {'state': self._state_label()}
        if self.pipeline is not None:
            info.update(self.pipeline.info())
        info['cameras'] = len(self.cameras)
        if self.cameras and self.cameras[0].sub is not None:
            info['input_topic'] = ', '.join(c.sub.topic_name for c in self.cameras
                                            if c.sub is not None)
        thresholds = {k: float(self._param(k)) for k in (
            'warn_latency_ms', 'error_latency_ms', 'warn_output_rate_hz')}
        notes = list(self.pipeline.notes) if self.pipeline is not None else []
        for cam in self.cameras:
            text = cam.transport.diagnosis(now)
            if text:
                self.get_logger().warning(f'{cam.topic}: {text}')
            if cam.transport.warned:
                notes.append(f'{cam.topic}: {cam.transport.warned}')
            if cam.stall is not None:
                info['input_stalls'] = info.get('input_stalls', 0) + cam.stall.watch.stalls
                stalled = cam.stall.watch.warning(now)
                if stalled:
                    notes.append(f'{cam.topic}: {stalled}')
        level, message = diag.evaluate_levels(snap, in_rate, out_rate, thresholds,
                                              self._active, tuple(notes))
        if self._param_errors:
            level, message = diag.ERROR, '; '.join(self._param_errors)
        hw = f'{info.get("backend", "none")}/{info.get("device", "none")}'
        name = self.get_fully_qualified_name()
        statuses = [diag.status_msg(name, hw, level, message,
                                    diag.build_values(snap, info, in_rate, out_rate))]
        if len(self.cameras) > 1:
            for cam in self.cameras:
                csnap = cam.stats.snapshot()
                cin = cam.in_rate.rate(_count(csnap['received']))
                cout = cam.out_rate.rate(_count(csnap['published']))
                clevel, cmsg = diag.evaluate_levels(csnap, cin, cout, thresholds, self._active,
                                                    (cam.transport.warned,)
                                                    if cam.transport.warned else ())
                statuses.append(diag.status_msg(
                    f'{name}: {cam.topic}', hw, clevel, cmsg,
                    diag.build_values(csnap, {'camera': cam.index, 'topic': cam.topic},
                                      cin, cout)))
        try:
            self._pub_diag.publish(diag.array_msg(self.get_clock().now().to_msg(), statuses))
        except Exception:  # noqa: B902 - a signal shut the context down under the timer
            if not shutdown.context_gone(self.context):
                raise

    def _state_label(self) -> str:
        try:
            return str(self._state_machine.current_state[1])
        except Exception:  # noqa: B902 - diagnostics must never fail
            return 'unknown'


class InputSpinner:
    """
    The camera subscriptions on a small hidden node, spun by its own single-threaded executor.

    Measured here: taking camera frames through the MultiThreadedExecutor that serves the
    lifecycle, parameter and diagnostics services answered 187 of 300 frames at 30 Hz (its
    Python-side wait-set rebuilding competes with inference for the GIL, and samples that
    are taken late are overwritten inside DDS); a single-threaded executor dedicated to the
    input answered 300 of 300. The lifecycle services stay on the multi-threaded executor,
    so a long configure still never blocks get_state or diagnostics.
    """

    def __init__(self, owner: Node) -> None:
        from rclpy.executors import SingleThreadedExecutor
        name = '_' + owner.get_name() + '_input'      # leading underscore: a hidden node
        # Without the process's arguments: a launch's -r __node:=/__ns:= would rename it
        # to the owner's name (two nodes of one name in `ros2 node list`, and rosout's
        # "Publisher already registered"). Topic remaps still apply: resolve() resolves
        # every name through the owner, which has them.
        self.node = rclpy.create_node(name, namespace=owner.get_namespace(),
                                      context=owner.context, start_parameter_services=False,
                                      use_global_arguments=False, enable_rosout=False)
        self._owner = owner
        self._executor = SingleThreadedExecutor(context=owner.context)
        self._executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name='jetson_infer_input',
                                        daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while not self._stop.is_set() and rclpy.ok(context=self.node.context):
            try:
                self._executor.spin_once(timeout_sec=0.1)
            except InvalidHandle:
                continue      # a subscription destroyed under the wait set (see main())
            except Exception:  # noqa: B902 - shutting down under our feet
                if self._stop.is_set() or not rclpy.ok(context=self.node.context):
                    return
                raise

    def resolve(self, topic: str) -> str:
        """Return the topic's full name under the owner's namespace and the user's remaps."""
        return self._owner.resolve_topic_name(topic)

    def wake(self) -> None:
        """Make the executor rebuild its wait set now (a gate opened)."""
        self._executor.wake()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)
        self._executor.remove_node(self.node)
        self._executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()


def _count(value: Any) -> int:
    return int(value)


def _payload_size(payload: Any) -> int:
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return len(payload)
    data = getattr(payload, 'data', None)
    return len(data) if data is not None else 0


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f'{type(exc).__name__}: {text[0]}' if text else type(exc).__name__


def main(args: Optional[List[str]] = None) -> int:
    """Run the node; ``--autostart`` (before --ros-args) configures and activates it."""
    argv = list(sys.argv if args is None else args)
    autostart = '--autostart' in argv
    argv = [a for a in argv if a != '--autostart']
    shutdown.hold_signals()     # before rclpy.init, so rclpy's handlers chain to it
    rclpy.init(args=argv)
    node = InferenceNode()
    fqn = node.get_fully_qualified_name()
    for path, keys in param_sources.unmatched_files(param_sources.params_files(argv), fqn):
        node.get_logger().warning(param_sources.unmatched_warning(path, keys, fqn))
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    try:
        if autostart:
            _autostart_once_spinning(node)
        spin_until_shutdown(executor, node.context)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        shutdown.ignore_from_now()    # the spin loop has ended: leaving, whatever comes
        try:
            node.teardown()
        except Exception as exc:  # noqa: B902 - best effort on the way out
            print(f'jetson_infer: shutdown: {exc}', file=sys.stderr)
        _leave_middleware(node, executor)
    return 0


def spin_until_shutdown(executor: Any, context: Any) -> None:
    """
    Spin until the context is shut down (a signal, rclpy.shutdown()).

    spin_once in a loop: executor.spin() was seen to miss the first SIGTERM.
    """
    while context.ok():
        try:
            executor.spin_once(timeout_sec=0.2)
        except InvalidHandle:
            # a wait set was being built while another executor thread destroyed one of
            # its entities (deactivate/cleanup); measured 2 in 6 runs of 100 cycles ending
            # the spin loop, and with it every service. The next wait is built without it
            continue
        except Exception:  # noqa: B902 - judged below
            # a SIGTERM that shut the context down between ok() and the wait set's
            # creation: RCLError "the given context is not valid" (CI, 1 run of
            # test_signals). Leaving is what the signal asked for; anything else raises
            if shutdown.context_gone(context):
                return
            raise


def _autostart_once_spinning(node: InferenceNode) -> None:
    """
    Configure and activate from a one-shot timer, so the executor is already spinning.

    A configure called before the spin loop left get_state, parameters and diagnostics
    unanswered for as long as it took (an engine build takes minutes on a Jetson); from
    the executor, in a group of its own, it runs beside the lifecycle services, as nav2's
    autostart does.
    """
    def start() -> None:
        timer.cancel()
        try:
            if node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
                node.trigger_activate()
                return
        except Exception as exc:  # noqa: B902 - Jazzy raises if a manager moved it first
            node.get_logger().error(f'autostart: {_one_line(exc)}')
            return
        node.get_logger().error('autostart: configure failed; waiting for a '
                                'lifecycle manager (node stays up, unconfigured)')

    timer = node.create_timer(0.0, start, callback_group=MutuallyExclusiveCallbackGroup())


def _leave_middleware(node: Any, executor: Any, timeout: float = 10.0) -> None:
    """
    Destroy the node and shut rclpy down, but never hang the process on the way out.

    Fast DDS was seen to busy-spin forever in DomainParticipant::set_listener inside
    destroy_node() while a discovery callback held its mutex; a node that cannot exit
    blocks a launch file's shutdown and a lifecycle manager's restart. The teardown runs
    in a thread, and if it has not finished in ``timeout`` seconds the process leaves
    without it (the kernel frees everything; Fast DDS cleans stale shared-memory files
    of dead processes at its next start).
    """
    done = threading.Event()

    def work() -> None:
        try:
            node._input.close()
            executor.shutdown(timeout_sec=1.0)
            node.destroy_node()
            rclpy.try_shutdown()
        finally:
            done.set()

    threading.Thread(target=work, name='jetson_infer_teardown', daemon=True).start()
    if not done.wait(timeout):
        print('jetson_infer: middleware teardown hung; exiting without it', file=sys.stderr)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(0)


if __name__ == '__main__':
    sys.exit(main())
