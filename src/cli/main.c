// aca: entry point and subcommand table.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <omp.h>

#include "aca/outdir.h"
#include "cli.h"

static int cmd_version(int argc, char **argv) {
    const char *policy = getenv("OMP_WAIT_POLICY");
    printf("aca %s (OpenMP: %d threads, wait policy %s)\n", aca_git_revision(), omp_get_max_threads(),
           policy ? policy : "the runtime's default");
    return 0;
}

static const cli_command COMMANDS[] = {
    {"corpus", cmd_corpus, "synthesize a resume corpus, or print a corpus's statistics"},
    {"forward", cmd_forward, "logits, loss and gradient norms of one batch (dropout off): the parity tool"},
    {"mutate", cmd_mutate, "apply one or more collectives to a corpus (poisoned train set, probes)"},
    {"plan", cmd_plan, "lower-bound each collective's success before acting (Gauthier, Bach & Jordan 2025)"},
    {"privacy", cmd_privacy, "DP-SGD accountant: epsilon for (q, sigma, steps, delta), or sigma for a target epsilon"},
    {"tokenize", cmd_tokenize, "tokenize a JSONL file into a token cache file, or print ids and mask as JSON lines"},
    {"collide", cmd_collide, "signals' token ids in context, collisions between collectives, corpus counts, suggestions"},
    {"train", cmd_train, "fine-tune a classifier on a mutated data directory"},
    {"eval", cmd_eval, "clean accuracy, confusion matrix and each collective's efficacy"},
    {"run", cmd_run, "one experiment: unpoisoned, each collective alone, all joint (mutate, train, eval)"},
    {"grid", cmd_grid, "an experiment grid: alone/joint over participation levels and trials (resumable, Slurm)"},
    {"demo", cmd_demo, "the whole pipeline on the embedded default (synthetic corpus, tiny model, CPU)"},
    {"version", cmd_version, "print the build's git revision"},
};

int cli_fail(const aca_err *e) {
    fprintf(stderr, "aca: %s\n", e->msg[0] ? e->msg : "unknown error");
    return aca_exit_status(e->kind);
}

int cli_check_out(const aca_out *o, const char *const *inputs, int n) {
    aca_err e = {0};
    return out_check(o, inputs, n, &e) ? cli_fail(&e) : 0;
}

int cli_opt_seen(const aca_opt *opts, int n, const char *name) {
    for (int k = 0; k < n; k++)
        if (!strcmp(opts[k].name, name)) return opts[k].seen;
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "usage: aca <command> [options]   (aca <command> --help for each)\n\ncommands:\n");
    for (size_t i = 0; i < ACA_ARRAY_LEN(COMMANDS); i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
}

// OpenMP threads that wait at a barrier sleep instead of spinning, unless the user chose a policy:
// on a shared machine (another process on one of the cores) spinning libgomp threads make two
// threads slower than one (bench/RESULTS.md, "OpenMP wait policy").  libgomp reads the variable once,
// when it is loaded, before main: so set it and start this program again (same pid, same argv).
// If that fails, run on with the runtime's default policy.
static void omp_passive_by_default(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv) {
    omp_passive_by_default(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < ACA_ARRAY_LEN(COMMANDS); i++)
        if (!strcmp(argv[1], COMMANDS[i].name)) {
            tmp_signals_install(COMMANDS[i].name); // a signal removes this process's temporaries
            return COMMANDS[i].fn(argc - 1, argv + 1);
        }
    fprintf(stderr, "aca: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
