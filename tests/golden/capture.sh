#!/usr/bin/env bash
# Writes the golden files of the experiment layer's golden test (tests/golden/README.md).  Run from the
# repository root after `make -j2 tests-build` (BUILD=build/cpu for a NO_CUDA=1 BUILD=build/cpu build;
# ACA=path/to/aca runs another build of aca, e.g. one of the commit the golden is to stand for).
#
#   tests/golden/capture.sh mini
#       runs the six mini grids (tests/golden/grids/*.json) with $BUILD/aca into a temporary directory
#       and writes tests/golden/mini.golden (every field, "full" form).
#   tests/golden/capture.sh full DIR...
#       reads finished full-size outputs of the grids/fig3-small presets (each DIR the --out of one
#       preset, named <preset> or fig3-small-<preset>; nothing is written there) and writes
#       tests/golden/fig3-small.golden (one sha256 per file or record group, "digest" form).
#
# Re-capturing replaces a golden: do it only for a deliberate change of what aca writes, and say in the
# commit which fields changed and why (tests/golden/README.md).
set -euo pipefail
BUILD=${BUILD:-build}
GOLDEN=$BUILD/tests/golden/golden
ACA=${ACA:-$BUILD/aca}
[ -x "$GOLDEN" ] && [ -x "$ACA" ] || { echo "capture.sh: $ACA or $GOLDEN missing: make tests-build first" >&2; exit 2; }
[ -d tests/golden/grids ] || { echo "capture.sh: run from the repository root" >&2; exit 2; }
rev=$("$ACA" version | awk '{print $2}')

case "${1:-}" in
mini)
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/aca-golden-XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    {
        echo "# aca golden 1 full"
        echo "# the six mini grids of tests/golden/grids/, run by aca $rev (tests/golden/capture.sh mini)"
        for f in tests/golden/grids/*.json; do
            name=$(basename "$f" .json)
            "$ACA" grid "$f" --out "$tmp/$name" --quiet >/dev/null
            "$GOLDEN" dump "$name" "$tmp/$name"
        done
    } > tests/golden/mini.golden.tmp
    mv tests/golden/mini.golden.tmp tests/golden/mini.golden
    echo "wrote tests/golden/mini.golden ($(wc -l < tests/golden/mini.golden) lines, aca $rev)"
    ;;
full)
    shift
    [ $# -gt 0 ] || { echo "capture.sh full: name the output directories" >&2; exit 2; }
    {
        echo "# aca golden 1 digest"
        echo "# the grids/fig3-small presets at full size; outputs of aca $(sed -n 's/.*"aca":"\([^"]*\)".*/\1/p' "$1/.aca-output"), digested by tests/golden/capture.sh full"
        for f in grids/fig3-small/*.json; do
            name=$(basename "$f" .json)
            printf '%s\n' "$@" | grep -q "\(/\|^\|fig3-small-\)$name/\{0,1\}\$" || echo "# not captured: $name (its output was not given)"
        done
        for d in "$@"; do
            name=$(basename "$d"); name=${name#fig3-small-}
            [ -f "grids/fig3-small/$name.json" ] || { echo "capture.sh: $d is not named after a grids/fig3-small preset" >&2; exit 2; }
            [ -f "$d/bundle/results.jsonl" ] || { echo "capture.sh: $d is not finished (no bundle/results.jsonl)" >&2; exit 2; }
            "$GOLDEN" dump --digest "$name" "$d"
        done
    } > tests/golden/fig3-small.golden.tmp
    mv tests/golden/fig3-small.golden.tmp tests/golden/fig3-small.golden
    echo "wrote tests/golden/fig3-small.golden ($# grids)"
    ;;
*)
    sed -n '2,15s/^# \{0,1\}//p' "$0" >&2
    exit 2
    ;;
esac
