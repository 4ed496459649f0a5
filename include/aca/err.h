// err: the error contract.  Library functions return 0 on success and -1 on failure after filling
// an aca_err (a kind, and a message that names the file and line or field, or the option); only the
// CLI decides to print and exit, with the status its kind maps to (aca_exit_status).
#ifndef ACA_ERR_H
#define ACA_ERR_H

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
    ACA_EXIT_SIGNAL = 128, // + the signal number: interrupted, temporaries removed (tmp.h)
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

#endif
