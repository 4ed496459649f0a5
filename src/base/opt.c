// opt: the table-driven option parser and the number parsers (include/aca/opt.h).
#include "aca/opt.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int parse_long(const char *s, long *out, const char *what, aca_err *e) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno)
        return aca_errf(e, ACA_ERR_VALUE, "%s: expected a whole number, got '%s'", what, s);
    *out = v;
    return 0;
}

int parse_double(const char *s, double *out, const char *what, aca_err *e) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v))
        return aca_errf(e, ACA_ERR_VALUE, "%s: expected a number, got '%s'", what, s);
    *out = v;
    return 0;
}

int parse_u64(const char *s, uint64_t *out, const char *what, aca_err *e) {
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (!*s || *end || errno || s[0] == '-')
        return aca_errf(e, ACA_ERR_VALUE, "%s: expected a non-negative whole number, got '%s'", what, s);
    *out = x;
    return 0;
}

void opt_print_help(FILE *f, const char *usage, const aca_opt *opts, int nopts) {
    fprintf(f, "%s\n", usage);
    if (nopts) fprintf(f, "\noptions:\n");
    for (int i = 0; i < nopts; i++) {
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", opts[i].name, opts[i].metavar ? " " : "",
                 opts[i].metavar ? opts[i].metavar : "");
        fprintf(f, "  %-26s %s%s\n", left, opts[i].help, opts[i].required ? " (required)" : "");
    }
    fprintf(f, "  %-26s %s\n", "--help", "show this help");
}

int opt_parse(aca_opt *opts, int nopts, int argc, char **argv, int start, const char **pos,
              int max_pos, int *npos, const char *usage, aca_err *e) {
    int np = 0;
    for (int i = start; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            opt_print_help(stdout, usage, opts, nopts);
            return 1;
        }
        if (a[0] == '-' && a[1] == '-' && a[2]) {
            const char *eq = strchr(a, '=');
            size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
            aca_opt *o = NULL;
            for (int k = 0; k < nopts; k++)
                if (strlen(opts[k].name) == nlen && !strncmp(opts[k].name, a, nlen)) o = &opts[k];
            if (!o) return aca_errf(e, ACA_ERR_VALUE, "unknown option '%.*s' (see --help)", (int)nlen, a);
            if (o->seen && o->kind != OPT_FLAG) // the last would win silently: a typo, or one of two inputs lost
                return aca_errf(e, ACA_ERR_VALUE, "option %s given twice (give it once)", o->name);
            o->seen = 1;
            if (o->kind == OPT_FLAG) {
                if (eq) return aca_errf(e, ACA_ERR_VALUE, "option %s takes no value", o->name);
                *(int *)o->dst = 1;
                continue;
            }
            const char *v = eq ? eq + 1 : NULL;
            if (!v) {
                if (i + 1 >= argc) return aca_errf(e, ACA_ERR_VALUE, "option %s needs a value (%s)", o->name, o->metavar);
                v = argv[++i];
            }
            switch (o->kind) {
            case OPT_STR: *(const char **)o->dst = v; break;
            case OPT_INT:
                if (parse_long(v, (long *)o->dst, o->name, e)) return -1;
                break;
            case OPT_DOUBLE:
                if (parse_double(v, (double *)o->dst, o->name, e)) return -1;
                break;
            case OPT_U64:
                if (parse_u64(v, (uint64_t *)o->dst, o->name, e)) return -1;
                break;
            case OPT_FLAG: break;
            }
            continue;
        }
        if (np >= max_pos) return aca_errf(e, ACA_ERR_VALUE, "unexpected argument '%s' (see --help)", a);
        pos[np++] = a;
    }
    for (int k = 0; k < nopts; k++)
        if (opts[k].required && !opts[k].seen)
            return aca_errf(e, ACA_ERR_VALUE, "missing required option %s %s (see --help)", opts[k].name,
                            opts[k].metavar ? opts[k].metavar : "");
    if (npos) *npos = np;
    return 0;
}
