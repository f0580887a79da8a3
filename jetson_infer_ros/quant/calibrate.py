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
Post-training INT8 calibration: frames in, quantized models and their provenance out.

The frames go through the node's own preprocessing (the pipeline's ModelSpec and
Preprocessor, built from the same config), so the ranges are measured on exactly the
tensors the deployed model will see; a calibration that resizes or normalises
differently from the node is the classic silent INT8 failure. Activation statistics are
gathered by ONNX Runtime's calibrators (MinMax, Entropy, Percentile: a library, not a
hand-written histogram), a chunk of frames at a time so memory stays flat, and one set
of ranges then feeds every output: the TensorRT Q/DQ model, the ONNX Runtime CPU model
and the TensorRT calibration cache (see export.py, trt_cache.py, artifacts.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import io
import json
from pathlib import Path
import platform
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from . import artifacts, distill as distill_mod, execution, export, frames as frames_mod, hygiene
from . import rounding, sensitivity, trt_cache
from ..assets.cache import file_sha256
from ..config import InferConfig

METHODS = ('entropy', 'minmax', 'percentile')
WEIGHT_ROUNDINGS = ('auto', 'gptq', 'nearest')
_ORT_METHOD = {'entropy': 'Entropy', 'minmax': 'MinMax', 'percentile': 'Percentile'}
SENSITIVITY_FRAMES = 16
DEFAULT_SENSITIVITY_DB = 25.0
CHUNK = 8
MAX_LESSONS = 2048                # distillation frames kept on disk, crops included

Log = Callable[[str], None]


class CalibrationError(ValueError):
    """Calibration cannot run as asked (one line, fit for the CLI)."""


@dataclasses.dataclass
class CalibrationSettings:
    """How ranges are measured and which layers stay float."""

    method: str = 'minmax'
    histogram_bins: Optional[int] = None       # entropy / percentile; None = ORT's default
    percentile: float = 99.999
    keep_float: Union[str, Sequence[str]] = ()  # 'auto', or node names
    quantize_head: bool = False                  # default: the output head stays float
    sensitivity_db: float = DEFAULT_SENSITIVITY_DB
    trt_version: int = trt_cache.DEFAULT_TRT_VERSION
    write_cpu_model: bool = True
    weight_rounding: str = 'auto'                # see rounding.py and _round_weights
    rounding_frames: int = 128
    distill: distill_mod.DistillSettings = dataclasses.field(
        default_factory=distill_mod.DistillSettings)  # off unless steps > 0

    def check(self) -> None:
        if self.method not in METHODS:
            raise CalibrationError(f'method must be one of {", ".join(METHODS)}, got '
                                   f'{self.method!r}')
        if self.weight_rounding not in WEIGHT_ROUNDINGS:
            raise CalibrationError(f'weight rounding must be one of '
                                   f'{", ".join(WEIGHT_ROUNDINGS)}, got '
                                   f'{self.weight_rounding!r}')
        if self.rounding_frames < 1:
            raise CalibrationError(f'rounding frames must be >= 1, got {self.rounding_frames}')
        if self.histogram_bins is not None and self.histogram_bins < 16:
            raise CalibrationError(f'histogram bins must be >= 16, got {self.histogram_bins}')
        if not 50.0 < float(self.percentile) <= 100.0:
            raise CalibrationError(f'percentile must be in (50, 100], got {self.percentile}')
        try:
            self.distill.check()
        except ValueError as exc:
            raise CalibrationError(str(exc)) from None


@dataclasses.dataclass
class CalibrationResult:
    """What a calibration wrote and the numbers worth printing."""

    artifact: Path
    files: List[Path]
    frames: int
    frames_sha256: str
    method: str
    seconds: float
    warnings: List[str]
    kept_float: List[str]
    sample_sqnr_db: Dict[str, float]
    removed_stale: List[Path]
    weight_rounding: Dict[str, Any] = dataclasses.field(default_factory=dict)
    distillation: Optional[Dict[str, Any]] = None

    def summary(self) -> Dict[str, Any]:
        return {
            'artifact': str(self.artifact),
            'files': [str(p) for p in self.files],
            'frames': self.frames,
            'frames_sha256': self.frames_sha256,
            'method': self.method,
            'seconds': round(self.seconds, 2),
            'kept_float': self.kept_float,
            'sample_sqnr_db': self.sample_sqnr_db,
            'weight_rounding': self.weight_rounding,
            'distillation': _distill_summary(self.distillation),
            'warnings': self.warnings,
        }


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


class Progress:
    """``[calibrate] frames 40/200 (20%) 3.1 s`` lines: at most one every 2 s, plus the last."""

    def __init__(self, what: str, total: int, log: Log, every_s: float = 2.0) -> None:
        self.what, self.total, self.log, self.every_s = what, total, log, every_s
        self.start = self.last = time.monotonic()

    def __call__(self, done: int, total: Optional[int] = None) -> None:
        total = total or self.total
        now = time.monotonic()
        if done < total and now - self.last < self.every_s:
            return
        self.last = now
        pct = 100.0 * done / total if total else 100.0
        self.log(f'[calibrate] {self.what} {done}/{total} ({pct:.0f}%) '
                 f'{now - self.start:.1f} s')


def _ort_extra(settings: CalibrationSettings) -> Dict[str, Any]:
    extra: Dict[str, Any] = {}
    if settings.method in ('entropy', 'percentile') and settings.histogram_bins:
        extra['num_bins'] = int(settings.histogram_bins)
    if settings.method == 'percentile':
        extra['percentile'] = float(settings.percentile)
    return extra


def _reference_pipeline(cfg: InferConfig, log: Log):
    """Load the FP32 CPU pipeline: the node's ModelSpec and preprocessing for this config."""
    from jetson_infer_ros.pipeline import InferencePipeline
    ref_cfg = cfg.replace(precision='fp32', backend='onnxruntime', max_batch=1)
    pipeline = InferencePipeline(ref_cfg, log=log)
    pipeline.load()
    return pipeline


def _plain_ranges(ranges: Any) -> Dict[str, List[float]]:
    out = {}
    for name in sorted(ranges.keys()):
        lo, hi = ranges[name].range_value
        out[name] = [float(np.asarray(lo).ravel()[0]), float(np.asarray(hi).ravel()[0])]
    return out


def _check_out_path(out: Path, model_file: str) -> None:
    if not out.name.endswith('.onnx'):
        raise CalibrationError(f'--out must end in .onnx, got {out.name}')
    if out.name.endswith(artifacts.CPU_TAG + '.onnx'):
        raise CalibrationError(f'--out names the TensorRT artefact (X.int8.onnx); '
                               f'{out.name} is reserved for its CPU sibling')
    if frames_mod.same_file(str(out), model_file) or out.resolve() == Path(model_file).resolve():
        raise CalibrationError(f'--out {out} would overwrite the FP32 model')
    if out.exists() and not out.is_file():
        raise CalibrationError(f'--out {out} exists and is not a file')


def calibrate(cfg: InferConfig, source: frames_mod.FrameSource, out: Optional[str],
              settings: CalibrationSettings, log: Log = _stderr,
              evaluation_hashes: Sequence[str] = ()) -> CalibrationResult:
    """
    Measure ranges on ``source`` and write the artefact family at ``out``.

    Raises CalibrationError / FrameSourceError / AlreadyQuantizedError (all ValueError)
    with one line; nothing exists at ``out`` unless everything succeeded.
    """
    import onnx
    import onnxruntime
    from onnxruntime.quantization import CalibrationMethod
    from onnxruntime.quantization.calibrate import save_tensors_data
    from jetson_infer_ros.pipeline import resolve_model
    from jetson_infer_ros.preprocess import Preprocessor

    settings.check()
    _require_ort_quantization()
    started = time.monotonic()
    model_file, _labels = resolve_model(cfg.model_path)
    if not Path(model_file).is_file():
        raise CalibrationError(f'model not found: {model_file}')
    export.check_float_model(model_file)
    out_path = Path(out).expanduser() if out else artifacts.default_artifact(model_file)
    _check_out_path(out_path, model_file)
    family = artifacts.ArtifactFamily(out_path)
    total = len(source)
    if total == 0:
        raise CalibrationError('no calibration frames selected')

    pipeline = _reference_pipeline(cfg, log)
    spec = pipeline.spec
    pipeline.release()
    pre = Preprocessor(spec.preprocess)
    rows = CHUNK if spec.batch_dynamic else 1
    method = getattr(CalibrationMethod, _ORT_METHOD[settings.method])
    log(f'[calibrate] {Path(model_file).name}: {total} frames ({source.kind}), method '
        f'{settings.method}, input {spec.input_name} {tuple(spec.input_shape)}')

    checker = hygiene.SetChecker()
    items: List[Dict[str, str]] = []
    # a few frames are held out from steering the weight rounding to judge it fairly
    keep_every = max(1, total // min(SENSITIVITY_FRAMES, max(1, total // 4)))
    moments = None
    steer_every = 1
    if settings.weight_rounding != 'nearest':
        moments = rounding.InputMoments(model_file, spec.input_name)
        steer_every = -(-total // settings.rounding_frames)
    sample: List[np.ndarray] = []
    progress = Progress('frames', total, log)
    with tempfile.TemporaryDirectory(prefix='jetson-infer-calib-') as work:
        collector = _RangeCollector(model_file, spec.input_name, method,
                                    _ort_extra(settings), Path(work))
        batch = spec.preprocess.allocate(rows)
        bank = None
        if settings.distill.steps:
            bank = distill_mod.FrameBank(
                Path(work) / 'distill_lessons.npy',
                min(MAX_LESSONS, total * (1 + settings.distill.augment)), spec.preprocess,
                pre.run, settings.distill.augment, settings.distill.seed)
        filled = 0
        done = 0
        for frame in source.frames():
            checker.add(frame.picture, frame.sha256)
            items.append({'ref': frame.ref, 'sha256': frame.sha256})
            try:
                pre.run(frame.picture, batch[filled])
            except ValueError as exc:
                raise CalibrationError(f'frame {frame.ref}: {exc}') from None
            held_out = done % keep_every == 0 and len(sample) < SENSITIVITY_FRAMES
            if held_out:
                sample.append(batch[filled].copy())
            else:
                if moments is not None and done % steer_every == 0:
                    moments.add(batch[filled:filled + 1])
                if bank is not None:
                    bank.add(frame.picture, batch[filled])
            filled += 1
            done += 1
            if filled == rows:
                collector.add(batch[:filled])
                filled = 0
            progress(done)
        if filled:
            collector.add(batch[:filled])
        if done == 0:
            raise CalibrationError('the frame source yielded no frames')
        ranges, non_finite = collector.result()
        ranges = _borrow_input_ranges(model_file, ranges, non_finite)
        if non_finite:
            log(f'[calibrate] {len(non_finite)} tensors hold non-finite values (e.g. a -inf '
                f'Pad before MaxPool): {", ".join(non_finite[:4])}; they take the '
                'quantization of their input')
        ranges_json = str(Path(work) / 'ranges.json')
        save_tensors_data(ranges, ranges_json)

        sample_batch = np.stack(sample)
        keep_float, scores = _float_layers(model_file, spec.input_name, sample_batch,
                                           settings, log)
        head = [] if settings.quantize_head else export.output_head(model_file)
        if head:
            log(f'[calibrate] output head kept in float: {", ".join(head[:6])}'
                + (f' (+{len(head) - 6} more)' if len(head) > 6 else ''))
        keep_float = list(dict.fromkeys(list(keep_float) + head))
        warnings = checker.warnings(evaluation_hashes)
        for w in warnings:
            log(f'[calibrate] warning: {w}')

        trt_tmp = str(Path(work) / 'tensorrt.onnx')
        cpu_tmp = str(Path(work) / 'cpu.onnx')
        plain = _plain_ranges(ranges)
        measured = set(plain) | set(non_finite)
        base, prepared = export.prepare_for_quantization(
            model_file, str(Path(work) / 'prepared.onnx'), measured, keep_float)
        log(f'[calibrate] graph for quantization: {prepared}')
        padded = export.finite_pad_values(base, str(Path(work) / 'finite_pads.onnx'), plain)
        if padded:
            base = str(Path(work) / 'finite_pads.onnx')
            prepared += f'; -inf Pad values set to the range minimum in {", ".join(padded)}'
        log('[calibrate] writing the TensorRT Q/DQ model')
        export.write_quantized(base, ranges_json, method, trt_tmp, 'tensorrt', keep_float)
        if settings.write_cpu_model:
            log('[calibrate] writing the ONNX Runtime CPU model')
            export.write_quantized(base, ranges_json, method, cpu_tmp, 'onnxruntime',
                                   keep_float)
        written = {'tensorrt': trt_tmp}
        if settings.write_cpu_model:
            written['onnxruntime'] = cpu_tmp
        reference = execution.model_outputs(model_file, spec.input_name, sample_batch)
        rounding_report = _round_weights(moments, settings.weight_rounding, reference,
                                         spec.input_name, sample_batch, written, log)
        distillation = None
        if bank is not None:
            log(f'[calibrate] distillation: {bank.close()} lessons from the steering frames')
            distillation = distill_mod.distill_layouts(
                written, model_file, bank.path, sample_batch, settings.distill, Path(work),
                log)
        check = _sample_check(reference, spec.input_name, sample_batch, written)
        amax = trt_cache.amax_from_ranges((k, v[0], v[1]) for k, v in plain.items())
        cache_text = trt_cache.render(amax, settings.trt_version)
        provenance = {
            'artifact': family.main.name,
            'cpu_artifact': family.cpu.name if settings.write_cpu_model else None,
            'trt_cache': family.trt_cache.name,
            'created_utc': _now(),
            'seconds': None,
            'model': {'path': str(Path(model_file).resolve()),
                      'sha256': file_sha256(model_file)},
            'config': _config_facts(cfg),
            'preprocess': dataclasses.asdict(spec.preprocess),
            'input': {'name': spec.input_name, 'shape': list(spec.input_shape)},
            'source': source.describe(),
            'frames': {'count': done, 'sha256': frames_mod.combined_sha256(checker.hashes),
                       'items': items},
            'method': {'name': settings.method, 'ort_method': _ORT_METHOD[settings.method],
                       **_ort_extra(settings)},
            'hygiene': {**checker.summary(), 'warnings': warnings},
            'kept_float': list(keep_float),
            'output_head_float': head,
            'graph': prepared,
            'sensitivity': sensitivity.as_dicts(scores),
            'sample_sqnr_db': check,
            'quantization': {
                'tensorrt': {'activations': 'int8 symmetric (zero-point 0)',
                             'weights': 'int8 symmetric per output channel',
                             'format': 'QDQ'},
                'onnxruntime': {'activations': 'uint8 asymmetric',
                                'weights': 'int8 symmetric per output channel',
                                'format': 'QDQ'},
            },
            'weight_rounding': rounding_report,
            'distillation': distillation,
            'trt_cache_version': int(settings.trt_version),
            'ranges': plain,
            'non_finite_tensors': non_finite,
            'tools': {'onnxruntime': onnxruntime.__version__, 'onnx': onnx.__version__,
                      'numpy': np.__version__, 'python': platform.python_version()},
        }
        seconds = time.monotonic() - started
        provenance['seconds'] = round(seconds, 2)
        with artifacts.StagedFiles() as staged:
            staged.write_text(family.trt_cache, cache_text)
            if settings.write_cpu_model:
                staged.write_with(family.cpu, lambda p: _copy(cpu_tmp, p))
            staged.write_text(family.provenance, json.dumps(provenance, indent=1) + '\n')
            staged.write_with(family.main, lambda p: _copy(trt_tmp, p))
            removed = []
            for stale in (family.evaluation, family.evaluation_markdown):
                if stale.exists():   # it evaluated the artefact about to be replaced
                    stale.unlink()
                    removed.append(stale)
                    log(f'[calibrate] removed {stale.name}: it evaluated the previous artefact')
            files = staged.commit()
    if not settings.write_cpu_model and family.cpu.exists():
        family.cpu.unlink()
        removed.append(family.cpu)
    log(f'[calibrate] wrote {", ".join(p.name for p in files)} in {seconds:.1f} s')
    return CalibrationResult(
        artifact=family.main, files=files, frames=done,
        frames_sha256=provenance['frames']['sha256'], method=settings.method,
        seconds=seconds, warnings=warnings, kept_float=list(keep_float),
        sample_sqnr_db=check, removed_stale=removed, weight_rounding=rounding_report,
        distillation=distillation)


def _distill_summary(report: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """Per layout: what was kept and the held-out SQNR before/after (for the CLI)."""
    if not report:
        return None
    return {target: {'chosen': entry.get('chosen'),
                     'held_out_sqnr_db': entry.get('held_out_sqnr_db'),
                     'error': entry.get('error')}
            for target, entry in report.get('layouts', {}).items()}


def _round_weights(moments: Optional[rounding.InputMoments], mode: str,
                   reference: List[np.ndarray], input_name: str, held_out: np.ndarray,
                   models: Dict[str, str], log: Log) -> Dict[str, Any]:
    """
    GPTQ-round the Conv weights of every written layout (same scales, new int8 values).

    ``auto`` keeps GPTQ per layout only where it beats nearest rounding on the held-out
    sample frames (never used to steer it): on EfficientNet-Lite0 it gains 4-7 dB, on
    NanoDet's TensorRT layout it lost 2.5 dB (its error is in the activations, and the
    compensation leans on input directions that int8 activations then blur).
    """
    if moments is None or moments.frames == 0:
        return {'method': 'nearest'}
    log(f'[calibrate] weight rounding ({mode}) steered by {moments.frames} frames')
    moments.release()
    layouts: Dict[str, Any] = {}
    report = None
    for target, path in models.items():
        nearest = path + '.nearest.onnx'
        _copy(path, nearest)
        report = rounding.apply_gptq(path, moments)
        scores = {name: sensitivity.sqnr_db(reference, execution.model_outputs(
                      candidate, input_name, held_out))
                  for name, candidate in (('nearest', nearest), ('gptq', path))}
        chosen = 'gptq' if mode == 'gptq' or scores['gptq'] > scores['nearest'] else 'nearest'
        if chosen == 'nearest':
            _copy(nearest, path)
        layouts[target] = {'chosen': chosen,
                           'held_out_sqnr_db': {k: round(v, 2) for k, v in scores.items()}}
        log(f'[calibrate] {target}: output SQNR on {len(held_out)} held-out frames '
            f'{scores["nearest"]:.2f} dB nearest, {scores["gptq"]:.2f} dB gptq -> {chosen}')
    if report is not None and report.skipped:
        log(f'[calibrate] gptq left at nearest: {", ".join(report.skipped)}')
    return {**(report.as_dict() if report is not None else {}), 'method': mode,
            'layouts': layouts}


def _require_ort_quantization() -> None:
    """Fail with one line on an ONNX Runtime too old to re-use measured ranges."""
    import inspect
    import onnxruntime
    from onnxruntime.quantization import quantize_static
    try:
        from onnxruntime.quantization.calibrate import save_tensors_data  # noqa: F401
        ok = 'calibration_cache_path' in inspect.signature(quantize_static).parameters
    except ImportError:
        ok = False
    if not ok:
        raise CalibrationError(
            f'onnxruntime {onnxruntime.__version__} cannot quantize from stored ranges '
            '(quantize_static(calibration_cache_path=...)); calibrate with the version the '
            'dev environment pins (1.32)')


def _copy(src: str, dst: str) -> None:
    import shutil
    shutil.copyfile(src, dst)


class _RangeCollector:
    """
    ONNX Runtime's calibrator fed one preprocessed batch at a time.

    Tensors that hold non-finite values (TF-style MaxPool padding is a Pad with -inf)
    have no usable range and would crash the histogram calibrators (np.histogram of
    -inf); a MinMax probe on the first batch finds them and they are left out. They are
    reported, and ONNX Runtime's quantizer gives them their input's scale (for a -inf
    pad that saturates to the lowest int8 value, which loses every max, as -inf does).
    """

    def __init__(self, model_file: str, input_name: str, method: Any,
                 extra: Dict[str, Any], work: Path) -> None:
        self.model_file, self.input_name, self.method = model_file, input_name, method
        self.extra, self.work = extra, work
        self.calibrator: Any = None
        self.skipped: List[str] = []

    def _create(self, method: Any, name: str, extra: Dict[str, Any]):
        from onnxruntime.quantization.calibrate import create_calibrator
        with contextlib.redirect_stdout(io.StringIO()):
            return create_calibrator(Path(self.model_file), None,
                                     augmented_model_path=str(self.work / name),
                                     calibrate_method=method, extra_options=extra)

    def _collect(self, calibrator: Any, batch: np.ndarray) -> None:
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                calibrator.collect_data(_OneBatch(self.input_name, batch.copy()))
        except (ValueError, TypeError) as exc:
            raise CalibrationError(f'ONNX Runtime calibration failed: '
                                   f'{str(exc).splitlines()[0]}') from None

    def add(self, batch: np.ndarray) -> None:
        from onnxruntime.quantization import CalibrationMethod
        if self.calibrator is None:
            if self.method != CalibrationMethod.MinMax:
                probe = self._create(CalibrationMethod.MinMax, 'probe.onnx', {})
                self._collect(probe, batch)
                self.skipped = _non_finite(probe.compute_data())
                del probe
            self.calibrator = self._create(self.method, 'augmented.onnx', self.extra)
            wanted = getattr(self.calibrator, 'tensors_to_calibrate', None)
            if self.skipped and isinstance(wanted, set):
                wanted.difference_update(self.skipped)   # ORT reads this set in collect_data
        self._collect(self.calibrator, batch)

    def result(self):
        """(finite TensorsData, names of tensors left out for non-finite values)."""
        from onnxruntime.quantization.calibrate import TensorsData
        with contextlib.redirect_stdout(io.StringIO()):
            ranges = self.calibrator.compute_data()
        bad = sorted(set(_non_finite(ranges)) | set(self.skipped))
        kept = {k: v for k, v in ranges.items() if k not in bad}
        return TensorsData(ranges.calibration_method, kept), bad


def _borrow_input_ranges(model_file: str, ranges: Any, names: Sequence[str]) -> Any:
    """Give each non-finite tensor the range of its producer's first input (see above)."""
    if not names:
        return ranges
    from onnxruntime.quantization.calibrate import TensorsData
    producers = {o: n for n in _load_nodes(model_file) for o in n.output}
    data = dict(ranges.items())
    for name in names:
        node = producers.get(name)
        source = node.input[0] if node is not None and node.input else None
        if source not in data:
            raise CalibrationError(
                f'tensor {name} holds non-finite values and its producer has no measured '
                'input range; keep that node in float (--keep-float) or fix the model')
        data[name] = data[source]
    return TensorsData(ranges.calibration_method, data)


def _non_finite(ranges: Any) -> List[str]:
    out = []
    for name, value in ranges.items():
        lo, hi = value.range_value
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            out.append(name)
    return sorted(out)


class _OneBatch:
    """A CalibrationDataReader over one preprocessed batch."""

    def __init__(self, name: str, batch: np.ndarray) -> None:
        self._items = [{name: batch}]

    def get_next(self) -> Optional[Dict[str, np.ndarray]]:
        return self._items.pop() if self._items else None


def _float_layers(model_file: str, input_name: str, sample: np.ndarray,
                  settings: CalibrationSettings, log: Log):
    keep = settings.keep_float
    if isinstance(keep, str) and keep != 'auto':
        keep = [k for k in keep.split(',') if k]
    if keep != 'auto':
        names = {n.name for n in _load_nodes(model_file)}
        unknown = [k for k in keep if k not in names]
        if unknown:
            raise CalibrationError(f'--keep-float names unknown nodes: {", ".join(unknown)}')
        return list(keep), []
    log(f'[calibrate] layer sensitivity on {len(sample)} frames (weights of one layer in '
        'int8 at a time)')
    scores = sensitivity.layer_scores(model_file, input_name, sample,
                                      Progress('sensitivity', 0, log))
    chosen = sensitivity.choose_float_layers(scores, settings.sensitivity_db)
    worst = ', '.join(f'{s.node} {s.sqnr_db:.1f} dB' for s in scores[:3])
    log(f'[calibrate] most sensitive: {worst}; kept in float (< '
        f'{settings.sensitivity_db:g} dB): {", ".join(chosen) or "none"}')
    return chosen, scores


def _load_nodes(model_file: str):
    import onnx
    return list(onnx.load(model_file, load_external_data=False).graph.node)


def _sample_check(reference: List[np.ndarray], input_name: str, sample: np.ndarray,
                  models: Dict[str, str]) -> Dict[str, float]:
    """Output SQNR of each written model against FP32 on the kept frames (a smoke test)."""
    out = {}
    for target, path in models.items():
        got = execution.model_outputs(path, input_name, sample)
        if not all(np.isfinite(a).all() for a in got):
            raise CalibrationError(f'the {target} model produced non-finite outputs')
        out[target] = round(sensitivity.sqnr_db(reference, got), 2)
    return out


def _config_facts(cfg: InferConfig) -> Dict[str, Any]:
    keys = ('model_path', 'task', 'decoder', 'labels_file', 'input_width', 'input_height',
            'color_order', 'resize_mode', 'crop_fraction', 'mean', 'std', 'pad_value')
    return {k: cfg.get(k) for k in keys}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def load_provenance(artifact: Union[str, Path]) -> Optional[Dict[str, Any]]:
    """Return the calibration provenance of an artefact family (None if absent/unreadable)."""
    path = artifacts.family_of(artifact).provenance
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
