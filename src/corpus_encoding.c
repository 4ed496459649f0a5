// Corpus encodings (see include/aca/corpus.h, --encoding): UTF-8 checked byte by byte, windows-1252
// converted to UTF-8, and the choice between them for --encoding auto.
#include <string.h>

#include "aca/corpus.h"
#include "aca/jsontext.h"
#include "corpus_internal.h"

// windows-1252 0x80..0x9F; 0 marks the five undefined bytes.
static const uint16_t CP1252_HIGH[32] = {
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178};

// Offset of the first invalid byte, or n when all of s is valid UTF-8.
static size_t utf8_first_invalid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        // ASCII fast path, 8 bytes at a time.
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= n) break;
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t k = utf8_decode(p + i, n - i, &cp);
        if (!k) return i;
        i += k;
    }
    return n;
}

static size_t line_of_offset(const char *s, size_t off) {
    size_t line = 1;
    for (const char *p = s; (p = memchr(p, '\n', (size_t)(s + off - p))); p++) line++;
    return line;
}

// Converts windows-1252 bytes to UTF-8 (two passes: size, then fill).
static int cp1252_to_utf8(const char *path, const aca_buf *in, aca_buf *out, aca_err *e) {
    const unsigned char *p = (const unsigned char *)in->data;
    size_t need = 0, line = 1;
    for (size_t i = 0; i < in->len; i++) {
        unsigned char c = p[i];
        if (c == '\n') line++;
        if (c < 0x80) need += 1;
        else if (c < 0xA0) {
            if (!CP1252_HIGH[c - 0x80])
                return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: byte 0x%02X is undefined in windows-1252 (cp1252)", path,
                                line, c);
            need += 3;
        } else need += 2;
    }
    buf_clear(out);
    buf_reserve(out, need);
    char *d = out->data;
    for (size_t i = 0; i < in->len; i++) {
        unsigned char c = p[i];
        if (c < 0x80) *d++ = (char)c;
        else d += utf8_encode(d, c < 0xA0 ? CP1252_HIGH[c - 0x80] : c);
    }
    out->len = need;
    out->data[need] = 0;
    return 0;
}

// Valid multi-byte UTF-8 sequences and invalid bytes (each resynchronized on the next byte) in s.
static void utf8_census(const char *s, size_t n, size_t *multi, size_t *invalid) {
    *multi = *invalid = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = (unsigned char)s[i] < 0x80 ? 1 : utf8_decode((const unsigned char *)s + i, n - i, &cp);
        if (k > 1) *multi += 1;
        if (!k) *invalid += 1, k = 1;
        i += k;
    }
}

static int utf8_error(const char *path, const aca_buf *raw, size_t bad, const char *why, aca_err *e) {
    return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: invalid UTF-8 at byte offset %zu (byte 0x%02X)%s", path,
                    line_of_offset(raw->data, bad), bad, (unsigned char)raw->data[bad], why);
}

int corpus_settle_encoding(const char *path, aca_buf *raw, aca_corpus_encoding want, aca_corpus_encoding *got,
                           size_t *skip, aca_err *e) {
    const unsigned char *u = (const unsigned char *)raw->data;
    *skip = 0;
    if (raw->len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF)))
        return aca_errf(e, ACA_ERR_FORMAT,
                        "%s: starts with a UTF-16 byte order mark; aca reads UTF-8 or windows-1252 (convert it, e.g. "
                        "iconv -f UTF-16 -t UTF-8)",
                        path);
    if (raw->len >= 4 && !memcmp(u, "\0\0\xFE\xFF", 4))
        return aca_errf(e, ACA_ERR_FORMAT, "%s: starts with a UTF-32 byte order mark; aca reads UTF-8 or windows-1252",
                        path);
    int bom = utf8_bom_len(raw->data, raw->len) > 0;
    if (bom && want == CORPUS_ENC_CP1252)
        return aca_errf(e, ACA_ERR_FORMAT,
                        "%s: starts with a UTF-8 byte order mark, but --encoding cp1252 was given (a BOM means UTF-8: "
                        "use --encoding utf8 or auto)",
                        path);
    size_t bad = utf8_first_invalid(raw->data, raw->len);
    if (bom) want = CORPUS_ENC_UTF8, *skip = 3;
    if (want == CORPUS_ENC_AUTO && bad != raw->len) {
        size_t multi, invalid;
        utf8_census(raw->data, raw->len, &multi, &invalid);
        if (multi >= invalid) {
            char why[200];
            snprintf(why, sizeof why,
                     " in a file that otherwise reads as UTF-8 (%zu multi-byte characters, %zu invalid byte(s)); fix it, "
                     "or pass --encoding cp1252 if it really is windows-1252",
                     multi, invalid);
            return utf8_error(path, raw, bad, why, e);
        }
    }
    *got = want != CORPUS_ENC_AUTO ? want : bad == raw->len ? CORPUS_ENC_UTF8 : CORPUS_ENC_CP1252;
    if (*got == CORPUS_ENC_UTF8 && bad != raw->len)
        return utf8_error(path, raw, bad,
                          bom ? " (the file starts with a UTF-8 byte order mark, so it is read as UTF-8)"
                              : "; try --encoding cp1252",
                          e);
    if (*got != CORPUS_ENC_CP1252) return 0;
    aca_buf conv = {0}; // every byte maps, even in a file that also happens to be valid UTF-8
    if (cp1252_to_utf8(path, raw, &conv, e)) return buf_free(&conv), -1;
    buf_free(raw);
    *raw = conv;
    return 0;
}
