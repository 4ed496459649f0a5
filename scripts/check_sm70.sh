#!/usr/bin/env bash
# The sm_70 (V100) assemble check: nvcc 13 cannot target sm_70, so the PTX it kept for the oldest
# arch of the build (compute_75, $BUILD/ptx/*.ptx) is retargeted (the .version and .target lines
# only) and assembled for sm_70 by a CUDA 12 ptxas, e.g. the one in PyPI's nvidia-cuda-nvcc-cu12.
# A kernel that needs an instruction or PTX feature sm_70's toolchain lacks fails here.
#   scripts/check_sm70.sh PTX_DIR [PTXAS]
set -u
dir=$1 ptxas=${2:-}
if [ -z "$ptxas" ] || [ ! -x "$ptxas" ]; then
  echo "skipped: sm_70 assemble check: no CUDA 12 ptxas (pip install nvidia-cuda-nvcc-cu12, or make PTXAS_SM70=/path/to/ptxas)"
  exit 0
fi
shopt -s nullglob
files=("$dir"/*.ptx)
if [ ${#files[@]} -eq 0 ]; then
  echo "skipped: sm_70 assemble check: no PTX in $dir (no CUDA build)"
  exit 0
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
# The newest PTX ISA this ptxas reads: it names it when refusing a newer one.
printf '.version 99.9\n.target sm_70\n.address_size 64\n' > "$tmp/probe.ptx"
isa=$("$ptxas" -arch=sm_70 "$tmp/probe.ptx" -o /dev/null 2>&1 | sed -n "s/.*current version is '\([0-9.]*\)'.*/\1/p")
rel=$("$ptxas" --version | sed -n 's/.*release \([0-9.]*\),.*/\1/p')
if [ -z "$isa" ]; then echo "aca: sm_70 assemble check: cannot read the PTX ISA of $ptxas" >&2; exit 1; fi
fail=0
for f in "${files[@]}"; do
  sed -e "s/^\.version .*/.version $isa/" -e 's/^\.target sm_[0-9]*/.target sm_70/' "$f" > "$tmp/k.ptx"
  if ! "$ptxas" -arch=sm_70 "$tmp/k.ptx" -o "$tmp/k.cubin" 2> "$tmp/err"; then
    echo "FAIL sm_70 assemble check: $(basename "$f"):" >&2
    head -5 "$tmp/err" >&2
    fail=1
  fi
done
[ $fail -eq 0 ] || exit 1
echo "sm_70 assemble check: ${#files[@]} PTX files (compute_75 from nvcc) assembled for sm_70 by ptxas $rel (PTX ISA $isa): ok"
