// opt: command-line options and the number parsers they use.  A table-driven parser: every option
// is declared once with its help text; unknown options, missing values and malformed numbers are
// reported naming the option.
#ifndef ACA_OPT_H
#define ACA_OPT_H

#include <stdint.h>
#include <stdio.h>

#include "aca/err.h"

typedef enum {
    OPT_FLAG,   // int*, set to 1
    OPT_STR,    // const char**
    OPT_INT,    // long*
    OPT_DOUBLE, // double*
    OPT_U64,    // uint64_t*
} aca_opt_kind;

typedef struct {
    const char *name; // "--out"
    aca_opt_kind kind;
    void *dst;
    const char *metavar; // "FILE"; NULL for flags
    const char *help;
    int required;
    int seen; // set by the parser
} aca_opt;

// Parses argv[start..argc). Positional arguments are collected into pos (at most max_pos).
// Returns 0 on success, 1 if --help was asked (usage printed to stdout), -1 on error (e filled).
int opt_parse(aca_opt *opts, int nopts, int argc, char **argv, int start, const char **pos,
              int max_pos, int *npos, const char *usage, aca_err *e);
void opt_print_help(FILE *f, const char *usage, const aca_opt *opts, int nopts);

// Parses a whole decimal number / float with range checking; names `what` in the error.
int parse_long(const char *s, long *out, const char *what, aca_err *e);
int parse_double(const char *s, double *out, const char *what, aca_err *e);
// A whole number >= 0 (a seed): "<what>: expected a non-negative whole number, got '<s>'" otherwise.
int parse_u64(const char *s, uint64_t *out, const char *what, aca_err *e);

#endif
