// log: lines on stderr by level (include/aca/log.h).
#include "aca/log.h"

#include <stdarg.h>
#include <stdio.h>

int aca_log_level = 1;
static void vlog(const char *tag, const char *fmt, va_list ap) {
    fputs(tag, stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}
void log_info(const char *fmt, ...) {
    if (aca_log_level < 1) return;
    va_list ap;
    va_start(ap, fmt);
    vlog("aca: ", fmt, ap);
    va_end(ap);
}
void log_warn(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog("aca: warning: ", fmt, ap);
    va_end(ap);
}
void log_verbose(const char *fmt, ...) {
    if (aca_log_level < 2) return;
    va_list ap;
    va_start(ap, fmt);
    vlog("aca: ", fmt, ap);
    va_end(ap);
}
