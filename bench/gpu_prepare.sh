#!/usr/bin/env bash
# Here, on the CPU machine, before a device run (bench/gpu_check.py): the wheels the GPU image lacks, pinned to
# the versions installed here, into .whl/, and pads-drums-20 as real files (a link would travel as a link) into
# .gpu/pd20. Both folders are ignored by git and travel with `carry` [".whl", ".gpu"] (about 5 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
version() { python3 -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$1"; }
# The GPU image (device/KINDS.md) has torch, numpy, einops, safetensors, rich, pygments, markdown-it-py and
# typing-extensions; these are what Distill and vector-quantize-pytorch need beyond them.
names=(vector-quantize-pytorch einx frozendict loguru torch-einops-utils soundfile cffi pycparser soxr platformdirs
       textual mdit-py-plugins linkify-it-py)
rm -rf .whl && mkdir -p .whl
pins=()
for n in "${names[@]}"; do pins+=("$n==$(version "$n")"); done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl "${pins[@]}"
rm -rf .gpu && mkdir -p .gpu
python3 bench/corpus.py pads-drums-20 .gpu/links >/dev/null
cp -rL .gpu/links .gpu/pd20 && rm -rf .gpu/links
echo "prepared: $(ls .whl | wc -l) wheels, $(find .gpu/pd20 -type f | wc -l) sounds, $(du -sh .whl .gpu | awk '{print $1}' | paste -sd' ')"
