// BERT basic tokenization + WordPiece, identical to Hugging Face's Python BertTokenizer
// (transformers' BertTokenizerLegacy / BasicTokenizer + WordpieceTokenizer):
//   1. special tokens ([CLS] [SEP] [PAD] [MASK] [UNK]) are cut out of the text first and kept whole
//      (and so is a word that equals one after step 2, as Hugging Face's never_split);
//   2. clean: drop U+0000, U+FFFD and every category C* character except \t \n \r; whitespace
//      (\t \n \r, space, Zs) becomes a space;
//   3. spaces around CJK ideographs (the eight ranges BERT lists);
//   4. NFC of the whole text, then split on whitespace (Python's str.split(): the cleaned text's
//      remaining separators are space, U+2028 and U+2029);
//   5. uncased: lower-case each word (Python's str.lower(): U+0130 -> "i" U+0307, and the Greek
//      final sigma rule), then NFD and drop Mn (strip accents);
//   6. split on punctuation: ASCII 33-47, 58-64, 91-96, 123-126 and every Unicode P* character;
//   7. WordPiece: greedy longest-match-first with "##" continuations; a word of more than 100
//      characters or with an unmatched piece becomes [UNK].
// Where the Python and the Rust (tokenizers, BertTokenizerFast) implementations differ we follow
// Python: the Rust lower-casing maps every capital sigma to σ, Python maps a word-final one to ς.
// Unicode properties come from utf8proc (its Unicode version may be newer than Python's, so a code
// point unassigned in Python's tables — removed there as Cn — can be kept here).
// Known simplification: NFD here decomposes code point by code point without canonical reordering
// of combining marks; marks are dropped (Mn) in uncased mode, so this shows only in cased mode with
// explicit strip_accents and several non-Mn combining marks in a row.
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tok_internal.h"

enum { MAX_WORD_CHARS = 100 };

typedef struct {
    uint32_t *v;
    size_t n, cap;
} cp_buf;

static void cp_push(cp_buf *b, uint32_t c) {
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        b->v = xrealloc(b->v, b->cap * sizeof *b->v);
    }
    b->v[b->n++] = c;
}

static int cat_of(uint32_t c) { return utf8proc_category((utf8proc_int32_t)c); }

static int is_control(uint32_t c) {
    if (c == '\t' || c == '\n' || c == '\r') return 0;
    if (c < 0x80) return c < 0x20 || c == 0x7f;
    int k = cat_of(c);
    return k == UTF8PROC_CATEGORY_CN || k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF ||
           k == UTF8PROC_CATEGORY_CS || k == UTF8PROC_CATEGORY_CO;
}

static int is_whitespace(uint32_t c) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') return 1;
    if (c < 0x80) return 0;
    return cat_of(c) == UTF8PROC_CATEGORY_ZS;
}

static int is_punct(uint32_t c) {
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126)) return 1;
    if (c < 0x80) return 0;
    int k = cat_of(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

static int is_cjk(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// Python's str.split() separators that survive cleaning (Zs and the C* ones are gone by then).
static int is_split_space(uint32_t c) { return c == ' ' || c == 0x2028 || c == 0x2029; }

const char *wordpiece_drop_reason(uint32_t c, int strip_accents) {
    if (c == 0 || c == 0xFFFD || is_control(c)) return "removed by BERT's text cleaning";
    if (is_whitespace(c) || is_split_space(c)) return "white space, which only separates words";
    if (strip_accents && cat_of(c) == UTF8PROC_CATEGORY_MN) return "a combining accent, which the tokenizer strips";
    return NULL;
}

// Cased and case-ignorable, as Unicode's Final_Sigma condition uses them (Python's str.lower()).
static int is_cased(uint32_t c) {
    int k = cat_of(c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT;
}

static int is_case_ignorable(uint32_t c) {
    switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0x5E: case 0x60: case 0xA8: case 0xAD: case 0xAF: case 0xB4:
    case 0xB7: case 0xB8: case 0x387: case 0x55F: case 0x5F4: case 0x2018: case 0x2019: case 0x2024:
    case 0x2027: case 0xFE13: case 0xFE52: case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
        return 1;
    default: break;
    }
    int k = cat_of(c);
    return k == UTF8PROC_CATEGORY_MN || k == UTF8PROC_CATEGORY_ME || k == UTF8PROC_CATEGORY_CF ||
           k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_SK;
}

// w[i] is U+03A3: is it word-final in the sense of Python's lower()?
static int final_sigma(const uint32_t *w, size_t n, size_t i) {
    size_t j = i;
    int before = 0;
    while (j > 0) {
        uint32_t c = w[--j];
        if (is_case_ignorable(c)) continue;
        before = is_cased(c);
        break;
    }
    if (!before) return 0;
    for (j = i + 1; j < n; j++) {
        if (is_case_ignorable(w[j])) continue;
        return !is_cased(w[j]);
    }
    return 1;
}

static void push_id(int32_t **ids, size_t *n, size_t *cap, int32_t id) {
    if (*n == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        *ids = xrealloc(*ids, *cap * sizeof **ids);
    }
    (*ids)[(*n)++] = id;
}

// Scratch reused across the words of one call.
typedef struct {
    cp_buf a;     // cleaned text, then its NFC
    cp_buf w;     // one word after lower-casing / accent stripping
    char *bytes;  // one piece in UTF-8
    uint32_t off[MAX_WORD_CHARS + 1];
    size_t bytes_cap;
} scratch;

// WordPiece of one piece (no spaces, no punctuation unless it is a single punctuation char).
static void wordpiece_piece(const aca_tokenizer *t, scratch *s, const uint32_t *p, size_t m, int32_t **ids,
                            size_t *n, size_t *cap) {
    if (m > MAX_WORD_CHARS) {
        push_id(ids, n, cap, t->unk_id);
        return;
    }
    if (s->bytes_cap < 4 * m + 4) {
        s->bytes_cap = 4 * m + 4;
        s->bytes = xrealloc(s->bytes, s->bytes_cap);
    }
    uint32_t o = 0;
    for (size_t i = 0; i < m; i++) {
        s->off[i] = o;
        o += (uint32_t)utf8_encode(s->bytes + o, p[i]);
    }
    s->off[m] = o;
    size_t first = *n, start = 0;
    while (start < m) {
        int id = -1;
        size_t end = m;
        for (; end > start; end--) {
            size_t len = s->off[end] - s->off[start];
            if (len + (start > 0 ? 2 : 0) > (size_t)t->vocab.max_len) continue;
            if ((id = vocab_lookup(&t->vocab, s->bytes + s->off[start], len, start > 0)) >= 0) break;
        }
        if (id < 0) { // an unmatched piece: the whole word is [UNK]
            *n = first;
            push_id(ids, n, cap, t->unk_id);
            return;
        }
        push_id(ids, n, cap, id);
        start = end;
    }
}

// Lower-case / strip accents of a[ws, we) into s->w.
static void normalize_word(const aca_tokenizer *t, scratch *s, const uint32_t *a, size_t wn) {
    s->w.n = 0;
    for (size_t i = 0; i < wn; i++) {
        uint32_t c = a[i];
        uint32_t low[2];
        int nl = 1;
        low[0] = c;
        if (t->lowercase) {
            if (c < 0x80) low[0] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
            else if (c == 0x3A3) low[0] = final_sigma(a, wn, i) ? 0x3C2 : 0x3C3;
            else if (c == 0x130) low[0] = 'i', low[1] = 0x307, nl = 2; // SpecialCasing
            else low[0] = (uint32_t)utf8proc_tolower((utf8proc_int32_t)c);
        }
        for (int k = 0; k < nl; k++) {
            uint32_t d = low[k];
            if (!t->strip_accents || d < 0x80) {
                cp_push(&s->w, d);
                continue;
            }
            utf8proc_int32_t dec[8];
            int last = 0;
            utf8proc_ssize_t nd = utf8proc_decompose_char((utf8proc_int32_t)d, dec, 8, UTF8PROC_DECOMPOSE, &last);
            if (nd < 0 || nd > 8) { // cannot happen for a valid code point; keep it as is
                cp_push(&s->w, d);
                continue;
            }
            for (utf8proc_ssize_t q = 0; q < nd; q++)
                if (cat_of((uint32_t)dec[q]) != UTF8PROC_CATEGORY_MN) cp_push(&s->w, (uint32_t)dec[q]);
        }
    }
}

// The id of the special token that word w is, or -1.  Hugging Face cuts special tokens out of the
// raw text first, then its basic tokenizer keeps any whitespace-separated word that equals one
// whole (never_split): after cleaning, "[\0CLS]" or "[CLS\u200b]" is [CLS] too.
static int special_word(const aca_tokenizer *t, const uint32_t *w, size_t wn) {
    for (int k = 0; k < t->n_special; k++) {
        if ((size_t)t->special_len[k] != wn) continue;
        size_t j = 0;
        while (j < wn && w[j] == (unsigned char)t->special[k][j]) j++;
        if (j == wn) return t->special_id[k];
    }
    return -1;
}

// Tokenizes text that holds no special token.  base: byte offset of text in the caller's input.
static int tokenize_segment(const aca_tokenizer *t, scratch *s, const char *text, size_t len, size_t base,
                            int32_t **ids, size_t *n, size_t *cap, size_t limit, aca_err *e) {
    s->a.n = 0;
    int nonascii = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c;
        unsigned char b = (unsigned char)text[i];
        if (b < 0x80) {
            c = b;
            i++;
        } else {
            utf8proc_int32_t cc;
            utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)text + i, (utf8proc_ssize_t)(len - i), &cc);
            if (k < 0) return aca_errf(e, ACA_ERR_FORMAT, "invalid UTF-8 at byte %zu", base + i);
            c = (uint32_t)cc;
            i += (size_t)k;
            nonascii = 1;
        }
        if (c == 0 || c == 0xFFFD || is_control(c)) continue;
        if (is_whitespace(c)) {
            cp_push(&s->a, ' ');
        } else if (is_cjk(c)) {
            cp_push(&s->a, ' ');
            cp_push(&s->a, c);
            cp_push(&s->a, ' ');
        } else {
            cp_push(&s->a, c);
        }
    }
    if (nonascii) { // NFC of the cleaned text (Hugging Face normalizes before splitting)
        aca_buf u = {0};
        char tmp[4];
        for (size_t i = 0; i < s->a.n; i++) buf_append(&u, tmp, utf8_encode(tmp, s->a.v[i]));
        utf8proc_uint8_t *nfc = NULL;
        utf8proc_ssize_t k =
            utf8proc_map((const utf8proc_uint8_t *)(u.data ? u.data : ""), (utf8proc_ssize_t)u.len, &nfc,
                         UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        buf_free(&u);
        if (k < 0) return aca_errf(e, ACA_ERR_FORMAT, "Unicode normalization failed: %s", utf8proc_errmsg(k));
        s->a.n = 0;
        for (utf8proc_ssize_t i = 0; i < k;) {
            utf8proc_int32_t cc;
            utf8proc_ssize_t q = utf8proc_iterate(nfc + i, k - i, &cc);
            if (q < 0) break; // utf8proc's own output is valid UTF-8
            cp_push(&s->a, (uint32_t)cc);
            i += q;
        }
        free(nfc);
    }
    const uint32_t *a = s->a.v;
    size_t na = s->a.n;
    for (size_t i = 0; i < na && *n < limit;) {
        if (is_split_space(a[i])) {
            i++;
            continue;
        }
        size_t ws = i;
        while (i < na && !is_split_space(a[i])) i++;
        const uint32_t *w = a + ws;
        size_t wn = i - ws;
        int sp = special_word(t, w, wn);
        if (sp >= 0) { // a special token that cleaning made whole ("[\0CLS]"): kept, as never_split
            push_id(ids, n, cap, sp);
            continue;
        }
        if (t->lowercase || t->strip_accents) {
            normalize_word(t, s, a + ws, wn);
            w = s->w.v;
            wn = s->w.n;
        }
        for (size_t j = 0; j < wn;) { // punctuation split, then WordPiece per piece
            if (is_punct(w[j])) {
                wordpiece_piece(t, s, w + j, 1, ids, n, cap);
                j++;
                continue;
            }
            size_t ps = j;
            while (j < wn && !is_punct(w[j])) j++;
            wordpiece_piece(t, s, w + ps, j - ps, ids, n, cap);
        }
    }
    return 0;
}

int wordpiece_tokenize(const aca_tokenizer *t, const char *text, size_t len, int32_t **ids, size_t *n,
                       size_t *cap, size_t limit, aca_err *e) {
    scratch s = {0};
    int rc = 0;
    size_t stop = limit > SIZE_MAX - *n ? SIZE_MAX : *n + limit; // absolute bound on *n
    size_t seg = 0, i = 0;
    while (i < len && *n < stop) {
        const char *br = memchr(text + i, '[', len - i);
        if (!br) break;
        size_t at = (size_t)(br - text);
        int hit = -1;
        for (int k = 0; k < t->n_special; k++) {
            size_t sl = (size_t)t->special_len[k];
            if (sl <= len - at && !memcmp(br, t->special[k], sl)) {
                hit = k;
                break;
            }
        }
        if (hit < 0) {
            i = at + 1;
            continue;
        }
        if ((rc = tokenize_segment(t, &s, text + seg, at - seg, seg, ids, n, cap, stop, e))) goto done;
        if (*n < stop) push_id(ids, n, cap, t->special_id[hit]);
        i = seg = at + (size_t)t->special_len[hit];
    }
    if (*n < stop) rc = tokenize_segment(t, &s, text + seg, len - seg, seg, ids, n, cap, stop, e);
done:
    if (!rc && *n > stop) *n = stop;
    free(s.a.v);
    free(s.w.v);
    free(s.bytes);
    return rc;
}

// ---- vocabulary ----------------------------------------------------------------------------------

static uint64_t hash_piece(const char *s, size_t n, int cont) {
    uint64_t h = ACA_FNV_SEED;
    if (cont) h = hash_fnv1a64("##", 2, h);
    return hash_fnv1a64(s, n, h);
}

int vocab_lookup(const tok_vocab *v, const char *s, size_t n, int cont) {
    uint64_t h = hash_piece(s, n, cont);
    size_t want = n + (cont ? 2 : 0);
    for (uint32_t i = (uint32_t)h & v->mask;; i = (i + 1) & v->mask) {
        int32_t id = v->slots[i];
        if (id < 0) return -1;
        if (v->len[id] != want) continue;
        const char *tok = v->blob + v->off[id];
        if (cont) {
            if (tok[0] == '#' && tok[1] == '#' && !memcmp(tok + 2, s, n)) return id;
        } else if (!memcmp(tok, s, n)) {
            return id;
        }
    }
}

// Rust's char::is_whitespace (Unicode White_Space): what the Rust vocabulary reader trims.
static int vocab_is_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f || c == 0x3000;
}

// One vocabulary line (its "\r\n" or "\n" already cut): a token both of Hugging Face's readers
// (Python's load_vocab: universal newlines, strips "\n"; Rust's WordPiece::read_file: splits on
// "\n", trims trailing white space) read the same, or an error naming the line and what is wrong.
static int vocab_check_line(const char *s, size_t l, const char *path, int line, aca_err *e) {
    if (line == 1 && l >= 3 && !memcmp(s, "\xef\xbb\xbf", 3))
        return aca_errf(e, ACA_ERR_FORMAT,
                        "%s:1: starts with a UTF-8 byte-order mark (EF BB BF): Hugging Face keeps it in the first "
                        "token, which then never matches; save the file without a BOM", path);
    if (memchr(s, '\0', l)) return aca_errf(e, ACA_ERR_FORMAT, "%s:%d: NUL byte in token", path, line);
    if (memchr(s, '\r', l))
        return aca_errf(e, ACA_ERR_FORMAT,
                        "%s:%d: a carriage return inside the line (old Mac \"\\r\" line ends?): Hugging Face's Python "
                        "tokenizer starts a new token there and its Rust one does not; use \"\\n\" or \"\\r\\n\" line ends",
                        path, line);
    uint32_t cp = 0;
    for (size_t i = 0; i < l;) {
        size_t k = utf8_decode((const unsigned char *)s + i, l - i, &cp);
        if (!k) return aca_errf(e, ACA_ERR_FORMAT, "%s:%d: invalid UTF-8 at byte %zu of the line", path, line, i + 1);
        i += k;
    }
    if (l && vocab_is_space(cp))
        return aca_errf(e, ACA_ERR_FORMAT,
                        "%s:%d: the token ends with white space (U+%04X): Hugging Face's Python tokenizer keeps it and "
                        "its Rust one strips it; remove it", path, line, (unsigned)cp);
    return 0;
}

// vocab.txt: one token per line, the line number is the id.  A line ends at "\n" or "\r\n" (both of
// Hugging Face's readers strip either); anything they would read differently is an error naming
// the line (vocab_check_line).  A later duplicate of a token wins, as in Hugging Face's dict.
int vocab_build(tok_vocab *v, const char *data, size_t n, const char *path, aca_err *e) {
    memset(v, 0, sizeof *v);
    size_t lines = 0;
    for (size_t i = 0; i < n; i++) lines += data[i] == '\n';
    if (n && data[n - 1] != '\n') lines++;
    if (lines == 0) return aca_errf(e, ACA_ERR_FORMAT, "%s: empty vocabulary", path);
    if (lines > INT32_MAX / 4) return aca_errf(e, ACA_ERR_FORMAT, "%s: too many lines (%zu)", path, lines);
    v->n = (int)lines;
    v->blob = xmalloc(n + lines + 1);
    v->off = xmalloc(lines * sizeof *v->off);
    v->len = xmalloc(lines * sizeof *v->len);
    uint32_t cap = 16;
    while (cap < 2 * lines) cap *= 2;
    v->mask = cap - 1;
    v->slots = xmalloc(cap * sizeof *v->slots);
    memset(v->slots, 0xff, cap * sizeof *v->slots);
    size_t o = 0, pos = 0;
    for (int id = 0; id < v->n; id++) {
        const char *nl = memchr(data + pos, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - data) : n;
        size_t l = end - pos;
        if (l && data[pos + l - 1] == '\r') l--; // "\r\n" (or a final "\r")
        if (vocab_check_line(data + pos, l, path, id + 1, e)) {
            vocab_free(v);
            return -1;
        }
        memcpy(v->blob + o, data + pos, l);
        v->blob[o + l] = '\0';
        v->off[id] = (uint32_t)o;
        v->len[id] = (uint32_t)l;
        if ((int)l > v->max_len) v->max_len = (int)l;
        o += l + 1;
        pos = end + 1;
        uint64_t h = hash_piece(v->blob + v->off[id], l, 0);
        uint32_t i = (uint32_t)h & v->mask;
        for (;; i = (i + 1) & v->mask) {
            int32_t other = v->slots[i];
            if (other < 0) break;
            if (v->len[other] == l && !memcmp(v->blob + v->off[other], v->blob + v->off[id], l)) break;
        }
        v->slots[i] = id; // a duplicate token: the later id wins, as in Hugging Face's dict
    }
    return 0;
}

void vocab_free(tok_vocab *v) {
    free(v->blob);
    free(v->off);
    free(v->len);
    free(v->slots);
    memset(v, 0, sizeof *v);
}
