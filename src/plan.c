// The statistical planner: lower bounds on a collective's success (see include/aca/plan.h for the
// model, the formulas and their source).
#include "aca/plan.h"

#include <math.h>
#include <string.h>

static const char *const STRATEGY_NAMES[PLAN_N_STRATEGIES] = {"feature-label", "feature-only", "unplant", "erase"};

const char *plan_strategy_name(plan_strategy s) {
    return (unsigned)s < PLAN_N_STRATEGIES ? STRATEGY_NAMES[s] : "?";
}

double plan_radius(double delta, double k) {
    if (!(k > 0)) return INFINITY;
    return sqrt(log(1.0 / delta) / (2.0 * k));
}

int plan_stats_from_corpus(const aca_corpus *c, const char *signal, int target, plan_stats *st, aca_err *e) {
    if (c->n_classes < 2 || c->n_classes > PLAN_MAX_CLASSES)
        return aca_errf(e, ACA_ERR_VALUE, "the corpus has %d classes; the planner needs 2..%d", c->n_classes,
                        PLAN_MAX_CLASSES);
    if (target < 0 || target >= c->n_classes) return aca_errf(e, ACA_ERR_VALUE, "target class index %d out of range", target);
    if (!signal || !*signal) return aca_errf(e, ACA_ERR_VALUE, "signal: empty");
    if (c->n == 0) return aca_errf(e, ACA_ERR_VALUE, "the corpus has no documents");
    memset(st, 0, sizeof *st);
    st->n_classes = c->n_classes, st->target = target, st->n_docs = c->n;
    for (size_t i = 0; i < c->n; i++) {
        int y = c->docs[i].label;
        if (y < 0 || y >= c->n_classes) return aca_errf(e, ACA_ERR_FORMAT, "document %zu has label %d out of range", i, y);
        st->label_count[y]++;
        if (memmem(c->docs[i].text, c->docs[i].len, signal, strlen(signal))) st->signal_label_count[y]++;
    }
    return 0;
}

static int check_stats(const plan_stats *st, aca_err *e) {
    if (st->n_classes < 2 || st->n_classes > PLAN_MAX_CLASSES)
        return aca_errf(e, ACA_ERR_VALUE, "stats: n_classes = %d must be in 2..%d", st->n_classes, PLAN_MAX_CLASSES);
    if (st->target < 0 || st->target >= st->n_classes)
        return aca_errf(e, ACA_ERR_VALUE, "stats: target = %d out of range 0..%d", st->target, st->n_classes - 1);
    if (st->n_docs == 0) return aca_errf(e, ACA_ERR_VALUE, "stats: n_docs = 0");
    size_t sum = 0;
    for (int y = 0; y < st->n_classes; y++) {
        if (st->signal_label_count[y] > st->label_count[y])
            return aca_errf(e, ACA_ERR_VALUE, "stats: label %d has more signal carriers than documents", y);
        sum += st->label_count[y];
    }
    if (sum != st->n_docs) return aca_errf(e, ACA_ERR_VALUE, "stats: label counts sum to %zu, not n_docs = %zu", sum, st->n_docs);
    return 0;
}

int plan_member_shares(const plan_stats *st, int seed_class, double p, double *share, aca_err *e) {
    if (check_stats(st, e)) return -1;
    int K = st->n_classes;
    double M = (double)st->n_docs;
    if (seed_class < 0) {
        for (int y = 0; y < K; y++) share[y] = st->label_count[y] / M;
        return 0;
    }
    if (seed_class >= K) return aca_errf(e, ACA_ERR_VALUE, "seed_class index %d out of range", seed_class);
    if (!(p >= 0 && p <= 1)) return aca_errf(e, ACA_ERR_VALUE, "p = %g: must be in [0, 1]", p);
    double rest = M - st->label_count[seed_class];
    for (int y = 0; y < K; y++)
        share[y] = y == seed_class ? p : (rest > 0 ? (1 - p) * st->label_count[y] / rest : 0);
    if (rest == 0) share[seed_class] = 1;
    return 0;
}

static int check_params(const plan_params *pp, long n, long N, aca_err *e) {
    if (!(pp->delta > 0 && pp->delta < 1)) return aca_errf(e, ACA_ERR_VALUE, "delta = %g: must be in (0, 1)", pp->delta);
    if (!(pp->eps_subopt >= 0 && pp->eps_subopt < 1))
        return aca_errf(e, ACA_ERR_VALUE, "eps_subopt = %g: must be in [0, 1)", pp->eps_subopt);
    if (pp->n_test < 0) return aca_errf(e, ACA_ERR_VALUE, "n_test = %ld: must be >= 0", pp->n_test);
    if (N < 2) return aca_errf(e, ACA_ERR_VALUE, "N = %ld: the platform needs at least 2 documents", N);
    if (n < 1 || n >= N) return aca_errf(e, ACA_ERR_VALUE, "n = %ld: the collective size must be in 1..N-1 = %ld", n, N - 1);
    return 0;
}

// Clean joint frequencies of the signal cell: p* = a_{y*}, c = max_{y != y*} a_y at y^.
static void signal_cell(const plan_stats *st, double *pstar, double *c, int *yhat) {
    double M = (double)st->n_docs;
    *pstar = st->signal_label_count[st->target] / M;
    *c = -1, *yhat = -1;
    for (int y = 0; y < st->n_classes; y++) {
        if (y == st->target) continue;
        double a = st->signal_label_count[y] / M;
        if (a > *c) *c = a, *yhat = y;
    }
}

typedef struct {
    double dt, thr;
} bound_ctx;

static double R(const bound_ctx *b, double k) { return plan_radius(b->dt, k); }

// The unplanting margin for a split n_e (n_p = n - n_e planters).
static double margin_unplant(const bound_ctx *b, long n, long n_e, long N, double pstar, double c) {
    double np = (double)(n - n_e), Nd = (double)N;
    return np / Nd * (1 - 2 * R(b, np)) - (Nd - np) / Nd * (pstar - c + R(b, np) + R(b, (double)n_e) + 2 * R(b, Nd - np)) -
           b->thr;
}

// argmax over n_e in [1, n-1] of the unplanting margin: a full scan up to 20000 candidates, else a
// grid (log- and linearly spaced) refined around its best point down to single integers.
static long best_split(const bound_ctx *b, long n, long N, double pstar, double c, double *best) {
    long lo = 1, hi = n - 1, arg = 1;
    *best = -INFINITY;
    if (hi - lo + 1 <= 20000) {
        for (long k = lo; k <= hi; k++) {
            double m = margin_unplant(b, n, k, N, pstar, c);
            if (m > *best) *best = m, arg = k;
        }
        return arg;
    }
    for (int i = 0; i <= 512; i++) {
        long k1 = lo + (long)llround((hi - lo) * (i / 512.0));
        long k2 = (long)llround(exp(log((double)lo) + (log((double)hi) - log((double)lo)) * (i / 512.0)));
        long ks[2] = {k1, k2};
        for (int j = 0; j < 2; j++) {
            long k = ks[j] < lo ? lo : ks[j] > hi ? hi : ks[j];
            double m = margin_unplant(b, n, k, N, pstar, c);
            if (m > *best) *best = m, arg = k;
        }
    }
    long span = (hi - lo) / 256 + 2;
    while (span > 0) {
        long a = arg - span < lo ? lo : arg - span, z = arg + span > hi ? hi : arg + span;
        long step = span / 64 > 1 ? span / 64 : 1;
        for (long k = a; k <= z; k += step) {
            double m = margin_unplant(b, n, k, N, pstar, c);
            if (m > *best) *best = m, arg = k;
        }
        if (step == 1) break;
        span = step * 2;
    }
    return arg;
}

int plan_eval(plan_strategy s, const plan_stats *st, const double *member_share, const plan_params *pp, long n,
              long N, plan_bound *out, aca_err *e) {
    if ((unsigned)s >= PLAN_N_STRATEGIES) return aca_errf(e, ACA_ERR_VALUE, "strategy %d unknown", (int)s);
    if (check_stats(st, e) || check_params(pp, n, N, e)) return -1;
    if (s == PLAN_UNPLANT && n < 2) return aca_errf(e, ACA_ERR_VALUE, "n = %ld: unplanting needs n >= 2 (estimators and planters)", n);
    int K = st->n_classes, ys = st->target;
    double share_buf[PLAN_MAX_CLASSES];
    if (!member_share) {
        plan_member_shares(st, -1, 0, share_buf, NULL);
        member_share = share_buf;
    }
    double M = (double)st->n_docs, Nd = (double)N, nd = (double)n;
    double cells = s == PLAN_ERASE ? K : 1;
    bound_ctx b = {pp->delta / (2 + 2 * cells + 2 * cells * K), pp->eps_subopt / (1 - pp->eps_subopt)};
    double pstar, c;
    int yhat;
    signal_cell(st, &pstar, &c, &yhat);
    double slack_clean = 2 * R(&b, nd) + 2 * R(&b, Nd - nd);
    memset(out, 0, sizeof *out);
    out->dt = b.dt;
    double won = 0; // success mass of the cells won
    switch (s) {
    case PLAN_FEATURE_LABEL:
        out->margin = nd / Nd * (1 - 2 * R(&b, nd)) - (Nd - nd) / Nd * (c - pstar + slack_clean) - b.thr;
        out->label = ys, won = out->margin > 0;
        break;
    case PLAN_FEATURE_ONLY: {
        double k = 0; // natural signal carriers among the non-target members, largest label
        for (int y = 0; y < K; y++) {
            if (y == ys || st->label_count[y] == 0) continue;
            double kk = member_share[y] * (st->signal_label_count[y] / (double)st->label_count[y]);
            if (kk > k) k = kk;
        }
        out->margin = nd / Nd * (member_share[ys] - k - 2 * R(&b, nd)) - (Nd - nd) / Nd * (c - pstar + slack_clean) - b.thr;
        out->label = ys, won = out->margin > 0;
        break;
    }
    case PLAN_UNPLANT:
        out->n_e = best_split(&b, n, N, pstar, c, &out->margin);
        out->label = yhat, won = out->margin > 0;
        break;
    case PLAN_ERASE: {
        double worst_big = -INFINITY, big = -1;
        for (int y = 0; y < K; y++) {
            double pi = st->label_count[y] / M, a = st->signal_label_count[y] / M;
            double m = nd / Nd * (member_share[y] - 2 * R(&b, nd)) - (Nd - nd) / Nd * (-a + slack_clean) - b.thr;
            if (m > 0) won += pi, out->cells_won++;
            if (pi > big) big = pi, worst_big = m;
        }
        out->margin = worst_big, out->label = -1;
        break;
    }
    default: break;
    }
    if (s != PLAN_ERASE) out->cells_won = won > 0;
    out->bound = won - R(&b, nd) - (pp->n_test > 0 ? R(&b, (double)pp->n_test) : 0);
    return 0;
}

int plan_min_n(plan_strategy s, const plan_stats *st, const double *member_share, const plan_params *pp, long N,
               double s_min, long n_max, long *n_min, plan_bound *at, aca_err *e) {
    if (!(s_min > 0 && s_min <= 1)) return aca_errf(e, ACA_ERR_VALUE, "success = %g: the required success must be in (0, 1]", s_min);
    long lo = s == PLAN_UNPLANT ? 2 : 1;
    if (n_max >= N) n_max = N - 1;
    if (n_max < lo) return aca_errf(e, ACA_ERR_VALUE, "n_max = %ld: must be >= %ld and < N = %ld", n_max, lo, N);
    plan_bound r;
    *n_min = -1;
    if (plan_eval(s, st, member_share, pp, n_max, N, &r, e)) return -1;
    if (r.bound < s_min) {
        if (at) *at = r;
        return 0;
    }
    long hi = n_max; // invariant: bound(hi) >= s_min; bound(lo - 1) < s_min or lo is the floor
    while (lo < hi) {
        long mid = lo + (hi - lo) / 2;
        if (plan_eval(s, st, member_share, pp, mid, N, &r, e)) return -1;
        if (r.bound >= s_min) hi = mid;
        else lo = mid + 1;
    }
    if (plan_eval(s, st, member_share, pp, hi, N, &r, e)) return -1;
    *n_min = hi;
    if (at) *at = r;
    return 0;
}
