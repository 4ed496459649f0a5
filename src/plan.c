// The statistical planner: lower bounds on a collective's success (see include/aca/plan.h for the
// model, the formulas and their source).
#include "aca/plan.h"

#include <math.h>
#include <string.h>

static const char *const STRATEGY_NAMES[PLAN_N_STRATEGIES] = {"feature-label", "feature-only", "unplant", "erase"};

const char *plan_strategy_name(plan_strategy s) {
    return (unsigned)s < PLAN_N_STRATEGIES ? STRATEGY_NAMES[s] : "?";
}

static const char *const KIND_NAMES[PLAN_N_BOUNDS] = {"conservative", "paper"};

const char *plan_bound_kind_name(plan_bound_kind k) { return (unsigned)k < PLAN_N_BOUNDS ? KIND_NAMES[k] : "?"; }

int plan_bound_kind_parse(const char *s) {
    for (int k = 0; k < PLAN_N_BOUNDS; k++)
        if (!strcmp(s, KIND_NAMES[k])) return k;
    return -1;
}

// [strategy][kind]: which formula plan_eval computes (see plan.h).
static const char *const FORMULAS[PLAN_N_STRATEGIES][PLAN_N_BOUNDS] = {
    {"paper", "paper"}, {"conservative", "paper"}, {"conservative", "paper"}, {"aca-own", NULL}};

const char *plan_formula(plan_strategy s, plan_bound_kind k) {
    return (unsigned)s < PLAN_N_STRATEGIES && (unsigned)k < PLAN_N_BOUNDS ? FORMULAS[s][k] : NULL;
}

void plan_params_default(plan_params *pp) {
    memset(pp, 0, sizeof *pp);
    pp->delta = 0.05, pp->kind = PLAN_BOUND_CONSERVATIVE;
}

void plan_default_sizes(size_t n_docs, long *N, long *n_test) {
    size_t tr = 20000, te = 5000;
    if (n_docs > 0) corpus_split_default(n_docs, &tr, &te);
    *N = (long)tr, *n_test = (long)te;
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

// Class index of name: in c, or among the 10 resume classes when c is NULL; -1 when absent.
static int class_of(const aca_corpus *c, const char *name) {
    if (c) return corpus_class_index(c, name);
    for (int k = 0; k < 10; k++)
        if (class_name_equal(ACA_RESUME_CLASSES[k], name)) return k;
    return -1;
}

// Statistics without a corpus: 10 equally frequent classes, 1000 documents each, no signal carrier.
static void stats_uniform10(int target, plan_stats *st) {
    memset(st, 0, sizeof *st);
    st->n_classes = 10, st->target = target, st->n_docs = 10000;
    for (int y = 0; y < 10; y++) st->label_count[y] = 1000;
}

int plan_collective_inputs(const aca_corpus *c, const char *corpus_name, const aca_collective *k, const char *where,
                           plan_stats *st, double *share, int *uniform, aca_err *e) {
    const char *in = c ? corpus_name : "the resume classes";
    if (c && (c->n_classes < 2 || c->n_classes > PLAN_MAX_CLASSES))
        return aca_errf(e, ACA_ERR_VALUE, "%s: %d classes; the planner needs 2..%d", corpus_name, c->n_classes,
                        PLAN_MAX_CLASSES);
    int target = class_of(c, k->target), seed = k->seed_class ? class_of(c, k->seed_class) : -1;
    if (target < 0) return aca_errf(e, ACA_ERR_VALUE, "%s.target: class '%s' is not in %s", where, k->target, in);
    *uniform = k->sampling == SAMPLING_UNIFORM;
    if (!*uniform && seed < 0)
        return aca_errf(e, ACA_ERR_VALUE, "%s.sampling.seed_class: class '%s' is not in %s", where,
                        k->seed_class ? k->seed_class : "", in);
    if (!c) stats_uniform10(target, st);
    else if (k->signal && k->signal[0]) {
        if (plan_stats_from_corpus(c, k->signal, target, st, e)) return aca_err_prefix(e, "%s", where);
    } else { // no signal: label counts only
        memset(st, 0, sizeof *st);
        st->n_classes = c->n_classes, st->target = target, st->n_docs = c->n;
        for (size_t d = 0; d < c->n; d++) st->label_count[c->docs[d].label]++;
    }
    if (plan_member_shares(st, *uniform ? -1 : seed, k->sampling == SAMPLING_CLASS ? 1.0 : k->p, share, e))
        return aca_err_prefix(e, "%s.sampling", where);
    return 0;
}

static int check_params(const plan_params *pp, long n, long N, aca_err *e) {
    if (!(pp->delta > 0 && pp->delta < 1)) return aca_errf(e, ACA_ERR_VALUE, "delta = %g: must be in (0, 1)", pp->delta);
    if (!(pp->eps_subopt >= 0 && pp->eps_subopt < 1))
        return aca_errf(e, ACA_ERR_VALUE, "eps_subopt = %g: must be in [0, 1)", pp->eps_subopt);
    if (pp->n_test < 0) return aca_errf(e, ACA_ERR_VALUE, "n_test = %ld: must be >= 0", pp->n_test);
    if ((unsigned)pp->kind >= PLAN_N_BOUNDS) return aca_errf(e, ACA_ERR_VALUE, "kind = %d: not a bound kind", (int)pp->kind);
    if (pp->n_e < 0) return aca_errf(e, ACA_ERR_VALUE, "n_e = %ld: must be >= 1 (or 0: the best split)", pp->n_e);
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
    plan_bound_kind kind;
    long n, N;        // collective, platform
    double pstar, c;  // the signal cell's clean frequencies
} bound_ctx;

static double R(const bound_ctx *b, double k) { return plan_radius(b->dt, k); }

// The union bound's number of events: 2 + 2|X~| + 2|X~||Y| (planting, erasing, conservative
// unplanting); the paper code's 2 + 6|X~| for its unplanting.
static double delta_events(plan_strategy s, plan_bound_kind kind, int K) {
    if (s == PLAN_UNPLANT && kind == PLAN_BOUND_PAPER) return 2 + 6.0;
    double cells = s == PLAN_ERASE ? K : 1;
    return 2 + 2 * cells + 2 * cells * K;
}

// The planting margin when the collective puts `mass` (its share at (signal, y*)) in the cell.
static double margin_plant(const bound_ctx *b, double mass) {
    double nd = (double)b->n, Nd = (double)b->N;
    return nd / Nd * (mass - 2 * R(b, nd)) - (Nd - nd) / Nd * (b->c - b->pstar + 2 * R(b, nd) + 2 * R(b, Nd - nd)) - b->thr;
}

// The unplanting margin for a split n_e (n_p = n - n_e planters), in the kind's formula.
static double margin_unplant(const bound_ctx *b, long n_e) {
    double Nd = (double)b->N, nd = (double)b->n, np = (double)(b->n - n_e), gap = b->pstar - b->c;
    if (b->kind == PLAN_BOUND_PAPER)
        return nd / Nd * (1 - 2 * R(b, nd)) - (Nd - nd) / Nd * (gap + R(b, nd) + R(b, np) + 2 * R(b, Nd - nd)) - b->thr;
    return np / Nd * (1 - 2 * R(b, np)) - (Nd - np) / Nd * (gap + R(b, np) + R(b, (double)n_e) + 2 * R(b, Nd - np)) -
           b->thr;
}

// argmax over n_e in [1, n-1] of the unplanting margin: a full scan up to 20000 candidates, else a
// grid (log- and linearly spaced) refined around its best point down to single integers.
static long best_split(const bound_ctx *b, double *best) {
    long lo = 1, hi = b->n - 1, arg = 1;
    *best = -INFINITY;
    if (hi - lo + 1 <= 20000) {
        for (long k = lo; k <= hi; k++) {
            double m = margin_unplant(b, k);
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
            double m = margin_unplant(b, k);
            if (m > *best) *best = m, arg = k;
        }
    }
    long span = (hi - lo) / 256 + 2;
    while (span > 0) {
        long a = arg - span < lo ? lo : arg - span, z = arg + span > hi ? hi : arg + span;
        long step = span / 64 > 1 ? span / 64 : 1;
        for (long k = a; k <= z; k += step) {
            double m = margin_unplant(b, k);
            if (m > *best) *best = m, arg = k;
        }
        if (step == 1) break;
        span = step * 2;
    }
    return arg;
}

// Feature-only's k: natural signal carriers among the non-target members, largest label.
static double natural_carriers(const plan_stats *st, const double *share) {
    double k = 0;
    for (int y = 0; y < st->n_classes; y++) {
        if (y == st->target || st->label_count[y] == 0) continue;
        double kk = share[y] * (st->signal_label_count[y] / (double)st->label_count[y]);
        if (kk > k) k = kk;
    }
    return k;
}

// Erasing: every class cell's margin; returns the success mass of the cells won.
static double eval_erase(const bound_ctx *b, const plan_stats *st, const double *share, plan_bound *out) {
    double M = (double)st->n_docs, nd = (double)b->n, Nd = (double)b->N, won = 0, big = -1;
    double slack = 2 * R(b, nd) + 2 * R(b, Nd - nd);
    out->margin = -INFINITY, out->label = -1;
    for (int y = 0; y < st->n_classes; y++) {
        double pi = st->label_count[y] / M, a = st->signal_label_count[y] / M;
        double m = nd / Nd * (share[y] - 2 * R(b, nd)) - (Nd - nd) / Nd * (-a + slack) - b->thr;
        if (m > 0) won += pi, out->cells_won++;
        if (pi > big) big = pi, out->margin = m;
    }
    return won;
}

// Unplanting: the split (given or best) and its margin; returns the success mass.
static double eval_unplant(const bound_ctx *b, long n_e, int yhat, plan_bound *out) {
    if (n_e > 0) out->n_e = n_e, out->margin = margin_unplant(b, n_e);
    else out->n_e = best_split(b, &out->margin);
    out->label = yhat;
    if (!(out->margin > 0)) return 0;
    return b->kind == PLAN_BOUND_PAPER ? (double)(b->n - out->n_e) / (double)b->n : 1;
}

int plan_eval(plan_strategy s, const plan_stats *st, const double *member_share, const plan_params *pp, long n,
              long N, plan_bound *out, aca_err *e) {
    if ((unsigned)s >= PLAN_N_STRATEGIES) return aca_errf(e, ACA_ERR_VALUE, "strategy %d unknown", (int)s);
    if (check_stats(st, e) || check_params(pp, n, N, e)) return -1;
    if (!plan_formula(s, pp->kind))
        return aca_errf(e, ACA_ERR_VALUE, "kind = %s: the paper's code has no %s bound (aca's own: conservative)",
                        plan_bound_kind_name(pp->kind), plan_strategy_name(s));
    if (s == PLAN_UNPLANT && n < 2) return aca_errf(e, ACA_ERR_VALUE, "n = %ld: unplanting needs n >= 2 (estimators and planters)", n);
    if (s == PLAN_UNPLANT && pp->n_e >= n)
        return aca_errf(e, ACA_ERR_VALUE, "n_e = %ld: leaves no planter among n = %ld members (n_e must be <= %ld)", pp->n_e,
                        n, n - 1);
    double share_buf[PLAN_MAX_CLASSES];
    if (!member_share) {
        plan_member_shares(st, -1, 0, share_buf, NULL);
        member_share = share_buf;
    }
    bound_ctx b = {pp->delta / delta_events(s, pp->kind, st->n_classes), pp->eps_subopt / (1 - pp->eps_subopt), pp->kind,
                   n, N, 0, 0};
    int yhat;
    signal_cell(st, &b.pstar, &b.c, &yhat);
    memset(out, 0, sizeof *out);
    out->dt = b.dt;
    double won = 0; // success mass of the cells won
    if (s == PLAN_ERASE) won = eval_erase(&b, st, member_share, out);
    else if (s == PLAN_UNPLANT) won = eval_unplant(&b, pp->n_e, yhat, out);
    else {
        double mass = s == PLAN_FEATURE_LABEL ? 1 : member_share[st->target];
        if (s == PLAN_FEATURE_ONLY && pp->kind == PLAN_BOUND_CONSERVATIVE) mass -= natural_carriers(st, member_share);
        out->margin = margin_plant(&b, mass), out->label = st->target;
        won = out->margin > 0;
    }
    if (s != PLAN_ERASE) out->cells_won = out->margin > 0;
    out->bound = won - R(&b, (double)n) - (pp->n_test > 0 ? R(&b, (double)pp->n_test) : 0);
    return 0;
}

long plan_n_floor(plan_strategy s, const plan_params *pp) {
    return s != PLAN_UNPLANT ? 1 : pp->n_e > 0 ? pp->n_e + 1 : 2;
}

int plan_min_n(plan_strategy s, const plan_stats *st, const double *member_share, const plan_params *pp, long N,
               double s_min, long n_max, long *n_min, plan_bound *at, aca_err *e) {
    if (!(s_min > 0 && s_min <= 1)) return aca_errf(e, ACA_ERR_VALUE, "success = %g: the required success must be in (0, 1]", s_min);
    long lo = plan_n_floor(s, pp);
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
