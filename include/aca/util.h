// util: errors, growable buffers, files (atomic writes), hashing, RNG, logging, timing, options.
// Library functions return 0 on success and -1 on failure after filling an aca_err; only the CLI
// decides to print and exit.
#ifndef ACA_UTIL_H
#define ACA_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ACA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

// ---- errors ------------------------------------------------------------------------------------
typedef enum {
    ACA_ERR_NONE = 0,
    ACA_ERR_IO,      // file missing/unreadable/unwritable
    ACA_ERR_FORMAT,  // corrupt or malformed input (names file and line/field)
    ACA_ERR_VALUE,   // a value out of range / unknown name (spec field, option)
    ACA_ERR_MEMORY,  // allocation failed
    ACA_ERR_DEVICE,  // GPU/backend failure
    ACA_ERR_NUMERIC, // NaN/Inf
    ACA_ERR_REFUSED, // an output that would replace what aca did not write, or an input (outdir.h)
} aca_err_kind;

// Process exit statuses of the command line, by error kind (README "Guarantees").
enum {
    ACA_EXIT_OK = 0,
    ACA_EXIT_FAIL = 1,    // a failure of no kind below
    ACA_EXIT_USAGE = 2,   // unknown option, missing or malformed option value, options that do not go together
    ACA_EXIT_IO = 3,      // ACA_ERR_IO
    ACA_EXIT_FORMAT = 4,  // ACA_ERR_FORMAT
    ACA_EXIT_VALUE = 5,   // ACA_ERR_VALUE
    ACA_EXIT_MEMORY = 6,  // ACA_ERR_MEMORY, and host allocation failures (xmalloc)
    ACA_EXIT_DEVICE = 7,  // ACA_ERR_DEVICE
    ACA_EXIT_NUMERIC = 8, // ACA_ERR_NUMERIC
    ACA_EXIT_REFUSED = 9, // ACA_ERR_REFUSED
    ACA_EXIT_SIGNAL = 128, // + the signal number: interrupted, temporaries removed (outdir.h)
};
int aca_exit_status(aca_err_kind kind);

typedef struct {
    aca_err_kind kind;
    char msg[1024];
} aca_err;

// Fills e (if non-NULL) and returns -1, so callers can `return aca_errf(e, ...)`.
int aca_errf(aca_err *e, aca_err_kind kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// Prefixes an existing message: "context: old message".
int aca_err_prefix(aca_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// Aborting allocation helpers (out of host memory is not a user-recoverable condition here).
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

// ---- growable byte buffer ----------------------------------------------------------------------
typedef struct {
    char *data; // always NUL-terminated when non-NULL
    size_t len;
    size_t cap;
} aca_buf;

void buf_reserve(aca_buf *b, size_t extra);
void buf_append(aca_buf *b, const void *p, size_t n);
void buf_puts(aca_buf *b, const char *s);
void buf_putc(aca_buf *b, char c);
void buf_printf(aca_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_clear(aca_buf *b);
void buf_free(aca_buf *b);
// Appends s as a JSON string literal (with quotes and escapes); s must be valid UTF-8.
void buf_json_str(aca_buf *b, const char *s, size_t n);

// ---- files -------------------------------------------------------------------------------------
// Reads a whole file; out->data is NUL-terminated.
int file_read_all(const char *path, aca_buf *out, aca_err *e);
// Writes data to path atomically (a temporary beside it, see outdir.h, then rename).
int file_write_atomic(const char *path, const void *data, size_t n, aca_err *e);
int file_exists(const char *path);
// mkdir -p
int dir_make(const char *path, aca_err *e);
// Joins a directory and a file name into a new string.
char *path_join(const char *dir, const char *name);

// Atomic writer: write through f, then commit (fsync+rename) or abort (unlink the temp).  The
// temporary is created exclusively and registered for removal on a signal (outdir.h).
typedef struct {
    FILE *f;
    char *path;
    char *tmp;
    int slot; // its registry slot (outdir.c)
} aca_atomic;
int atomic_open(aca_atomic *a, const char *path, aca_err *e);
int atomic_commit(aca_atomic *a, aca_err *e);
void atomic_abort(aca_atomic *a);

// Directory outputs are swapped in whole by outdir_begin/outdir_commit (outdir.h).
int dir_remove_recursive(const char *path);

// ---- hashing -----------------------------------------------------------------------------------
uint64_t hash_fnv1a64(const void *p, size_t n, uint64_t h); // start with h = ACA_FNV_SEED

// ---- UTF-8 ----
// Writes cp (a scalar value) as 1-4 bytes at d; returns the byte count.
size_t utf8_encode(char *d, uint32_t cp);
// Decodes one sequence at s (n >= 1 bytes left) into *cp; returns its length, or 0 when invalid
// (truncated, overlong, surrogate, above U+10FFFF).
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
#define ACA_FNV_SEED 0xcbf29ce484222325ULL

typedef struct {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t block[64];
    size_t fill;
} aca_sha256;
void sha256_init(aca_sha256 *s);
void sha256_update(aca_sha256 *s, const void *p, size_t n);
void sha256_final(aca_sha256 *s, uint8_t out[32]);
void sha256_hex(const void *p, size_t n, char out[65]);
int sha256_file_hex(const char *path, char out[65], aca_err *e);

// ---- random numbers ----------------------------------------------------------------------------
// xoshiro256** seeded through splitmix64: every random choice on the host comes from one of these,
// seeded from the run's seed (and a stream tag), so runs are reproducible.
typedef struct {
    uint64_t s[4];
} aca_rng;
void rng_seed(aca_rng *r, uint64_t seed, uint64_t stream);
uint64_t rng_u64(aca_rng *r);
uint64_t rng_below(aca_rng *r, uint64_t n); // uniform in [0, n), unbiased
double rng_uniform(aca_rng *r);             // [0, 1)
double rng_normal(aca_rng *r);              // standard normal (Box-Muller)
void rng_shuffle_u32(aca_rng *r, uint32_t *a, size_t n);

// ---- logging / progress / time -----------------------------------------------------------------
extern int aca_log_level; // 0 quiet, 1 info (default), 2 verbose
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_verbose(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double time_now(void); // monotonic seconds
// Peak resident set size of this process in bytes (0 if unknown).
size_t mem_peak_rss(void);
// ISO-8601 UTC timestamp into out (>= 21 bytes).
void time_iso8601(char *out, size_t n);
// Git revision of the build (compile-time), or "unknown".
const char *aca_git_revision(void);

// ---- command-line options ----------------------------------------------------------------------
// A table-driven parser: every option is declared once with its help text; unknown options,
// missing values and malformed numbers are reported naming the option.
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

#endif
