// Corpus statistics (`aca corpus stats`, see include/aca/corpus.h): classes, words per document, and
// the documents holding each character other than ASCII letters, digits and white space.
#include <stdlib.h>
#include <string.h>

#include "aca/corpus.h"
#include "aca/jsonw.h"

size_t text_count_words(const char *s, size_t n) {
    size_t w = 0;
    int in = 0;
    for (size_t i = 0; i < n; i++) {
        int sp = text_is_space((unsigned char)s[i]);
        w += !sp && !in;
        in = !sp;
    }
    return w;
}

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static int is_plain_ascii(uint32_t cp) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
           text_is_space((unsigned char)cp);
}

void corpus_stats(const aca_corpus *c, aca_corpus_stats *st) {
    memset(st, 0, sizeof *st);
    st->n_docs = c->n;
    st->class_docs = xcalloc((size_t)(c->n_classes ? c->n_classes : 1), sizeof *st->class_docs);
    size_t *words = xmalloc((c->n ? c->n : 1) * sizeof *words);
    enum { NCP = 0x110000 };
    uint32_t *last = xcalloc(NCP, sizeof *last), *count = xcalloc(NCP, sizeof *count);
    for (size_t i = 0; i < c->n; i++) {
        const aca_doc *d = &c->docs[i];
        st->class_docs[d->label]++;
        st->n_multilabel += d->n_labels > 1;
        words[i] = text_count_words(d->text, d->len);
        st->words_total += words[i];
        const unsigned char *p = (const unsigned char *)d->text;
        for (size_t k = 0; k < d->len;) {
            uint32_t cp;
            size_t m = utf8_decode(p + k, d->len - k, &cp);
            if (!m) m = 1, cp = 0xFFFD; // cannot happen: loaded text is valid UTF-8
            k += m;
            if (is_plain_ascii(cp) || last[cp] == i + 1) continue;
            last[cp] = (uint32_t)(i + 1);
            count[cp]++;
        }
    }
    if (c->n) {
        qsort(words, c->n, sizeof *words, cmp_size);
        st->words_min = words[0];
        st->words_max = words[c->n - 1];
        st->words_median = words[(c->n - 1) / 2];
        st->words_p90 = words[(size_t)((double)(c->n - 1) * 0.9)];
    }
    for (uint32_t cp = 0; cp < NCP; cp++) st->n_chars += count[cp] != 0;
    st->chars = xmalloc((st->n_chars ? st->n_chars : 1) * sizeof *st->chars);
    size_t k = 0;
    for (uint32_t cp = 0; cp < NCP; cp++)
        if (count[cp]) st->chars[k++] = (aca_char_count){cp, count[cp]};
    free(words);
    free(last);
    free(count);
}

void corpus_stats_free(aca_corpus_stats *st) {
    free(st->class_docs);
    free(st->chars);
    memset(st, 0, sizeof *st);
}

static int cp_printable(uint32_t cp) { return cp >= 0x20 && cp != 0x7F && !(cp >= 0x80 && cp < 0xA0); }

// `aca corpus stats --json`: one compact line.
static void stats_json(aca_buf *out, const aca_corpus *c, const aca_corpus_stats *st) {
    aca_jsonw w;
    jsonw_init(&w, out);
    jsonw_obj(&w);
    jsonw_kuint(&w, "docs", st->n_docs);
    jsonw_kuint(&w, "multilabel_docs", st->n_multilabel);
    jsonw_kuint(&w, "dropped_docs", c->n_dropped);
    jsonw_kstr(&w, "format", corpus_format_name(c->format));
    jsonw_kstr(&w, "encoding", corpus_encoding_name(c->encoding));
    jsonw_key(&w, "classes");
    jsonw_arr(&w);
    for (int i = 0; i < c->n_classes; i++) {
        jsonw_obj(&w);
        jsonw_kstr(&w, "name", c->classes[i]);
        jsonw_kuint(&w, "docs", st->class_docs[i]);
        jsonw_end(&w);
    }
    jsonw_end(&w);
    jsonw_key(&w, "words");
    jsonw_obj(&w);
    jsonw_kuint(&w, "min", st->words_min);
    jsonw_kuint(&w, "median", st->words_median);
    jsonw_kuint(&w, "p90", st->words_p90);
    jsonw_kuint(&w, "max", st->words_max);
    jsonw_kuint(&w, "total", st->words_total);
    jsonw_end(&w);
    jsonw_key(&w, "chars");
    jsonw_arr(&w);
    for (size_t i = 0; i < st->n_chars; i++) {
        char cp[16], u8[4];
        snprintf(cp, sizeof cp, "U+%04X", (unsigned)st->chars[i].cp);
        jsonw_obj(&w);
        jsonw_kstr(&w, "cp", cp);
        jsonw_key(&w, "char");
        jsonw_strn(&w, u8, utf8_encode(u8, st->chars[i].cp));
        jsonw_kuint(&w, "docs", st->chars[i].docs);
        jsonw_end(&w);
    }
    jsonw_end(&w);
    jsonw_end(&w);
    buf_putc(out, '\n');
}

void corpus_stats_format(aca_buf *out, const aca_corpus *c, const aca_corpus_stats *st, int json) {
    if (json) {
        stats_json(out, c, st);
        return;
    }
    char u8[5];
    buf_printf(out, "docs       %zu (format %s, encoding %s; multi-label %zu, dropped %zu)\n", st->n_docs,
               corpus_format_name(c->format), corpus_encoding_name(c->encoding), st->n_multilabel, c->n_dropped);
    buf_printf(out, "classes    %d\n", c->n_classes);
    for (int i = 0; i < c->n_classes; i++)
        buf_printf(out, "  %-26s %7zu  %5.1f%%\n", c->classes[i], st->class_docs[i],
                   st->n_docs ? 100.0 * (double)st->class_docs[i] / (double)st->n_docs : 0.0);
    buf_printf(out, "words/doc  min %zu, median %zu, p90 %zu, max %zu (total %zu)\n", st->words_min, st->words_median,
               st->words_p90, st->words_max, st->words_total);
    buf_printf(out, "characters other than ASCII letters, digits and whitespace (docs containing each):\n");
    for (size_t i = 0; i < st->n_chars; i++) {
        uint32_t cp = st->chars[i].cp;
        size_t m = cp_printable(cp) ? utf8_encode(u8, cp) : 0;
        u8[m] = 0;
        buf_printf(out, "  U+%04X %s%s %7zu\n", (unsigned)cp, m ? u8 : "?", cp < 0x80 ? " (ascii)" : "        ",
                   st->chars[i].docs);
    }
}
