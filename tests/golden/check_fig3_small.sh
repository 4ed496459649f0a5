#!/usr/bin/env bash
# The full-size golden check of the experiment layer (tests/golden/README.md): the six grids/fig3-small
# presets against the digests in tests/golden/fig3-small.golden.  Not part of `make test`: the six
# presets take about 42 CPU-minutes.  Run from the repository root after `make -j2 tests-build`.
#
#   tests/golden/check_fig3_small.sh [--no-run] [--cell NAME:K]... OUT
#
# For each preset NAME (grids/fig3-small/NAME.json), its output is OUT/NAME, or OUT/fig3-small-NAME
# when that exists.  A finished output (one with bundle/) is only read; otherwise the preset is run
# into it first (`aca grid` resumes a partial run) and then compared.
#   --no-run       run nothing: compare the finished outputs whole and, in unfinished ones, only the
#                  cells they hold (--partial)
#   --cell NAME:K  run only cell K of preset NAME (`aca grid --cell K`) into OUT/NAME and compare the
#                  cells there (--partial); repeatable; the other presets are left alone
# A preset the golden file does not hold is named and skipped.  Exit status 0 when every compared
# output matches, 1 when one differs, 2 on a usage or run error.
# BUILD (default build) names the build directory holding aca and tests/golden/golden.
set -uo pipefail
BUILD=${BUILD:-build}
ACA=${ACA:-$BUILD/aca}
GOLDEN=$BUILD/tests/golden/golden
GOLDEN_FILE=tests/golden/fig3-small.golden

usage() { sed -n '6,18s/^# \{0,1\}//p' "$0" >&2; exit 2; }
no_run=0
cells=()
while [ $# -gt 1 ]; do
    case "$1" in
    --no-run) no_run=1 ;;
    --cell) [ $# -gt 2 ] || usage; cells+=("$2"); shift ;;
    *) usage ;;
    esac
    shift
done
[ $# -eq 1 ] && [ "${1#-}" = "$1" ] || usage
out=$1
[ -d grids/fig3-small ] && [ -f "$GOLDEN_FILE" ] || { echo "check_fig3_small.sh: run from the repository root" >&2; exit 2; }
[ -x "$ACA" ] && [ -x "$GOLDEN" ] || { echo "check_fig3_small.sh: $ACA or $GOLDEN missing: make tests-build first" >&2; exit 2; }

dir_of() { # the output directory of preset $1
    if [ -d "$out/fig3-small-$1" ] && [ ! -d "$out/$1" ]; then echo "$out/fig3-small-$1"; else echo "$out/$1"; fi
}

compare() { # preset, directory, extra flag
    "$GOLDEN" compare ${3:+"$3"} "$GOLDEN_FILE" "$1" "$2"
}

status=0
note() { [ "$1" -gt "$status" ] && status=$1; }
if [ ${#cells[@]} -gt 0 ]; then
    declare -A ran=()
    for c in "${cells[@]}"; do
        name=${c%%:*} k=${c#*:}
        [ -f "grids/fig3-small/$name.json" ] && [ "$k" != "$c" ] || { echo "check_fig3_small.sh: --cell $c: not NAME:K with NAME a grids/fig3-small preset" >&2; exit 2; }
        "$ACA" grid "grids/fig3-small/$name.json" --out "$out/$name" --cell "$k" --quiet || { note 2; continue; }
        ran[$name]=1
    done
    for name in "${!ran[@]}"; do compare "$name" "$out/$name" --partial; note $?; done
    exit $status
fi

checked=0
for f in grids/fig3-small/*.json; do
    name=$(basename "$f" .json)
    d=$(dir_of "$name")
    if ! grep -q "^= $name	" "$GOLDEN_FILE"; then
        echo "$name: not in $GOLDEN_FILE (see its header): not checked"
        continue
    fi
    checked=$((checked + 1))
    if [ -d "$d/bundle" ]; then
        compare "$name" "$d"
    elif [ $no_run = 1 ]; then
        if [ -d "$d/cells" ]; then echo "$name: $d is not finished: comparing the cells it holds"; compare "$name" "$d" --partial
        else echo "$name: $d: no output (--no-run)"; false; fi
    else
        "$ACA" grid "$f" --out "$d" --quiet >/dev/null || { note 2; continue; }
        compare "$name" "$d"
    fi
    note $?
done
echo "$checked of $(ls grids/fig3-small/*.json | wc -l) presets checked; $([ $status = 0 ] && echo "all identical to the golden" || echo "differences or errors above")"
exit $status
