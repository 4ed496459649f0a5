// aca privacy: the DP-SGD accountant (include/aca/dp.h) — epsilon for (q, sigma, steps, delta), or the
// smallest sigma for a target epsilon.
#include <string.h>

#include "aca/dp.h"
#include "cli.h"

static const char USAGE[] =
    "usage: aca privacy --q Q (--sigma S | --epsilon E) --steps K --delta D [--classic] [--json]\n"
    "\n"
    "Privacy of DP-SGD with Poisson sampling rate Q (batch / train size), noise multiplier S and K\n"
    "steps, by the RDP accountant of the sampled Gaussian mechanism (Mironov et al. 2019) and the\n"
    "RDP-to-(eps, delta) conversion of Balle et al. 2020 (--classic: eps = rdp + log(1/delta)/(alpha-1)).\n"
    "With --sigma prints epsilon; with --epsilon prints the smallest sigma that reaches it.";

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
    if (opts[1].seen == opts[2].seen)
        return fprintf(stderr, "aca: privacy: give exactly one of --sigma (to get epsilon) and --epsilon (to get sigma)\n"), 2;
    if (steps < 1) return fprintf(stderr, "aca: privacy: option --steps: %ld must be >= 1\n", steps), 2;
    dp_sgm p = {q, opts[1].seen ? sigma : 1.0, (uint64_t)steps, delta};
    dp_conversion conv = classic ? DP_CONVERT_CLASSIC : DP_CONVERT_BALLE2020;
    dp_result r;
    if (opts[1].seen ? dp_epsilon(&p, conv, NULL, 0, &r, &e) : dp_sigma_for_epsilon(&p, target, conv, &sigma, &r, &e)) {
        // A bad value's message starts with the parameter's name, which is also the option's.
        if (e.kind == ACA_ERR_VALUE) return fprintf(stderr, "aca: privacy: option --%s\n", e.msg), 2;
        return fprintf(stderr, "aca: privacy: %s\n", e.msg), aca_exit_status(e.kind);
    }
    const char *cname = classic ? "classic" : "balle2020";
    if (json)
        printf("{\"q\":%.17g,\"sigma\":%.17g,\"steps\":%ld,\"delta\":%.17g,\"epsilon\":%.17g,\"order\":%.17g,"
               "\"conversion\":\"%s\"}\n",
               q, sigma, steps, delta, r.epsilon, r.best_order, cname);
    else if (opts[1].seen)
        printf("epsilon = %.4f at delta = %g (q = %g, sigma = %g, steps = %ld; RDP order %g, %s conversion)\n", r.epsilon,
               delta, q, sigma, steps, r.best_order, cname);
    else
        printf("sigma = %.4f reaches epsilon = %.4f <= %g at delta = %g (q = %g, steps = %ld; RDP order %g, %s conversion)\n",
               sigma, r.epsilon, target, delta, q, steps, r.best_order, cname);
    return 0;
}
