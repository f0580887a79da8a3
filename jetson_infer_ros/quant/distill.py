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
Distillation of a calibrated artefact, as ``calibrate --distill-steps N`` runs it.

Post-training quantization stops at about 21-23 dB of output fidelity on
EfficientNet-Lite0 (94 % top-1 agreement on ambiguous street frames), because every
layer's int8 activations err at once and no layer-by-layer rounding sees that. Tuning
the int8 weights against the FP32 model's outputs with the activations quantized
(``distill_tool.py``, PyTorch in the ``export_torch`` tool env) sees it. No labels are
needed: the FP32 model is the teacher, the calibration frames and random crops and
mirror images of them are the lessons. Scales stay as calibrated, so both layouts and
the TensorRT calibration cache keep their meaning.

Like the weight rounding, a tuned layout is kept only if it beats the untuned one on
the held-out calibration frames, measured by ONNX Runtime on the written file.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
import shutil
from typing import Any, Callable, Dict, Iterator, Optional

import numpy as np

from jetson_infer_ros.image_convert import Picture

Log = Callable[[str], None]

TOOL_ENV = 'export_torch'
"""The tool env with torch, onnx and ONNX Runtime (it exports EfficientNet-Lite0 too)."""

TOOL_SCRIPT = Path(__file__).resolve().with_name('distill_tool.py')


@dataclasses.dataclass
class DistillSettings:
    """How long and how hard to tune; steps == 0 turns distillation off."""

    steps: int = 0
    lr: float = 0.01          # int8 weights: quantization steps of their channel per step
    float_lr: float = 2e-5    # int32 biases and float-layer weights: their own units
    batch: int = 16
    augment: int = 4          # random crops / mirror images per calibration frame
    seed: int = 0
    threads: int = 0          # 0: every core

    def check(self) -> None:
        if self.steps < 0:
            raise ValueError(f'distill steps must be >= 0, got {self.steps}')
        if not 0.0 < self.lr <= 1.0 or not 0.0 < self.float_lr < 1.0:
            raise ValueError(f'distill learning rates must be in (0, 1], got {self.lr} '
                             f'(weights) and {self.float_lr} (biases)')
        if self.batch < 1 or self.augment < 0:
            raise ValueError('distill batch must be >= 1 and augment >= 0')


def augmented(picture: Picture, count: int, rng: np.random.Generator) -> Iterator[Picture]:
    """
    Random crops (60-100 % of each side) of a frame, every other one mirrored.

    Crops change the scale and position of what the model sees, which is what differs
    between frames of a deployed camera; mirroring keeps the picture natural.
    """
    array = picture.array
    height, width = array.shape[:2]
    for k in range(count):
        side = rng.uniform(0.6, 1.0)
        h, w = max(1, int(height * side)), max(1, int(width * side))
        y, x = int(rng.integers(0, height - h + 1)), int(rng.integers(0, width - w + 1))
        crop = array[y:y + h, x:x + w]
        if k % 2:
            crop = crop[:, ::-1]
        yield Picture(np.ascontiguousarray(crop), picture.color)


class FrameBank:
    """
    Preprocessed lessons on disk (float16 .npy), filled as calibration reads frames.

    On disk because a few hundred frames with their crops outgrow a Jetson's memory
    (NanoDet at 416x416: 1 MB each in float16); float16 because the model's first
    QuantizeLinear keeps 8 bits of the input anyway.
    """

    def __init__(self, path: Path, capacity: int, preprocess: Any, run: Callable,
                 augment: int, seed: int) -> None:
        self.path = path
        self._row = preprocess.allocate(1)
        self._filling = path.with_name(path.stem + '.filling.npy')
        self._bank = np.lib.format.open_memmap(str(self._filling), mode='w+', dtype=np.float16,
                                               shape=(capacity,) + self._row.shape[1:])
        self._run = run
        self._augment = augment
        self._rng = np.random.default_rng(seed)
        self.count = 0

    def add(self, picture: Picture, preprocessed: Optional[np.ndarray] = None) -> None:
        """Add a frame (reusing its preprocessed tensor if given) and its variations."""
        if preprocessed is not None:
            self._put(preprocessed)
        else:
            self._run(picture, self._row[0])
            self._put(self._row[0])
        for variant in augmented(picture, self._augment, self._rng):
            self._run(variant, self._row[0])
            self._put(self._row[0])

    def _put(self, tensor: np.ndarray) -> None:
        if self.count < len(self._bank):
            self._bank[self.count] = tensor
            self.count += 1

    def close(self) -> int:
        """Flush, trim to what was filled, and return the number of lessons."""
        np.save(str(self.path), self._bank[:self.count])
        del self._bank
        self._filling.unlink()
        return self.count


def run_tool(job: Dict[str, Any], work: Path, log: Log) -> Dict[str, Any]:
    """Run ``distill_tool.py`` on one job in the tool env and return its report."""
    from jetson_infer_ros.assets import toolenv
    job_path = work / (Path(job['out']).stem + '.job.json')
    job_path.write_text(json.dumps(job, indent=1))
    toolenv.run_tool(TOOL_ENV, TOOL_SCRIPT, [str(job_path)], log)
    return json.loads(Path(job['report']).read_text())


def distill_layouts(models: Dict[str, str], reference_model: str, lessons: Path,
                    held_out: np.ndarray, settings: DistillSettings, work: Path,
                    log: Log) -> Dict[str, Any]:
    """
    Tune every written layout in place; keep a tuned one only if it measured better.

    Returns the provenance entry: the settings and, per layout, the tool's report (held-
    out output SQNR before and after, by ONNX Runtime) and what was kept.
    """
    import os
    held_path = work / 'distill_held_out.npy'
    np.save(str(held_path), held_out.astype(np.float32))
    threads = settings.threads or (os.cpu_count() or 1)
    layouts: Dict[str, Any] = {}
    for target, path in models.items():
        tuned = str(work / f'{target}.distilled.onnx')
        job = {'model': path, 'reference': reference_model, 'frames': str(lessons),
               'held_out': str(held_path), 'out': tuned,
               'report': str(work / f'{target}.distill.json'), 'steps': settings.steps,
               'code_lr': settings.lr, 'lr': settings.float_lr,
               'batch': settings.batch, 'seed': settings.seed, 'threads': threads}
        log(f'[calibrate] distilling the {target} layout: {settings.steps} steps')
        report = run_tool(job, work, log)
        if 'error' in report:
            log(f'[calibrate] {target}: distillation skipped: {report["error"]}')
            layouts[target] = {'chosen': 'calibrated', **report}
            continue
        scores = report['held_out_sqnr_db']
        keep = scores['after'] > scores['before']
        if keep:
            shutil.copyfile(tuned, path)
        layouts[target] = {'chosen': 'distilled' if keep else 'calibrated', **report}
        log(f'[calibrate] {target}: output SQNR on {len(held_out)} held-out frames '
            f'{scores["before"]:.2f} dB calibrated, {scores["after"]:.2f} dB distilled -> '
            f'{layouts[target]["chosen"]} ({report["seconds"]:.0f} s)')
    return {**dataclasses.asdict(settings), 'threads': threads, 'layouts': layouts}
