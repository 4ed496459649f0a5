// aca privacy: the DP-SGD accountant (include/aca/dp.h) — epsilon for (q, sigma, steps, delta), or the
// smallest sigma for a target epsilon.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "aca/dp.h"
#include "aca/jsonw.h"
#include "cli.h"

static const char USAGE[] =
    "usage: aca privacy --q Q (--sigma S | --epsilon E) --steps K --delta D [--classic] [--json]\n"
    "\n"
    "Privacy of DP-SGD with Poisson sampling rate Q (batch / train size), noise multiplier S and K\n"
    "steps, by the RDP accountant of the sampled Gaussian mechanism (Mironov et al. 2019) and the\n"
    "RDP-to-(eps, delta) conversion of Balle et al. 2020 (--classic: eps = rdp + log(1/delta)/(alpha-1)).\n"
    "With --sigma prints epsilon; with --epsilon prints the smallest sigma that reaches it.  A sigma too\n"
    "small for any finite bound prints epsilon = inf (null in --json).";

int cmd_privacy(int argc, char **argv) {
    double q = 0, sigma = 0, delta = 0, target = 0;
    long steps = 0;
    int classic = 0, json = 0;
    aca_opt opts[] = {
        {"--q", OPT_DOUBLE, &q, "Q", "Poisson sampling rate per step, in (0,1]", 1, 0},
        {"--sigma", OPT_DOUBLE, &sigma, "S", "noise multiplier (noise std / clipping norm), > 0", 0, 0},
        {"--epsilon", OPT_DOUBLE, &target, "E", "target epsilon (> 0): print the sigma that reaches it", 0, 0},
        {"--steps", OPT_INT, &steps, "K", "noisy optimizer steps, >= 1", 1, 0},
        {"--delta", OPT_DOUBLE, &delta, "D", "delta, in (0,1)", 1, 0},
        {"--classic", OPT_FLAG, &classic, NULL, "classic RDP conversion instead of Balle et al. 2020", 0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print one JSON object", 0, 0},
    };
    aca_err e = {0};
    int npos = 0;
    int rc = opt_parse(opts, (int)ACA_ARRAY_LEN(opts), argc, argv, 1, NULL, 0, &npos, USAGE, &e);
    if (rc == 1) return 0;
    if (rc < 0) return fprintf(stderr, "aca: privacy: %s\n", e.msg), 2;
    int by_sigma = cli_opt_seen(opts, (int)ACA_ARRAY_LEN(opts), "--sigma");
    if (by_sigma == cli_opt_seen(opts, (int)ACA_ARRAY_LEN(opts), "--epsilon"))
        return fprintf(stderr, "aca: privacy: give exactly one of --sigma (to get epsilon) and --epsilon (to get sigma)\n"), 2;
    if (steps < 1) return fprintf(stderr, "aca: privacy: option --steps: %ld must be >= 1\n", steps), 2;
    dp_sgm p = {q, by_sigma ? sigma : 1.0, (uint64_t)steps, delta};
    dp_conversion conv = classic ? DP_CONVERT_CLASSIC : DP_CONVERT_BALLE2020;
    dp_result r;
    if (by_sigma ? dp_epsilon(&p, conv, NULL, 0, &r, &e) : dp_sigma_for_epsilon(&p, target, conv, &sigma, &r, &e)) {
        // A bad value's message starts with the parameter's name, which is also the option's.
        if (e.kind == ACA_ERR_VALUE) return fprintf(stderr, "aca: privacy: option --%s\n", e.msg), 2;
        return fprintf(stderr, "aca: privacy: %s\n", e.msg), aca_exit_status(e.kind);
    }
    const char *cname = classic ? "classic" : "balle2020";
    if (json) {
        aca_buf b = {0};
        aca_jsonw w;
        jsonw_init(&w, &b);
        jsonw_obj(&w);
        jsonw_key(&w, "q"), jsonw_num_exact(&w, q);
        jsonw_key(&w, "sigma"), jsonw_num_exact(&w, sigma);
        jsonw_kint(&w, "steps", steps);
        jsonw_key(&w, "delta"), jsonw_num_exact(&w, delta);
        jsonw_key(&w, "epsilon"), jsonw_num_exact(&w, r.epsilon); // null: no finite bound
        jsonw_key(&w, "order"), jsonw_num_exact(&w, r.best_order);
        jsonw_kstr(&w, "conversion", cname);
        jsonw_end(&w);
        printf("%.*s\n", (int)b.len, b.data);
        buf_free(&b);
    } else if (by_sigma && isinf(r.epsilon)) {
        printf("epsilon = inf at delta = %g (q = %g, sigma = %g, steps = %ld): no finite bound, the noise is too small\n",
               delta, q, sigma, steps);
    } else if (by_sigma) {
        char eps[32];
        snprintf(eps, sizeof eps, r.epsilon < 1e6 ? "%.4f" : "%.4g", r.epsilon);
        printf("epsilon = %s at delta = %g (q = %g, sigma = %g, steps = %ld; RDP order %g, %s conversion)\n", eps, delta,
               q, sigma, steps, r.best_order, cname);
    } else {
        printf("sigma = %.4f reaches epsilon = %.4f <= %g at delta = %g (q = %g, steps = %ld; RDP order %g, %s conversion)\n",
               sigma, r.epsilon, target, delta, q, steps, r.best_order, cname);
    }
    return 0;
}
