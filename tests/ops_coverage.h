// Per-op test coverage (include/aca/ops_list.h), and the refusal of a backend with an empty slot.
//
// Coverage.  A test file of the ops maps every op of the list
// to the test that compares it, in a switch over aca_op with no default label: an op added to the
// list without a case there does not compile (-Wswitch, -Werror).  The file's main then calls
// ops_coverage_check, which fails the program when an op of the groups the file covers maps to no
// test (NULL), or to a test the file does not run.
#ifndef ACA_TESTS_OPS_COVERAGE_H
#define ACA_TESTS_OPS_COVERAGE_H

#include "testutil.h"

#include "aca/ops.h"

typedef CMUnitTestFunction (*ops_test_map)(aca_op op);

// Case labels from the op list for the ops another file covers, in a map's switch:
//   #define ACA_OP(group, ret, op, params) OPS_CASE_IF_DP_##group(op)      (the DP ops)
//   #define ACA_OP(group, ret, op, params) OPS_CASE_UNLESS_DP_##group(op)  (every other op)
//   #include "aca/ops_list.h"
//   #undef ACA_OP
//       return NULL;
// The file's own ops get no label from the list: each needs its own case, or the switch does not compile.
#define OPS_CASE(op) case ACA_OP_##op:
#define OPS_NO_CASE(op)
#define OPS_CASE_IF_DP_MEM OPS_NO_CASE
#define OPS_CASE_IF_DP_QUERY OPS_NO_CASE
#define OPS_CASE_IF_DP_CORE OPS_NO_CASE
#define OPS_CASE_IF_DP_DP OPS_CASE
#define OPS_CASE_UNLESS_DP_MEM OPS_CASE
#define OPS_CASE_UNLESS_DP_QUERY OPS_CASE
#define OPS_CASE_UNLESS_DP_CORE OPS_CASE
#define OPS_CASE_UNLESS_DP_DP OPS_NO_CASE

#define OPS_GROUP(g) (1u << (g))

// 0 when every op of `groups` (OPS_GROUP bits) maps to one of the n tests; else 1, each gap named.
static inline int ops_coverage_check(const char *file, ops_test_map test_of, unsigned groups,
                                     const struct CMUnitTest *tests, size_t n) {
    int gaps = 0, covered = 0;
    for (int k = 0; k < ACA_OP_COUNT; k++) {
        aca_op op = (aca_op)k;
        if (!(groups & OPS_GROUP(aca_op_group_of(op)))) continue;
        CMUnitTestFunction f = test_of(op);
        size_t i = 0;
        while (f && i < n && tests[i].test_func != f) i++;
        if (f && i < n) {
            covered++;
            continue;
        }
        fprintf(stderr, "%s: op '%s' (%s) %s\n", file, aca_op_name(op), aca_op_group_name(aca_op_group_of(op)),
                f ? "maps to a test this file does not run" : "has no test comparing it");
        gaps++;
    }
    if (!gaps) printf("%s: each of the %d ops it covers has a test\n", file, covered);
    return gaps != 0;
}

// ---- a backend with an empty slot is refused at creation (aca_backend_checked) ----
typedef struct {
    const char *backend; // the table that gets the hole: ops->name
    aca_op op;           // the slot cleared
    aca_ops holed;       // the copy handed to the backend
} ops_hole;

static inline void ops_clear_slot(aca_ops *o, aca_op op) {
    switch (op) {
#define ACA_OP(group, ret, slot, params)                                                                \
    case ACA_OP_##slot: o->slot = NULL; break;
#include "aca/ops_list.h"
#undef ACA_OP
    }
}

static inline const aca_ops *ops_punch_hole(const aca_ops *ops, void *arg) {
    ops_hole *h = arg;
    if (strcmp(ops->name, h->backend)) return ops;
    h->holed = *ops;
    ops_clear_slot(&h->holed, h->op);
    return &h->holed;
}

// create() once per op with that op's slot cleared in `backend`'s table: each creation must fail,
// naming the backend and the op; with no hole it must succeed.
static inline void ops_check_refusals(const char *backend, aca_backend *(*create)(aca_err *e)) {
    ops_hole h = {backend, ACA_OP_destroy, {0}};
    aca_err e = {0};
    for (int k = 0; k < ACA_OP_COUNT; k++) {
        h.op = (aca_op)k;
        aca_backend_set_ops_hook(ops_punch_hole, &h);
        aca_backend *be = create(&e);
        aca_backend_set_ops_hook(NULL, NULL);
        char want[96];
        snprintf(want, sizeof want, "'%s'", aca_op_name(h.op));
        if (be || !strstr(e.msg, backend) || !strstr(e.msg, want)) {
            print_error("%s backend without '%s': %s (message '%s')\n", backend, aca_op_name(h.op),
                        be ? "created" : "refused without naming both", e.msg);
            aca_backend_destroy(be);
            fail();
        }
    }
    printf("ok   %s backend: each of its %d slots left empty in turn is refused at creation, e.g. %s\n", backend,
           ACA_OP_COUNT, e.msg);
    aca_backend *be = create(&e);
    assert_non_null(be);
    aca_backend_destroy(be);
}

#endif
