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
The fast preprocessing path against a float64 NumPy reference.

The reference below shares no code with the module: its own geometry, its own nearest
neighbour sampling, colour handling, normalisation, padding and layout. 'nearest' is
compared to 1e-3 after normalisation. OpenCV's centre-aligned nearest neighbour uses
16-bit fixed point, so where a sample position lies within 0.05 px of a pixel border
either neighbour is accepted. 'linear' and 'area' are compared with OpenCV's float32
resize as the reference resampler, with a bound of one 8-bit level (divided by std):
on uint8 input OpenCV uses 11-bit fixed-point weights and rounds the result to uint8,
which is measured to differ from the float computation by up to 0.81 levels.
"""

from __future__ import annotations

import cv2
from hypothesis import assume, given, settings, strategies as st
import numpy as np
import pytest

from jetson_infer_ros.image_convert import Picture
from jetson_infer_ros.preprocess import (
    plan_geometry,
    PreprocessError,
    Preprocessor,
    PreprocessSpec,
    Transform,
)

CHANNEL_NAMES = {'rgb': 'rgb', 'bgr': 'bgr', 'rgba': 'rgba', 'bgra': 'bgra', 'mono': 'm'}


# --- reference ------------------------------------------------------------------------

def ref_geometry(spec, w, h):
    """Return (resized w, h, crop x, y, pad x, y), written out independently."""
    W, H = spec.width, spec.height
    if spec.resize == 'stretch':
        return W, H, 0, 0, 0, 0
    if spec.resize == 'letterbox':
        s = min(W / w, H / h)
        rw = min(W, max(1, round(w * s)))
        rh = min(H, max(1, round(h * s)))
        return rw, rh, 0, 0, (W - rw) // 2, (H - rh) // 2
    short = round(min(W, H) / spec.crop_fraction)
    rw, rh = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
    if rw < W or rh < H:
        s = max(W / w, H / h) / spec.crop_fraction
        rw, rh = max(W, round(w * s)), max(H, round(h * s))
    return rw, rh, round((rw - W) / 2), round((rh - H) / 2), 0, 0


def nearest_candidates(n_src, n_dst):
    """Centre-aligned nearest source index; (low, high) differ only near pixel borders."""
    pos = (np.arange(n_dst) + 0.5) * n_src / n_dst
    low = np.clip(np.floor(pos - 0.05), 0, n_src - 1).astype(int)
    high = np.clip(np.floor(pos + 0.05), 0, n_src - 1).astype(int)
    return low, high


def reference(array, color, spec, interpolation):
    """Return (stack of candidate outputs as float64, tolerance in output units)."""
    h, w = array.shape[:2]
    rw, rh, cx, cy, px, py = ref_geometry(spec, w, h)
    src = array.astype(np.float64)
    if interpolation == 'nearest':
        xs, ys = nearest_candidates(w, rw), nearest_candidates(h, rh)
        resized = [src[y][:, x] for y in ys for x in xs]
        levels = 0.0
    else:
        flag = {'linear': cv2.INTER_LINEAR, 'area': cv2.INTER_AREA}[interpolation]
        f32 = cv2.resize(array.astype(np.float32), (rw, rh), interpolation=flag)
        resized = [f32.reshape(rh, rw, -1).astype(np.float64)]
        levels = 1.0
    if array.dtype == np.uint16:
        resized = [np.rint(r * 255.0 / 65535.0) for r in resized]
        levels += 1.0 if interpolation != 'nearest' else 0.0
    W, H = spec.width, spec.height
    cw, ch = (rw, rh) if spec.resize == 'letterbox' else (W, H)
    mean, std = np.array(spec.mean), np.array(spec.std)
    outputs = []
    for r in resized:
        r = r[cy:cy + ch, cx:cx + cw]
        names = CHANNEL_NAMES[color]
        picked = [r[:, :, 0 if names == 'm' else names.index(c)] for c in spec.color]
        canvas = np.empty((H, W, 3))
        canvas[:] = (spec.pad_value - mean) / std
        canvas[py:py + ch, px:px + cw] = (np.stack(picked, -1) - mean) / std
        outputs.append(canvas.transpose(2, 0, 1) if spec.layout == 'NCHW' else canvas)
    return np.stack(outputs), levels / np.min(np.abs(std))


def assert_matches_reference(out, candidates, tolerance, dtype):
    error = np.min(np.abs(out.astype(np.float64)[None] - candidates), axis=0)
    bound = tolerance + 1e-3
    if dtype == 'float16':
        bound = bound + np.max(np.abs(candidates), axis=0) * 2.0 ** -10
    assert np.all(error <= bound), 'max error %g' % np.max(error - bound + tolerance + 1e-3)


# --- strategies -----------------------------------------------------------------------

@st.composite
def specs(draw, interpolation=None):
    triple = st.tuples(*[st.floats(0, 255)] * 3)
    std = st.tuples(*[st.floats(1, 100) | st.floats(-100, -1)] * 3)
    return PreprocessSpec(
        # OpenCV 4.5 (JetPack 5) cannot wrap a 1x1 multi-channel array: not a real input
        width=draw(st.integers(2, 48)), height=draw(st.integers(2, 48)),
        layout=draw(st.sampled_from(['NCHW', 'NHWC'])), color=draw(st.sampled_from(['rgb',
                                                                                   'bgr'])),
        resize=draw(st.sampled_from(['letterbox', 'center_crop', 'stretch'])),
        crop_fraction=draw(st.floats(0.5, 1.0)), mean=draw(triple), std=draw(std),
        pad_value=draw(st.floats(0, 255)), dtype=draw(st.sampled_from(['float32', 'float16'])),
        interpolation=interpolation or draw(st.sampled_from(['nearest', 'linear', 'area'])))


@st.composite
def pictures(draw):
    """Pictures of every colour, as strided read-only views like image_convert makes."""
    color = draw(st.sampled_from(['rgb', 'bgr', 'rgba', 'bgra', 'mono', 'mono16']))
    h, w = draw(st.integers(1, 70)), draw(st.integers(1, 70))
    assume(h * w > 1)  # see specs()
    channels = {'rgb': 3, 'bgr': 3, 'rgba': 4, 'bgra': 4}.get(color, 1)
    dtype = np.uint16 if color == 'mono16' else np.uint8
    pad = draw(st.integers(0, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rows = rng.integers(0, np.iinfo(dtype).max, (h, w + pad, channels), endpoint=True)
    view = rows.astype(dtype)[:, :w]
    view.flags.writeable = False
    return Picture(view, 'mono' if color == 'mono16' else color)


# --- the fast path against the reference ----------------------------------------------

@settings(max_examples=300, deadline=None)
@given(spec=specs(), picture=pictures())
def test_matches_float64_reference(spec, picture):
    out = spec.allocate()
    transform = Preprocessor(spec).run(picture, out)
    candidates, tolerance = reference(picture.array, picture.color, spec, spec.interpolation)
    assert_matches_reference(out, candidates, tolerance, spec.dtype)
    h, w = picture.array.shape[:2]
    assert (transform.src_width, transform.src_height) == (w, h)


@settings(max_examples=200, deadline=None)
@given(spec=specs(), w=st.integers(1, 4000), h=st.integers(1, 4000))
def test_geometry_matches_the_reference_geometry(spec, w, h):
    g = plan_geometry(spec, w, h)
    rw, rh, cx, cy, px, py = ref_geometry(spec, w, h)
    assert (g.resized_width, g.resized_height, g.crop_x, g.crop_y, g.pad_x, g.pad_y) == \
        (rw, rh, cx, cy, px, py)
    # the content always fits the network input and lies inside the resized image
    assert g.pad_x + g.content_width <= spec.width and g.pad_y + g.content_height <= spec.height
    assert g.crop_x + g.content_width <= rw and g.crop_y + g.content_height <= rh
    t = g.transform
    assert (t.scale_x, t.scale_y) == (rw / w, rh / h)
    assert (t.offset_x, t.offset_y) == (px - cx, py - cy)


def test_efficientnet_lite0_and_nanodet_geometry():
    eff = PreprocessSpec(224, 224, resize='center_crop', crop_fraction=0.875)
    g = plan_geometry(eff, 640, 480)  # short side 256, long int(256 * 640 / 480) = 341
    assert (g.resized_width, g.resized_height, g.crop_x, g.crop_y) == (341, 256, 58, 16)
    g = plan_geometry(eff, 480, 640)
    assert (g.resized_width, g.resized_height, g.crop_x, g.crop_y) == (256, 341, 16, 58)
    nano = PreprocessSpec(416, 416, resize='letterbox')
    g = plan_geometry(nano, 640, 480)
    assert (g.resized_width, g.resized_height, g.pad_x, g.pad_y) == (416, 312, 0, 52)
    assert g.transform == Transform(0.65, 0.65, 0.0, 52.0, 640, 480)


def test_constant_image_normalises_to_known_values():
    spec = PreprocessSpec(224, 224, resize='center_crop', mean=(127, 127, 127),
                          std=(128, 128, 128))
    out = spec.allocate()
    Preprocessor(spec).run(Picture(np.full((480, 640, 3), 127, np.uint8), 'rgb'), out)
    assert np.all(out == 0.0)
    spec = PreprocessSpec(8, 8, resize='letterbox', pad_value=0, mean=(10, 20, 30),
                          std=(2, 4, 5), layout='NHWC', color='bgr')
    out = spec.allocate()
    Preprocessor(spec).run(Picture(np.full((4, 8, 3), (50, 60, 70), np.uint8), 'rgb'), out)
    np.testing.assert_allclose(out[2:6], np.broadcast_to([(70 - 10) / 2, (60 - 20) / 4,
                                                          (50 - 30) / 5], (4, 8, 3)))
    np.testing.assert_allclose(out[:2], np.broadcast_to([-5, -5, -6], (2, 8, 3)))


# --- geometry and boxes ---------------------------------------------------------------

boxes_in = st.tuples(st.floats(0, 1), st.floats(0, 1), st.floats(0, 1), st.floats(0, 1))


@settings(max_examples=300, deadline=None)
@given(spec=specs(), w=st.integers(1, 2000), h=st.integers(1, 2000),
       boxes=st.lists(boxes_in, min_size=0, max_size=5))
def test_to_source_inverts_to_network(spec, w, h, boxes):
    t = plan_geometry(spec, w, h).transform
    unit = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    low, high = np.minimum(unit[:, :2], unit[:, 2:]), np.maximum(unit[:, :2], unit[:, 2:])
    src = np.concatenate([low, high], axis=1) * [w, h, w, h]
    back = t.to_source(t.to_network(src))
    np.testing.assert_allclose(back, src, rtol=1e-12, atol=1e-9)


def test_to_source_clips_to_the_image():
    t = Transform(0.5, 0.5, 10.0, 20.0, 100, 50)
    net = np.array([[0.0, 0.0, 30.0, 30.0], [40.0, 30.0, 200.0, 200.0]])
    np.testing.assert_allclose(t.to_source(net), [[0, 0, 40, 20], [60, 20, 100, 50]])
    np.testing.assert_allclose(t.to_network([[0, 0, 100, 50]]), [[10, 20, 60, 45]])
    assert t.to_source(np.zeros((0, 4))).shape == (0, 4)
    with pytest.raises(PreprocessError):
        t.to_source(np.zeros((3, 5)))
    with pytest.raises(ValueError):
        t.to_network([1, 2, 3, 4])


@settings(max_examples=150, deadline=None)
@given(resize=st.sampled_from(['letterbox', 'center_crop', 'stretch']),
       w=st.integers(40, 400), h=st.integers(40, 400), net=st.integers(32, 160),
       fx=st.tuples(st.floats(0.3, 0.5), st.floats(0.55, 0.7)),
       fy=st.tuples(st.floats(0.3, 0.5), st.floats(0.55, 0.7)))
def test_transform_agrees_with_the_pixels(resize, w, h, net, fx, fy):
    """A white rectangle found in the network input maps back onto the drawn one."""
    x0, x1 = int(fx[0] * w), int(fx[1] * w)
    y0, y1 = int(fy[0] * h), int(fy[1] * h)
    image = np.zeros((h, w, 1), np.uint8)
    image[y0:y1, x0:x1] = 255
    spec = PreprocessSpec(net, net, resize=resize, interpolation='nearest', pad_value=0,
                          crop_fraction=0.95)
    out = spec.allocate()
    t = Preprocessor(spec).run(Picture(image, 'mono'), out)
    # what of the rectangle the network sees (centre crop cuts the rest away)
    visible = t.to_source([[0, 0, net, net]])[0]
    want = np.array([max(x0, visible[0]), max(y0, visible[1]),
                     min(x1, visible[2]), min(y1, visible[3])])
    assume(want[2] - want[0] > 2 / t.scale_x and want[3] - want[1] > 2 / t.scale_y)
    ys, xs = np.nonzero(out[0] == 255.0)
    found = t.to_source([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]])[0]
    # one network pixel, in source pixels, plus the fixed-point slack of OpenCV
    tol_x, tol_y = 1.0 / t.scale_x + 0.1, 1.0 / t.scale_y + 0.1
    np.testing.assert_allclose(found[0::2], want[0::2], atol=tol_x)
    np.testing.assert_allclose(found[1::2], want[1::2], atol=tol_y)


# --- buffers ----------------------------------------------------------------------------

def _picture(h=48, w=64, color='bgr', seed=0):
    channels = {'rgb': 3, 'bgr': 3, 'rgba': 4, 'bgra': 4, 'mono': 1}[color]
    rng = np.random.default_rng(seed)
    return Picture(rng.integers(0, 256, (h, w, channels), dtype=np.uint8), color)


@pytest.mark.parametrize('layout', ['NCHW', 'NHWC'])
@pytest.mark.parametrize('dtype', ['float32', 'float16'])
def test_writes_one_batch_slot_and_nothing_else(layout, dtype):
    spec = PreprocessSpec(32, 24, layout=layout, dtype=dtype, mean=(1, 2, 3), std=(4, 5, 6))
    pre = Preprocessor(spec)
    alone = spec.allocate()
    pre.run(_picture(), alone)
    batch = np.full((3,) + spec.input_shape, 7.0, dtype=dtype)
    pre.run(_picture(), batch[1])
    np.testing.assert_array_equal(batch[1], alone)
    assert np.all(batch[0] == 7.0) and np.all(batch[2] == 7.0)


@pytest.mark.parametrize('layout', ['NCHW', 'NHWC'])
@pytest.mark.parametrize('resize', ['letterbox', 'center_crop', 'stretch'])
def test_non_contiguous_output_gets_the_same_values(layout, resize):
    spec = PreprocessSpec(30, 20, layout=layout, resize=resize, mean=(5, 6, 7), std=(2, 3, 4))
    pre = Preprocessor(spec)
    want = spec.allocate()
    pre.run(_picture(), want)
    shape = spec.input_shape
    strange = np.zeros(shape[::-1], np.float32).transpose()  # Fortran order: no Mat view
    pre.run(_picture(), strange)
    np.testing.assert_array_equal(strange, want)


def test_alternating_source_sizes_reuse_their_own_plans():
    spec = PreprocessSpec(40, 40, resize='letterbox')
    pre = Preprocessor(spec)
    sizes = [(48, 64), (30, 20), (64, 48), (48, 64)]
    for i, (h, w) in enumerate(sizes * 2):
        out = spec.allocate()
        transform = pre.run(_picture(h, w, seed=i), out)
        fresh = spec.allocate()
        assert Preprocessor(spec).run(_picture(h, w, seed=i), fresh) == transform
        np.testing.assert_array_equal(out, fresh)


def test_steady_state_allocates_nothing():
    """Byte counts, not timings: a per-frame temporary would be >= 100 KB here."""
    import tracemalloc
    cases = [
        (PreprocessSpec(224, 224, resize='center_crop', mean=(127,) * 3, std=(128,) * 3),
         _picture(480, 640, 'rgb')),
        (PreprocessSpec(416, 416, color='bgr', mean=(103.53, 116.28, 123.675),
                        std=(57.375, 57.12, 58.395)), _picture(480, 640, 'rgb')),
        (PreprocessSpec(320, 320, layout='NHWC', dtype='float16'), _picture(480, 640, 'bgra')),
        (PreprocessSpec(224, 224, resize='stretch', interpolation='area'),
         _picture(480, 640, 'mono')),
        (PreprocessSpec(224, 224, layout='NHWC', color='bgr'),
         Picture(np.full((480, 640, 1), 4000, np.uint16), 'mono')),
        (PreprocessSpec(224, 224, resize='center_crop', interpolation='area'),  # crop sampled
         _picture(2, 10000, 'bgr')),
    ]
    for spec, picture in cases:
        pre = Preprocessor(spec)
        batch = spec.allocate(2)
        for _ in range(3):  # warm-up: scratch buffers are created here
            pre.run(picture, batch[0])
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            for i in range(50):
                pre.run(picture, batch[i % 2])
            after, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert after - before < 2048, (spec, after - before)
        assert peak - before < 16384, (spec, peak - before)


# --- extreme aspect ratios -------------------------------------------------------------

EXTREME = [((1, 2500), 'mono'), ((1, 10000), 'mono'), ((2, 10000), 'bgr'),
           ((100000, 1), 'mono'), ((1, 100000), 'mono'), ((3, 7001), 'rgba')]


@pytest.mark.parametrize('shape, color', EXTREME)
def test_extreme_aspect_centre_crop_costs_what_the_network_input_costs(shape, color):
    """
    A 1x10000 frame resized whole to a short side of 256 was a 655 MB buffer (issue 25).

    Byte counts from tracemalloc (NumPy reports its buffers to it), first frame included,
    so the plan's scratch buffers count: the bound is the network input's own size with
    room to spare, far below one whole-frame resize of any of these (>= 160 MB). The
    values are the kernel reference's (an independent float64 bilinear sampler of the
    same Transform), within OpenCV's rounding of one 8-bit step.
    """
    import tracemalloc
    from jetson_infer_ros.gpu import preprocess_kernel as pk
    spec = PreprocessSpec(224, 224, resize='center_crop', mean=(127,) * 3, std=(128,) * 3)
    picture = _picture(shape[0], shape[1], color, seed=3)
    out = spec.allocate()
    pre = Preprocessor(spec)
    tracemalloc.start()
    try:
        transform = pre.run(picture, out)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * out.nbytes, peak           # out is 602 KB
    g = pk.plan_geometry(shape[1], shape[0], 224, 224, 'center_crop', spec.crop_fraction)
    assert (g.scale_x, g.offset_x) == (transform.scale_x, transform.offset_x)
    rgb = cv2.cvtColor(picture.array, {'mono': cv2.COLOR_GRAY2RGB, 'bgr': cv2.COLOR_BGR2RGB,
                                       'rgba': cv2.COLOR_RGBA2RGB}[color])
    norm = pk.Normalization(spec.mean, spec.std)
    ref = pk.reference_preprocess(np.ascontiguousarray(rgb), 'rgb8', g, norm)
    assert np.abs(out - ref).max() * 128 <= 1.0 + 1e-3


@pytest.mark.parametrize('interpolation', ['linear', 'area', 'nearest'])
def test_sampled_crop_is_the_crop_of_the_whole_resized_frame(interpolation, monkeypatch):
    """The crop-first path against the resize-then-crop path it replaces, where both fit."""
    from jetson_infer_ros import preprocess
    rng = np.random.default_rng(11)
    checked = 0
    while checked < 40:
        h, w = int(rng.integers(1, 12)), int(rng.integers(12, 400))
        if rng.random() < 0.5:
            h, w = w, h
        net = (int(rng.integers(8, 64)), int(rng.integers(8, 64)))
        spec = PreprocessSpec(net[0], net[1], resize='center_crop', interpolation=interpolation,
                              crop_fraction=float(rng.uniform(0.5, 1.0)), std=(1, 1, 1))
        if not preprocess.crops_before_resizing(spec, plan_geometry(spec, w, h)):
            continue
        picture = _picture(h, w, 'rgb', seed=checked)
        sampled = spec.allocate()
        Preprocessor(spec).run(picture, sampled)
        with monkeypatch.context() as m:
            m.setattr(preprocess, '_MAX_ENLARGED_INPUTS', 10 ** 12)
            whole = spec.allocate()
            Preprocessor(spec).run(picture, whole)
        if interpolation == 'nearest':
            # OpenCV's 16.16 fixed point drifts on large enlargements; the sampled path is
            # exact, so the two may differ at a few column or row borders only
            assert np.mean(sampled != whole) < 0.25
            candidates, tolerance = reference(picture.array, 'rgb', spec, 'nearest')
            assert_matches_reference(sampled, candidates, tolerance, 'float32')
        else:
            assert np.abs(sampled - whole).max() <= 1.0    # OpenCV's uint8 rounding
        checked += 1


# --- refusals ---------------------------------------------------------------------------

@pytest.mark.parametrize('name, value', [
    ('width', 0), ('height', -3), ('width', 2.5), ('layout', 'CHW'), ('color', 'rgba'),
    ('resize', 'pad'), ('crop_fraction', 0.0), ('crop_fraction', 1.5), ('mean', (1, 2)),
    ('std', (1, 0, 1)), ('std', (1, float('nan'), 1)), ('pad_value', float('inf')),
    ('dtype', 'int8'), ('interpolation', 'cubic'),
])
def test_bad_specs_are_refused(name, value):
    args = {'width': 8, 'height': 8, name: value}
    with pytest.raises(PreprocessError):
        PreprocessSpec(**args)


def test_bad_pictures_and_outputs_are_refused():
    spec = PreprocessSpec(16, 16)
    pre = Preprocessor(spec)
    out = spec.allocate()
    bad_pictures = [
        np.zeros((8, 8, 3), np.uint8),  # not a Picture
        Picture(np.zeros((8, 8, 3), np.uint8), 'yuv'),
        Picture(np.zeros((8, 8, 4), np.uint8), 'rgb'),
        Picture(np.zeros((8, 8, 3), np.float32), 'rgb'),
        Picture(np.zeros((8, 8, 3), np.uint16), 'rgb'),
        Picture(np.zeros((0, 8, 3), np.uint8), 'rgb'),
        Picture(np.zeros((8,), np.uint8), 'mono'),
    ]
    for picture in bad_pictures:
        with pytest.raises(PreprocessError):
            pre.run(picture, out)
    readonly = spec.allocate()
    readonly.flags.writeable = False
    for bad_out in (np.zeros((3, 16, 15), np.float32), np.zeros((16, 16, 3), np.float32),
                    np.zeros((3, 16, 16), np.float64), readonly, [0.0]):
        with pytest.raises(PreprocessError):
            pre.run(_picture(), bad_out)
    # a 2-D mono array is accepted as HxWx1
    pre.run(Picture(np.zeros((8, 8), np.uint8), 'mono'), out)


def test_tiny_pictures_work_or_raise_preprocess_error():
    """Refuse what OpenCV cannot do (4.5 cannot wrap 1x1 colour) with a PreprocessError."""
    spec = PreprocessSpec(1, 1, resize='stretch', pad_value=0)
    out = spec.allocate()
    try:
        Preprocessor(spec).run(Picture(np.full((1, 1, 3), 9, np.uint8), 'rgb'), out)
    except PreprocessError as exc:
        assert 'OpenCV' in str(exc)
    else:
        assert np.all(out == 9.0)
