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
Check the CUDA binding and the fused preprocessing kernel on a real GPU, in one run.

GPU time is scarce and CI has no GPU, so everything that needs one is in this single
script: kernel vs the float64 CPU reference for every encoding x resize mode x output
type on real photos (poisoned outputs, odd row pitch), pinned H2D/D2H and kernel times
with CUDA events, achieved bandwidth against a measured device-to-device copy, a CUDA
graph capture/replay of upload + kernel + download, a worker-thread call, and the same
suite through pycuda built from its sdist. Results go to ``--out`` as JSON + markdown.

    python3 scripts/gpu_check.py --out OUT [--pycuda-sdist .whl/pycuda-2026.1.tar.gz]
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from typing import Any, Dict, List, Tuple

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from jetson_infer_ros.cuda.binding import CudaApi, get_cuda_api  # noqa: E402
from jetson_infer_ros.gpu.preprocess_kernel import (  # noqa: E402
    ENCODINGS, GpuPreprocessor, Normalization, plan_geometry, reference_preprocess,
    RESIZE_MODES)

IMAGENET = Normalization((123.675, 116.28, 103.53), (58.395, 57.12, 57.375), 114.0)
TOL_F32 = 2e-3
TOL_F16 = 1e-2


def sh(cmd: str) -> str:
    """Run a shell command for the environment report; never fail the check over it."""
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True,
                              timeout=60).stdout.strip()
    except Exception as exc:  # report, don't stop
        return f'<{exc}>'


def environment() -> Dict[str, Any]:
    """Describe the machine this ran on, for docs/gpu_results.md."""
    env: Dict[str, Any] = {
        'date_utc': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
        'nvidia_smi': sh('nvidia-smi --query-gpu=name,driver_version,memory.total,'
                         'pcie.link.gen.max,pcie.link.width.max,clocks.max.sm,clocks.max.mem,'
                         'power.limit --format=csv'),
        'nvidia_smi_header': sh('nvidia-smi | head -4'),
        'nvcc': sh('nvcc --version | tail -2'),
        'python': platform.python_version(),
        'cuda_bindings': sh(f'{sys.executable} -m pip show cuda-bindings 2>/dev/null '
                            '| grep ^Version'),
        'nvrtc_wheel': sh(f'{sys.executable} -m pip show nvidia-cuda-nvrtc 2>/dev/null '
                          '| grep ^Version'),
        'numpy': np.__version__,
        'cpu': sh("lscpu | grep 'Model name'"),
    }
    return env


def load_photos() -> Dict[str, np.ndarray]:
    """Real RGB photos (scikit-image's bundled data), resized to camera sizes."""
    import cv2
    from skimage import data
    photos = {'astronaut': data.astronaut(), 'coffee': data.coffee(), 'chelsea': data.chelsea()}
    out = {
        'astronaut_640x480': cv2.resize(photos['astronaut'], (640, 480),
                                        interpolation=cv2.INTER_CUBIC),
        'coffee_1920x1080': cv2.resize(photos['coffee'], (1920, 1080),
                                       interpolation=cv2.INTER_CUBIC),
        'chelsea_451x300': np.ascontiguousarray(photos['chelsea']),
    }
    return out


def encode(rgb: np.ndarray, encoding: str, pitch_pad: int, rng: np.random.Generator
           ) -> np.ndarray:
    """Return the photo in ``encoding``, in rows of width*channels + pitch_pad bytes."""
    import cv2
    if encoding == 'rgb8':
        img = rgb
    elif encoding == 'bgr8':
        img = rgb[:, :, ::-1]
    elif encoding in ('rgba8', 'bgra8'):
        base = rgb if encoding == 'rgba8' else rgb[:, :, ::-1]
        alpha = rng.integers(0, 256, rgb.shape[:2] + (1,), dtype=np.uint8)
        img = np.concatenate([base, alpha], axis=2)
    else:
        img = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)[:, :, None]
    h, w, c = img.shape
    storage = rng.integers(0, 256, (h, w * c + pitch_pad), dtype=np.uint8)
    view = np.lib.stride_tricks.as_strided(storage, shape=(h, w, c),
                                           strides=(w * c + pitch_pad, c, 1))
    view[...] = img
    return view


class Bench:
    """Device buffers and events for one binding; freed by close()."""

    def __init__(self, api: CudaApi) -> None:
        self.api = api
        self.stream = api.stream_create()
        self.ev = [api.event_create() for _ in range(2)]
        self.ptrs: List[int] = []
        self.hosts: List[Any] = []

    def dev(self, nbytes: int) -> int:
        ptr = self.api.malloc(nbytes)
        self.ptrs.append(ptr)
        return ptr

    def host(self, nbytes: int) -> Any:
        buf = self.api.malloc_host(nbytes)
        self.hosts.append(buf)
        return buf

    def time_ms(self, fn: Any, iters: int, warmup: int = 10) -> Dict[str, float]:
        """Median of per-call event pairs, and the mean over one back-to-back batch."""
        api, s = self.api, self.stream
        for _ in range(warmup):
            fn()
        api.stream_synchronize(s)
        samples = []
        for _ in range(iters):
            api.event_record(self.ev[0], s)
            fn()
            api.event_record(self.ev[1], s)
            api.event_synchronize(self.ev[1])
            samples.append(api.event_elapsed_ms(self.ev[0], self.ev[1]))
        api.event_record(self.ev[0], s)
        for _ in range(iters):
            fn()
        api.event_record(self.ev[1], s)
        api.event_synchronize(self.ev[1])
        batch = api.event_elapsed_ms(self.ev[0], self.ev[1]) / iters
        samples.sort()
        return {'median_ms': samples[len(samples) // 2], 'p10_ms': samples[len(samples) // 10],
                'p90_ms': samples[(len(samples) * 9) // 10], 'batch_mean_ms': batch,
                'iters': iters}

    def time_graph_ms(self, fn: Any, per_graph: int, iters: int = 50) -> Dict[str, float]:
        """
        GPU time of one ``fn`` call: ``per_graph`` calls captured in a graph, replayed.

        Launching from Python costs ~10-20 us per call, more than a small kernel runs,
        so per-call events would time the interpreter. A graph replays the same launches
        back to back on the GPU; its event time divided by ``per_graph`` is the kernel's.
        """
        api, s = self.api, self.stream
        api.graph_begin_capture(s)
        for _ in range(per_graph):
            fn()
        graph = api.graph_end_capture(s)
        try:
            res = self.time_ms(lambda: api.graph_launch(graph, s), iters, warmup=3)
        finally:
            api.graph_destroy(graph)
        return {'per_call_us': res['batch_mean_ms'] * 1e3 / per_graph,
                'per_call_us_median_event_pair': res['median_ms'] * 1e3 / per_graph,
                'per_call_us_p10': res['p10_ms'] * 1e3 / per_graph,
                'per_call_us_p90': res['p90_ms'] * 1e3 / per_graph,
                'calls_per_graph': per_graph, 'graph_replays': iters}

    def close(self) -> None:
        for ptr in self.ptrs:
            self.api.free(ptr)
        for buf in self.hosts:
            self.api.free_host(buf)
        for e in self.ev:
            self.api.event_destroy(e)
        self.api.stream_destroy(self.stream)


def gpu_output(pre: GpuPreprocessor, bench: Bench, img: np.ndarray, encoding: str, geo: Any,
               order: str, out_c: int, dst: int, host: Any) -> np.ndarray:
    """Run the kernel into a NaN-poisoned buffer and read it back as float64 (C, H, W)."""
    api = pre.api
    count = out_c * geo.dst_h * geo.dst_w
    nbytes = count * pre.element_size
    api.memset_async(dst, 0xFF, nbytes, bench.stream)  # 0xFFFF.. is NaN in f32 and f16
    pre.run(img, encoding, dst, geo, IMAGENET, order, out_c, bench.stream)
    api.memcpy_dtoh_async(host.ptr, dst, nbytes, bench.stream)
    api.stream_synchronize(bench.stream)
    dtype = np.float16 if pre.half else np.float32
    return host.view(dtype, (out_c, geo.dst_h, geo.dst_w)).astype(np.float64)


def cpu_pipeline_lsb(img: np.ndarray, encoding: str, geo: Any, mode: str, crop: float,
                     order: str, got: np.ndarray) -> float:
    """Largest GPU vs jetson_infer_ros.preprocess (OpenCV, uint8 resize) gap in 0-255 steps."""
    from jetson_infer_ros import preprocess
    from jetson_infer_ros.image_convert import Picture
    spec = preprocess.PreprocessSpec(width=geo.dst_w, height=geo.dst_h, color=order,
                                     resize=mode, crop_fraction=crop, mean=IMAGENET.mean,
                                     std=IMAGENET.std, pad_value=IMAGENET.pad_value)
    out = spec.allocate()
    color = {'rgb8': 'rgb', 'bgr8': 'bgr', 'rgba8': 'rgba', 'bgra8': 'bgra',
             'mono8': 'mono'}[encoding]
    preprocess.Preprocessor(spec).run(Picture(img, color), out)
    std = np.array(IMAGENET.std if order == 'rgb' else IMAGENET.std[::-1])[:, None, None]
    return float((np.abs(got - out) * std).max())


def correctness(api: CudaApi, photos: Dict[str, np.ndarray]) -> Dict[str, Any]:
    """Every encoding x resize mode x float32/float16 against the float64 reference."""
    rng = np.random.default_rng(1234)
    bench = Bench(api)
    dst = bench.dev(3 * 640 * 640 * 4)
    host = bench.host(3 * 640 * 640 * 4)
    cases = []
    dst_sizes = {'astronaut_640x480': (224, 224), 'coffee_1920x1080': (416, 416),
                 'chelsea_451x300': (320, 256)}
    pres = {half: GpuPreprocessor(api, half=half) for half in (False, True)}
    try:
        for photo, rgb in photos.items():
            dw, dh = dst_sizes[photo]
            for encoding in ENCODINGS:
                for mode in RESIZE_MODES:
                    for half in (False, True):
                        pitch_pad = int(rng.integers(0, 3)) * 24 + int(rng.integers(0, 2)) * 5
                        img = encode(rgb, encoding, pitch_pad, rng)
                        order = 'bgr' if (len(cases) % 2) else 'rgb'
                        out_c = 3
                        crop = 0.875 if mode == 'center_crop' and photo.startswith('astro') \
                            else 1.0
                        geo = plan_geometry(img.shape[1], img.shape[0], dw, dh, mode, crop)
                        got = gpu_output(pres[half], bench, img, encoding, geo, order, out_c,
                                         dst, host)
                        ref = reference_preprocess(img, encoding, geo, IMAGENET, order, out_c)
                        finite = bool(np.isfinite(got).all())
                        cpu_lsb = cpu_pipeline_lsb(img, encoding, geo, mode, crop, order, got)
                        err = float(np.abs(got - ref).max()) if finite else float('inf')
                        rel = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
                        cases.append({
                            'photo': photo, 'encoding': encoding, 'mode': mode,
                            'dtype': 'float16' if half else 'float32', 'net_order': order,
                            'dst': f'{dw}x{dh}', 'row_pitch': int(img.strides[0]),
                            'max_abs_err': err, 'rel_l2_err': rel, 'all_written': finite,
                            'vs_cpu_preprocessor_max_lsb': cpu_lsb,
                            'ok': finite and err <= (TOL_F16 if half else TOL_F32)})
        # one mono8 image into a 1-channel network
        img = encode(photos['astronaut_640x480'], 'mono8', 7, rng)
        geo = plan_geometry(640, 480, 224, 224, 'stretch')
        got = gpu_output(pres[False], bench, img, 'mono8', geo, 'rgb', 1, dst, host)
        ref = reference_preprocess(img, 'mono8', geo, IMAGENET, 'rgb', 1)
        err = float(np.abs(got - ref).max())
        cases.append({'photo': 'astronaut_640x480', 'encoding': 'mono8', 'mode': 'stretch',
                      'dtype': 'float32', 'net_order': 'gray', 'dst': '224x224x1',
                      'row_pitch': int(img.strides[0]), 'max_abs_err': err,
                      'rel_l2_err': float(np.linalg.norm(got - ref) / np.linalg.norm(ref)),
                      'all_written': bool(np.isfinite(got).all()), 'ok': err <= TOL_F32})
        # extreme aspect ratios (issue 25): a centre crop reads a few pixels far into the
        # frame; only that window is uploaded and the kernel's coordinates start there
        for (h, w), encoding in (((1, 2500), 'mono8'), ((1, 10000), 'mono8'),
                                 ((2, 10000), 'bgr8'), ((100000, 1), 'mono8'),
                                 ((1, 100000), 'mono8'), ((1, 1000000), 'bgr8')):
            img = rng.integers(0, 256, (h, w, ENCODINGS[encoding][0]), dtype=np.uint8)
            geo = plan_geometry(w, h, 224, 224, 'center_crop', 0.875)
            got = gpu_output(pres[False], bench, img, encoding, geo, 'rgb', 3, dst, host)
            ref = reference_preprocess(img, encoding, geo, IMAGENET, 'rgb', 3)
            err = float(np.abs(got - ref).max())
            cases.append({'photo': f'noise_{w}x{h}', 'encoding': encoding, 'mode': 'center_crop',
                          'dtype': 'float32', 'net_order': 'rgb', 'dst': '224x224',
                          'row_pitch': int(img.strides[0]), 'max_abs_err': err,
                          'rel_l2_err': float(np.linalg.norm(got - ref) / np.linalg.norm(ref)),
                          'all_written': bool(np.isfinite(got).all()),
                          'vs_cpu_preprocessor_max_lsb': cpu_pipeline_lsb(
                              img, encoding, geo, 'center_crop', 0.875, 'rgb', got),
                          'ok': err <= TOL_F32})
        # a call from a worker thread (rclpy MultiThreadedExecutor does this)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            img = encode(photos['coffee_1920x1080'], 'bgr8', 0, rng)
            geo = plan_geometry(1920, 1080, 416, 416, 'letterbox')
            got = pool.submit(gpu_output, pres[False], bench, img, 'bgr8', geo, 'rgb', 3,
                              dst, host).result()
        ref = reference_preprocess(img, 'bgr8', geo, IMAGENET, 'rgb', 3)
        thread_err = float(np.abs(got - ref).max())
    finally:
        for pre in pres.values():
            pre.close()
        bench.close()
    summary: Dict[str, Dict[str, float]] = {}
    for c in cases:
        key = f"{c['encoding']}/{c['mode']}"
        row = summary.setdefault(key, {'float32': 0.0, 'float16': 0.0, 'cpu_lsb': 0.0})
        row[c['dtype']] = max(row[c['dtype']], c['max_abs_err'])
        if c['dtype'] == 'float32' and 'vs_cpu_preprocessor_max_lsb' in c:
            row['cpu_lsb'] = max(row['cpu_lsb'], c['vs_cpu_preprocessor_max_lsb'])
    return {'cases': cases, 'summary_max_abs_err': summary,
            'all_ok': all(c['ok'] for c in cases) and thread_err <= TOL_F32,
            'worker_thread_max_abs_err': thread_err, 'n_cases': len(cases)}


def touched_source_bytes(geo: Any, channels: int) -> int:
    """Distinct source bytes the bilinear taps read (the fewest bytes the kernel must move)."""
    ax, bx, ay, by = geo.sampling()
    x0, y0, x1, y1 = geo.box
    xs = np.arange(x0, x1) * ax + bx
    ys = np.arange(y0, y1) * ay + by
    cols = np.unique(np.clip(np.concatenate([np.floor(xs), np.floor(xs) + 1]), 0,
                             geo.src_w - 1))
    rows = np.unique(np.clip(np.concatenate([np.floor(ys), np.floor(ys) + 1]), 0,
                             geo.src_h - 1))
    return int(len(cols) * len(rows) * channels)


def timing(api: CudaApi, photos: Dict[str, np.ndarray], peak_gbs: float) -> Dict[str, Any]:
    """H2D / kernel / D2H times with events, and the kernel's achieved bandwidth."""
    import cv2
    results = []
    bench = Bench(api)
    big = cv2.resize(photos['coffee_1920x1080'], (3840, 2160), interpolation=cv2.INTER_CUBIC)
    setups = [
        ('640x480 rgb8 -> 224x224 centre-crop', photos['astronaut_640x480'], 'rgb8',
         (224, 224), 'center_crop', 0.875),
        ('1920x1080 bgr8 -> 416x416 letterbox', photos['coffee_1920x1080'][:, :, ::-1].copy(),
         'bgr8', (416, 416), 'letterbox', 1.0),
        ('3840x2160 rgb8 -> 1920x1080 stretch (fills the GPU)', big, 'rgb8', (1920, 1080),
         'stretch', 1.0),
    ]
    try:
        for half in (False, True):
            pre = GpuPreprocessor(api, half=half)
            try:
                for label, img, encoding, (dw, dh), mode, crop in setups:
                    h, w, c = img.shape
                    geo = plan_geometry(w, h, dw, dh, mode, crop)
                    src_bytes = h * w * c
                    out_bytes = 3 * dw * dh * pre.element_size
                    # rotate among enough sources that they do not all sit in L2 (50 MB)
                    n_src = max(2, min(16, (96 << 20) // src_bytes))
                    srcs = [bench.dev(src_bytes) for _ in range(n_src)]
                    pinned = bench.host(src_bytes)
                    pinned.view(np.uint8, (h, w, c))[...] = img
                    for s in srcs:
                        api.memcpy_htod_async(s, pinned.ptr, src_bytes, bench.stream)
                    dsts = [bench.dev(out_bytes) for _ in range(n_src)]
                    out_host = bench.host(out_bytes)
                    state = {'i': 0}

                    def kernel() -> None:
                        i = state['i'] = (state['i'] + 1) % n_src
                        pre.launch(srcs[i], w, h, w * c, encoding, dsts[i], geo, IMAGENET,
                                   'rgb', 3, bench.stream)

                    def h2d() -> None:
                        api.memcpy_htod_async(srcs[0], pinned.ptr, src_bytes, bench.stream)

                    def d2h() -> None:
                        api.memcpy_dtoh_async(out_host.ptr, dsts[0], out_bytes, bench.stream)

                    k_eager = bench.time_ms(kernel, 200)
                    k = bench.time_graph_ms(kernel, 4 * n_src)
                    row = {'case': label, 'dtype': 'float16' if half else 'float32',
                           'src_bytes': src_bytes, 'out_bytes': out_bytes,
                           'touched_src_bytes': touched_source_bytes(geo, c),
                           'kernel': k, 'kernel_eager_python': k_eager}
                    moved = row['touched_src_bytes'] + out_bytes
                    row['kernel_min_bytes'] = moved
                    row['kernel_gbs'] = moved / (k['per_call_us'] * 1e-6) / 1e9
                    row['kernel_pct_of_measured_peak'] = 100.0 * row['kernel_gbs'] / peak_gbs
                    row['kernel_pct_of_spec_3350'] = 100.0 * row['kernel_gbs'] / 3350.0
                    if not half:
                        hd = bench.time_graph_ms(h2d, 10)
                        dh_ = bench.time_graph_ms(d2h, 10)
                        row['h2d'] = hd
                        row['d2h'] = dh_
                        row['h2d_eager_python'] = bench.time_ms(h2d, 100)
                        row['h2d_gbs'] = src_bytes / (hd['per_call_us'] * 1e-6) / 1e9
                        row['d2h_gbs'] = out_bytes / (dh_['per_call_us'] * 1e-6) / 1e9
                    results.append(row)
            finally:
                pre.close()
    finally:
        bench.close()
    return {'rows': results}


def graph_check(api: CudaApi, photos: Dict[str, np.ndarray]) -> Dict[str, Any]:
    """Capture upload + kernel + download once, replay it, compare with the eager run."""
    img = photos['astronaut_640x480']
    h, w, c = img.shape
    geo = plan_geometry(w, h, 224, 224, 'center_crop', 0.875)
    bench = Bench(api)
    pre = GpuPreprocessor(api)
    try:
        src_bytes, out_bytes = h * w * c, 3 * 224 * 224 * 4
        src = bench.dev(src_bytes)
        dst = bench.dev(out_bytes)
        pin_in = bench.host(src_bytes)
        pin_out = bench.host(out_bytes)
        pin_in.view(np.uint8, (h, w, c))[...] = img

        def sequence() -> None:
            api.memcpy_htod_async(src, pin_in.ptr, src_bytes, bench.stream)
            pre.launch(src, w, h, w * c, 'rgb8', dst, geo, IMAGENET, 'rgb', 3, bench.stream)
            api.memcpy_dtoh_async(pin_out.ptr, dst, out_bytes, bench.stream)

        sequence()
        api.stream_synchronize(bench.stream)
        eager = pin_out.view(np.float32, (3, 224, 224)).copy()
        api.graph_begin_capture(bench.stream)
        sequence()
        graph = api.graph_end_capture(bench.stream)
        try:
            api.memset_async(dst, 0xFF, out_bytes, bench.stream)
            pin_out.view(np.float32, (3, 224, 224))[...] = np.nan
            api.stream_synchronize(bench.stream)
            api.graph_launch(graph, bench.stream)
            api.stream_synchronize(bench.stream)
            replay = pin_out.view(np.float32, (3, 224, 224)).copy()
            identical = bool(np.array_equal(eager, replay))
            t_eager = bench.time_ms(sequence, 200)
            t_graph = bench.time_ms(lambda: api.graph_launch(graph, bench.stream), 200)
            wall = {}
            for name, fn in (('eager', sequence),
                             ('graph', lambda: api.graph_launch(graph, bench.stream))):
                t0 = time.perf_counter()
                for _ in range(200):
                    fn()
                    api.stream_synchronize(bench.stream)
                wall[name] = (time.perf_counter() - t0) / 200 * 1e3
        finally:
            api.graph_destroy(graph)
        ref = reference_preprocess(img, 'rgb8', geo, IMAGENET, 'rgb', 3)
        return {'replay_identical_to_eager': identical,
                'replay_max_abs_err_vs_reference': float(np.abs(replay - ref).max()),
                'eager_gpu': t_eager, 'graph_gpu': t_graph,
                'eager_wall_ms_incl_sync': wall['eager'], 'graph_wall_ms_incl_sync': wall['graph']}
    finally:
        pre.close()
        bench.close()


def measured_peak_gbs() -> Dict[str, Any]:
    """Time a 2 GiB device-to-device copy (CuPy): the bandwidth the kernel is held to."""
    try:
        import cupy as cp
    except ImportError as exc:
        return {'error': str(exc), 'gbs': 0.0}
    n = 1 << 31
    a = cp.empty(n, dtype=cp.uint8)
    b = cp.empty(n, dtype=cp.uint8)
    a.fill(7)
    start, end = cp.cuda.Event(), cp.cuda.Event()
    times = []
    for _ in range(12):
        start.record()
        b[...] = a
        end.record()
        end.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, end))
    times = sorted(times[2:])
    ms = times[len(times) // 2]
    del a, b
    cp.get_default_memory_pool().free_all_blocks()
    return {'bytes_read_plus_written': 2 * n, 'median_ms': ms, 'gbs': 2 * n / (ms * 1e-3) / 1e9}


def run_suite(binding: str) -> Dict[str, Any]:
    """All checks through one binding."""
    api = get_cuda_api(0, prefer=binding)
    out: Dict[str, Any] = {'binding': binding, 'device': api.device_name(),
                           'compute_capability': list(api.compute_capability()),
                           'driver_runtime_versions': list(api.versions())}
    t0 = time.perf_counter()
    pre = GpuPreprocessor(api)
    out['compile_and_load_s'] = time.perf_counter() - t0
    out['image_kind'] = 'cubin' if pre.image[:4] == b'\x7fELF' else 'ptx'
    pre.close()
    photos = load_photos()
    peak = measured_peak_gbs()
    out['d2d_copy_peak'] = peak
    out['correctness'] = correctness(api, photos)
    out['graph'] = graph_check(api, photos)
    out['timing'] = timing(api, photos, peak['gbs'] or 3350.0)
    api.close()
    return out


def build_pycuda(sdist: str, log_path: str) -> Tuple[subprocess.Popen, str]:
    """Start building pycuda from its sdist in the background; returns (process, path)."""
    work = '/tmp/pycuda-build'
    script = (
        f'set -ex; rm -rf {work}; mkdir -p {work}; tar xzf {sdist} -C {work}; '
        f'cd {work}/pycuda-*/; {sys.executable} configure.py; '
        f'{sys.executable} setup.py build_ext --inplace -j 16; '
        f'{sys.executable} -m pip install --no-build-isolation --no-deps --no-index '
        f'--target /tmp/pycuda-site . || echo pip-install-failed')
    log = open(log_path, 'w')
    proc = subprocess.Popen(['bash', '-c', script], stdout=log, stderr=subprocess.STDOUT)
    return proc, work


def markdown(report: Dict[str, Any]) -> str:
    """Render the human summary copied into docs/gpu_results.md."""
    env = report['environment']
    lines = ['# GPU check results', '',
             f"- date (UTC): {env['date_utc']}",
             f"- command: `{report['command']}`",
             '- nvidia-smi: `' + env['nvidia_smi'].replace('\n', ' / ') + '`',
             '- ' + ' '.join(line.strip(' |') for line in env['nvidia_smi_header'].splitlines()
                             if 'CUDA Version' in line),
             f"- nvcc: {env['nvcc']}",
             f"- python {env['python']}, {env['cuda_bindings']} (cuda-bindings), "
             f"numpy {env['numpy']}", '']
    for suite in report['suites']:
        if 'error' in suite:
            lines += [f"## {suite['binding']}: FAILED", '', '```', suite['error'], '```', '']
            continue
        lines += [f"## Binding: {suite['binding']}", '',
                  f"device {suite['device']}, compute capability "
                  f"{suite['compute_capability']}, driver/runtime versions "
                  f"{suite['driver_runtime_versions']}, kernel compiled to "
                  f"{suite['image_kind']} in {suite['compile_and_load_s']:.2f} s", '']
        peak = suite['d2d_copy_peak']
        lines += [f"Measured D2D copy ceiling (CuPy, 2 GiB): {peak.get('gbs', 0):.0f} GB/s "
                  '(bytes read + written).', '']
        corr = suite['correctness']
        lines += [f"### Kernel vs float64 CPU reference ({corr['n_cases']} cases, all ok: "
                  f"{corr['all_ok']}; tolerance f32 {TOL_F32}, f16 {TOL_F16})", '',
                  '| encoding / mode | max abs err float32 | max abs err float16 | '
                  'float32 vs CPU Preprocessor (OpenCV), max in 0-255 steps |',
                  '|---|---|---|---|']
        for key, row in sorted(corr['summary_max_abs_err'].items()):
            lines.append(f"| {key} | {row['float32']:.2e} | {row['float16']:.2e} | "
                         f"{row.get('cpu_lsb', 0.0):.3f} |")
        lines += ['', f"Worker-thread call max abs err: {corr['worker_thread_max_abs_err']:.2e}",
                  '']
        lines += ['### Timing (CUDA events around 50 back-to-back CUDA-graph replays of '
                  'many calls, per call; p10-p90 from per-replay event pairs)', '',
                  '| case | dtype | kernel us (p10-p90) | min bytes moved | GB/s | '
                  '% of measured D2D | % of 3.35 TB/s spec | H2D us (GB/s) | D2H us (GB/s) | '
                  'eager kernel from Python, us |',
                  '|---|---|---|---|---|---|---|---|---|---|']
        for row in suite['timing']['rows']:
            k = row['kernel']
            h2d = (f"{row['h2d']['per_call_us']:.1f} ({row['h2d_gbs']:.1f})"
                   if 'h2d' in row else '-')
            d2h = (f"{row['d2h']['per_call_us']:.1f} ({row['d2h_gbs']:.1f})"
                   if 'd2h' in row else '-')
            lines.append(
                f"| {row['case']} | {row['dtype']} | {k['per_call_us']:.2f} "
                f"({k['per_call_us_p10']:.2f}-{k['per_call_us_p90']:.2f}) | "
                f"{row['kernel_min_bytes']} | {row['kernel_gbs']:.0f} | "
                f"{row['kernel_pct_of_measured_peak']:.1f} | "
                f"{row['kernel_pct_of_spec_3350']:.1f} | "
                f"{h2d} | {d2h} | {row['kernel_eager_python']['median_ms'] * 1e3:.1f} |")
        g = suite['graph']
        lines += ['', '### CUDA graph (H2D 640x480 + kernel + D2H 3x224x224 f32)', '',
                  f"replay identical to eager: {g['replay_identical_to_eager']}, replay vs "
                  f"reference max abs err {g['replay_max_abs_err_vs_reference']:.2e}; "
                  f"GPU time eager {g['eager_gpu']['median_ms'] * 1e3:.1f} us vs graph "
                  f"{g['graph_gpu']['median_ms'] * 1e3:.1f} us (median); wall incl. sync "
                  f"eager {g['eager_wall_ms_incl_sync'] * 1e3:.1f} us vs graph "
                  f"{g['graph_wall_ms_incl_sync'] * 1e3:.1f} us", '']
    return '\n'.join(lines) + '\n'


def main() -> int:
    """Run the suites and write gpu_check.json + gpu_check.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', required=True)
    parser.add_argument('--pycuda-sdist', default='')
    parser.add_argument('--suite', default='', help='internal: run one binding, print JSON')
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    if args.suite:
        try:
            result = run_suite(args.suite)
        except Exception as exc:
            import traceback
            result = {'binding': args.suite, 'error': f'{exc}\n{traceback.format_exc()}'}
        with open(os.path.join(args.out, f'suite_{args.suite}.json'), 'w') as f:
            json.dump(result, f, indent=1, default=str)
        return 0
    report: Dict[str, Any] = {'environment': environment(),
                              'command': ' '.join(['python3'] + sys.argv), 'suites': []}
    build = None
    if args.pycuda_sdist:
        build = build_pycuda(os.path.abspath(args.pycuda_sdist),
                             os.path.join(args.out, 'pycuda_build.log'))
    subprocess.run([sys.executable, __file__, '--out', args.out, '--suite', 'cuda-python'])
    if build is not None:
        proc, work = build
        t0 = time.perf_counter()
        code = proc.wait()
        report['pycuda_build'] = {'exit_code': code, 'wait_after_suite_s':
                                  time.perf_counter() - t0}
        env = dict(os.environ)
        src = [os.path.join(work, d) for d in os.listdir(work) if d.startswith('pycuda-')]
        paths = ['/tmp/pycuda-site'] if os.path.isdir('/tmp/pycuda-site/pycuda') else src
        env['PYTHONPATH'] = os.pathsep.join(paths + [env.get('PYTHONPATH', '')])
        report['pycuda_build']['path'] = paths
        subprocess.run([sys.executable, __file__, '--out', args.out, '--suite', 'pycuda'],
                       env=env, cwd='/tmp')
    for name in ('cuda-python', 'pycuda'):
        path = os.path.join(args.out, f'suite_{name}.json')
        if os.path.exists(path):
            with open(path) as f:
                report['suites'].append(json.load(f))
            os.remove(path)
    with open(os.path.join(args.out, 'gpu_check.json'), 'w') as f:
        json.dump(report, f, indent=1, default=str)
    text = markdown(report)
    with open(os.path.join(args.out, 'gpu_check.md'), 'w') as f:
        f.write(text)
    print(text)
    ok = all('error' not in s and s['correctness']['all_ok'] for s in report['suites'])
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
