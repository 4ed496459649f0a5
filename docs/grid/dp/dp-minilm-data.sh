#!/usr/bin/env bash
# The data of the README's DP table and figure, from a finished grids/dp/minilm-eps.json run:
#   docs/grid/dp/dp-minilm-data.sh OUT      (writes docs/grid/dp/dp-minilm.tsv; needs jq)
# One row per cell: epsilon ("none" without DP), sigma, the collective's level (0 for the
# unpoisoned cell), clean accuracy, efficacy on the non-target probes, and the same model's rate
# of predicting the target for the clean non-target test documents (no signal inserted).  The gap
# between the last two is what the signal itself adds; efficacy alone also counts a model that
# sends everything to the target.
set -euo pipefail
out=${1:?usage: dp-minilm-data.sh OUT}
dst=$(dirname "$0")/dp-minilm.tsv
tmp=$dst.tmp.$$
{
  printf 'epsilon\tsigma\tlevel\tclean_acc\teff_nontarget\tclean_to_target_nontarget\n'
  jq -r '[(.grid.dp_epsilon // "none"), (.result.train.dp.sigma // 0),
          (if .grid.kind == "baseline" then 0 else .grid.levels.A end),
          .result.metrics.accuracy, .result.metrics.collectives[0].efficacy_nontarget,
          .result.metrics.collectives[0].clean_target_rate_nontarget] | @tsv' "$out/results.jsonl" |
    sort -t$'\t' -k1,1 -k3,3g
} > "$tmp"
mv "$tmp" "$dst"
