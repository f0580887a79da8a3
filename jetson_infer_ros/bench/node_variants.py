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
The inference node spun differently, to measure fixes before proposing them.

``infer_node``'s ``main()`` spins ``InferenceNode`` in a ``MultiThreadedExecutor`` (4
threads, ``spin_once(timeout_sec=0.2)`` loop). This launcher runs the very same node
class with the executor and the interpreter's GIL switch interval chosen on the command
line, so the benchmark can show what each would change. It is a measuring tool, not a
supported way to run the node.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index('--ros-args') if '--ros-args' in argv else len(argv)
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--executor', choices=('single', 'multi'), default='multi')
    ap.add_argument('--threads', type=int, default=4)
    ap.add_argument('--switch-interval', type=float, default=0.0,
                    help='sys.setswitchinterval in seconds (0: leave the default 0.005)')
    args = ap.parse_args(argv[:split])
    if args.switch_interval > 0:
        sys.setswitchinterval(args.switch_interval)

    import rclpy
    from rclpy.executors import (ExternalShutdownException, MultiThreadedExecutor,
                                 SingleThreadedExecutor)
    from rclpy.lifecycle import TransitionCallbackReturn

    from jetson_infer_ros.node import InferenceNode

    rclpy.init(args=['node_variant'] + argv[split:])
    node = InferenceNode()
    executor = (SingleThreadedExecutor() if args.executor == 'single'
                else MultiThreadedExecutor(num_threads=args.threads))
    executor.add_node(node)
    try:
        if node.trigger_configure() == TransitionCallbackReturn.SUCCESS:
            node.trigger_activate()
        if args.executor == 'single':
            executor.spin()
        else:
            while rclpy.ok():
                executor.spin_once(timeout_sec=0.2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.teardown()
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
