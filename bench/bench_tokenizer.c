// bench_tokenizer: WordPiece throughput on the synthetic resume corpus (30,000 docs, ~100 MB), in
// MB/s of UTF-8 text: one thread over whole documents (no truncation, no special tokens), all
// cores over whole documents, and the `aca tokenize` path (JSONL parse + [CLS] ... [SEP] at max
// length 512 + labels, all cores).  Median of --reps runs.  Writes DIR/texts.jsonl so that
// bench/tok_hf.py tokenizes the very same text with Hugging Face's fast tokenizer; the total token
// count printed here must equal the one it prints.
//   build/bench/bench_tokenizer [--docs N] [--reps R] [--dir DIR] [--vocab FILE]
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aca/corpus.h"
#include "aca/tokcache.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int die(const aca_err *e) {
    fprintf(stderr, "bench_tokenizer: %s\n", e->msg);
    return 1;
}

// Tokenizes every document whole with `threads` threads; returns seconds, *tokens the id count.
static double run_whole(const aca_tokenizer *tok, const aca_corpus *c, int threads, size_t *tokens) {
    size_t total = 0;
    double t0 = time_now();
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
        int32_t *ids = NULL;
        size_t cap = 0;
#pragma omp for schedule(dynamic, 16)
        for (size_t i = 0; i < c->n; i++) {
            size_t n = 0;
            aca_err e;
            if (tokenizer_tokenize(tok, c->docs[i].text, c->docs[i].len, &ids, &n, &cap, &e)) abort();
            total += n;
        }
        free(ids);
    }
    *tokens = total;
    return time_now() - t0;
}

int main(int argc, char **argv) {
    long docs = 30000, reps = 3;
    const char *dir_opt = NULL, *vocab = "models/vocab/bert-base-uncased.txt";
    aca_opt opts[] = {
        {"--docs", OPT_INT, &docs, "N", "documents in the synthetic corpus (default 30000)", 0, 0},
        {"--reps", OPT_INT, &reps, "R", "timed runs, median reported (default 3)", 0, 0},
        {"--dir", OPT_STR, &dir_opt, "DIR", "scratch directory (default: a new one under /tmp)", 0, 0},
        {"--vocab", OPT_STR, &vocab, "FILE", "WordPiece vocabulary (default: the uncased BERT one)", 0, 0},
    };
    aca_err e = {0};
    int rc = opt_parse(opts, (int)ACA_ARRAY_LEN(opts), argc, argv, 1, NULL, 0, NULL,
                       "usage: bench_tokenizer [--docs N] [--reps R] [--dir DIR] [--vocab FILE]", &e);
    if (rc) return rc > 0 ? 0 : die(&e);
    if (docs < 1 || reps < 1) return fprintf(stderr, "bench_tokenizer: --docs and --reps must be >= 1\n"), 2;
    char tmpl[] = "/tmp/aca-bench-tok-XXXXXX";
    const char *dir = dir_opt ? dir_opt : mkdtemp(tmpl);
    if (!dir || dir_make(dir, &e)) return die(&e);
    char *corpus_path = path_join(dir, "corpus.txt"), *jsonl = path_join(dir, "texts.jsonl");
    aca_corpus c;
    aca_corpus_opts co = {0};
    aca_tokenizer *tok = NULL;
    if (corpus_synth_write(corpus_path, (size_t)docs, 42, &e) || corpus_load(corpus_path, &co, &c, &e) ||
        corpus_write_jsonl(jsonl, &c, NULL, c.n, &e) || !(tok = tokenizer_load(vocab, -1, &e)))
        return die(&e);
    double bytes = 0;
    for (size_t i = 0; i < c.n; i++) bytes += (double)c.docs[i].len;
    const int cores = omp_get_max_threads();
    double *t1 = xmalloc((size_t)reps * sizeof *t1), *tn = xmalloc((size_t)reps * sizeof *tn),
           *tj = xmalloc((size_t)reps * sizeof *tj);
    size_t tokens = 0, tokens_n = 0, jdocs = 0;
    for (long r = 0; r < reps; r++) {
        t1[r] = run_whole(tok, &c, 1, &tokens);
        tn[r] = run_whole(tok, &c, cores, &tokens_n);
        tokcache_doc_set s;
        double t0 = time_now();
        if (tokcache_tokenize_jsonl(jsonl, tok, 512, NULL, 0, 0, &s, &e)) return die(&e);
        tj[r] = time_now() - t0;
        jdocs = s.data.n;
        tokcache_doc_set_free(&s);
    }
    if (tokens != tokens_n) return fprintf(stderr, "bench_tokenizer: 1 thread and %d threads disagree\n", cores), 1;
    qsort(t1, (size_t)reps, sizeof *t1, cmp_d);
    qsort(tn, (size_t)reps, sizeof *tn, cmp_d);
    qsort(tj, (size_t)reps, sizeof *tj, cmp_d);
    const double m1 = t1[reps / 2], mn = tn[reps / 2], mj = tj[reps / 2];
    printf("corpus: %zu synthetic docs, %.1f MB of text, %zu WordPiece tokens (whole docs), vocab %s\n", c.n,
           bytes / 1e6, tokens, vocab);
    printf("%-46s %9s %9s %12s\n", "", "seconds", "MB/s", "tokens/s");
    printf("%-46s %9.3f %9.1f %12.0f\n", "aca WordPiece, 1 thread, whole docs", m1, bytes / 1e6 / m1, (double)tokens / m1);
    char label[64];
    snprintf(label, sizeof label, "aca WordPiece, %d threads, whole docs", cores);
    printf("%-46s %9.3f %9.1f %12.0f\n", label, mn, bytes / 1e6 / mn, (double)tokens / mn);
    snprintf(label, sizeof label, "aca tokenize JSONL -> max len 512, %d threads", cores);
    printf("%-46s %9.3f %9.1f %12s   (%zu docs)\n", label, mj, bytes / 1e6 / mj, "-", jdocs);
    printf("texts for bench/tok_hf.py: %s\n", jsonl);
    tokenizer_free(tok);
    corpus_free(&c);
    free(t1), free(tn), free(tj), free(corpus_path), free(jsonl);
    return 0;
}
