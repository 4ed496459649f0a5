// err: error messages and the exit status of each kind (include/aca/err.h).
#include "aca/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int aca_errf(aca_err *e, aca_err_kind kind, const char *fmt, ...) {
    if (!e) return -1;
    e->kind = kind;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int aca_exit_status(aca_err_kind kind) {
    static const int status[] = {
        [ACA_ERR_NONE] = ACA_EXIT_FAIL,       [ACA_ERR_IO] = ACA_EXIT_IO,           [ACA_ERR_FORMAT] = ACA_EXIT_FORMAT,
        [ACA_ERR_VALUE] = ACA_EXIT_VALUE,     [ACA_ERR_MEMORY] = ACA_EXIT_MEMORY,   [ACA_ERR_DEVICE] = ACA_EXIT_DEVICE,
        [ACA_ERR_NUMERIC] = ACA_EXIT_NUMERIC, [ACA_ERR_REFUSED] = ACA_EXIT_REFUSED,
    };
    return (unsigned)kind < sizeof status / sizeof status[0] ? status[kind] : ACA_EXIT_FAIL;
}

int aca_err_prefix(aca_err *e, const char *fmt, ...) {
    if (!e) return -1;
    char pre[512], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t k = strlen(pre);
    if (k > sizeof e->msg - 3) k = sizeof e->msg - 3;
    memcpy(e->msg, pre, k);
    e->msg[k] = ':', e->msg[k + 1] = ' ';
    size_t rest = sizeof e->msg - k - 3, ol = strlen(old);
    if (ol > rest) ol = rest;
    memcpy(e->msg + k + 2, old, ol);
    e->msg[k + 2 + ol] = 0;
    return -1;
}
