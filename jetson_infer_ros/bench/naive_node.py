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
A tutorial-style inference node, kept only as the benchmark's yardstick.

This is how most ROS 2 + ONNX examples are written, on purpose: a Python message per
frame (the pixels copied into an ``array.array``), ``np.array(msg.data)`` copied again,
``cv2.resize``, float64 normalisation into new arrays, the FP32 model on a default ONNX
Runtime session, softmax/top-k in NumPy, a default reliable QoS of depth 10 on input
and output, and a single-threaded executor that runs inference inside the subscription
callback (so frames queue up behind it). Detection boxes are decoded with the
project's own decoder so that both nodes publish the same thing and the comparison
measures the plumbing, not decoder quality. ``--device cuda`` is the same tutorial on
the GPU: ONNX Runtime's CUDA execution provider fed host arrays (``session.run`` copies
the float32 input up and the outputs back on every call), preprocessing still on the CPU
in float64. Do not use this node for anything else.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--config', required=True, help='the ROS params YAML the node would use')
    ap.add_argument('--device', choices=('cpu', 'cuda'), default='cpu',
                    help="ONNX Runtime's execution provider (cuda: needs onnxruntime-gpu)")
    args = ap.parse_args(argv)

    import cv2
    import numpy as np
    import onnxruntime as ort
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from sensor_msgs.msg import Image
    from vision_msgs.msg import (Classification, Detection2D, Detection2DArray,
                                 ObjectHypothesis, ObjectHypothesisWithPose)

    from jetson_infer_ros.config import load_config
    from jetson_infer_ros.model_spec import build_model_spec
    from jetson_infer_ros.pipeline import resolve_model
    from jetson_infer_ros.preprocess import Transform

    cfg = load_config(args.config)
    model_file, labels = resolve_model(cfg.model_path)      # always the FP32 model
    spec = build_model_spec(
        model_file, cfg.task, cfg.decoder, color=cfg.color_order, resize=cfg.resize_mode,
        crop_fraction=cfg.crop_fraction, mean=cfg.mean, std=cfg.std, labels=labels,
        score_threshold=cfg.score_threshold, nms_iou_threshold=cfg.nms_iou_threshold,
        max_detections=cfg.max_detections, top_k=cfg.top_k)
    net_w, net_h = spec.preprocess.width, spec.preprocess.height
    mean = np.array(cfg.mean, dtype=np.float64)
    std = np.array(cfg.std, dtype=np.float64)
    provider = 'CUDAExecutionProvider' if args.device == 'cuda' else 'CPUExecutionProvider'
    session = ort.InferenceSession(model_file, providers=[provider])
    if provider not in session.get_providers():
        print(f'naive node: {provider} did not start ({session.get_providers()})', flush=True)
        return 2
    input_name = session.get_inputs()[0].name
    output_names = [o.name for o in session.get_outputs()]
    post = None
    if cfg.task == 'detection':
        from jetson_infer_ros.postprocess.decoders import postprocessor_for_spec
        post = postprocessor_for_spec(spec)

    rclpy.init(args=[])
    node = rclpy.create_node('naive_infer')
    topic, out_type = (('detections', Detection2DArray) if cfg.task == 'detection'
                       else ('classification', Classification))
    pub = node.create_publisher(out_type, topic, 10)

    def callback(msg: Image) -> None:
        img: Any = np.array(msg.data, dtype=np.uint8).reshape(msg.height, msg.width, -1)
        if msg.encoding == 'rgb8' and cfg.color_order == 'bgr':
            img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
        elif msg.encoding == 'bgr8' and cfg.color_order == 'rgb':
            img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
        h, w = img.shape[:2]
        if cfg.resize_mode == 'center_crop':
            scale = round(min(net_w, net_h) / cfg.crop_fraction) / min(w, h)
            img = cv2.resize(img, (round(w * scale), round(h * scale)))
            top = (img.shape[0] - net_h) // 2
            left = (img.shape[1] - net_w) // 2
            img = img[top:top + net_h, left:left + net_w]
            transform = Transform(scale, scale, -left, -top, w, h)
        else:
            img = cv2.resize(img, (net_w, net_h))
            transform = Transform(net_w / w, net_h / h, 0.0, 0.0, w, h)
        x = img.astype(np.float64)
        x = (x - mean) / std
        x = np.transpose(x, (2, 0, 1))[np.newaxis].astype(np.float32)
        outputs = session.run(None, {input_name: x})
        if post is None:
            logits = outputs[0][0].astype(np.float64)
            probs = np.exp(logits - logits.max())
            probs = probs / probs.sum()
            out = Classification()
            out.header = msg.header
            for cid in np.argsort(probs)[::-1][:cfg.top_k]:
                out.results.append(ObjectHypothesis(class_id=str(int(cid)),
                                                    score=float(probs[cid])))
        else:
            result = post.run(dict(zip(output_names, outputs)), [transform])[0]
            out = Detection2DArray()
            out.header = msg.header
            for box, score, cid in zip(result.boxes, result.scores, result.class_ids):
                det = Detection2D()
                det.header = msg.header
                det.bbox.center.position.x = float(box[0] + box[2]) / 2
                det.bbox.center.position.y = float(box[1] + box[3]) / 2
                det.bbox.size_x = float(box[2] - box[0])
                det.bbox.size_y = float(box[3] - box[1])
                hyp = ObjectHypothesisWithPose()
                hyp.hypothesis.class_id = str(int(cid))
                hyp.hypothesis.score = float(score)
                det.results.append(hyp)
                out.detections.append(det)
        pub.publish(out)

    node.create_subscription(Image, 'image', callback, 10)
    print('naive node ready', flush=True)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
