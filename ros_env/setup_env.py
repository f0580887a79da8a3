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
Build the development / CI environment (.venv) unattended, from registries only.

There is no ROS install on the machines this project is developed and tested on: ROS 2
comes from PyPI wheels, and the message packages in no registry (vision_msgs, bond) are
built here from their definitions in ros_env/<package> with the rosidl generators from
those wheels. Each step leaves a stamp keyed by the hash of its inputs, so a warm re-run
takes seconds.

One environment per ROS 2 distro, each from its own lock file: Kilted (.venv, the
default) and Jazzy (.venv-jazzy), picked with --distro or ROS_DISTRO. Run with the
Python 3.11 that the ROS wheels were built for:
    python3.11 ros_env/setup_env.py [--distro jazzy]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import sysconfig
import time

ROOT = Path(__file__).resolve().parent.parent
ENV_DIR = ROOT / 'ros_env'
PACKAGE = 'jetson_infer_ros'
# The ROS 2 distros with wheels on PyPI (no Humble wheels exist); the first is the default.
DISTROS = ('kilted', 'jazzy')
# Message packages in no registry, built from ros_env/<name> in this order.
MESSAGE_PACKAGES = ('vision_msgs', 'bond')

DISTRO = DISTROS[0]
VENV = ROOT / '.venv'
STAMPS = VENV / '.stamps'


def select_distro(name: str) -> None:
    """Point every step at one distro's lock file and venv (.venv for the default)."""
    global DISTRO, VENV, STAMPS
    if name not in DISTROS:
        raise SetupError(f'ROS distro {name!r} is not supported here: PyPI has ROS 2 wheels '
                         f'for {", ".join(DISTROS)} only')
    DISTRO = name
    default = ROOT / ('.venv' if name == DISTROS[0] else f'.venv-{name}')
    VENV = Path(os.environ.get('JETSON_INFER_VENV', default))
    STAMPS = VENV / '.stamps'


def lock_file(distro: str) -> Path:
    return ENV_DIR / f'requirements-{distro}.lock'


class SetupError(RuntimeError):
    """A missing prerequisite or a failed step; printed as one line, no traceback."""


def log(msg: str) -> None:
    print(f'[setup] {msg}', flush=True)


def run(cmd, **kwargs) -> None:
    try:
        subprocess.run([str(c) for c in cmd], check=True, **kwargs)
    except subprocess.CalledProcessError as exc:
        raise SetupError(f'command failed ({exc.returncode}): {" ".join(map(str, cmd))}')


def run_pip(args) -> None:
    """Run pip, dropping the warnings about absent local mirrors that some hosts configure."""
    cmd = [str(venv_python()), '-m', 'pip', '--disable-pip-version-check'] + [str(a) for a in args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if 'is ignored: it is neither a file nor a directory' not in line:
            sys.stdout.write(line)
    if proc.wait() != 0:
        raise SetupError(f'pip failed ({proc.returncode}): pip {" ".join(map(str, args))}')


def digest(*paths: Path, extra: str = '') -> str:
    h = hashlib.sha256(extra.encode())
    for path in paths:
        files = sorted(p for p in path.rglob('*') if p.is_file()) if path.is_dir() else [path]
        for f in files:
            h.update(str(f.relative_to(ROOT)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def stamped(name: str, key: str) -> bool:
    stamp = STAMPS / name
    return stamp.exists() and stamp.read_text().strip() == key


def stamp(name: str, key: str) -> None:
    STAMPS.mkdir(parents=True, exist_ok=True)
    (STAMPS / name).write_text(key + '\n')


def check_prerequisites() -> None:
    """Fail early with one line naming the Debian package, not a CMake stack trace."""
    if sys.version_info[:2] != (3, 11):
        raise SetupError(
            f'Python 3.11 is required (the ROS 2 wheels used here are cp311); this is '
            f'{sys.version.split()[0]}: apt-get install python3.11 python3.11-venv python3.11-dev')
    tools = [('cmake', 'cmake'), ('make', 'make'), ('cc', 'gcc'), ('c++', 'g++')]
    for tool, pkg in tools:
        if shutil.which(tool) is None:
            raise SetupError(f'`{tool}` not found: apt-get install {pkg}')
    include = Path(sysconfig.get_paths()['include'])
    if not (include / 'Python.h').exists():
        raise SetupError(f'Python headers missing ({include}/Python.h): '
                         'apt-get install python3.11-dev')
    try:
        import ensurepip  # noqa: F401
        import venv  # noqa: F401
    except ImportError:
        raise SetupError('the venv module is missing: apt-get install python3.11-venv')


def venv_python() -> Path:
    return VENV / 'bin' / 'python'


def create_venv() -> None:
    if venv_python().exists():
        return
    log(f'creating {VENV}')
    run([sys.executable, '-m', 'venv', VENV])


def pip_install() -> None:
    lock = lock_file(DISTRO)
    key = digest(lock, extra=sys.version)
    if stamped('pip', key):
        return
    STAMPS.mkdir(parents=True, exist_ok=True)
    for old in STAMPS.iterdir():   # new packages: everything built on them is stale
        old.unlink()
    log(f'installing the pinned Python packages (ROS 2 {DISTRO} wheels, runtime, tests)')
    t0 = time.monotonic()
    run_pip(['install', '-q', '-r', lock])
    write_ament_pth()
    log(f'packages installed in {time.monotonic() - t0:.0f} s')
    stamp('pip', key)


def install_tensorrt_tools() -> None:
    """
    TensorRT-RTX into the venv (the tests' engine builder); tensorrt-stubs beside it.

    The stubs go to <venv>/stubs, where only mypy looks (mypy_path): in site-packages
    their bare ``tensorrt/`` folder imports as an empty package that shadows TensorRT.
    """
    rtx = ENV_DIR / 'requirements-tensorrt-rtx.txt'
    stubs = ENV_DIR / 'requirements-stubs.txt'
    key = digest(rtx, stubs, extra=sys.version)
    if stamped('tensorrt', key):
        return
    log('installing TensorRT-RTX (the engine builder the tests run) and tensorrt-stubs')
    t0 = time.monotonic()
    run_pip(['install', '-q', '--no-deps', '-r', rtx])
    if (site_packages() / 'tensorrt').is_dir():   # a venv from before the stubs moved
        run_pip(['uninstall', '-q', '-y', 'tensorrt-stubs'])
    target = VENV / 'stubs'
    shutil.rmtree(target, ignore_errors=True)
    run_pip(['install', '-q', '--no-deps', '--target', target, '-r', stubs])
    log(f'TensorRT-RTX and stubs installed in {time.monotonic() - t0:.0f} s')
    stamp('tensorrt', key)


def site_packages() -> Path:
    out = subprocess.run(
        [venv_python(), '-c', 'import sysconfig; print(sysconfig.get_paths()["purelib"])'],
        check=True, capture_output=True, text=True)
    path = Path(out.stdout.strip().splitlines()[-1])
    if not str(path).startswith(str(VENV)):
        raise SetupError(f'venv site-packages resolved outside the venv: {path}')
    return path


def write_ament_pth() -> None:
    """
    Make every process of this venv look like one in a sourced ROS 2 install.

    ament_index_python finds the packages installed into the venv, and ROS_DISTRO names
    the venv's distro (a sourced setup.bash sets it too); it is set, not defaulted, since
    a process of one distro's venv may be started from another's.
    """
    line = ("import os, sys; p = os.environ.get('AMENT_PREFIX_PATH', ''); "
            "os.environ['AMENT_PREFIX_PATH'] = p if sys.prefix in p.split(os.pathsep) "
            'else os.pathsep.join(x for x in (p, sys.prefix) if x); '
            f"os.environ['ROS_DISTRO'] = '{DISTRO}'\n")
    (site_packages() / 'jetson_infer_ros_ament_prefix.pth').write_text(line)


def fix_cmake_exports() -> None:
    """
    Point the wheels' exported CMake targets at this venv's Python and NumPy headers.

    The wheels were built in a manylinux container; their *Export.cmake files still name
    its include directories, which do not exist here, and CMake refuses such targets.
    """
    out = subprocess.run(
        [venv_python(), '-c',
         'import sysconfig, numpy; print(sysconfig.get_paths()["include"]); '
         'print(numpy.get_include())'],
        check=True, capture_output=True, text=True)
    py_inc, np_inc = out.stdout.split()
    share = VENV / 'share'
    for path in share.rglob('*Export.cmake'):
        text = path.read_text()
        new = text
        for token in set(_foreign_includes(text)):
            new = new.replace(token, np_inc if 'numpy' in token else py_inc)
        if new != text:
            path.write_text(new)


def _foreign_includes(text: str):
    for part in text.replace(';', ' ').replace('"', ' ').split():
        is_py = '/include/python3' in part and not part.startswith(str(VENV))
        is_np = 'numpy' in part and part.endswith('/include') and 'site-packages' in part
        if (is_py or is_np) and not Path(part).exists():
            yield part


def build_message_package(name: str) -> None:
    """Build ros_env/<name> with the wheels' rosidl generators straight into the venv."""
    src = ENV_DIR / name
    key = digest(src, lock_file(DISTRO), extra=sys.version)
    if stamped(name, key):
        return
    fix_cmake_exports()
    build = VENV / 'build' / name
    shutil.rmtree(build, ignore_errors=True)
    env = dict(os.environ, AMENT_PREFIX_PATH=str(VENV), VIRTUAL_ENV=str(VENV),
               PATH=f'{VENV / "bin"}{os.pathsep}{os.environ.get("PATH", "")}')
    env.pop('PYTHONPATH', None)
    log(f'building {name} from ros_env/{name} (rosidl, CMake)')
    t0 = time.monotonic()
    jobs = str(max(1, min(4, os.cpu_count() or 1)))
    quiet = {'stdout': subprocess.DEVNULL} if not os.environ.get('VERBOSE') else {}
    run(['cmake', '-S', src, '-B', build, f'-DCMAKE_INSTALL_PREFIX={VENV}',
         '-DBUILD_TESTING=OFF', '-DCMAKE_BUILD_TYPE=Release',
         f'-DPython3_EXECUTABLE={venv_python()}'],
        env=env, **quiet)
    run(['cmake', '--build', build, '-j', jobs], env=env, **quiet)
    run(['cmake', '--install', build], env=env, **quiet)
    log(f'{name} built in {time.monotonic() - t0:.0f} s')
    stamp(name, key)


def install_project() -> None:
    """
    Install the package editable, plus the share/ and lib/ files colcon would install.

    ``pip install -e`` does not install setup.py's data_files, so the ament index marker,
    package.xml, launch/ and config/ are linked into <venv>/share like colcon's
    --symlink-install does (link_data_files), and the node executable is placed where
    launch_ros and ``ros2 run`` look for it: <prefix>/lib/<package>/<executable>.
    """
    key = digest(ROOT / 'setup.py', ROOT / 'setup.cfg', ROOT / 'package.xml', extra=sys.version)
    if not stamped('project', key):
        log(f'installing {PACKAGE} (editable) into the venv')
        run_pip(['install', '-q', '--no-deps', '--no-build-isolation', '-e', ROOT])
        stamp('project', key)
    link_data_files(ROOT, VENV, _data_files())
    # setup.cfg's [develop] script_dir puts the console scripts in lib/<package>/ (where
    # launch_ros looks); link them into bin/ too, for the README commands and users' PATH.
    libdir = VENV / 'lib' / PACKAGE
    for script in _console_scripts():
        src = libdir / script
        link = VENV / 'bin' / script
        if src.exists() and not (link.exists() or link.is_symlink()):
            link.symlink_to(src)


def _data_files():
    """setup.py's data_files, read by running it with setuptools.setup captured."""
    code = ('import json, runpy, setuptools; kw = {}; '
            'setuptools.setup = lambda **k: kw.update(k); '
            'runpy.run_path("setup.py", run_name="__main__"); '
            'print(json.dumps(kw.get("data_files", [])))')
    out = subprocess.run([venv_python(), '-c', code], check=True, capture_output=True,
                         text=True, cwd=str(ROOT))
    return [(dest, list(files)) for dest, files in json.loads(out.stdout.splitlines()[-1])]


def link_data_files(root: Path, prefix: Path, data_files) -> None:
    """
    Link each data file into <prefix>/<dest>/, one symlink per file in real directories.

    That is what colcon's --symlink-install makes. A symlinked *directory* (what this did
    before) is not entered by os.walk, which is how ros2launch finds a launch file in a
    package's share directory ("file 'infer.launch.py' was not found in the share
    directory"). Links to files that left data_files are removed; a directory link left
    by an older environment becomes a real directory.
    """
    wanted = {}
    for dest, files in data_files:
        for name in files:
            wanted[prefix / dest / Path(name).name] = (root / name).resolve()
    for link, target in wanted.items():
        for parent in reversed(link.relative_to(prefix).parents):
            d = prefix / parent
            if d.is_symlink():           # an old directory link: replace by a directory
                d.unlink()
            d.mkdir(exist_ok=True)
        if link.is_symlink() and Path(os.readlink(link)) == target:
            continue
        if link.is_symlink() or link.is_file():
            link.unlink()
        elif link.is_dir():
            shutil.rmtree(link)
        link.symlink_to(target)
    inside = str(root.resolve()) + os.sep
    for d in {link.parent for link in wanted}:
        for entry in d.iterdir():
            if entry.is_symlink() and entry not in wanted and \
                    os.readlink(entry).startswith(inside):
                entry.unlink()           # a data file that setup.py no longer installs


def _console_scripts():
    """Names of setup.py's console scripts, read from the installed entry points."""
    out = subprocess.run(
        [venv_python(), '-c',
         'from importlib.metadata import distribution as d; '
         f'print("\\n".join(e.name for e in d("{PACKAGE}").entry_points '
         'if e.group == "console_scripts"))'],
        check=True, capture_output=True, text=True)
    return [name for name in out.stdout.split() if name]


def relock() -> None:
    """Regenerate the distro's lock from requirements.in + ros-<distro>.in in a scratch venv."""
    scratch = ROOT / f'.venv-relock-{DISTRO}'
    shutil.rmtree(scratch, ignore_errors=True)
    run([sys.executable, '-m', 'venv', scratch])
    py = scratch / 'bin' / 'python'
    args = ['-r', ENV_DIR / 'requirements.in', '-r', ENV_DIR / f'ros-{DISTRO}.in']
    if DISTRO != DISTROS[0] and lock_file(DISTROS[0]).exists():
        # the packages that are not ROS wheels stay at the default distro's versions
        same = scratch / 'same-as-default.txt'
        same.write_text(''.join(ln + '\n' for ln in lock_file(DISTROS[0]).read_text().splitlines()
                                if ln and not ln.startswith(('#', 'ros-'))))
        args += ['-c', same]
    run([py, '-m', 'pip', 'install', '-q'] + args)
    out = subprocess.run([py, '-m', 'pip', 'freeze', '--all'], check=True,
                         capture_output=True, text=True).stdout
    purelib = 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
    sp = Path(subprocess.run([py, '-c', purelib], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1])
    # ROS wheels also register their Python packages as egg-info dists (rclpy, std_msgs,
    # ...); those names are not on PyPI and must not be pinned on their own.
    embedded = {p.name.split('-')[0].lower().replace('_', '-') for p in sp.glob('*.egg-info')}
    keep = [ln for ln in out.splitlines()
            if ln and not ln.startswith('pip==')
            and ln.split('==')[0].lower().replace('_', '-') not in embedded]
    header = (f'# Generated by `python3.11 ros_env/setup_env.py --distro {DISTRO} --relock` '
              f'from requirements.in + ros-{DISTRO}.in. Do not edit.\n')
    lock_file(DISTRO).write_text(header + '\n'.join(keep) + '\n')
    shutil.rmtree(scratch, ignore_errors=True)
    log(f'wrote {lock_file(DISTRO).name} ({len(keep)} packages)')


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--distro', default=os.environ.get('ROS_DISTRO') or DISTROS[0],
                        help=f'ROS 2 distro: {", ".join(DISTROS)} (default: $ROS_DISTRO, '
                             f'else {DISTROS[0]})')
    parser.add_argument('--relock', action='store_true',
                        help="regenerate the distro's requirements-<distro>.lock")
    args = parser.parse_args(argv)
    try:
        select_distro(args.distro)
        check_prerequisites()
        if args.relock:
            relock()
            return 0
        create_venv()
        pip_install()
        install_tensorrt_tools()
        for name in MESSAGE_PACKAGES:
            build_message_package(name)
        install_project()
    except SetupError as exc:
        print(f'setup_env: error: {exc}', file=sys.stderr)
        return 2
    summary = {'venv': str(VENV), 'ros_distro': DISTRO, 'python': sys.version.split()[0]}
    log('environment ready: ' + json.dumps(summary))
    return 0


if __name__ == '__main__':
    sys.exit(main())
