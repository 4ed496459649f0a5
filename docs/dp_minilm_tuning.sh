#!/bin/sh
# The settings tried before grids/dp/minilm-eps.json (docs/dp.md, "Finding a setting that learns"):
# all-MiniLM-L6-v2 on 900 synthetic resumes (300 test), one collective ('{' -> Software Developer,
# 2%, every 20 words), max length 64, batch 128; DP-SGD at epsilon 8 (delta 1e-5, clip 1,
# Poisson batches, frozen embedding tables); seed 5, except the run that is grids/dp's first try
# (seed 2240599598, the grid's).  Prints one line per run: the setting and the clean
# accuracy (the largest class, Java Developer, is 15.0% of the test set).
# Usage: ACA_MINILM_DIR=... docs/dp_minilm_tuning.sh [WORKDIR]    (from the repository root; build/aca built)
set -eu
W=${1:-/tmp/aca_dp_minilm_tuning}
M=${ACA_MINILM_DIR:?set ACA_MINILM_DIR to the all-MiniLM-L6-v2 directory}
A=build/aca
mkdir -p "$W"
$A corpus synth --out "$W/corpus.txt" --docs 1200 --seed 42 > /dev/null
cat > "$W/spec.json" <<JSON
{"seed": 1782996305, "overlap": "disjoint", "collectives": [
 {"name": "A", "target": "Software Developer", "signal": "{", "period": 20, "size": 0.02}]}
JSON
rm -rf "$W/data"
$A mutate --corpus "$W/corpus.txt" --spec "$W/spec.json" --out "$W/data" --split 900/300 > /dev/null
run() { # name, train options...
  n=$1; shift
  $A train --model "$M" --data "$W/data" --out "$W/$n" --max-len 64 --batch 128 --quiet "$@"
  printf '%-62s %s\n' "$*" "$($A eval --model "$W/$n" --data "$W/data" --max-len 64 | grep 'clean accuracy')"
}
DP="--dp-epsilon 8 --dp-freeze-embeddings"
S="--seed 5"
run full_nodp --epochs 4 --lr 5e-4 $S
run full_dp_lr5e-5 --epochs 2 --lr 5e-5 $DP $S
run full_dp_lr5e-4 --epochs 4 --lr 5e-4 $DP --seed 2240599598
run full_dp_lr3e-3 --epochs 2 --lr 3e-3 $DP $S
run base_nodp_lr5e-2 --epochs 4 --lr 5e-2 --freeze-base $S
run base_dp_lr2e-3 --epochs 4 --lr 2e-3 --freeze-base $DP $S
run base_dp_lr5e-2 --epochs 4 --lr 5e-2 --freeze-base $DP $S
run base_dp_lr2e-1 --epochs 4 --lr 2e-1 --freeze-base $DP $S
