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
One frame (or batch) through the model, without ROS: shared by node, CLI and bench.

The node, `jetson-infer predict`, `evaluate` and `bench` all build an InferencePipeline
from the same InferConfig, so what the CLI measures and prints is what the node runs:
resolve the model, describe it (ModelSpec), pick and load the backend, then per frame
convert -> preprocess into the backend's own input buffer -> infer -> postprocess in
source pixels.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from jetson_infer_ros.config import InferConfig
from jetson_infer_ros.image_convert import ImageFormatError, Picture

LABEL_DIR = Path(__file__).resolve().parent / 'labels'
# default model name -> bundled labels
DEFAULT_LABELS = {'efficientnet_lite0': 'imagenet.txt', 'nanodet': 'coco.txt'}


@dataclasses.dataclass
class FrameResult:
    """What one frame produced: top-k classes, or boxes in source pixels."""

    class_ids: np.ndarray
    scores: np.ndarray
    boxes: Optional[np.ndarray] = None   # (N, 4) x_min, y_min, x_max, y_max


def resolve_model(model_path: str) -> Tuple[str, Optional[str]]:
    """Resolve a path or default model name to an ONNX file, plus its bundled labels."""
    if model_path in DEFAULT_LABELS:
        from jetson_infer_ros.assets.models import model_path as cached
        return str(cached(model_path)), str(LABEL_DIR / DEFAULT_LABELS[model_path])
    path = str(Path(model_path).expanduser())
    return path, derived_labels(path)


def derived_labels(model_file: str) -> Optional[str]:
    """
    Return the labels of the default model a file is, or was calibrated from, or None.

    ``--model ~/.cache/.../model.onnx`` or ``--model X.int8.onnx`` (whose calibration
    provenance names its config's model and labels) keeps the class names instead of
    printing "0", "45".
    """
    from jetson_infer_ros.quant.artifacts import calibrated_from
    facts = calibrated_from(model_file) or {}
    if facts.get('labels_file'):
        return str(facts['labels_file'])
    if facts.get('model_path') in DEFAULT_LABELS:
        return str(LABEL_DIR / DEFAULT_LABELS[str(facts['model_path'])])
    from jetson_infer_ros.assets.models import model_dir
    from jetson_infer_ros.quant.frames import same_file
    for name, labels in DEFAULT_LABELS.items():
        if same_file(model_file, str(model_dir(name) / 'model.onnx')):
            return str(LABEL_DIR / labels)
    return None


def is_engine_file(path: str) -> bool:
    """Tell whether ``path`` names a serialized TensorRT engine (.engine, .plan, .trt)."""
    from jetson_infer_ros.backends.tensorrt.runner import ENGINE_SUFFIXES
    return str(path).lower().endswith(ENGINE_SUFFIXES)


def to_bgr(picture: Picture) -> np.ndarray:
    """Copy any picture into bgr8 (debug images, contact sheets)."""
    import cv2
    a = picture.array
    if a.dtype == np.uint16:
        a = (a >> 8).astype(np.uint8)
    codes = {'rgb': cv2.COLOR_RGB2BGR, 'rgba': cv2.COLOR_RGBA2BGR, 'bgra': cv2.COLOR_BGRA2BGR,
             'mono': cv2.COLOR_GRAY2BGR}
    if picture.color == 'bgr':
        return np.ascontiguousarray(a).copy()
    return cv2.cvtColor(np.ascontiguousarray(a), codes[picture.color])


def _sha12(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()[:12]


class InferencePipeline:
    """Model + backend + pre/postprocessing for one configuration."""

    def __init__(self, cfg: InferConfig, log: Optional[Callable[[str], None]] = None,
                 backend_extra: Sequence[Tuple[str, Any]] = ()) -> None:
        self.cfg = cfg
        self._backend_extra = tuple(backend_extra)   # BackendOptions.extra (evaluate)
        self._log = log or (lambda _msg: None)
        self.spec: Any = None
        self.backend: Any = None
        self.labels: Tuple[str, ...] = ()
        self.precision_in_use = 'fp32'
        self.notes: List[str] = []
        self._pre: List[Any] = []
        self._post: Any = None
        self._buffer: Optional[np.ndarray] = None
        self._gpu: List[Any] = []
        self._norm: Any = None
        self._model_file = ''

    # ------------------------------------------------------------------ life cycle
    def load(self) -> None:
        """Everything configure needs; raises ValueError/BackendError with one clear line."""
        from jetson_infer_ros import decoder_params, params
        from jetson_infer_ros.backends import create_backend
        from jetson_infer_ros.backends.base import BackendOptions
        from jetson_infer_ros.model_spec import build_model_spec
        from jetson_infer_ros.preprocess import Preprocessor
        cfg = self.cfg
        model_file, default_labels = resolve_model(cfg.model_path)
        labels = cfg.labels_file or default_labels
        if labels:
            self._check_labels_readable(labels)
        engine_file = is_engine_file(model_file)
        model_file, precision = (model_file, cfg.precision) if engine_file else \
            self._choose_precision(model_file)
        options = BackendOptions(
            precision=precision, max_batch=cfg.max_batch, intra_op_threads=cfg.cpu_threads,
            dla_core=cfg.dla_core, workspace_mb=cfg.workspace_mb,
            engine_cache_dir=cfg.engine_cache_dir, use_cuda_graph=cfg.use_cuda_graph,
            calibration_cache=self._calibration_cache(model_file, precision),
            extra=self._backend_extra)
        io = None
        if engine_file:   # a prebuilt engine: only TensorRT reads it, and it tells its I/O
            if cfg.backend == 'onnxruntime':
                raise ValueError(f'{Path(model_file).name} is a serialized TensorRT engine: '
                                 'it runs only with backend tensorrt (or auto)')
            self.backend = create_backend('tensorrt', model_file, options, log=self._log,
                                          load=True)
            io = ([self.backend.input_spec], list(self.backend.output_specs))
        input_size = (cfg.input_width, cfg.input_height) if cfg.input_width else None
        try:
            self.spec = build_model_spec(
                model_file, cfg.task, cfg.decoder, input_size=input_size,
                color=cfg.color_order, resize=cfg.resize_mode, crop_fraction=cfg.crop_fraction,
                mean=cfg.mean, std=cfg.std, pad_value=cfg.pad_value, labels=labels,
                score_threshold=cfg.score_threshold, nms_iou_threshold=cfg.nms_iou_threshold,
                max_detections=cfg.max_detections, top_k=cfg.top_k, io=io,
                decoder_settings=decoder_params.set_parameters(cfg, params.defaults()))
        except BaseException:
            self.release()
            raise
        if self.spec.decoder_reason:
            self._log(self.spec.decoder_reason)
        if cfg.max_batch > 1 and not self.spec.batch_dynamic and self.spec.input_shape[0] != \
                cfg.max_batch:
            raise ValueError(f'max_batch {cfg.max_batch}: the model is fixed at batch '
                             f'{self.spec.input_shape[0]} ({Path(model_file).name})')
        self.labels = self.spec.labels or tuple(
            str(i) for i in range(self.spec.num_classes or 0))
        if self.backend is None:
            extra = self._dynamic_input_shape()
            if extra:
                options = dataclasses.replace(options, extra=options.extra + extra)
            self.backend = create_backend(cfg.backend, model_file, options, log=self._log,
                                          load=True)
        self._buffer = self.backend.input_buffer()
        expected = (self.backend.max_batch,) + tuple(self.spec.preprocess.input_shape)
        if tuple(self._buffer.shape) != expected:
            self.release()
            raise ValueError(f'backend input buffer {tuple(self._buffer.shape)} does not match '
                             f'the model input {expected}')
        self._pre = [Preprocessor(self.spec.preprocess) for _ in range(self.backend.max_batch)]
        self._setup_gpu_preprocess()
        if self.spec.task == 'detection':
            from jetson_infer_ros.postprocess.decoders import postprocessor_for_spec
            self._post = postprocessor_for_spec(self.spec)
        self._model_file = model_file
        self.precision_in_use = precision

    @property
    def model_file(self) -> str:
        """Return the model file that was loaded (after the INT8 gate chose)."""
        return self._model_file

    def _dynamic_input_shape(self) -> Tuple[Tuple[str, Any], ...]:
        """Tell a backend the configured size of a model whose height/width are dynamic."""
        if any(d < 0 for d in self.spec.input_shape[1:]):
            return (('input_shape', tuple(self.spec.preprocess.input_shape)),)
        return ()

    def _setup_gpu_preprocess(self) -> None:
        """Use the fused CUDA kernel when the backend exposes its device input buffer."""
        backend, spec = self.backend, self.spec.preprocess
        if not (self.cfg.gpu_preprocess and hasattr(backend, 'input_device_pointer')
                and spec.layout == 'NCHW'):
            return
        from jetson_infer_ros.gpu.preprocess_kernel import GpuPreprocessor, Normalization
        half = spec.dtype == 'float16'
        # one per batch row: a preprocessor's staging buffer is reused at its next run
        self._gpu = [GpuPreprocessor(backend.cuda_api, half=half)
                     for _ in range(backend.max_batch)]
        self._norm = Normalization(tuple(spec.mean), tuple(spec.std), spec.pad_value)
        self._log('preprocessing on the GPU (fused resize + normalise kernel)')

    def release(self) -> None:
        for gpu in self._gpu:
            gpu.close()
        self._gpu = []
        if self.backend is not None:
            self.backend.release()
        self.backend = None
        self._buffer = None
        self._pre = []
        self._post = None

    def _check_labels_readable(self, path: str) -> None:
        try:
            with open(path, 'r', encoding='utf-8') as f:
                f.read(1)
        except OSError as exc:
            raise ValueError(f'labels file {path} unreadable: {exc.strerror}') from None

    @staticmethod
    def _calibration_cache(model_file: str, precision: str) -> str:
        """Return the TensorRT calibration cache beside an accepted INT8 artefact, or ''."""
        if precision != 'int8':
            return ''
        from jetson_infer_ros.quant.artifacts import family_of
        cache = family_of(model_file).trt_cache
        return str(cache) if cache.is_file() else ''

    def _choose_precision(self, model_file: str) -> Tuple[str, str]:
        """Pick the model file and precision that will really run (the INT8 gate decides)."""
        cfg = self.cfg
        if cfg.precision != 'int8':
            return model_file, cfg.precision
        from jetson_infer_ros.quant.gate import int8_gate
        decision = int8_gate(model_file, cfg)
        for line in decision.log_lines:
            self._log(line)
        if decision.accepted:
            return decision.model_file, 'int8'
        self.notes.append(decision.reason)
        return decision.model_file, decision.fallback_precision   # FP32 file on refusal

    # ------------------------------------------------------------------ live changes
    def update_runtime(self, cfg: InferConfig) -> None:
        """Apply thresholds / top-k changed at run time (ros2 param set)."""
        self.cfg = cfg
        post = self._post
        if post is not None:
            post.score_threshold = float(cfg.score_threshold)
            post.iou_threshold = float(cfg.nms_iou_threshold)
            post.max_detections = int(cfg.max_detections)

    # ------------------------------------------------------------------ per frame
    def convert(self, payload: Any, raw: bool, compressed: bool
                ) -> Tuple[Tuple[int, int, str], Picture]:
        """
        (stamp sec, nanosec, frame_id) and a Picture from CDR bytes or a message.

        ``raw`` reads the pixels straight from the bytes; otherwise bytes become a
        message after the same checks (raw_image.checked_message), so both paths count
        a malformed sample under the same reason.
        """
        limit = int(self.cfg.max_image_pixels)
        if not raw and isinstance(payload, (bytes, bytearray, memoryview)):
            from jetson_infer_ros.raw_image import checked_message
            payload = checked_message(payload, compressed)
        if raw:
            from jetson_infer_ros.raw_image import parse_compressed_image, parse_image
            if compressed:
                c = parse_compressed_image(payload)
                return (c.stamp_sec, c.stamp_nanosec, c.frame_id), c.decode(max_pixels=limit)
            r = parse_image(payload)
            return (r.stamp_sec, r.stamp_nanosec, r.frame_id), r.to_picture(max_pixels=limit)
        h = payload.header
        header = (h.stamp.sec, h.stamp.nanosec, h.frame_id)
        if compressed:
            from jetson_infer_ros.image_convert import decode_compressed
            return header, decode_compressed(payload.format, payload.data, max_pixels=limit)
        from jetson_infer_ros.image_convert import msg_to_picture
        return header, msg_to_picture(payload, max_pixels=limit)

    def run(self, pictures: Sequence[Picture], timer: Any = None) -> List[FrameResult]:
        """Results for up to max_batch pictures, in order."""
        n = len(pictures)
        if not 1 <= n <= len(self._pre):
            raise ValueError(f'{n} pictures for a batch of at most {len(self._pre)}')
        buf = self._buffer
        assert buf is not None
        timer = timer or _NullTimer()
        if self._gpu and all(p.array.dtype == np.uint8 for p in pictures):
            return self._run_on_gpu(pictures, timer)
        transforms = []
        with timer('preprocess'):
            for i, pic in enumerate(pictures):
                transforms.append(self._pre[i].run(pic, buf[i]))
        with timer('infer'):
            outputs = self.backend.infer(n)
        with timer('postprocess'):
            return self._postprocess(outputs, transforms)

    def _run_on_gpu(self, pictures: Sequence[Picture], timer: Any) -> List[FrameResult]:
        from jetson_infer_ros.gpu.preprocess_kernel import from_preprocess_geometry
        from jetson_infer_ros.preprocess import plan_geometry
        spec, backend = self.spec.preprocess, self.backend
        transforms = []
        with timer('preprocess'):
            for i, pic in enumerate(pictures):
                h, w = pic.array.shape[:2]
                geometry = plan_geometry(spec, w, h)
                self._gpu[i].run(pic.array, _GPU_ENCODINGS[pic.color],
                                 backend.input_device_pointer(i),
                                 from_preprocess_geometry(geometry, spec.width, spec.height),
                                 self._norm, network_order=spec.color,
                                 stream=backend.cuda_stream)
                transforms.append(geometry.transform)
        with timer('infer'):
            outputs = backend.infer_from_device(len(pictures))
        with timer('postprocess'):
            return self._postprocess(outputs, transforms)

    def _postprocess(self, outputs: Dict[str, np.ndarray], transforms: List[Any]
                     ) -> List[FrameResult]:
        if self._post is not None:
            batches = self._post.run(outputs, transforms)
            return [FrameResult(b.class_ids, b.scores, b.boxes)
                    for b in batches]
        from jetson_infer_ros.postprocess.classify import top_k_arrays
        out = outputs[self.spec.outputs[0].name] if self.spec.outputs else \
            next(iter(outputs.values()))
        mode = self.spec.decoder_options.get('apply_softmax', 'auto')
        ids, scores = top_k_arrays(out[:len(transforms)], int(self.cfg.top_k), mode)
        return [FrameResult(ids[i].copy(), scores[i].copy()) for i in range(len(transforms))]

    # ------------------------------------------------------------------ reporting
    def info(self) -> Dict[str, Any]:
        info: Dict[str, Any] = {}
        if self.backend is not None:
            info.update(self.backend.info())
            # one key per meaning: the backend's own precision words say the same as these
            info.pop('precision', None)
            info.pop('requested_precision', None)
        info['precision_requested'] = self.cfg.precision
        info['precision_in_use'] = self.precision_in_use
        info['model'] = Path(self._model_file).name if self._model_file else ''
        if self._model_file and 'model_sha256' not in info:
            info['model_sha256'] = _sha12(self._model_file)
        if self.spec is not None:
            info['input_shape'] = 'x'.join(str(d) for d in self.spec.input_shape)
            info['task'] = self.spec.task
        if self.notes:
            info['notes'] = '; '.join(self.notes)
        return info


_GPU_ENCODINGS = {'rgb': 'rgb8', 'bgr': 'bgr8', 'rgba': 'rgba8', 'bgra': 'bgra8',
                  'mono': 'mono8'}


class _NullTimer:

    def __call__(self, _stage: str) -> '_NullTimer':
        return self

    def __enter__(self) -> '_NullTimer':
        return self

    def __exit__(self, *exc: Any) -> None:
        return None


__all__ = ['FrameResult', 'ImageFormatError', 'InferencePipeline', 'resolve_model', 'to_bgr']
