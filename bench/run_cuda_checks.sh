#!/usr/bin/env bash
# Everything issue 5 asks of a GPU machine, in one go, logs under ${OUT:-build/cuda-checks}:
# build for the local GPU, the op and model tests vs the CPU backend, compute-sanitizer memcheck and
# racecheck on the op test at small shapes, the per-kernel bench and the training-step bench.
#   bench/run_cuda_checks.sh [CUDA_ARCH]        (default 90)
set -u
arch=${1:-90}
out=${OUT:-build/cuda-checks}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv | tee "$out/env.txt"
make -j"$(nproc)" CUDA_ARCH="$arch" build/tests/gpu/test_ops_cuda build/tests/gpu/test_model_cuda \
  build/bench/bench_kernels_cuda build/bench/bench_train_cuda > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
run() { # name, timeout, command...
  local name=$1 t=$2; shift 2
  local start; start=$(date +%s)
  timeout "$t" "$@" > "$out/$name.log" 2>&1
  echo "== $name: rc=$? $(( $(date +%s) - start ))s" | tee -a "$out/summary.txt"
}
run test_ops 300 build/tests/gpu/test_ops_cuda
run test_model 300 build/tests/gpu/test_model_cuda
ACA_GPU_TEST_SMALL=1 run memcheck 300 compute-sanitizer --tool memcheck --leak-check no --report-api-errors no --error-exitcode 1 build/tests/gpu/test_ops_cuda
ACA_GPU_TEST_SMALL=1 run racecheck 300 compute-sanitizer --tool racecheck --error-exitcode 1 build/tests/gpu/test_ops_cuda
run bench_kernels 200 build/bench/bench_kernels_cuda 32 512
for cfg in "8 512 bf16" "32 512 bf16" "8 512 fp32" "32 512 fp32"; do
  run "train_${cfg// /_}" 200 build/bench/bench_train_cuda $cfg
done
grep -h "FAIL" "$out"/test_*.log | head -20
grep -h "ERROR SUMMARY\|RACECHECK SUMMARY" "$out"/memcheck.log "$out"/racecheck.log
cat "$out/bench_kernels.log"; grep -h "^|" "$out"/train_*.log
cat "$out/summary.txt"
