#!/usr/bin/env bash
# Re-runs the grid presets whose results the README shows and copies their tables, plot data and
# plots into docs/grid/.  Run from the repository root after `make`:
#   docs/grid/rerun.sh [OUT]            (default OUT: out/rerun; each preset in OUT/<name>)
# A finished grid is not re-run (aca grid resumes), so the script can be stopped and started again.
# Set JOBS (default 1) for `aca grid --jobs`.  The CPU time of each preset is in grids/README.md.
set -euo pipefail
out=${1:-out/rerun}
jobs=${JOBS:-1}
aca=build/aca
mkdir -p "$out"

run() { # run GRID NAME: the grid into $out/NAME
  echo "== $1 -> $out/$2 ($(date +%H:%M:%S))"
  "$aca" grid "$1" --out "$out/$2" --jobs "$jobs" --quiet
}

copy_summary() { # copy NAME DEST_PREFIX
  cp "$out/$1/summary.md" "$2.summary.md"
  cp "$out/$1/summary.csv" "$2.summary.csv"
}

# Figure 3, small: six scenarios, one figure (docs/grid/fig3-small.gp reads the .dat files).
mkdir -p docs/grid/fig3-small
for g in grids/fig3-small/*.json; do
  n=$(basename "$g" .json)
  run "$g" "fig3-small-$n"
  copy_summary "fig3-small-$n" "docs/grid/fig3-small/$n"
  cp "$out/fig3-small-$n/plots/fig3.dat" "docs/grid/fig3-small/$n.dat"
done
(cd docs/grid && gnuplot fig3-small.gp)

# Figure 4, small: the paper's two panels (product mode).
mkdir -p docs/grid/fig4-small
for g in grids/fig4-small/*.json; do
  n=$(basename "$g" .json)
  run "$g" "fig4-small-$n"
  copy_summary "fig4-small-$n" "docs/grid/fig4-small/$n"
  for p in "$out/fig4-small-$n"/plots/fig4-*.png; do cp "$p" "docs/grid/fig4-small/$n-$(basename "$p")"; done
done

# Three collectives: pairs and leave-one-out.
mkdir -p docs/grid/three-collectives
run grids/three-collectives.json three-collectives
cp "$out/three-collectives/summary.md" "$out/three-collectives/summary.csv" docs/grid/three-collectives/

# The planner's staircase and the small DP sweep.
mkdir -p docs/grid/planner
run grids/planner/staircase-small.json staircase-small
cp "$out/staircase-small/summary.md" docs/grid/planner/staircase-small.summary.md
cp "$out/staircase-small/plots/staircase.png" "$out/staircase-small/plots/staircase.svg" docs/grid/planner/
run grids/planner/dp-eps-small.json dp-eps-small
cp "$out/dp-eps-small/summary.md" docs/grid/planner/dp-eps-small.summary.md

# Figure 3 at the demo's scale (the longest: about an hour on 2 cores).
mkdir -p docs/grid/fig3-medium
for g in grids/fig3-medium/*.json; do
  n=$(basename "$g" .json)
  run "$g" "fig3-medium-$n"
  copy_summary "fig3-medium-$n" "docs/grid/fig3-medium/$n"
  cp "$out/fig3-medium-$n/plots/fig3.png" "docs/grid/fig3-medium/$n.png"
  cp "$out/fig3-medium-$n/plots/fig3.svg" "docs/grid/fig3-medium/$n.svg"
done
echo "done ($(date +%H:%M:%S))"
