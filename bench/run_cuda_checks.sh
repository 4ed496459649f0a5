#!/usr/bin/env bash
# Everything issue 14 asks of a GPU, in one call of at most ~8 minutes on an H100/H200 (16 cores):
#   1. build for the GPU found (CUDA_ARCH from nvidia-smi), while Hugging Face's anchor benchmark
#      (../shared/anchors/hf_distilbert_bench.py, or $HF_BENCH) runs on the idle GPU;
#   2. make test-gpu: every op and the whole model vs the CPU, each attention path and precision;
#   3. compute-sanitizer memcheck (the op test, small shapes) and racecheck (attention, small shapes);
#   4. the kernel bench (B=32, T=512) and the training-step bench at B=8 and 32, T=512, fp32 and
#      bf16, each attention path; then grids/dp/run_gpu.sh: DP-SGD's CUDA test against the CPU and
#      the plain and DP-SGD step of all-MiniLM-L6-v2's shape (B=64, T=128, fp32 and bf16);
#   5. bench/results/<date>-<gpu>.json (also in $OUT): rows {engine, config, precision, attention,
#      step_ms, tokens_per_s} of aca and Hugging Face, and aca's step over HF's per config.
# Logs under $OUT (default build/cuda-checks).  Any failed or timed-out step fails the script,
# loudly, at the end (every step still runs, so one call shows everything).
#
# What the machine needs beside the checkout (it reaches no registry): the Debian packages of
# scripts/deps.sh as .deb files in .gpu/debs/, the cudnn-frontend headers that `make deps` fetched
# (build/deps/), and the HF script; bench/RESULTS.md has the exact preparation and the call.
#   bench/run_cuda_checks.sh
set -u
out=${OUT:-build/cuda-checks}
mkdir -p "$out" bench/results
summary="$out/summary.txt"
: > "$summary"
failed=()
t_start=$(date +%s)

step() { # name, timeout seconds, command... : runs it, logs it, records its status
  local name=$1 t=$2; shift 2
  local s rc
  s=$(date +%s)
  timeout "$t" "$@" > "$out/$name.log" 2>&1
  rc=$?
  [ $rc -eq 124 ] && echo "TIMEOUT after ${t}s" >> "$out/$name.log"
  echo "== $name: rc=$rc $(( $(date +%s) - s ))s" | tee -a "$summary"
  [ $rc -eq 0 ] || failed+=("$name")
  return $rc
}

# ---- 0. the machine ----------------------------------------------------------------------------
nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total,clocks.sm,clocks.mem --format=csv | tee "$out/env.txt"
cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d ' .')
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1 | tr ' ' '-' | tr -cd 'A-Za-z0-9._-')
[ -n "$cc" ] || { echo "aca: no GPU visible (nvidia-smi)"; exit 1; }
if ls .gpu/debs/*.deb > /dev/null 2>&1; then # Debian libraries carried beside the checkout
  for f in .gpu/debs/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
hf=${HF_BENCH:-../shared/anchors/hf_distilbert_bench.py}
[ -f "$hf" ] || hf=shared/anchors/hf_distilbert_bench.py
[ -f "$hf" ] || hf=.gpu/hf_distilbert_bench.py

# ---- 1. build, with HF's benchmark on the GPU meanwhile ----------------------------------------
hf_pid=
if [ -f "$hf" ]; then
  ( OUT="$out" PYTHONUNBUFFERED=1 timeout 330 python3 "$hf" > "$out/hf_bench.log" 2>&1; echo "rc=$?" >> "$out/hf_bench.log" ) &
  hf_pid=$!
else
  echo "aca: HF benchmark not found ($hf): set HF_BENCH" | tee -a "$summary"
  failed+=(hf_bench)
fi
# The build runs while HF's benchmark has the GPU, on the cores it leaves free (6 kept for Python):
# compare its numbers with ../shared/anchors (measured alone) before trusting a ratio.
jobs=$(( $(nproc) > 8 ? $(nproc) - 6 : 2 ))
step build 330 make -j"$jobs" CUDA_ARCH="$cc" all build/tests/gpu/test_ops_cuda build/tests/gpu/test_model_cuda \
  build/bench/bench_kernels_cuda build/bench/bench_train_cuda build/tests/gpu/test_dp_cuda build/bench/bench_train \
  || { tail -30 "$out/build.log"; }
grep -E "^aca: " "$out/build.log" | tee -a "$summary" # cuDNN path built or not, and why
if [ -n "$hf_pid" ]; then
  wait "$hf_pid"
  tail -1 "$out/hf_bench.log" | grep -q "rc=0" || failed+=(hf_bench)
  echo "== hf_bench: $(tail -1 "$out/hf_bench.log")" | tee -a "$summary"
fi

if [ -x build/bench/bench_train_cuda ]; then
  # ---- 2. correctness ----------------------------------------------------------------------------
  # what `make test-gpu` runs, without its `deps` step (it would try to reach a registry)
  step test_gpu 200 scripts/run_gpu_tests.sh build/tests/gpu/test_ops_cuda build/tests/gpu/test_model_cuda
  # ---- 3. sanitizers on small shapes --------------------------------------------------------------
  step memcheck 120 env ACA_GPU_TEST_SMALL=1 compute-sanitizer --tool memcheck --leak-check no --report-api-errors no \
    --error-exitcode 1 build/tests/gpu/test_ops_cuda
  step racecheck 90 env ACA_GPU_TEST_SMALL=1 compute-sanitizer --tool racecheck --error-exitcode 1 \
    build/tests/gpu/test_ops_cuda test_attention
  # ---- 4. benchmarks ------------------------------------------------------------------------------
  step bench_kernels 60 build/bench/bench_kernels_cuda 32 512
  : > "$out/aca_rows.jsonl"
  for cfg in "8 bf16 gemm" "8 bf16 cudnn" "32 bf16 gemm" "32 bf16 cudnn" "8 fp32 gemm" "32 fp32 gemm"; do
    read -r b prec att <<< "$cfg"
    if step "train_B${b}_${prec}_$att" 40 build/bench/bench_train_cuda "$b" 512 "$prec" 20 "$att"; then
      tail -1 "$out/train_B${b}_${prec}_$att.log" >> "$out/aca_rows.jsonl"
    fi
  done
  # DP-SGD (issue 16): its rows join the results file's ("MiniLM-L6 B=64 T=128 plain|DP-SGD ghost")
  step dp 200 env OUT="$out" CUDA_ARCH="$cc" grids/dp/run_gpu.sh
  [ -f "$out/dp/dp_rows.jsonl" ] && cat "$out/dp/dp_rows.jsonl" >> "$out/aca_rows.jsonl"
fi

# ---- 5. the results file -------------------------------------------------------------------------
res="bench/results/$(date -u +%Y-%m-%d)-$gpu.json"
python3 - "$out/aca_rows.jsonl" "$out/hf_anchor.json" "$res" "$(tail -1 "$out/env.txt")" <<'PY' | tee -a "$summary"
import json, sys, os
aca = [json.loads(l) for l in open(sys.argv[1])] if os.path.exists(sys.argv[1]) else []
hf = json.load(open(sys.argv[2])) if os.path.exists(sys.argv[2]) else {"rows": []}
rows = list(aca)
for r in hf.get("rows", []):
    prec = {"fp32": "fp32", "tf32": "tf32", "bf16": "bf16"}.get(r["mode"], r["mode"])
    rows.append({"engine": "hf+compile" if r.get("compile") else "hf", "config": "B=%d T=%d" % (r["B"], r["T"]),
                 "precision": prec, "attention": r.get("attn"), "step_ms": r["step_ms"], "tokens_per_s": r["tokens_per_s"]})
ratios = []
for a in aca:
    best = {}
    for h in rows:
        if h["engine"].startswith("hf") and h["config"] == a["config"] and h["precision"] == a["precision"]:
            key = h["engine"] + ("/" + h["attention"] if h["attention"] else "")
            best[key] = h["step_ms"]
    for key, ms in sorted(best.items()):
        ratios.append({"config": a["config"], "precision": a["precision"], "aca_attention": a["attention"],
                       "vs": key, "aca_step_ms": a["step_ms"], "hf_step_ms": ms, "aca_over_hf": a["step_ms"] / ms})
doc = {"gpu": sys.argv[4], "hf": {k: v for k, v in hf.items() if k != "rows"}, "rows": rows, "ratios": ratios,
       "note": "HF's benchmark ran while aca was being built on the other cores (bench/run_cuda_checks.sh)"}
tmp = sys.argv[3] + ".tmp"
json.dump(doc, open(tmp, "w"), indent=1)
os.replace(tmp, sys.argv[3])
print("wrote", sys.argv[3])
for q in ratios:
    print("%-12s %-5s aca/%-6s vs %-18s %7.1f ms vs %7.1f ms = %.2fx" % (q["config"], q["precision"], q["aca_attention"],
          q["vs"], q["aca_step_ms"], q["hf_step_ms"], q["aca_over_hf"]))
PY
cp "$res" "$out/" 2>/dev/null

# ---- the short table last (the device tool returns the end of the output) -------------------------
grep -hE "^(FAIL|\[  FAILED|\[  PASSED|tests:)" "$out"/test_gpu.log 2>/dev/null | tail -8
grep -hE "ERROR SUMMARY|RACECHECK SUMMARY" "$out"/memcheck.log "$out"/racecheck.log 2>/dev/null
grep -hE "attention_(fwd|bwd)|matmul ceiling" "$out"/bench_kernels.log 2>/dev/null
grep -h "^| distilbert-base" "$out"/train_*.log 2>/dev/null
grep -hE "^(DP/plain|aca: DP)" "$out"/dp.log 2>/dev/null
cat "$summary"
echo "total $(( $(date +%s) - t_start ))s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]} (logs in $out)"
  exit 1
fi
echo "all GPU checks passed"
