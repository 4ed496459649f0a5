#!/usr/bin/env bash
# Runs each test program; prints one closing line "N passed, N failed"; non-zero exit on any failure.
set -u
pass=0; fail=0; failed=()
for t in "$@"; do
  name=$(basename "$t")
  start=$(date +%s)
  if "$t"; then pass=$((pass + 1)); else fail=$((fail + 1)); failed+=("$name"); fi
  echo "[$name: $(( $(date +%s) - start ))s]"
done
[ ${#failed[@]} -gt 0 ] && echo "failed programs: ${failed[*]}"
echo "tests: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
