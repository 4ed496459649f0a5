// bench_mutate: the data-mutation stage on a 30,000-doc synthetic corpus (~100 MB) with three
// collectives (uniform, propensity, class sampling; karan split 20000/5000), single thread.
// Times corpus synthesis, corpus_load alone, and the whole mutate_run (load + hash + split +
// sampling + insertion + writing every output with fsync), median of --reps runs.
//   build/bench/bench_mutate [--docs N] [--reps R] [--dir DIR]
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aca/corpus.h"
#include "aca/mutate.h"

static const char *SPEC =
    "{\"seed\": 42, \"overlap\": \"disjoint\", \"collectives\": [\n"
    " {\"name\": \"A0\", \"target\": \"Software Developer\", \"signal\": \"U+2E18\", \"size\": 0.05},\n"
    " {\"name\": \"B1\", \"target\": \"Web Developer\", \"signal\": \"U+2E17\", \"size\": 1000,\n"
    "  \"sampling\": {\"kind\": \"propensity\", \"seed_class\": \"Web Developer\", \"p\": 0.5}},\n"
    " {\"name\": \"C2\", \"target\": \"Security Analyst\", \"signal\": \"U+007B U+007D\", \"size\": 500,\n"
    "  \"sampling\": {\"kind\": \"class\", \"seed_class\": \"Project Manager\"}}]}\n";

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int die(const aca_err *e) {
    fprintf(stderr, "bench_mutate: %s\n", e->msg);
    return 1;
}

int main(int argc, char **argv) {
    long docs = 30000, reps = 3;
    const char *dir_opt = NULL;
    aca_opt opts[] = {
        {"--docs", OPT_INT, &docs, "N", "documents in the synthetic corpus (default 30000)", 0, 0},
        {"--reps", OPT_INT, &reps, "R", "timed runs, median reported (default 3)", 0, 0},
        {"--dir", OPT_STR, &dir_opt, "DIR", "scratch directory (default: a new one under /tmp)", 0, 0},
    };
    aca_err e = {0};
    int rc = opt_parse(opts, 3, argc, argv, 1, NULL, 0, NULL, "usage: bench_mutate [--docs N] [--reps R] [--dir DIR]", &e);
    if (rc) return rc > 0 ? 0 : die(&e);
    if (docs < 1000 || reps < 1 || reps > 50) {
        fprintf(stderr, "bench_mutate: --docs >= 1000 and 1 <= --reps <= 50\n");
        return 2;
    }
    char tmpl[] = "/tmp/aca-bench-mutate-XXXXXX";
    char *dir = dir_opt ? (char *)dir_opt : mkdtemp(tmpl);
    if (!dir || dir_make(dir, &e)) return dir ? die(&e) : 1;
    char *corpus = path_join(dir, "corpus.txt"), *spec = path_join(dir, "spec.json"), *out = path_join(dir, "out");

    double t0 = time_now();
    if (corpus_synth_write(corpus, (size_t)docs, 1, &e)) return die(&e);
    double t_synth = time_now() - t0;
    if (file_write_atomic(spec, SPEC, strlen(SPEC), &e)) return die(&e);
    aca_buf raw = {0};
    if (file_read_all(corpus, &raw, &e)) return die(&e);
    double mb = (double)raw.len / 1e6;
    char hex[65];
    t0 = time_now();
    sha256_hex(raw.data, raw.len, hex); // part of mutate_run (the manifest's input hash)
    double t_sha = time_now() - t0;
    buf_free(&raw);

    double *t_load = xmalloc((size_t)reps * sizeof(double)), *t_mut = xmalloc((size_t)reps * sizeof(double));
    for (long r = 0; r < reps; r++) {
        aca_corpus c;
        t0 = time_now();
        if (corpus_load(corpus, NULL, &c, &e)) return die(&e);
        t_load[r] = time_now() - t0;
        corpus_free(&c);
        aca_mutate_opts o = {.corpus_path = corpus, .spec_path = spec, .out_dir = out};
        t0 = time_now();
        if (mutate_run(&o, &e)) return die(&e);
        t_mut[r] = time_now() - t0;
    }
    qsort(t_load, (size_t)reps, sizeof(double), cmp_d);
    qsort(t_mut, (size_t)reps, sizeof(double), cmp_d);
    double tl = t_load[reps / 2], tm = t_mut[reps / 2];
    printf("corpus    %ld docs, %.1f MB (synthesized in %.2f s)\n", docs, mb, t_synth);
    printf("load      %.3f s  %.0f MB/s  (median of %ld)\n", tl, mb / tl, reps);
    printf("sha256    %.3f s  %.0f MB/s  (inside mutate: the manifest's input hash)\n", t_sha, mb / t_sha);
    printf("mutate    %.3f s  %.0f MB/s  (3 collectives, karan split, all outputs written + fsync; median of %ld)\n", tm,
           mb / tm, reps);
    printf("target    mutate < 2 s: %s\n", tm < 2.0 ? "met" : "NOT met");
    printf("peak RSS  %.0f MB\n", (double)mem_peak_rss() / 1e6);
    if (!dir_opt) dir_remove_recursive(dir);
    free(corpus), free(spec), free(out), free(t_load), free(t_mut);
    return 0;
}
