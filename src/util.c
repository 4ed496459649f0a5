// util: errors, buffers, files, hashing, RNG, logging, options (see include/aca/util.h).
#include "aca/util.h"

#include "aca/outdir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

// ---- errors ------------------------------------------------------------------------------------
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
    return (unsigned)kind < ACA_ARRAY_LEN(status) ? status[kind] : ACA_EXIT_FAIL;
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

static _Noreturn void oom(size_t n) {
    fprintf(stderr, "aca: out of host memory (asked for %zu bytes)\n", n);
    exit(ACA_EXIT_MEMORY);
}
void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}
void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) oom(n * size);
    return p;
}
void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}
char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = xmalloc(n);
    memcpy(d, s, n);
    return d;
}

// ---- buffers -----------------------------------------------------------------------------------
void buf_reserve(aca_buf *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
}
void buf_append(aca_buf *b, const void *p, size_t n) {
    buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}
void buf_puts(aca_buf *b, const char *s) { buf_append(b, s, strlen(s)); }
void buf_putc(aca_buf *b, char c) { buf_append(b, &c, 1); }
void buf_printf(aca_buf *b, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    b->len += (size_t)n;
}
void buf_clear(aca_buf *b) {
    b->len = 0;
    if (b->data) b->data[0] = 0;
}
void buf_free(aca_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
void buf_json_str(aca_buf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    buf_reserve(b, n + 2);
    buf_putc(b, '"');
    size_t run = 0; // start of the current run of bytes that need no escape
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        default: {
            char u[7] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15], 0};
            buf_puts(b, u);
        }
        }
    }
    buf_append(b, s + run, n - run);
    buf_putc(b, '"');
}

// ---- files -------------------------------------------------------------------------------------
int file_read_all(const char *path, aca_buf *out, aca_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return aca_errf(e, ACA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    buf_clear(out);
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
        fclose(f);
        return aca_errf(e, ACA_ERR_IO, "%s: is a directory, expected a file", path);
    }
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0) buf_reserve(out, (size_t)st.st_size);
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_append(out, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return aca_errf(e, ACA_ERR_IO, "%s: read error", path);
    if (!out->data) buf_reserve(out, 0), out->data[0] = 0;
    return 0;
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

char *path_join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = xmalloc(a + b + 2);
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

int dir_make(const char *path, aca_err *e) {
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = 0;
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            int err = errno;
            free(p);
            return aca_errf(e, ACA_ERR_IO, "%s: cannot create directory: %s", path, strerror(err));
        }
        *s = '/';
    }
    int rc = mkdir(p, 0777);
    int err = errno;
    free(p);
    if (rc != 0 && err != EEXIST)
        return aca_errf(e, ACA_ERR_IO, "%s: cannot create directory: %s", path, strerror(err));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return aca_errf(e, ACA_ERR_IO, "%s: exists and is not a directory", path);
    return 0;
}

int atomic_open(aca_atomic *a, const char *path, aca_err *e) {
    memset(a, 0, sizeof *a);
    aca_tmp t;
    int fd = -1;
    if (tmp_create(&t, path, 0, &fd, e)) return -1;
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int err = errno;
        close(fd);
        tmp_remove(&t);
        return aca_errf(e, ACA_ERR_IO, "%s: cannot write: %s", path, strerror(err));
    }
    a->tmp = t.path, a->slot = t.slot;
    a->path = xstrdup(path);
    return 0;
}

int atomic_commit(aca_atomic *a, aca_err *e) {
    int bad = fflush(a->f) != 0 || ferror(a->f);
    if (!bad) fsync(fileno(a->f));
    bad |= fclose(a->f) != 0;
    a->f = NULL;
    aca_tmp t = {a->tmp, a->slot};
    int rc = 0;
    if (bad) {
        tmp_remove(&t);
        rc = aca_errf(e, ACA_ERR_IO, "%s: write failed (disk full?)", a->path);
    } else if (rename(a->tmp, a->path) != 0) {
        int err = errno;
        tmp_remove(&t);
        rc = aca_errf(e, ACA_ERR_IO, "%s: cannot rename into place: %s", a->path, strerror(err));
    } else {
        tmp_forget(&t);
    }
    free(a->path);
    a->tmp = a->path = NULL;
    return rc;
}

void atomic_abort(aca_atomic *a) {
    if (a->f) fclose(a->f);
    aca_tmp t = {a->tmp, a->slot};
    if (a->tmp) tmp_remove(&t);
    free(a->path);
    memset(a, 0, sizeof *a);
}

int file_write_atomic(const char *path, const void *data, size_t n, aca_err *e) {
    aca_atomic a;
    if (atomic_open(&a, path, e)) return -1;
    if (n && fwrite(data, 1, n, a.f) != n) {
        atomic_abort(&a);
        return aca_errf(e, ACA_ERR_IO, "%s: write failed", path);
    }
    return atomic_commit(&a, e);
}

int dir_remove_recursive(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode)) return unlink(path);
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        char *p = path_join(path, de->d_name);
        rc |= dir_remove_recursive(p);
        free(p);
    }
    closedir(d);
    return rc | rmdir(path);
}

// ---- hashing -----------------------------------------------------------------------------------
// ---- UTF-8 -------------------------------------------------------------------------------------
size_t utf8_encode(char *d, uint32_t cp) {
    if (cp < 0x80) return d[0] = (char)cp, 1;
    if (cp < 0x800) return d[0] = (char)(0xC0 | cp >> 6), d[1] = (char)(0x80 | (cp & 63)), 2;
    if (cp < 0x10000)
        return d[0] = (char)(0xE0 | cp >> 12), d[1] = (char)(0x80 | (cp >> 6 & 63)), d[2] = (char)(0x80 | (cp & 63)), 3;
    d[0] = (char)(0xF0 | cp >> 18), d[1] = (char)(0x80 | (cp >> 12 & 63));
    d[2] = (char)(0x80 | (cp >> 6 & 63)), d[3] = (char)(0x80 | (cp & 63));
    return 4;
}

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned char c = s[0];
    if (c < 0x80) return *cp = c, 1;
    size_t k;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) k = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) k = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) k = 4, v = c & 0x07, min = 0x10000;
    else return 0;
    if (k > n) return 0;
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = v << 6 | (s[i] & 63);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return k;
}

uint64_t hash_fnv1a64(const void *p, size_t n, uint64_t h) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    return h;
}

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
static void sha256_block(aca_sha256 *s, const uint8_t *p) {
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K256[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
    s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

void sha256_init(aca_sha256 *s) {
    static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, h0, sizeof h0);
    s->nbytes = 0;
    s->fill = 0;
}

void sha256_update(aca_sha256 *s, const void *data, size_t n) {
    const uint8_t *p = data;
    s->nbytes += n;
    while (n) {
        size_t k = 64 - s->fill;
        if (k > n) k = n;
        memcpy(s->block + s->fill, p, k);
        s->fill += k, p += k, n -= k;
        if (s->fill == 64) sha256_block(s, s->block), s->fill = 0;
    }
}

void sha256_final(aca_sha256 *s, uint8_t out[32]) {
    uint64_t bits = s->nbytes * 8;
    uint8_t pad = 0x80;
    sha256_update(s, &pad, 1);
    pad = 0;
    while (s->fill != 56) sha256_update(s, &pad, 1);
    uint8_t len[8];
    for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
    sha256_update(s, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (uint8_t)(s->h[i] >> 24), out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
        out[4 * i + 2] = (uint8_t)(s->h[i] >> 8), out[4 * i + 3] = (uint8_t)s->h[i];
    }
}

static void hex32(const uint8_t d[32], char out[65]) {
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) out[2 * i] = hex[d[i] >> 4], out[2 * i + 1] = hex[d[i] & 15];
    out[64] = 0;
}

void sha256_hex(const void *p, size_t n, char out[65]) {
    aca_sha256 s;
    uint8_t d[32];
    sha256_init(&s);
    sha256_update(&s, p, n);
    sha256_final(&s, d);
    hex32(d, out);
}

int sha256_file_hex(const char *path, char out[65], aca_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return aca_errf(e, ACA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    aca_sha256 s;
    sha256_init(&s);
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) sha256_update(&s, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return aca_errf(e, ACA_ERR_IO, "%s: read error", path);
    uint8_t d[32];
    sha256_final(&s, d);
    hex32(d, out);
    return 0;
}

// ---- RNG ---------------------------------------------------------------------------------------
static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(aca_rng *r, uint64_t seed, uint64_t stream) {
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL);
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
uint64_t rng_u64(aca_rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0], s[3] ^= s[1], s[1] ^= s[2], s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

uint64_t rng_below(aca_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;
    do x = rng_u64(r);
    while (x >= lim);
    return x % n;
}

double rng_uniform(aca_rng *r) { return (double)(rng_u64(r) >> 11) * 0x1.0p-53; }

double rng_normal(aca_rng *r) {
    double u1, u2;
    do u1 = rng_uniform(r);
    while (u1 <= 0.0);
    u2 = rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

void rng_shuffle_u32(aca_rng *r, uint32_t *a, size_t n) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)rng_below(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

// ---- logging / time ----------------------------------------------------------------------------
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

// ---- options -----------------------------------------------------------------------------------
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
            case OPT_U64: {
                char *end;
                errno = 0;
                unsigned long long x = strtoull(v, &end, 10);
                if (!*v || *end || errno || v[0] == '-')
                    return aca_errf(e, ACA_ERR_VALUE, "%s: expected a non-negative whole number, got '%s'", o->name, v);
                *(uint64_t *)o->dst = x;
                break;
            }
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
