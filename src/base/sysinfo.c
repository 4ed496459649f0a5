// sysinfo: clock, peak memory, git revision (include/aca/sysinfo.h).  The Makefile compiles this
// file with -include gitrev.h, which defines ACA_GIT_REV.
#include "aca/sysinfo.h"

#include <sys/resource.h>
#include <time.h>

double time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

size_t mem_peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (size_t)ru.ru_maxrss * 1024; // Linux reports KiB
}

void time_iso8601(char *out, size_t n) {
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

#ifndef ACA_GIT_REV
#define ACA_GIT_REV "unknown"
#endif
const char *aca_git_revision(void) { return ACA_GIT_REV; }
