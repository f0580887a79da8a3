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
"""Lossless input bounds the middleware's backlog; replaced frames are counted."""

from __future__ import annotations

from rclpy.qos import HistoryPolicy, ReliabilityPolicy

from jetson_infer_ros import input_qos
from jetson_infer_ros.config import load_config


def test_lossless_is_reliable_keep_last_of_the_queue_size(monkeypatch):
    """KEEP_ALL let Fast DDS hold 5000 frames (6.6 GB of 768x576) in the reader."""
    monkeypatch.setattr(input_qos, 'publisher_ids_supported', lambda: True)   # Kilted
    cfg = load_config(None, lossless=True, lossless_queue_size=64)
    qos = input_qos.input_qos(cfg)
    assert qos.history == HistoryPolicy.KEEP_LAST and qos.depth == 64
    assert qos.reliability == ReliabilityPolicy.RELIABLE
    assert input_qos.skipped_reason(cfg) == 'queue_full' and input_qos.is_reliable(cfg)
    assert input_qos.takes_when_ready(cfg)


def test_lossless_without_message_info_keeps_keep_all(monkeypatch):
    """Replaced frames could not be counted there: the 5000-sample bound stays."""
    monkeypatch.setattr(input_qos, 'publisher_ids_supported', lambda: False)
    qos = input_qos.input_qos(load_config(None, lossless=True))
    assert qos.history == HistoryPolicy.KEEP_ALL


def test_newest_frame_mode_is_unchanged():
    cfg = load_config(None, qos_depth=3)
    qos = input_qos.input_qos(cfg)
    assert (qos.history, qos.depth, qos.reliability) == \
        (HistoryPolicy.KEEP_LAST, 3, ReliabilityPolicy.BEST_EFFORT)
    assert input_qos.skipped_reason(cfg) == 'stale' and not input_qos.is_reliable(cfg)
    assert input_qos.is_reliable(load_config(None, qos_reliability='reliable'))


def test_without_publisher_ids_only_newest_frame_mode_waits_for_room(monkeypatch):
    """Jazzy: sequence numbers without ids count one publisher, not a bounded history."""
    monkeypatch.setattr(input_qos, 'message_info_supported', lambda: True)
    monkeypatch.setattr(input_qos, 'publisher_ids_supported', lambda: False)
    assert input_qos.takes_when_ready(load_config(None))
    lossless = load_config(None, lossless=True)
    assert not input_qos.takes_when_ready(lossless)
    assert not input_qos.watches_stalls(lossless)
    assert input_qos.input_qos(lossless).history == HistoryPolicy.KEEP_ALL


def test_this_distro_gets_the_bounded_history_exactly_where_it_names_publishers():
    from jetson_infer_ros.input_gate import publisher_ids_supported
    qos = input_qos.input_qos(load_config(None, lossless=True))
    assert (qos.history == HistoryPolicy.KEEP_LAST) == publisher_ids_supported()
