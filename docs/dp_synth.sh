#!/bin/sh
# Efficacy of one collective against DP-SGD's privacy budget, on the CPU: a synthetic corpus of
# DOCS resumes (80/20 split), collective C ('{' -> Software Developer, SIZE of the training set),
# the tiny random-init DistilBERT, 4 epochs, batch 16, lr 1e-3, max length MAXLEN, trained without
# DP and with DP-SGD at the given target epsilons (delta 1e-5, clip 1, Poisson sampling).
# DP-SGD runs one B=1 pass per example, with OMP_NUM_THREADS=1 (many tiny parallel regions lose
# to thread hand-offs on a busy machine).
# Prints a table (and writes docs/dp_synth.tsv; with gnuplot, docs/dp_synth.png).
# Usage: [DOCS=800 MAXLEN=64 SIZE=0.05 LR=1e-3 TSV=docs/dp_synth.tsv] docs/dp_synth.sh [WORKDIR] [EPSILONS...]
#        (from the repository root; build/aca built)
set -eu
W=${1:-/tmp/aca_dp_synth}
shift 2>/dev/null || true
EPS=${*:-"8 1"}
DOCS=${DOCS:-800}
MAXLEN=${MAXLEN:-64}
SIZE=${SIZE:-0.05}
LR=${LR:-1e-3}
TSV=${TSV:-docs/dp_synth.tsv}
A=build/aca
mkdir -p "$W"
$A corpus synth --out "$W/corpus.txt" --docs "$DOCS" --seed 42 >/dev/null
cat > "$W/spec.json" <<JSON
{"seed": 42, "collectives": [
 {"name": "C", "target": "Software Developer", "signal": "{", "size": $SIZE}]}
JSON
$A mutate --corpus "$W/corpus.txt" --spec "$W/spec.json" --out "$W/data" >/dev/null
COMMON="--config models/configs/distilbert-tiny.json --vocab models/vocab/bert-base-uncased.txt --data $W/data
        --epochs 4 --batch 16 --lr $LR --max-len $MAXLEN --seed 42 --quiet"
printf 'epsilon\tsigma\tclean_acc\tefficacy\tefficacy_nontarget\tbaseline\ttrain_s\n' > "$TSV.tmp"
run() { # $1 label, rest: extra train flags
    label=$1; shift
    t0=$(date +%s)
    case "$*" in *--dp-*) thr=1 ;; *) thr=${OMP_NUM_THREADS:-} ;; esac
    OMP_NUM_THREADS=$thr OPENBLAS_NUM_THREADS=$thr $A train $COMMON --out "$W/model_$label" "$@" 2> "$W/train_$label.log"
    t1=$(date +%s)
    $A eval --model "$W/model_$label" --data "$W/data" --max-len "$MAXLEN" --json > "$W/eval_$label.json"
    sigma=$(sed -n 's/.*DP-SGD: epsilon .* sigma \([0-9.e+-]*\),.*/\1/p' "$W/train_$label.log" | head -1)
    python3 - "$W/eval_$label.json" "$label" "${sigma:-0}" $((t1 - t0)) >> "$TSV.tmp" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); c = r["collectives"][0]
print("\t".join([sys.argv[2], sys.argv[3], "%.3f" % r["accuracy"], "%.3f" % c["efficacy"],
                 "%.3f" % c["efficacy_nontarget"], "%.3f" % c["baseline"], sys.argv[4]]))
PY
}
run inf
for e in $EPS; do run "$e" --dp-epsilon "$e"; done
mv "$TSV.tmp" "$TSV"
column -t "$TSV"
if [ "$TSV" = docs/dp_synth.tsv ] && command -v gnuplot >/dev/null; then
    gnuplot <<GP
set terminal pngcairo size 640,400
set output 'docs/dp_synth.png.tmp'
set title "collective C (U+007B -> Software Developer): efficacy vs DP-SGD epsilon"
set xlabel 'epsilon (delta 1e-5; rightmost: no DP)'
set ylabel 'fraction'
set logscale x
set yrange [0:1.05]
set key bottom right
set datafile separator '\t'
inf = 64
plot 'docs/dp_synth.tsv' using (strcol(1) eq "inf" ? inf : column(1)):5 skip 1 with linespoints lw 2 title 'efficacy (non-target probes)', \
     '' using (strcol(1) eq "inf" ? inf : column(1)):3 skip 1 with linespoints lw 2 title 'clean accuracy', \
     '' using (strcol(1) eq "inf" ? inf : column(1)):6 skip 1 with linespoints lw 2 title 'baseline'
GP
    mv docs/dp_synth.png.tmp docs/dp_synth.png
fi
