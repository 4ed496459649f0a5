#!/bin/sh
# OpenMP wait policy on an idle and on a loaded machine: bench_train's median step with 1 thread,
# and with 2 threads under the runtime's default policy (what aca did before it set one), ACTIVE
# and PASSIVE (aca's default since it sets OMP_WAIT_POLICY=PASSIVE unless the user chose a policy).
# "loaded" = one busy-looping process beside the benchmark (one core's worth of other work).
#   usage: bench/omp_wait.sh CONFIG BATCH LEN STEPS   (run from the repository root, after
#          make NO_CUDA=1 BUILD=build/cpu build/cpu/bench/bench_train, on an otherwise quiet machine)
set -eu
cfg=$1 batch=$2 len=$3 steps=$4
bin=${BENCH_TRAIN:-build/cpu/bench/bench_train}
run() { # label threads policy
    if [ "$3" = unset ]; then
        r=$(env -u OMP_WAIT_POLICY OMP_NUM_THREADS=$2 $bin --config "$cfg" --batch "$batch" --len "$len" --steps "$steps")
    else
        r=$(env OMP_WAIT_POLICY=$3 OMP_NUM_THREADS=$2 $bin --config "$cfg" --batch "$batch" --len "$len" --steps "$steps")
    fi
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(printf '%s\n' "$r" | grep -i 'median' | head -1)"
}
for load in idle loaded; do
    hog=
    if [ $load = loaded ]; then sh -c 'while :; do :; done' & hog=$!; sleep 1; fi
    run $load 1 unset
    run $load 2 unset
    run $load 2 ACTIVE
    run $load 2 PASSIVE
    [ -n "$hog" ] && kill $hog && wait $hog 2>/dev/null || true
done
