// The run options on the command line of train, run and demo: their aca_opt entries made from the
// table of include/aca/run_opts.h (the rows a command offers), and the values given, read, checked and
// stored into the setup by the table's one range check, then the rules between them (DP-SGD).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

// The row's help, ending with its default in the command (s) unless the help says it, or it has
// none (a flag, an unset value).
static const char *help_of(const aca_run_opt *r, const aca_run_setup *s, char *out, size_t n) {
    char v[64];
    run_opt_value_text(r, s, v, sizeof v);
    if (r->type == RUN_OPT_FLAG || !*v || strstr(r->help, "(default")) snprintf(out, n, "%s", r->help);
    else snprintf(out, n, "%s (default %s)", r->help, v);
    return out;
}

int cli_run_opts_build(cli_run_opts *c, unsigned command, const aca_run_setup *s, const aca_opt *own, int n_own,
                       aca_opt *opts) {
    int n = 0, nrows;
    const aca_run_opt *t = run_opts_table(&nrows);
    memset(c, 0, sizeof *c);
    for (; n < n_own; n++) opts[n] = own[n];
    for (int i = 0; i < nrows; i++) {
        if (!(t[i].use & command)) continue;
        if (n >= CLI_MAX_OPTS) abort(); // raise CLI_MAX_OPTS
        int k = c->n++, flag = t[i].type == RUN_OPT_FLAG;
        c->row[k] = &t[i];
        c->opt[k] = &opts[n];
        opts[n++] = (aca_opt){t[i].flag, flag ? OPT_FLAG : OPT_STR, flag ? (void *)&c->on[k] : (void *)&c->text[k],
                              flag ? NULL : t[i].meta, help_of(&t[i], s, c->help[k], sizeof c->help[k]), 0, 0};
    }
    return n;
}

int cli_run_opts_seen(const cli_run_opts *c, const char *name) {
    for (int k = 0; k < c->n; k++)
        if (!strcmp(c->row[k]->name, name)) return c->opt[k]->seen;
    return 0;
}

// DP-SGD is on when --dp-sigma or --dp-epsilon was given; the other --dp-* flags need one of them.
// The rules between DP-SGD and the other options are the library's (run_setup_check_dp).
static int dp_opts(const cli_run_opts *c, aca_run_setup *s) {
    aca_train_opts *t = &s->train;
    t->dp = cli_run_opts_seen(c, "dp_sigma") || cli_run_opts_seen(c, "dp_epsilon");
    for (int k = 0; k < c->n && !t->dp; k++)
        if (c->opt[k]->seen && (c->row[k]->use & RUN_OPT_DP))
            return fprintf(stderr, "aca: %s needs --dp-sigma X or --dp-epsilon E (which turn DP-SGD on)\n", c->row[k]->flag), 2;
    aca_err e = {0};
    if (run_setup_check_dp(s, NULL, &e)) return cli_fail(&e), 2;
    return 0;
}

int cli_run_opts_apply(const cli_run_opts *c, aca_run_setup *s) {
    aca_err e = {0};
    for (int k = 0; k < c->n; k++)
        if (c->opt[k]->seen && run_opt_set_text(c->row[k], s, c->text[k], c->row[k]->flag, &e)) {
            cli_fail(&e);
            return 2;
        }
    if (!cli_run_opts_seen(c, "init_seed")) s->init_seed = s->train.seed;
    return dp_opts(c, s);
}
