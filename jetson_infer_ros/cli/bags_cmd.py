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
`jetson-infer bags`: make the standard bags (cached), or a bag from your own video.

The standard bags (vtest.avi as Image bgr8/rgb8 and CompressedImage jpeg, the curated
photos) are what the replay tests, the regression goldens and the demo play; they are
written once into the cache. ``--video`` writes any video file as a camera bag.
"""

from __future__ import annotations

import argparse

from jetson_infer_ros.cli.common import print_paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument('names', nargs='*', help='standard bags to prepare (default: all)')
    parser.add_argument('--list', action='store_true', help='list the standard bags and exit')
    parser.add_argument('--json', action='store_true', help='print name -> path as JSON')
    parser.add_argument('--video', help='write this video file as a bag (with --out)')
    parser.add_argument('--out', help='bag folder to create for --video (must not exist)')
    parser.add_argument('--encoding', choices=('bgr8', 'rgb8', 'jpeg'), default='bgr8')
    parser.add_argument('--topic', default='', help='default /camera/image_raw '
                                                    '(/camera/image_raw/compressed for jpeg)')
    parser.add_argument('--frame-id', default='camera')
    parser.add_argument('--frames', type=int, default=0, help='first N frames only (0: all)')
    parser.add_argument('--fps', type=float, default=0.0,
                        help="stamp spacing (default: the video's declared frame rate)")


def run(args: argparse.Namespace) -> int:
    from jetson_infer_ros.bags import make_bags
    if args.list:
        for spec in make_bags.SPECS.values():
            print(f'{spec.name:12} {spec.topic:32} {spec.description}')
        return 0
    if args.video:
        if not args.out:
            raise ValueError('--video needs --out BAG')
        topic = args.topic or ('/camera/image_raw/compressed' if args.encoding == 'jpeg'
                               else '/camera/image_raw')
        s = make_bags.write_video_bag(args.video, args.out, encoding=args.encoding,
                                      frames=args.frames, topic=topic, frame_id=args.frame_id,
                                      fps=args.fps)
        print(f'{s.path}: {s.messages} messages on {s.topic} ({s.msgtype}), '
              f'{s.nbytes / 1e6:.1f} MB in {s.seconds:.1f} s')
        return 0
    paths = make_bags.prepare_bags(args.names or None)
    print_paths(paths, args.json)
    return 0
