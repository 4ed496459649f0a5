// RDP accountant for the sampled Gaussian mechanism (see include/aca/dp.h for the method and sources).
//
// One step of DP-SGD with Poisson rate q and noise multiplier sigma has RDP
//   rdp(alpha) = log(A_alpha) / (alpha - 1),
//   A_alpha = E_{z ~ mu0} [ ((1-q) + q mu1(z)/mu0(z))^alpha ],  mu0 = N(0, sigma^2), mu1 = N(1, sigma^2).
// Integer alpha: binomial expansion, A = sum_i C(alpha,i) q^i (1-q)^(alpha-i) exp((i^2 - i)/(2 sigma^2)).
// Fractional alpha: split the integral at z0 = sigma^2 log(1/q - 1) + 1/2 and expand both halves in
// (generalised) binomial series whose terms carry Gaussian tail factors erfc(.)/2; the series are
// summed until both terms fall below exp(-30), as Mironov et al. (2019, Sec. 3.3) describe.
#include "aca/dp.h"

#include <math.h>

// log(exp(a) + exp(b)) without overflow; -inf is the log of zero.
static double log_add(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    double m = a > b ? a : b;
    return m + log1p(exp(-fabs(a - b)));
}

// log(exp(a) - exp(b)) for a >= b; a difference that rounding made negative counts as zero.
static double log_sub(double a, double b) {
    if (b == -INFINITY) return a;
    if (!(a > b)) return -INFINITY;
    return b + log(expm1(a - b));
}

// log(erfc(x)), accurate where erfc underflows (asymptotic series for large x).
static double log_erfc(double x) {
    if (x < 25.0) return log(erfc(x));
    double x2 = x * x, r = 1.0 / (2.0 * x2);
    // erfc(x) ~ exp(-x^2) / (x sqrt(pi)) * (1 - r + 3 r^2 - 15 r^3 + 105 r^4)
    double s = 1.0 - r + 3.0 * r * r - 15.0 * r * r * r + 105.0 * r * r * r * r;
    return -x2 - log(x) - 0.5 * log(M_PI) + log(s);
}

// (i^2 - i) / (2 sigma^2): the exponent of the Gaussian terms.  0 when i is 0 or 1 even if 2 sigma^2
// underflows to 0 (sigma < ~1e-154), where the division alone would give 0/0 = NaN.
static double gauss_exp(double i, double s2) {
    double k = i * i - i;
    return k == 0 ? 0.0 : k / s2;
}

static double log_A_int(double q, double sigma, int alpha) {
    double la = -INFINITY, lq = log(q), l1q = log1p(-q), s2 = 2.0 * sigma * sigma;
    double lc = 0.0; // log C(alpha, i), updated as C(alpha, i+1) = C(alpha, i) (alpha - i) / (i + 1)
    for (int i = 0; i <= alpha; i++) {
        la = log_add(la, lc + i * lq + (alpha - i) * l1q + gauss_exp(i, s2));
        if (i < alpha) lc += log((double)(alpha - i)) - log(i + 1.0);
    }
    return la;
}

static double log_A_frac(double q, double sigma, double alpha) {
    double la0 = -INFINITY, la1 = -INFINITY, lq = log(q), l1q = log1p(-q), s2 = 2.0 * sigma * sigma;
    double z0 = sigma * sigma * log(1.0 / q - 1.0) + 0.5, rs = M_SQRT2 * sigma;
    double lcoef = 0.0; // log |C(alpha, i)|, C(alpha, 0) = 1
    int sign = 1;
    for (int i = 0; i < 100000; i++) {
        double j = alpha - i;
        double lt0 = lcoef + i * lq + j * l1q, lt1 = lcoef + j * lq + i * l1q;
        double le0 = log(0.5) + log_erfc((i - z0) / rs), le1 = log(0.5) + log_erfc((z0 - j) / rs);
        double ls0 = lt0 + gauss_exp(i, s2) + le0, ls1 = lt1 + gauss_exp(j, s2) + le1;
        if (sign > 0) {
            la0 = log_add(la0, ls0), la1 = log_add(la1, ls1);
        } else {
            la0 = log_sub(la0, ls0), la1 = log_sub(la1, ls1);
        }
        if ((ls0 > ls1 ? ls0 : ls1) < -30.0) break;
        // C(alpha, i+1) = C(alpha, i) (alpha - i) / (i + 1)
        lcoef += log(fabs(alpha - i)) - log(i + 1.0);
        if (alpha - i < 0) sign = -sign;
    }
    return log_add(la0, la1);
}

static int check_q_sigma(double q, double sigma, aca_err *e) {
    if (!(q > 0 && q <= 1)) return aca_errf(e, ACA_ERR_VALUE, "q = %g: the sampling rate must be in (0, 1]", q);
    if (!(sigma > 0) || !isfinite(sigma))
        return aca_errf(e, ACA_ERR_VALUE, "sigma = %g: the noise multiplier must be > 0 and finite", sigma);
    return 0;
}

static int check_delta(double delta, aca_err *e) {
    if (!(delta > 0 && delta < 1)) return aca_errf(e, ACA_ERR_VALUE, "delta = %g: must be in (0, 1)", delta);
    return 0;
}

int dp_check(const dp_sgm *p, aca_err *e) {
    if (check_q_sigma(p->q, p->sigma, e)) return -1;
    if (p->steps < 1) return aca_errf(e, ACA_ERR_VALUE, "steps = 0: need at least one step");
    return check_delta(p->delta, e);
}

size_t dp_default_orders(double *orders, size_t cap) {
    size_t n = 0;
    for (int x = 1; x < 100 && n < cap; x++) orders[n++] = 1.0 + x / 10.0;
    for (int a = 11; a <= 256 && n < cap; a++) orders[n++] = a;
    return n;
}

int dp_rdp_step(double q, double sigma, double alpha, double *rdp, aca_err *e) {
    if (check_q_sigma(q, sigma, e)) return -1;
    if (!(alpha > 1) || !isfinite(alpha)) return aca_errf(e, ACA_ERR_VALUE, "orders: alpha = %g must be > 1", alpha);
    if (q == 1.0) {
        *rdp = alpha / (2.0 * sigma * sigma);
        return 0;
    }
    double la = (alpha == floor(alpha) && alpha <= 1e6) ? log_A_int(q, sigma, (int)alpha) : log_A_frac(q, sigma, alpha);
    // A sigma so small that exp((i^2 - i) / (2 sigma^2)) overflows: the series' terms are infinite
    // (and the fractional series' alternating signs make inf - inf = NaN).  The RDP is infinite: as
    // sigma -> 0 the sampled mechanism's output has mass where the neighbour's has none.
    if (isnan(la) && isinf(gauss_exp(ceil(alpha), 2.0 * sigma * sigma))) la = INFINITY;
    if (isnan(la)) return aca_errf(e, ACA_ERR_NUMERIC, "RDP of q = %g, sigma = %g at alpha = %g is NaN", q, sigma, alpha);
    *rdp = la / (alpha - 1.0);
    return 0;
}

static double convert(double rdp, double alpha, double delta, dp_conversion conv) {
    if (conv == DP_CONVERT_CLASSIC) return rdp + log(1.0 / delta) / (alpha - 1.0);
    return rdp - (log(delta) + log(alpha)) / (alpha - 1.0) + log((alpha - 1.0) / alpha);
}

int dp_epsilon(const dp_sgm *p, dp_conversion conv, const double *orders, size_t n_orders, dp_result *out,
               aca_err *e) {
    double def[DP_MAX_ORDERS];
    if (dp_check(p, e)) return -1;
    if (!orders) orders = def, n_orders = dp_default_orders(def, DP_MAX_ORDERS);
    if (n_orders == 0) return aca_errf(e, ACA_ERR_VALUE, "orders: the list of RDP orders is empty");
    out->epsilon = INFINITY, out->best_order = NAN;
    for (size_t k = 0; k < n_orders; k++) {
        double r;
        if (dp_rdp_step(p->q, p->sigma, orders[k], &r, e)) return -1;
        double eps = convert(r * (double)p->steps, orders[k], p->delta, conv);
        if (!isnan(eps) && eps < out->epsilon) out->epsilon = eps, out->best_order = orders[k];
    }
    if (out->epsilon < 0) out->epsilon = 0; // an RDP bound this small certifies (0, delta)-DP
    return 0;
}

int dp_sigma_for_epsilon(const dp_sgm *p, double target_eps, dp_conversion conv, double *sigma, dp_result *at,
                         aca_err *e) {
    if (!(target_eps > 0) || !isfinite(target_eps))
        return aca_errf(e, ACA_ERR_VALUE, "epsilon = %g: the target must be > 0 and finite", target_eps);
    dp_sgm s = *p;
    s.sigma = 1.0;
    if (dp_check(&s, e)) return -1;
    dp_result r;
    // Epsilon falls as sigma grows: bracket the target, then bisect.
    double lo = 0, hi = 1.0;
    for (;;) {
        s.sigma = hi;
        if (dp_epsilon(&s, conv, NULL, 0, &r, e)) return -1;
        if (r.epsilon <= target_eps) break;
        lo = hi, hi *= 2.0;
        if (hi > 1e6)
            return aca_errf(e, ACA_ERR_VALUE, "epsilon = %g: not reachable with sigma <= 1e6 at q = %g, steps = %llu",
                            target_eps, p->q, (unsigned long long)p->steps);
    }
    if (lo == 0) { // sigma = 1 already suffices: walk down to a sigma that does not
        lo = 0.5;
        for (;;) {
            s.sigma = lo;
            if (dp_epsilon(&s, conv, NULL, 0, &r, e)) return -1;
            if (r.epsilon > target_eps) break;
            hi = lo, lo /= 2.0;
            if (lo < 1e-6) break;
        }
    }
    while (hi - lo > 1e-6 * hi) {
        double mid = 0.5 * (lo + hi);
        s.sigma = mid;
        if (dp_epsilon(&s, conv, NULL, 0, &r, e)) return -1;
        if (r.epsilon <= target_eps) hi = mid;
        else lo = mid;
    }
    s.sigma = hi;
    if (dp_epsilon(&s, conv, NULL, 0, &r, e)) return -1;
    *sigma = hi;
    if (at) *at = r;
    return 0;
}
