#!/usr/bin/env bash
# The layer check of `make test` (issue 15 step 3): layers only look down, and modules include
# each other in a DAG.
#   scripts/check_layers.sh [ROOT]        checks the tree at ROOT (default: this checkout)
#   scripts/check_layers.sh --self-test   runs the check on small fixture trees and expects its verdicts
# It reads every #include "..." line of ROOT's src/, tokenizer/, models/, kernels/ and include/aca/
# (an "aca/X.h" names include/aca/X.h, any other name is relative to the including file), gives
# each file a layer from LAYERS and a module, and fails, naming file and line, when
#  - a file includes a header of a higher layer than its own;
#  - modules include each other in a cycle (headers included in a ring, or X.c including Y.h while
#    Y.h or Y.c includes X.h): the module of include/aca/X.h, src/X.c, src/base/X.c and
#    tokenizer/X.c is X, and so is that of src/X_Y.c and src/X_Y.h where there is no
#    include/aca/X_Y.h (a module cut into files: src/train_dp.c, src/mutate_internal.h); any other
#    file is a module of its own, and a private header (one outside include/aca/) counts only where
#    a header includes it;
#  - a file has no layer (a new header: add it to LAYERS);
#  - an ALLOWED entry no longer happens (delete it: the list only shrinks).
# Only ALLOWED lets an include break the rules.
set -u

# ---- the layers, lowest first ------------------------------------------------------------------
# A layer, then its files: a path, or a folder ending in '/' (every file below it; the longest
# match wins).  A source file src/X.c that is not named takes the layer of include/aca/X.h, and
# src/X_Y.c or src/X_Y.h without an include/aca/X_Y.h that of include/aca/X.h.
LAYERS='
# the base: errors, memory, files, hashing, RNGs, logging, options, temporaries, output checks (and
# their marker file), the JSON writer
base     include/aca/util.h include/aca/err.h include/aca/mem.h include/aca/buf.h include/aca/fileio.h
         include/aca/atomic_file.h include/aca/utf8.h include/aca/hash.h include/aca/rng.h include/aca/log.h
         include/aca/sysinfo.h include/aca/opt.h include/aca/tmp.h include/aca/outdir.h include/aca/philox.h
         include/aca/jsonw.h
         src/base/
# text and file formats: JSON text (read), gnuplot scripts, the tokenizers, safetensors
text     include/aca/jsontext.h include/aca/gnuplot.h include/aca/tokenizer.h
         include/aca/safetensors.h tokenizer/
# data: corpora, the spec and the mutation, the statistical planner (the unplant strategy of the
# mutation uses its bounds), tokenized data and the token cache, collision diagnostics
data     include/aca/corpus.h include/aca/spec.h include/aca/mutate.h include/aca/plan.h include/aca/tokcache.h
         include/aca/collide.h include/aca/data.h include/aca/datadir.h src/synth.c src/spec.c
         src/plan_spec.c tokenizer/tokcache.c
# numerics: the ops table and its backends, the models and their configs
numerics include/aca/act.h include/aca/config.h include/aca/ops.h include/aca/ops_list.h include/aca/dp_gauss.h
         include/aca/model.h
         kernels/ models/
         src/backend.c src/config.c src/batch_json.c
# learning: the trainer, the evaluator, DP-SGD and its accountant
learn    include/aca/train.h include/aca/eval.h include/aca/dp.h src/dp_accountant.c
# one condition, and `aca run`
run      include/aca/run.h include/aca/run_opts.h include/aca/session.h
# grids
grid     include/aca/grid.h src/grid_internal.h src/grid_spec.c src/grid_cells.c src/grid_run.c
         src/grid_aggregate.c src/grid_report.c src/grid_plots.c src/grid_slurm.c src/grid_planner.c
         src/grid_check.c src/grid_out.c src/grid_inputs.c src/grid_results.c
# the command line
cli      src/cli/
'

# ---- today's exceptions ------------------------------------------------------------------------
# FILE INCLUDED, each with what it breaks and the issue-15 step that removes it.  An entry lets
# that one include line through the layer rule, and takes it out of the module graph.
ALLOWED='
# (none left: the spec has its own header, spec.h, which the planner and the mutation both read;
# grid_report.c and grid_planner.c no longer call each other: the planner returns rows; the
# data-directory reader has its own header, datadir.h.)
'

# ---- the check ---------------------------------------------------------------------------------
# sources DIR...: the C, C++ and CUDA files below the folders (of the working directory), sorted,
# NUL-terminated.
sources() {
  find "$@" -type f \( -name '*.c' -o -name '*.h' -o -name '*.cc' -o -name '*.cu' -o -name '*.cuh' \) -print0 | LC_ALL=C sort -z
}

# check ROOT ALLOWED: prints what it finds; 0 when the tree keeps the rules.
check() {
  local root=$1 allowed=$2 dirs=() d
  for d in src tokenizer models kernels include/aca; do [ -d "$root/$d" ] && dirs+=("$d"); done
  if [ ${#dirs[@]} -eq 0 ]; then echo "check_layers: $root: no src/ or include/aca/ to check" >&2; return 1; fi
  {
    echo "@layers"; printf '%s\n' "$LAYERS"
    echo "@allowed"; printf '%s\n' "$allowed"
    echo "@files"
    (cd "$root" && sources "${dirs[@]}" | tr '\0' '\n')
    echo "@includes"
    (cd "$root" && sources "${dirs[@]}" | xargs -0 grep -nE '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]+"' /dev/null)
  } | awk "$CHECK_AWK"
}

CHECK_AWK='
function fail(msg) { print msg; nerr++ }
function layer_of(p,   q, stem) {
    if (p in exact) return exact[p]
    q = p
    while (sub(/\/[^\/]*$/, "", q)) if ((q "/") in folder) return folder[q "/"]
    if (p ~ /^src\/[^\/]+\.[ch]$/) {
        stem = p; sub(/^src\//, "", stem); sub(/\.[ch]$/, "", stem)
        if (("include/aca/" stem ".h") in exact) return exact["include/aca/" stem ".h"]
        while (sub(/_[^_]*$/, "", stem)) if (("include/aca/" stem ".h") in exact) return exact["include/aca/" stem ".h"]
    }
    return 0
}
function module_of(p,   stem) {
    stem = p; sub(/^.*\//, "", stem); sub(/\.[^.]*$/, "", stem)
    if (p ~ /^(include\/aca|src|src\/base|tokenizer)\/[^\/]+$/ && ("include/aca/" stem ".h") in have) return stem
    if (p ~ /^src\/[^\/]+$/) while (sub(/_[^_]*$/, "", stem)) if (("include/aca/" stem ".h") in have) return stem
    sub(/\.[^.\/]*$/, "", p)
    return p
}
function resolve(from, name,   n, i, k, part, out, dir) {
    if (name ~ /^aca\//) return "include/" name
    dir = from; sub(/\/[^\/]*$/, "", dir)
    n = split(dir "/" name, part, "/"); k = 0
    for (i = 1; i <= n; i++) {
        if (part[i] == "" || part[i] == ".") continue
        if (part[i] == ".." && k > 0) { k--; continue }
        out[++k] = part[i]
    }
    name = out[1]
    for (i = 2; i <= k; i++) name = name "/" out[i]
    return name
}
# Depth-first search of the module graph; a grey successor closes a cycle.
function dfs(u,   n, vs, i, v, k, j, ring) {
    colour[u] = 1; stack[++sp] = u
    n = split(adj[u], vs, " ")
    for (i = 1; i <= n; i++) {
        v = vs[i]
        if (colour[v] == 1) {
            for (k = sp; stack[k] != v; k--) ;
            ring = ""
            for (j = k; j <= sp; j++) ring = ring stack[j] " (" witness[stack[j], (j < sp ? stack[j + 1] : v)] ") -> "
            fail("module cycle: " ring v " (modules may not include each other in a ring)")
        } else if (!colour[v]) dfs(v)
    }
    sp--; colour[u] = 2
}
function reaches(u, goal,   n, vs, i) {
    if (u == goal) return 1
    if (u in seen) return 0
    seen[u] = 1
    n = split(full[u], vs, " ")
    for (i = 1; i <= n; i++) if (reaches(vs[i], goal)) return 1
    return 0
}
/^@/ { sec = substr($0, 2); next }
{ line = $0; sub(/#.*/, "", line) }
sec == "layers" {
    n = split(line, w, " "); if (!n) next
    i = 1
    if (w[1] !~ /\//) { nl++; lname[nl] = w[1]; i = 2 }
    for (; i <= n; i++) if (w[i] ~ /\/$/) folder[w[i]] = nl; else exact[w[i]] = nl
    next
}
sec == "allowed" {
    n = split(line, w, " "); if (!n) next
    if (n != 2) { fail("ALLOWED: \"" $0 "\": expected FILE INCLUDED"); next }
    allow[w[1], w[2]] = 1; allow_list[++nallow] = w[1] SUBSEP w[2]
    next
}
sec == "files" { files[++nfiles] = $0; have[$0] = 1; next }
sec == "includes" {
    # path:line:#include "name"
    p = index($0, ":"); file = substr($0, 1, p - 1); rest = substr($0, p + 1)
    p = index(rest, ":"); ln = substr(rest, 1, p - 1)
    name = rest; sub(/^[^"]*"/, "", name); sub(/".*$/, "", name)
    target = resolve(file, name)
    if (!(target in have)) next # a generated or outside header (gitrev.h, the cuDNN frontend)
    nincl++
    lf = layer_of(file); lt = layer_of(target)
    ok = (file, target) in allow
    if (ok) used[file, target] = 1
    if (lf && lt > lf && !ok)
        fail(file ":" ln ": layer " lname[lf] " includes \"" name "\" of layer " lname[lt] " (layers only look down; see scripts/check_layers.sh)")
    mu = module_of(file); mv = module_of(target)
    if (mu == mv || (target !~ /^include\/aca\// && file !~ /\.(h|cuh)$/)) next # a source file and its private header
    if (!((mu, mv) in edge_full)) { edge_full[mu, mv] = 1; full[mu] = full[mu] " " mv }
    if (ok) next
    if (!((mu, mv) in witness)) { witness[mu, mv] = file ":" ln; adj[mu] = adj[mu] " " mv; nodes[++nnodes] = mu }
    next
}
END {
    for (i = 1; i <= nfiles; i++)
        if (!layer_of(files[i])) fail(files[i] ": no layer (add it to LAYERS in scripts/check_layers.sh)")
    for (i = 1; i <= nnodes; i++) if (!colour[nodes[i]]) dfs(nodes[i])
    for (i = 1; i <= nallow; i++) {
        split(allow_list[i], w, SUBSEP)
        stale = !(allow_list[i] in used)
        if (!stale && layer_of(w[2]) <= layer_of(w[1])) { # not a layer exception: is it still on a cycle?
            split("", seen)
            stale = module_of(w[1]) == module_of(w[2]) || !reaches(module_of(w[2]), module_of(w[1]))
        }
        if (stale) fail("ALLOWED: \"" w[1] " " w[2] "\" no longer breaks a rule: delete the entry from scripts/check_layers.sh")
    }
    if (nerr) { print "layers: " nerr " problem" (nerr > 1 ? "s" : ""); exit 1 }
    printf "layers: %d files in %d layers, %d includes, modules acyclic; %d allowed exception%s (issue 15)\n",
           nfiles, nl, nincl, nallow, nallow == 1 ? "" : "s"
}
'

# ---- self-test ---------------------------------------------------------------------------------
# expect NAME RC PATTERN ROOT ALLOWED: the check on ROOT exits RC and prints a line matching PATTERN.
expect() {
  local out rc
  n_cases=$((n_cases + 1))
  out=$(check "$4" "$5"); rc=$?
  if [ "$rc" -ne "$2" ] || ! grep -qE -- "$3" <<<"$out"; then
    printf 'check_layers self-test %s: expected exit %s and a line matching /%s/, got exit %s:\n%s\n' "$1" "$2" "$3" "$rc" "$out" >&2
    return 1
  fi
}

self_test() {
  local t fails=0
  n_cases=0
  t=$(mktemp -d) || return 1
  trap 'rm -rf "$t"' RETURN
  put() { mkdir -p "$(dirname "$t/$1")" && printf '%s\n' "${@:2}" > "$t/$1"; }
  put include/aca/util.h '#include "aca/err.h"'
  put include/aca/err.h '// errors'
  put include/aca/corpus.h '#include "aca/util.h"'
  put include/aca/train.h '#include "aca/corpus.h"'
  put include/aca/tokcache.h '#include "aca/util.h"' '#include "aca/train.h"'
  put src/corpus.c '#include "aca/corpus.h"'
  put tokenizer/tok_internal.h '#include "aca/util.h"'
  put tokenizer/wordpiece.c '#include "tok_internal.h"'
  put src/train.c '#include "aca/train.h"'
  put src/cli/main.c '#include "aca/train.h"' '#include "../../include/aca/corpus.h"'
  local allow='include/aca/tokcache.h include/aca/train.h # the exception of the fixture'
  # 10 files, 11 includes: the count shows that relative names resolved
  expect clean 0 '^layers: 10 files in 8 layers, 11 includes, modules acyclic; 1 allowed exception' "$t" "$allow" || fails=1
  expect exception-needed 1 '^include/aca/tokcache.h:2: layer data includes "aca/train.h" of layer learn' "$t" "" || fails=1
  put src/corpus.c '#include "aca/corpus.h"' '#include "aca/train.h"'
  expect upward 1 '^src/corpus.c:2: layer data includes "aca/train.h" of layer learn' "$t" "$allow" || fails=1
  put src/corpus.c '#include "aca/corpus.h"'
  put tokenizer/tok_internal.h '#include "aca/util.h"' '#include "../include/aca/corpus.h"'
  expect relative-name 1 '^tokenizer/tok_internal.h:2: layer text includes "../include/aca/corpus.h" of layer data' "$t" "$allow" || fails=1
  put tokenizer/tok_internal.h '#include "aca/util.h"'
  put include/aca/newthing.h '// a header nobody placed'
  expect unplaced 1 '^include/aca/newthing.h: no layer' "$t" "$allow" || fails=1
  rm "$t/include/aca/newthing.h"
  put include/aca/err.h '#include "aca/util.h"'
  expect header-cycle 1 '^module cycle: (util \(include/aca/util.h:1\) -> err \(include/aca/err.h:1\) -> util|err \(include/aca/err.h:1\) -> util \(include/aca/util.h:1\) -> err) ' "$t" "$allow" || fails=1
  put include/aca/err.h '// errors'
  put include/aca/mutate.h '#include "aca/corpus.h"'
  put src/corpus.c '#include "aca/corpus.h"' '#include "aca/mutate.h"'
  expect source-cycle 1 '^module cycle: (corpus \(src/corpus.c:2\) -> mutate \(include/aca/mutate.h:1\) -> corpus|mutate \(include/aca/mutate.h:1\) -> corpus \(src/corpus.c:2\) -> mutate) ' "$t" "$allow" || fails=1
  expect cycle-allowed 0 '^layers: .*; 2 allowed exceptions' "$t" "$allow
include/aca/mutate.h include/aca/corpus.h" || fails=1
  rm "$t/include/aca/mutate.h"
  put src/corpus.c '#include "aca/corpus.h"'
  # a module cut into files: src/mutate_members.c is module mutate (and of mutate's layer)
  put include/aca/mutate.h '#include "aca/corpus.h"'
  put include/aca/plan.h '#include "aca/mutate.h"'
  put src/mutate_members.c '#include "aca/plan.h"'
  expect split-module-cycle 1 '^module cycle: (mutate \(src/mutate_members.c:1\) -> plan \(include/aca/plan.h:1\) -> mutate|plan \(include/aca/plan.h:1\) -> mutate \(src/mutate_members.c:1\) -> plan) ' "$t" "$allow" || fails=1
  expect split-module-allowed 0 '^layers: .*; 2 allowed exceptions' "$t" "$allow
include/aca/plan.h include/aca/mutate.h" || fails=1
  rm "$t/include/aca/mutate.h" "$t/include/aca/plan.h" "$t/src/mutate_members.c"
  expect stale-downward 1 '^ALLOWED: "src/cli/main.c include/aca/train.h" no longer breaks a rule' "$t" "$allow
src/cli/main.c include/aca/train.h" || fails=1
  expect stale-gone 1 '^ALLOWED: "src/gone.c include/aca/train.h" no longer breaks a rule' "$t" "$allow
src/gone.c include/aca/train.h" || fails=1
  expect malformed 1 '^ALLOWED: "src/train.c": expected FILE INCLUDED' "$t" "$allow
src/train.c" || fails=1
  [ "$fails" -eq 0 ] && echo "layers: self-test passed ($n_cases fixture cases: clean, upward includes by aca/ and relative names, an unplaced header, header and source cycles, a module cut into files, stale and malformed exceptions)"
  return "$fails"
}

if [ "${1:-}" = "--self-test" ]; then self_test; exit; fi
check "${1:-$(cd "$(dirname "$0")/.." && pwd)}" "$ALLOWED"
