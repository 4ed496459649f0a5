#!/usr/bin/env bash
# The DP-SGD part of the GPU checks (issue 16); bench/run_cuda_checks.sh calls it after its build
# (which builds the two binaries below for the GPU found); logs and dp_rows.jsonl under
# ${OUT:-build/cuda-checks}/dp:
#   1. tests/gpu/test_dp_cuda: the ghost-clipping ops and a whole DP step against the CPU backend;
#   2. the training step of all-MiniLM-L6-v2's shape at B = 64, T = 128 without and with DP-SGD
#      (ghost clipping, Poisson batches of expected size 64), fp32 and bf16: one JSON row each
#      {engine, config, precision, step_ms, per_example_ms} in dp_rows.jsonl, and the DP/plain ratio;
#      The shape is models/configs/minilm-l6.json (the checkpoint's config.json), so no checkpoint
#      is needed for it;
#   3. only with SWEEP=1 (a separate device call: several minutes): grids/dp/minilm-eps-gpu.json
#      (12 cells: full fine-tuning, 8,000 training documents) and its report; needs ACA_MINILM_DIR
#      (the all-MiniLM-L6-v2 directory; README, "DP-SGD training").
# Any failed step fails the script at the end; every step still runs.
#   grids/dp/run_gpu.sh            (from the repository root, build/ built for the GPU)
set -u
out=${OUT:-build/cuda-checks}/dp
mkdir -p "$out"
failed=()
step() { # name, timeout seconds, command...
  local name=$1 t=$2; shift 2
  local s rc
  s=$(date +%s)
  timeout "$t" "$@" > "$out/$name.log" 2>&1
  rc=$?
  echo "== dp/$name: rc=$rc $(( $(date +%s) - s ))s"
  [ $rc -eq 0 ] || failed+=("$name")
  return $rc
}
make -j"$(nproc)" ${CUDA_ARCH:+CUDA_ARCH="$CUDA_ARCH"} build/tests/gpu/test_dp_cuda build/bench/bench_train \
  > "$out/build.log" 2>&1 || failed+=(build)
step test_dp_cuda 120 scripts/run_gpu_tests.sh build/tests/gpu/test_dp_cuda
cfg=models/configs/minilm-l6.json
: > "$out/dp_rows.jsonl"
if true; then
  for prec in fp32 bf16; do
    for mode in plain dp; do
      x=; [ $mode = dp ] && x="--dp-sigma 1"
      if step "step_${mode}_$prec" 120 build/bench/bench_train --config "$cfg" --batch 64 --len 128 --steps 12 \
          --device cuda --precision "$prec" $x; then
        python3 - "$out/step_${mode}_$prec.log" "$mode" "$prec" >> "$out/dp_rows.jsonl" <<'PY'
import json, re, sys
t = open(sys.argv[1]).read()
med = float(re.search(r"median step ([0-9.]+) s", t).group(1))
m = re.search(r"([0-9.]+) s per example", t)  # DP-SGD: Poisson batches, so per example; plain: B = 64
per = float(m.group(1)) if m else med / 64
print(json.dumps({"engine": "aca", "config": "MiniLM-L6 B=64 T=128 " + ("DP-SGD ghost" if sys.argv[2] == "dp" else "plain"),
                  "precision": sys.argv[3], "step_ms": med * 1e3, "per_example_ms": per * 1e3}))
PY
      fi
    done
  done
  python3 - "$out/dp_rows.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for prec in ("fp32", "bf16"):
    p = [r for r in rows if r["precision"] == prec and r["config"].endswith("plain")]
    d = [r for r in rows if r["precision"] == prec and r["config"].endswith("ghost")]
    if p and d:
        print("DP/plain step per example, %s: %.2fx" % (prec, d[0]["per_example_ms"] / p[0]["per_example_ms"]))
PY
fi
if [ "${SWEEP:-0}" = 1 ]; then
  if [ -f "${ACA_MINILM_DIR:-}/config.json" ]; then
    step sweep 420 build/aca grid grids/dp/minilm-eps-gpu.json --out "$out/minilm-eps-gpu" --quiet
    [ -f "$out/minilm-eps-gpu/summary.md" ] && cat "$out/minilm-eps-gpu/summary.md"
  else
    echo "aca: SWEEP=1 needs ACA_MINILM_DIR, the all-MiniLM-L6-v2 directory: the sweep did not run"
    failed+=(minilm)
  fi
fi
[ ${#failed[@]} -eq 0 ] || { echo "aca: DP GPU checks failed: ${failed[*]}"; exit 1; }
