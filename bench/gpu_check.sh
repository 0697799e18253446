#!/usr/bin/env bash
# On the lent GPU machine, as one device `run` (carry [".whl", ".gpu"], timeout_s 600): install the wheels
# bench/gpu_prepare.sh fetched, then run bench/gpu_check.py on the carried corpus. Everything lands in $OUT:
# gpu_check.json (rewritten after every stage), log.txt, the 5-minute model's events.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi -L
python3 bench/gpu_check.py .gpu/pd20 "$OUT" 2>&1 | tee "$OUT/log.txt"
