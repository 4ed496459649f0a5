// sysinfo: what a run records about where and when it ran: the clock, the process's peak memory
// and the build's git revision.
#ifndef ACA_SYSINFO_H
#define ACA_SYSINFO_H

#include <stddef.h>

double time_now(void); // monotonic seconds
// ISO-8601 UTC timestamp into out (>= 21 bytes).
void time_iso8601(char *out, size_t n);
// Peak resident set size of this process in bytes (0 if unknown).
size_t mem_peak_rss(void);
// Git revision of the build (compile-time, the Makefile's gitrev.h), or "unknown".
const char *aca_git_revision(void);

#endif
