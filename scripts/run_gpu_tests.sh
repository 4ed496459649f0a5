#!/usr/bin/env bash
# GPU tests: run only where a GPU is visible; otherwise say so and claim nothing.
set -u
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  echo "skipped: no GPU"; exit 0
fi
if [ $# -eq 0 ]; then
  echo "aca: GPU present but no GPU tests were built (nvcc not found?)" >&2; exit 1
fi
exec "$(dirname "$0")/run_tests.sh" "$@"
