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
The camera subscription's QoS, chosen so that the middleware's backlog is bounded.

Lossless mode used to subscribe KEEP_ALL + reliable and count on the middleware to push
back on a fast publisher. Measured (Fast DDS 3.2.3 / rmw_fastrtps 9.3.3, 768x576 bgr8
flooded from another process over reliable KEEP_ALL, EfficientNet-Lite0 on 2 cores):

* KEEP_ALL: a reader's history is bounded only by Fast DDS's default resource limit
  (5000 samples; rmw_fastrtps sets none), and a reliable reader acknowledges every
  sample it stores, so the writer is never held back. Node RSS 145 MB -> 3.0 GB in 15 s
  (3115 sent, 600 taken, 257 of them waiting in the node) before a watchdog stopped it;
  the outside fuzzer reached 5.25 GB. The memory sat in the reader's history.
* KEEP_ALL with ``max_samples`` 8 (only an XML profile can set it; rclpy cannot): real
  pushback, but a rejected sample is repaired only on the writer's heartbeat cycle, so
  a reader that takes 50 frames/s got 140 frames in 14 s. Not kept.
* KEEP_LAST depth N (what is used): the reader never holds more than N samples. A
  writer that outruns the node has its oldest unread samples replaced in the reader;
  the node takes frames only while it has room (input_gate.TakeGate) and counts the
  replaced ones from each publisher's sequence numbers as ``dropped.queue_full``.

The depth is capped at 5000 (``lossless_queue_size``'s range): Fast DDS's default
``max_samples`` holds a reader to 5000 samples whatever its KEEP_LAST depth (measured: a
reader of depth 8000 that took nothing held 5000 of 7000 sent; the rest waited in the
writer and were gone when it exited), so a deeper history would not be deeper.

Jazzy's MessageInfo has sequence numbers but no publisher id: replaced samples are
counted while the topic has one publisher (the usual camera). A second publisher ends
the counting, logged, and the node then takes every frame as it arrives (its own queue
counts what it cannot hold), so only a sample replaced before the input thread took it
goes uncounted; the history stays bounded, which KEEP_ALL's gigabytes were not. Without
MessageInfo (Humble) nothing could be counted, so that case keeps KEEP_ALL and its
5000-sample bound.
"""

from __future__ import annotations

from typing import Any

from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from jetson_infer_ros.input_gate import message_info_supported


def takes_when_ready(cfg: Any) -> bool:
    """
    Whether camera subscriptions wait for room in the node (input_gate.py).

    Both modes need only sequence numbers: Jazzy counts them for a topic's one publisher
    and takes every frame once a second appears (input_gate.PublisherSequences).
    """
    return message_info_supported()


def watches_stalls(cfg: Any) -> bool:
    """Whether a stall probe watches the camera (stall_watch.py: sequence numbers)."""
    return is_reliable(cfg) and message_info_supported()


def input_qos(cfg: Any) -> QoSProfile:
    """Return the QoS of one camera subscription for this configuration."""
    if cfg.lossless:
        history = HistoryPolicy.KEEP_LAST if takes_when_ready(cfg) else HistoryPolicy.KEEP_ALL
        return QoSProfile(history=history, depth=cfg.lossless_queue_size,
                          reliability=ReliabilityPolicy.RELIABLE)
    rel = (ReliabilityPolicy.RELIABLE if cfg.qos_reliability == 'reliable'
           else ReliabilityPolicy.BEST_EFFORT)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=cfg.qos_depth, reliability=rel)


def is_reliable(cfg: Any) -> bool:
    """Whether the camera subscription is reliable (and so can stall: stall_watch.py)."""
    return bool(cfg.lossless) or cfg.qos_reliability == 'reliable'


def skipped_reason(cfg: Any) -> str:
    """Return the drop reason of frames the middleware replaced unread."""
    return 'queue_full' if cfg.lossless else 'stale'
