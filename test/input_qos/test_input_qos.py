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
    monkeypatch.setattr(input_qos, 'message_info_supported', lambda: True)  # Jazzy, Kilted
    cfg = load_config(None, lossless=True, lossless_queue_size=64)
    qos = input_qos.input_qos(cfg)
    assert qos.history == HistoryPolicy.KEEP_LAST and qos.depth == 64
    assert qos.reliability == ReliabilityPolicy.RELIABLE
    assert input_qos.skipped_reason(cfg) == 'queue_full' and input_qos.is_reliable(cfg)
    assert input_qos.takes_when_ready(cfg)


def test_lossless_without_message_info_keeps_keep_all(monkeypatch):
    """Humble: replaced frames could not be counted, so the 5000-sample bound stays."""
    monkeypatch.setattr(input_qos, 'message_info_supported', lambda: False)
    lossless = load_config(None, lossless=True)
    assert input_qos.input_qos(lossless).history == HistoryPolicy.KEEP_ALL
    assert not input_qos.takes_when_ready(lossless)
    assert not input_qos.watches_stalls(lossless)


def test_newest_frame_mode_is_unchanged():
    cfg = load_config(None, qos_depth=3)
    qos = input_qos.input_qos(cfg)
    assert (qos.history, qos.depth, qos.reliability) == \
        (HistoryPolicy.KEEP_LAST, 3, ReliabilityPolicy.BEST_EFFORT)
    assert input_qos.skipped_reason(cfg) == 'stale' and not input_qos.is_reliable(cfg)
    assert input_qos.is_reliable(load_config(None, qos_reliability='reliable'))


def test_sequence_numbers_without_publisher_ids_bound_and_watch_both_modes(monkeypatch):
    """Jazzy: sequence numbers without ids count the topic's one publisher."""
    monkeypatch.setattr(input_qos, 'message_info_supported', lambda: True)
    assert input_qos.takes_when_ready(load_config(None))
    lossless = load_config(None, lossless=True, lossless_queue_size=32)
    assert input_qos.takes_when_ready(lossless)
    assert input_qos.watches_stalls(lossless)
    qos = input_qos.input_qos(lossless)
    assert (qos.history, qos.depth) == (HistoryPolicy.KEEP_LAST, 32)


def test_this_distro_gets_the_bounded_history_exactly_where_it_gives_message_info():
    from jetson_infer_ros.input_gate import message_info_supported
    qos = input_qos.input_qos(load_config(None, lossless=True))
    assert (qos.history == HistoryPolicy.KEEP_LAST) == message_info_supported()
