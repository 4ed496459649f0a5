// Per-op bench coverage (include/aca/ops_list.h).  A benchmark of the ops walks the op list and times
// each op in a switch over aca_op with no default label: the memory ops and the queries take their
// case labels from the list (untimed), so a CORE or DP op added to the list without a case does not
// compile (-Wswitch, -Werror):
//   #define ACA_OP(group, ret, op, params) BENCH_UNTIMED_##group(op)
//   #include "aca/ops_list.h"
//   #undef ACA_OP
//       break;
// Each case marks what it timed (bench_timed); bench_coverage_check then fails the program when a
// CORE or DP op was not timed.
#ifndef ACA_BENCH_COVERAGE_H
#define ACA_BENCH_COVERAGE_H

#include <stdio.h>

#include "aca/ops.h"

#define BENCH_UNTIMED_MEM(op) case ACA_OP_##op:
#define BENCH_UNTIMED_QUERY(op) case ACA_OP_##op:
#define BENCH_UNTIMED_CORE(op)
#define BENCH_UNTIMED_DP(op)

typedef struct {
    unsigned char timed[ACA_OP_COUNT];
} bench_coverage;

static inline void bench_timed(bench_coverage *c, aca_op op) { c->timed[op] = 1; }

// 0 when every CORE and DP op was timed; else 1, each one named.
static inline int bench_coverage_check(const char *prog, const bench_coverage *c) {
    int missing = 0;
    for (int k = 0; k < ACA_OP_COUNT; k++) {
        aca_op_group g = aca_op_group_of((aca_op)k);
        if ((g == ACA_OP_GROUP_CORE || g == ACA_OP_GROUP_DP) && !c->timed[k]) {
            fprintf(stderr, "%s: op '%s' (%s) was not timed\n", prog, aca_op_name((aca_op)k), aca_op_group_name(g));
            missing++;
        }
    }
    return missing != 0;
}

#endif
