// log: progress and warnings on stderr, each line prefixed "aca: ".
#ifndef ACA_LOG_H
#define ACA_LOG_H

extern int aca_log_level; // 0 quiet, 1 info (default), 2 verbose
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2))); // printed at every level
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
