#!/usr/bin/env bash
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
#
# The node on a GPU machine without registry access, from a bundle sent along in parts.
#
#   scripts/gpu_node_run.sh PARTS_DIR OUT_DIR STEP...
#
# The bundle (made where PyPI is reachable; see docs/gpu_results.md) is one tar split into
# parts <= the transfer limit, plus bundle.md5: wheels/ (scripts/gpu_node_env.py
# --download), cache/ (models/ and data/ of ~/.cache/jetson_infer_ros) and imagenet/ (the
# labelled images). Steps, run in the order given:
#   unpack   reassemble the parts (md5 checked), unpack, put models and data in the cache
#   env      scripts/gpu_node_env.py --install (venv, wheels, vision_msgs, this package)
#   check    scripts/gpu_node_check.py (tests, goldens, top-1, IoU) into OUT_DIR/check
#   bench:MODELS:SIZES:REPEATS   jetson-infer bench --sections gpu into OUT_DIR/bench-MODELS
# Everything lives under $JIR_HOME (default $HOME/jir); the package is installed editable
# from $JIR_HOME/repo, which the caller refreshes with the current tree before a step.
set -u
PARTS=$1
OUT=$2
shift 2
W=${JIR_HOME:-$HOME/jir}
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY=${BASE_PYTHON:-python3}
mkdir -p "$W" "$OUT"
if [ "$HERE" != "$W/repo" ]; then   # the tree this call brought replaces the last one's
  mkdir -p "$W/repo" && cp -r "$HERE/." "$W/repo/"
fi
status=0
for step in "$@"; do
  echo "[gpu-run] step $step ($(date -u +%H:%M:%S))"
  t0=$(date +%s)
  case $step in
    unpack)
      if [ ! -f "$W/unpacked" ]; then
        cat "$PARTS"/bundle.part-* > "$W/bundle.tar" &&
          (cd "$W" && cp "$PARTS/bundle.md5" . && md5sum -c bundle.md5) &&
          tar -xf "$W/bundle.tar" -C "$W" && rm -f "$W/bundle.tar" &&
          mkdir -p "$HOME/.cache/jetson_infer_ros" &&
          cp -r "$W/cache/." "$HOME/.cache/jetson_infer_ros/" &&
          touch "$W/unpacked" || status=1
      fi ;;
    env)
      $PY "$W/repo/scripts/gpu_node_env.py" --install "$W/wheels" --venv "$W/venv" \
        > "$W/env.log" 2>&1 || status=1
      grep -v 'is ignored' "$W/env.log" >> "$OUT/run.log"
      tail -n 5 "$W/env.log" ;;
    check)
      # shellcheck disable=SC1091
      source "$W/venv/gpu_env.sh"
      (cd "$W/repo" && "$W/venv/bin/python" scripts/gpu_node_check.py --out "$OUT/check" \
        --imagenet "$W/imagenet" ${CHECK_STEPS:+--steps $CHECK_STEPS} \
        ${CHECK_BACKEND:+--backend $CHECK_BACKEND}) \
        > "$W/check.log" 2>&1 || status=1
      grep -v 'No registered plugin EP device' "$W/check.log" >> "$OUT/run.log"
      tail -c 2500 "$W/check.log" ;;
    bench:*)
      IFS=: read -r _ models sizes repeats <<< "$step"
      # shellcheck disable=SC1091
      source "$W/venv/gpu_env.sh"
      name="bench-${models//,/_}-${sizes//,/_}"
      (cd "$W/repo" && "$W/venv/bin/jetson-infer" bench --sections gpu --models "$models" \
        --sizes "$sizes" --repeats "$repeats" --precisions fp32 \
        --raw-runs "${BENCH_RAW_RUNS:-300}" \
        --duration "${BENCH_DURATION:-4}" --out "$OUT/$name" \
        --gpu-results /nonexistent) > "$W/$name.log" 2>&1 || status=1
      grep -v 'No registered plugin EP device' "$W/$name.log" >> "$OUT/run.log"
      grep '^\[bench\] target' "$W/$name.log" | tail -n 40 ;;
    *) echo "[gpu-run] unknown step $step"; status=2 ;;
  esac
  echo "[gpu-run] step $step done in $(( $(date +%s) - t0 )) s (status $status)" |
    tee -a "$OUT/run.log"
done
exit $status
