#!/usr/bin/env bash
# Issue 6's GPU item: a few full-size Figure-3 cells (20,000 training resumes-equivalent, 5 epochs,
# length 512, distilbert-base shapes; random init, since no pretrained checkpoint ships with the
# repo) on the lent GPU, timed per cell, beside the Hugging Face time per cell of ../shared/anchors
# (≈ 420 s fp32, ≈ 135 s bf16 + torch.compile on an H100).  Logs and results under ${OUT:-build/fig3-full}.
# At the 2026-11-22 step times (bf16 38 ms, fp32 60 ms at B=8) a cell is 12,500 steps: ~8 min bf16,
# ~13 min fp32: one bf16 cell fits a 10-min device call, an fp32 cell does not until issue 7 speeds the step.
#   bench/run_fig3_full_cells.sh [PRECISIONS] [CELLS]      defaults: "bf16" "3 13"
# Cells of grids/fig3-full/u2e17-diff-targets-diff-chars.json with the corpus replaced by a synthetic
# one of 25,000 documents (20,000/5,000) and the model by models/configs/distilbert-base-uncased.json:
# cell 3 = A0 alone at 1%, cell 13 = A0 + B1 joint at 1% each (see `aca grid FILE --list`).
set -u
precisions=${1:-"bf16"}
cells=${2:-"3 13"}
out=${OUT:-build/fig3-full}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version --format=csv | tee "$out/env.txt"
make -j"$(nproc)" build/aca > "$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
for prec in $precisions; do
  spec="$out/fig3-full-synth-$prec.json"
  python3 - "$spec" "$prec" <<'PY'
import json, sys
g = json.load(open("grids/fig3-full/u2e17-diff-targets-diff-chars.json"))
g["name"] = "fig3-full synthetic u2e17 A0 vs B1 (" + sys.argv[2] + ")"
g["corpus"] = {"synthetic": 25000, "seed": 42}
g["model"] = {"config": "models/configs/distilbert-base-uncased.json", "vocab": "models/vocab/bert-base-uncased.txt"}
g["precision"] = sys.argv[2]
g["trials"] = 1
json.dump(g, open(sys.argv[1], "w"), indent=1)
PY
  for c in $cells; do
    start=$(date +%s)
    build/aca grid "$spec" --out "$out/grid-$prec" --cell "$c" > "$out/cell-$prec-$c.log" 2>&1
    rc=$?
    echo "== $prec cell $c: rc=$rc wall $(( $(date +%s) - start )) s" | tee -a "$out/summary.txt"
  done
  # per-cell seconds from the results (tokenize, train, eval, total)
  python3 - "$out/grid-$prec/results.jsonl" <<'PY' | tee -a "$out/summary.txt"
import json, sys
for line in open(sys.argv[1]):
    o = json.loads(line); r = o["result"]; t = r.get("timings", r)
    print(o["grid"]["cell"], {k: t[k] for k in t if k.endswith("_s")} if isinstance(t, dict) else t)
PY
done
echo "HF per cell (../shared/anchors): ~420 s fp32, ~135 s bf16 + torch.compile" | tee -a "$out/summary.txt"
