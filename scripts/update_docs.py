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
Regenerate the generated parts of README.md and config/*.yaml from the parameter table.

Run after changing jetson_infer_ros/params.py:  .venv/bin/python scripts/update_docs.py
(the tests fail until the docs and configs agree with the table).
"""

from pathlib import Path
import re

from jetson_infer_ros import config as C
from jetson_infer_ros import params as P

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    readme = ROOT / 'README.md'
    text = readme.read_text()
    block = '<!-- params:begin -->\n' + P.markdown_table() + '<!-- params:end -->'
    text = re.sub(r'<!-- params:begin -->.*?<!-- params:end -->', lambda _m: block, text,
                  flags=re.S)
    readme.write_text(text)
    for path in sorted((ROOT / 'config').glob('*.yaml')):
        values = C.read_ros_parameters(path)
        values = {k: v for k, v in values.items() if k in P.BY_NAME}
        title = path.read_text().splitlines()[0][2:]
        path.write_text(C.render_yaml(values, title))


if __name__ == '__main__':
    main()
