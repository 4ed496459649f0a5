#!/usr/bin/env bash
# Fetches the header-only cuDNN frontend (PyPI's nvidia-cudnn-frontend wheel carries its C++
# headers under include/) into DIR/include, as scripts/deps.sh fetches the Debian packages: once,
# at build time, never copied into the repository.  Without network or pip it says so and succeeds:
# the build then leaves out the cuDNN attention path (the GEMM path needs nothing of this).
#   scripts/cudnn_frontend.sh VERSION DIR
set -u
ver=$1 dir=$2
[ -f "$dir/include/cudnn_frontend.h" ] && exit 0
tmp=$(mktemp -d) || exit 0
trap 'rm -rf "$tmp"' EXIT
if ! python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "nvidia-cudnn-frontend==$ver" >"$tmp/log" 2>&1; then
  echo "aca: could not fetch nvidia-cudnn-frontend $ver from PyPI ($(tail -1 "$tmp/log")): building without the cuDNN attention path" >&2
  exit 0
fi
mkdir -p "$dir.part" && rm -rf "$dir.part"/*
if ! python3 - "$tmp" "$dir.part" <<'PY'
import sys, zipfile, glob
whl = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(whl) as z:
    names = [n for n in z.namelist() if n.startswith("include/")]
    for n in names:
        z.extract(n, sys.argv[2])
print("aca: cudnn-frontend headers: %d files from %s" % (len(names), whl.split("/")[-1]), file=sys.stderr)
PY
then
  echo "aca: could not unpack nvidia-cudnn-frontend: building without the cuDNN attention path" >&2
  rm -rf "$dir.part"; exit 0
fi
rm -rf "$dir" && mv "$dir.part" "$dir"
