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
The INT8 gate: a calibrated model runs only if its stored evaluation says it is safe.

INT8 models that silently collapse are the common failure of peer projects. Here
``precision: int8`` takes the calibrated Q/DQ artefact only when the evaluation stored
next to it (written by `jetson-infer evaluate`) meets the configured thresholds: top-1
agreement with FP32 for classifiers, mAP@[.5:.95] drop for detectors. Otherwise the
numbers are logged, INT8 is refused, and the node falls back to the next precision
(fp16 on a GPU, fp32 on the CPU) and says so in diagnostics.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional


@dataclasses.dataclass
class GateDecision:
    """What runs: the model file, whether it is the INT8 artefact, and why."""

    accepted: bool
    model_file: str
    fallback_precision: str
    reason: str
    log_lines: List[str]


def int8_artifact_for(model_file: str, explicit: str = '') -> Path:
    """``int8_model_path`` if set, else ``<model>.int8.onnx`` beside the FP32 model."""
    if explicit:
        return Path(explicit).expanduser()
    p = Path(model_file)
    return p.with_name(p.stem + '.int8.onnx')


def evaluation_for(artifact: Path) -> Path:
    """Where `jetson-infer evaluate` stores the artefact's evaluation report."""
    return artifact.with_name(artifact.name[:-len('.onnx')] + '.eval.json'
                              if artifact.name.endswith('.onnx') else artifact.name + '.eval.json')


def _fallback(cfg: Mapping[str, Any]) -> str:
    if cfg.get('backend') == 'onnxruntime':
        return 'fp32'
    from jetson_infer_ros.backends import unavailable_reason
    return 'fp32' if unavailable_reason('tensorrt') else 'fp16'


def judge(report: Mapping[str, Any], task: str, min_top1_agreement: float,
          max_map_drop: float) -> Optional[str]:
    """None when the report passes, else one line saying which number failed."""
    if task == 'classification':
        agree = report.get('top1_agreement')
        if agree is None:
            return 'evaluation has no top1_agreement'
        if float(agree) < min_top1_agreement:
            return (f'top-1 agreement with FP32 {float(agree) * 100:.2f}% < required '
                    f'{min_top1_agreement * 100:.2f}%')
        return None
    drop = report.get('map_drop')
    if drop is None:
        return 'evaluation has no map_drop'
    if float(drop) > max_map_drop:
        return f'mAP@[.5:.95] drop {float(drop):.2f} points > allowed {max_map_drop:.2f}'
    return None


def runtime_for(cfg: Mapping[str, Any]) -> str:
    """Return the backend the node will use: 'tensorrt' or 'onnxruntime' (auto resolved)."""
    backend = cfg.get('backend')
    if backend in ('onnxruntime', 'tensorrt'):
        return str(backend)
    from jetson_infer_ros.backends import unavailable_reason
    return 'onnxruntime' if unavailable_reason('tensorrt') else 'tensorrt'


def int8_gate(model_file: str, cfg: Mapping[str, Any]) -> GateDecision:
    """
    Decide whether the INT8 artefact for ``model_file`` may run under ``cfg``.

    ``model_file`` may itself be a calibrated Q/DQ model (``--model X.int8.onnx``): it is
    then the artefact, and a refusal falls back to the FP32 model its calibration
    provenance names. With ONNX Runtime the artefact's CPU layout (``X.int8.cpu.onnx``)
    runs when it exists and was evaluated. An evaluation whose recorded sha256 is not
    that of the file about to run is stale and refused.
    """
    from jetson_infer_ros.quant import artifacts
    from jetson_infer_ros.quant.export import is_quantized_file
    fallback = _fallback(cfg)
    runs_on = runtime_for(cfg)
    explicit = str(cfg.get('int8_model_path', ''))
    fallback_model: Optional[str] = model_file
    if not explicit and is_quantized_file(model_file):
        artifact = Path(model_file).expanduser()
        fallback_model = _fp32_from_provenance(artifacts.family_of(artifact).provenance)
    else:
        artifact = int8_artifact_for(model_file, explicit)
    family = artifacts.family_of(artifact)
    report_path = family.evaluation

    def refuse(why: str) -> GateDecision:
        if fallback_model is None:
            raise ValueError(
                f'INT8 refused: {why}; {Path(model_file).name} is itself quantized and its '
                'calibration provenance names no FP32 model that exists to fall back to')
        line = f'INT8 refused: {why}; running {fallback} instead'
        return GateDecision(False, fallback_model, fallback, line, [line])

    if not family.main.is_file():
        return refuse(f'no calibrated model at {family.main} (run `jetson-infer calibrate`)')
    if not report_path.is_file():
        return refuse(f'no evaluation at {report_path} (run `jetson-infer evaluate`)')
    try:
        report = json.loads(report_path.read_text())
        if not isinstance(report, dict):
            raise ValueError('not a JSON object')
    except (OSError, ValueError) as exc:
        return refuse(f'evaluation {report_path} unreadable: {exc}')
    found = report.get('variants')
    variants: Dict[str, Any] = found if isinstance(found, dict) else {}
    layout = 'onnxruntime' if (runs_on == 'onnxruntime' and family.cpu.is_file()
                               and 'onnxruntime' in variants) else 'tensorrt'
    run_file = family.cpu if layout == 'onnxruntime' else family.main
    numbers = variants.get(layout) or report
    stale = _stale(numbers, report, run_file, layout)
    if stale:
        return refuse(stale)
    why = judge(numbers, str(cfg.get('task')),
                float(cfg.get('int8_min_top1_agreement', 0.99)),
                float(cfg.get('int8_max_map_drop', 1.0)))
    if why is not None:
        return refuse(f'{why} ({run_file.name})')
    line = f'INT8 accepted: {run_file.name} ({_summary(numbers)})'
    return GateDecision(True, str(run_file), fallback, line, [line])


def _stale(numbers: Mapping[str, Any], report: Mapping[str, Any], run_file: Path,
           layout: str) -> Optional[str]:
    """Return a reason when the evaluation was made for another file than ``run_file``."""
    recorded = numbers.get('sha256') or (report.get('sha256') if layout == 'tensorrt' else None)
    if not recorded:
        return None   # hand-written or pre-hash report: judged on its numbers alone
    from jetson_infer_ros.assets.cache import file_sha256
    if file_sha256(str(run_file)) != recorded:
        return (f'evaluation is for another {run_file.name} (sha256 differs; re-run '
                '`jetson-infer evaluate` after calibrating)')
    return None


def _fp32_from_provenance(path: Path) -> Optional[str]:
    try:
        model = json.loads(path.read_text())['model']['path']
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(model) if Path(str(model)).is_file() else None


def _summary(report: Mapping[str, Any]) -> str:
    keys = ('top1_agreement', 'top5_agreement', 'map_int8', 'map_reference', 'map_drop')
    return ', '.join(f'{k} {report[k]:.4g}' for k in keys
                     if isinstance(report.get(k), (int, float)))
