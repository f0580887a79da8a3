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
Where the files of one INT8 artefact live, and how they appear without half-states.

One calibration produces a family of files beside ``--out`` (``X.int8.onnx``):

- ``X.int8.onnx``: explicit Q/DQ, symmetric int8, per-channel weights: TensorRT's
  explicit-quantization input (and what the legacy-calibrator path is checked against);
- ``X.int8.cpu.onnx``: the same ranges in the layout ONNX Runtime's x86 kernels are fast
  with (uint8 activations, int8 weights), used when the node runs on the CPU;
- ``X.int8.calib.cache``: TensorRT calibration cache (IInt8EntropyCalibrator2 text form)
  with the same activation ranges, for the legacy implicit-quantization build path;
- ``X.int8.calib.json``: provenance: which frames (hashes), how many, which method,
  the ranges, the tool versions;
- ``X.int8.eval.json`` (+ ``.eval.md``): written later by `jetson-infer evaluate`; the
  INT8 gate reads it.

Every file is written to a temporary name in the same folder and renamed into place
(atomic on POSIX), the main artefact last, so a crash or a bad input never leaves a
half-written ``--out``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
import tempfile
from typing import Any, Callable, Dict, List, Optional, Union

CPU_TAG = '.cpu'


@dataclasses.dataclass(frozen=True)
class ArtifactFamily:
    """The files of one INT8 artefact, named from the TensorRT (main) artefact."""

    main: Path

    @property
    def stem(self) -> str:
        name = self.main.name
        return name[:-len('.onnx')] if name.endswith('.onnx') else name

    def _sibling(self, suffix: str) -> Path:
        return self.main.with_name(self.stem + suffix)

    @property
    def cpu(self) -> Path:
        return self._sibling(CPU_TAG + '.onnx')

    @property
    def evaluation(self) -> Path:
        return self._sibling('.eval.json')

    @property
    def evaluation_markdown(self) -> Path:
        return self._sibling('.eval.md')

    @property
    def provenance(self) -> Path:
        return self._sibling('.calib.json')

    @property
    def trt_cache(self) -> Path:
        return self._sibling('.calib.cache')

    def variant(self, backend: str) -> Path:
        """Return the model file a backend runs: the CPU layout on ONNX Runtime if present."""
        if backend == 'onnxruntime' and self.cpu.is_file():
            return self.cpu
        return self.main


def family_of(path: Union[str, Path]) -> ArtifactFamily:
    """Return the family of a file (``X.int8.cpu.onnx`` belongs to ``X.int8.onnx``)."""
    p = Path(path).expanduser()
    name = p.name
    if name.endswith(CPU_TAG + '.onnx'):
        p = p.with_name(name[:-len(CPU_TAG + '.onnx')] + '.onnx')
    return ArtifactFamily(p)


def calibrated_from(path: Union[str, Path]) -> Optional[Dict[str, Any]]:
    """
    Return the config facts an artefact's calibration recorded (model_path, labels_file).

    None unless ``path`` is one layout of a calibrated artefact with readable provenance:
    a ``--model X.int8.onnx`` keeps the class names of the model it was calibrated from.
    """
    import json
    try:
        facts = json.loads(family_of(path).provenance.read_text()).get('config')
    except (OSError, ValueError, AttributeError):
        return None
    return facts if isinstance(facts, dict) else None


def default_artifact(model_file: Union[str, Path]) -> Path:
    """``<model>.int8.onnx`` beside the FP32 model."""
    p = Path(model_file).expanduser()
    stem = p.name[:-len('.onnx')] if p.name.endswith('.onnx') else p.name
    return p.with_name(stem + '.int8.onnx')


class StagedFiles:
    """
    Write several files to temporary names; ``commit()`` renames them all into place.

    Used as a context manager: leaving the block without ``commit()`` (an exception)
    removes every temporary file and touches nothing at the final paths.
    """

    def __init__(self) -> None:
        self._staged: List[tuple] = []

    def path_for(self, final: Union[str, Path]) -> Path:
        """Return a fresh temporary path in the final file's folder (same file system)."""
        final = Path(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix='.' + final.name + '.', suffix='.tmp',
                                   dir=str(final.parent))
        os.close(fd)
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; give what open() would
        self._staged.append((Path(tmp), final))
        return Path(tmp)

    def write_text(self, final: Union[str, Path], text: str) -> None:
        self.path_for(final).write_text(text, encoding='utf-8')

    def write_with(self, final: Union[str, Path], writer: Callable[[str], None]) -> None:
        """Let ``writer(tmp_path)`` produce the file (e.g. onnx.save)."""
        writer(str(self.path_for(final)))

    def commit(self) -> List[Path]:
        """Rename in staging order (put the main artefact last); return the final paths."""
        done = []
        for tmp, final in self._staged:
            os.replace(str(tmp), str(final))
            done.append(final)
        self._staged = []
        return done

    def discard(self) -> None:
        for tmp, _final in self._staged:
            try:
                tmp.unlink()
            except OSError:
                pass
        self._staged = []

    def __enter__(self) -> 'StagedFiles':
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def describe_files(paths: List[Path]) -> Dict[str, int]:
    """File name -> size in bytes, for logs and reports."""
    return {p.name: p.stat().st_size for p in paths if p.is_file()}
