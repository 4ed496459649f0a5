// The run options table (include/aca/run.h, src/run_opts.c): every row well formed (a flag, a GRID.json
// path or an explicit mark; a default inside its range; unique names, flags and paths), the defaults
// it sets, the JSON it writes, and the one range check seen from both sides: for every option that
// has a flag and a GRID.json path, the command line and grid_spec_parse refuse the same values just
// outside its range with the same message (naming the flag, or the path), and accept the boundary.
#include "testutil.h"

#include <limits.h>
#include <stddef.h>

#include "toy_model.h"

#include "aca/grid.h"
#include "aca/run.h"

static int has_flag(const aca_run_opt *o) { return o->flag != NULL; }
static int has_path(const aca_run_opt *o) { return o->path != NULL; }
static int is_whole(const aca_run_opt *o) {
    return o->type == RUN_OPT_INT || o->type == RUN_OPT_LONG || o->type == RUN_OPT_SIZE || o->type == RUN_OPT_U64;
}
static int is_number(const aca_run_opt *o) { return is_whole(o) || o->type == RUN_OPT_DOUBLE || o->type == RUN_OPT_FLOAT; }

// The field's size must fit where the row says it lies.
static size_t type_size(aca_run_opt_type t) {
    switch (t) {
    case RUN_OPT_INT: case RUN_OPT_FLAG: case RUN_OPT_ENUM: return sizeof(int);
    case RUN_OPT_LONG: return sizeof(long);
    case RUN_OPT_SIZE: return sizeof(size_t);
    case RUN_OPT_U64: return sizeof(uint64_t);
    case RUN_OPT_DOUBLE: return sizeof(double);
    case RUN_OPT_FLOAT: return sizeof(float);
    case RUN_OPT_STR: case RUN_OPT_CHOICE: return sizeof(const char *);
    }
    return 0;
}

// 1 when name is one of the '|'-separated names of list.
static int in_list(const char *list, const char *name) {
    size_t n = strlen(name);
    for (const char *s = list; s; s = strchr(s, '|') ? strchr(s, '|') + 1 : NULL)
        if (!strncmp(s, name, n) && (s[n] == '|' || s[n] == 0)) return 1;
    return 0;
}

// 1 when the row's field lies in aca_run_setup.train (the options train_fingerprint covers).
static int in_train(const aca_run_opt *o) {
    return o->off >= offsetof(aca_run_setup, train) && o->off < offsetof(aca_run_setup, train) + sizeof(aca_train_opts);
}

// Every row: a name; a flag, a GRID.json path, or the mark that says which is missing on purpose;
// a default inside its range; a field inside aca_run_setup; unique names, flags and paths.
static void test_table_rows(void **st) {
    (void)st;
    int n;
    const aca_run_opt *t = run_opts_table(&n);
    assert_true(n > 30);
    aca_run_setup s;
    run_setup_default(&s);
    for (int i = 0; i < n; i++) {
        const aca_run_opt *o = &t[i];
        char what[200];
        snprintf(what, sizeof what, "row %d (%s)", i, o->name ? o->name : "?");
        if (!o->name || !o->help || !*o->help) fail_msg("%s: no name or no help", what);
        const unsigned marks = o->use & (RUN_OPT_CLI_ONLY | RUN_OPT_GRID_ONLY | RUN_OPT_FIXED);
        const unsigned want = has_flag(o) && has_path(o) ? 0
                            : has_flag(o)                ? RUN_OPT_CLI_ONLY
                            : has_path(o)                ? RUN_OPT_GRID_ONLY
                                                         : RUN_OPT_FIXED;
        if (marks != want) fail_msg("%s: flag %s, path %s, but marks 0x%x (want 0x%x)", what, o->flag, o->path, marks, want);
        if (has_flag(o) && (strncmp(o->flag, "--", 2) || strchr(o->flag, ' ')))
            fail_msg("%s: flag '%s' is not --name", what, o->flag);
        if ((o->use & (RUN_OPT_CMD_TRAIN | RUN_OPT_CMD_RUN | RUN_OPT_CMD_DEMO)) && !has_flag(o))
            fail_msg("%s: offered by a command without a flag", what);
        if (has_flag(o) && !(o->use & (RUN_OPT_CMD_TRAIN | RUN_OPT_CMD_RUN | RUN_OPT_CMD_DEMO)))
            fail_msg("%s: a flag no command offers", what);
        if ((o->use & (RUN_OPT_DEFINITION | RUN_OPT_AXIS)) && !has_path(o)) fail_msg("%s: in GRID.json without a path", what);
        if ((o->use & RUN_OPT_IF_SET) && !(o->use & (RUN_OPT_CONFIG | RUN_OPT_DEFINITION)))
            fail_msg("%s: written only when set, but written nowhere", what);
        if ((o->use & RUN_OPT_NO_FINGERPRINT) && !in_train(o)) fail_msg("%s: not a training option of the fingerprint", what);
        if ((o->use & RUN_OPT_DP) && (!has_flag(o) || strncmp(o->flag, "--dp-", 5))) fail_msg("%s: DP without --dp-", what);
        if (o->type == RUN_OPT_U64 && has_path(o)) fail_msg("%s: a seed in GRID.json (the grid derives its seeds)", what);
        if (o->off + type_size(o->type) > sizeof(aca_run_setup)) fail_msg("%s: field outside aca_run_setup", what);
        if (o->type == RUN_OPT_INT && !(o->hi <= INT_MAX && o->lo >= INT_MIN)) fail_msg("%s: int field, wider range", what);
        if (is_whole(o) && o->hi > RUN_OPT_NO_MAX) fail_msg("%s: whole numbers beyond RUN_OPT_NO_MAX", what);
        // the default inside the range (an unset default: NaN or NULL, only when marked)
        aca_err e = {0};
        if (is_number(o) && !(isnan(o->dflt) && (o->use & RUN_OPT_UNSET)) && run_opt_check_num(o, o->dflt, o->name, &e))
            fail_msg("%s: default outside the range: %s", what, e.msg);
        if (isnan(o->dflt) && !(o->use & RUN_OPT_UNSET)) fail_msg("%s: NaN default not marked unset", what);
        if (o->type == RUN_OPT_CHOICE && (!o->dflt_str || !in_list(o->meta, o->dflt_str)))
            fail_msg("%s: default '%s' not among %s", what, o->dflt_str, o->meta);
        if (o->type == RUN_OPT_STR && !o->dflt_str && !(o->use & RUN_OPT_UNSET)) fail_msg("%s: NULL default not unset", what);
        if ((o->type == RUN_OPT_FLAG || o->type == RUN_OPT_ENUM) && run_opt_check_num(o, o->dflt, o->name, &e))
            fail_msg("%s: default %g not a value: %s", what, o->dflt, e.msg);
        // unique name, flag, path
        for (int j = 0; j < i; j++) {
            if (!strcmp(t[j].name, o->name)) fail_msg("%s: name also row %d's", what, j);
            if (has_flag(o) && has_flag(&t[j]) && !strcmp(t[j].flag, o->flag)) fail_msg("%s: flag also row %d's", what, j);
            if (has_path(o) && has_path(&t[j]) && !strcmp(t[j].path, o->path)) fail_msg("%s: path also row %d's", what, j);
        }
        assert_ptr_equal(run_opt_find(o->name), o);
        // run_setup_default set the field to the default
        char got[64], want_text[64];
        run_opt_value_text(o, &s, got, sizeof got);
        if (o->type == RUN_OPT_STR || o->type == RUN_OPT_CHOICE) snprintf(want_text, sizeof want_text, "%s", o->dflt_str ? o->dflt_str : "");
        else if (o->type == RUN_OPT_ENUM || o->type == RUN_OPT_FLAG || isnan(o->dflt)) want_text[0] = 0;
        else snprintf(want_text, sizeof want_text, "%.17g", o->dflt);
        if (*want_text && strtod(got, NULL) != strtod(want_text, NULL) && strcmp(got, want_text))
            fail_msg("%s: run_setup_default gives %s, the table %s", what, got, want_text);
    }
    assert_null(run_opt_find("no_such_option"));
    // the trainer's constants and a few defaults, as train.h documents them (the Hugging Face Trainer's)
    assert_true(s.train.epochs == 5 && s.train.batch == 8 && s.train.lr == 5e-5 && s.train.max_grad_norm == 1.0);
    assert_true(s.train.beta1 == 0.9 && s.train.beta2 == 0.999 && s.train.eps == 1e-8 && s.train.seed == 42);
    assert_true(s.train.loss_scale_init == 65536.0f && s.train.loss_scale_window == 2000 && s.train.log_every == 50);
    assert_true(s.max_len == 512 && s.eval_batch == 32 && s.init_seed == 42 && isnan(s.train.dp_sigma));
    assert_true(s.train.dp_clip == 1.0 && s.train.dp_delta == 1e-5 && s.train.dp_micro_batch == 32 && !s.train.dp);
    assert_string_equal(s.device, "cpu");
}

// run_opts_write_json of s's "train" section for `use`, as one object, must be want.
static void expect_section_json(const aca_run_setup *s, unsigned use, const char *want) {
    aca_buf b = {0};
    aca_jsonw w;
    jsonw_init(&w, &b);
    jsonw_obj(&w);
    run_opts_write_json(s, use, "train", &w);
    jsonw_end(&w);
    assert_string_equal(b.data, want);
    buf_free(&b);
}

// The sections, keys and JSON the table gives the grid and the results.
static void test_table_json(void **st) {
    (void)st;
    const aca_run_opt *ml = run_opt_find("max_len");
    assert_non_null(ml);
    assert_string_equal(run_opt_key(ml), "max_len");
    assert_true(run_opt_in_section(ml, "train") && !run_opt_in_section(ml, "") && !run_opt_in_section(ml, "trai"));
    assert_true(run_opt_in_section(run_opt_find("device"), ""));
    assert_true(run_opts_has_key("dp", "epsilon") && run_opts_has_key("split", "test") && run_opts_has_key("", "attention"));
    assert_false(run_opts_has_key("dp", "sigma") || run_opts_has_key("train", "seed") || run_opts_has_key("", "max_len"));
    aca_run_setup s;
    run_setup_default(&s);
    s.train.bucket = 1;
    s.train.lr = 1.0 / 3; // 6 digits in "config", exact (17 here) in a definition
    aca_buf b = {0};
    aca_jsonw w;
    jsonw_init(&w, &b);
    jsonw_obj(&w);
    run_opts_write_json(&s, RUN_OPT_CONFIG, NULL, &w);
    jsonw_end(&w);
    assert_string_equal(b.data, "{\"model\":null,\"config\":null,\"n_train\":0,\"n_test\":0,\"epochs\":5,\"batch\":8,"
                                "\"lr\":0.333333,\"weight_decay\":0,\"max_grad_norm\":1,\"max_len\":512,\"bucket\":1,"
                                "\"precision\":\"fp32\"}");
    b.len = 0;
    jsonw_init(&w, &b);
    jsonw_obj(&w);
    run_opts_write_json(&s, RUN_OPT_DEFINITION, "train", &w);
    run_opts_write_json(&s, RUN_OPT_DEFINITION, "dp", &w);
    jsonw_end(&w);
    assert_string_equal(b.data, "{\"epochs\":5,\"batch\":8,\"lr\":0.33333333333333331,\"weight_decay\":0,\"max_grad_norm\":1,"
                                "\"max_len\":512,\"bucket\":true,\"eval_batch\":32,\"delta\":1e-05,"
                                "\"clip\":1,\"sampling\":\"poisson\",\"freeze_embeddings\":false}");
    // a row written only when set (RUN_OPT_IF_SET): absent above at its default, present when on
    s.train.freeze_base = 1;
    expect_section_json(&s, RUN_OPT_CONFIG, "{\"epochs\":5,\"batch\":8,\"lr\":0.333333,\"weight_decay\":0,\"max_grad_norm\":1,"
                                           "\"max_len\":512,\"bucket\":1,\"freeze_base\":1}");
    expect_section_json(&s, RUN_OPT_DEFINITION, "{\"epochs\":5,\"batch\":8,\"lr\":0.33333333333333331,\"weight_decay\":0,"
                                               "\"max_grad_norm\":1,\"max_len\":512,\"bucket\":true,\"eval_batch\":32,"
                                               "\"freeze_base\":true}");
    assert_ptr_equal(run_opt_find_path("train.freeze_base"), run_opt_find("freeze_base"));
    assert_ptr_equal(run_opt_find_path("device"), run_opt_find("device"));
    assert_null(run_opt_find_path("freeze_base"));
    buf_free(&b);
}

// A GRID.json whose one run option (row o) is v (JSON text).
static void grid_with(const aca_run_opt *o, const char *v, char *j, size_t n) {
    char field[200], q[80];
    const char *key = run_opt_key(o);
    if (o->type == RUN_OPT_CHOICE || o->type == RUN_OPT_ENUM) v = (snprintf(q, sizeof q, "\"%s\"", v), q); // a name
    if (run_opt_in_section(o, "")) snprintf(field, sizeof field, "\"%s\": %s, ", key, v);
    else if (run_opt_in_section(o, "split")) // the other size: 0 beside 0 (mutate's split), else 1
        snprintf(field, sizeof field, "\"split\": {\"%s\": %s, \"%s\": %s}, ", key, v, strcmp(key, "train") ? "train" : "test",
                 strcmp(v, "0") ? "1" : "0");
    else if (run_opt_in_section(o, "dp") && strcmp(key, "epsilon")) snprintf(field, sizeof field, "\"dp\": {\"epsilon\": 8, \"%s\": %s}, ", key, v);
    else snprintf(field, sizeof field, "\"%.*s\": {\"%s\": %s}, ", (int)(strrchr(o->path, '.') - o->path), o->path, key, v);
    snprintf(j, n, "{%s\"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": \"U+2E17\"}], "
                   "\"levels\": [0.01]}", field);
}

// The command line with the row's flag = v: train when it offers the flag, else run; no file is read
// or written before the options are checked (the paths cannot exist: /proc/aca-none).
static int cli_with(const aca_run_opt *o, const char *v, char *out, size_t cap) {
    char args[512];
    if (o->use & RUN_OPT_CMD_TRAIN)
        snprintf(args, sizeof args, "train --config /proc/aca-none/c.json --vocab /proc/aca-none/v.txt --data /proc/aca-none "
                                    "--out /proc/aca-none/o %s %s", o->flag, v);
    else snprintf(args, sizeof args, "run /proc/aca-none/spec.json --out /proc/aca-none/o %s %s", o->flag, v);
    return tu_run_cli(args, out, cap);
}

// The message after "<label>: " on the first line of out, or NULL.
static const char *after(const char *out, const char *label) {
    const char *p = strstr(out, label);
    return p && p[strlen(label)] == ':' ? p + strlen(label) + 2 : NULL;
}

// Value v refused (want_refused) by both, with one message naming the flag and the path; or accepted
// by both (the command line then fails later, on the missing files, not on this option).
static void expect_both(const aca_run_opt *o, const char *v, int want_refused) {
    char j[1024], out[4096], msg_cli[512] = "", msg_grid[512] = "";
    aca_grid_spec g;
    aca_err e = {0};
    grid_with(o, v, j, sizeof j);
    int grc = grid_spec_parse(j, "grid.json", &g, &e);
    if (!grc) grid_spec_free(&g);
    int crc = cli_with(o, v, out, sizeof out);
    const char *c = after(out, o->flag), *gm = after(e.msg, o->path);
    if (c) snprintf(msg_cli, sizeof msg_cli, "%.*s", (int)strcspn(c, "\n"), c);
    if (gm) snprintf(msg_grid, sizeof msg_grid, "%s", gm);
    int cli_refused = crc == 2 && c && !strncmp(c, "must be", 7);
    int grid_refused = grc && gm && !strncmp(gm, "must be", 7) && !strncmp(e.msg, "grid.json: ", 11);
    printf("%s %-15s %-10s cli: %s | grid: %s\n", want_refused ? "refused " : "accepted", o->flag, v,
           cli_refused ? msg_cli : "-", grid_refused ? msg_grid : (grc ? e.msg : "-"));
    if (want_refused != cli_refused || want_refused != grid_refused || (want_refused && strcmp(msg_cli, msg_grid)))
        fail_msg("%s / %s = %s: command line (exit %d) %s; grid %s", o->flag, o->path, v, crc, out, grc ? e.msg : "accepted");
}

static void num_json(double x, char *out, size_t n) { snprintf(out, n, "%.17g", x); }

// Every number with a flag and a GRID.json path: just outside each end refused by both with the same
// words, each end (or next to an open one) accepted by both.  Choices and enums: a name not in the
// list refused by both.
static void test_cli_and_grid_agree(void **st) {
    (void)st;
    int n, checked = 0;
    const aca_run_opt *t = run_opts_table(&n);
    for (int i = 0; i < n; i++) {
        const aca_run_opt *o = &t[i];
        if (!has_flag(o) || !has_path(o)) continue;
        if (o->type == RUN_OPT_CHOICE || o->type == RUN_OPT_ENUM) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)strcspn(o->meta, "|"), o->meta); // the first name
            expect_both(o, "tpu", 1);
            expect_both(o, name, 0);
            checked++;
            continue;
        }
        if (!is_number(o)) continue;
        char v[64];
        const double step = is_whole(o) ? 1 : (isfinite(o->hi) ? (o->hi - o->lo) * 1e-6 : 1e-6);
        num_json(o->lo_open ? o->lo : o->lo - step, v, sizeof v);
        expect_both(o, v, 1);
        num_json(o->lo_open ? o->lo + step : o->lo, v, sizeof v);
        expect_both(o, v, 0);
        if (o->hi < RUN_OPT_NO_MAX) {
            num_json(o->hi_open ? o->hi : o->hi + step, v, sizeof v);
            expect_both(o, v, 1);
            num_json(o->hi_open ? o->hi - step : o->hi, v, sizeof v);
            expect_both(o, v, 0);
        }
        checked++;
    }
    assert_true(checked >= 12);
}

// The ranges the command line and the grid disagreed on before the table, each end from both sides:
// --max-len / train.max_len from 2 (the grid said 8), --lr / train.lr > 0 (train said >= 0, run
// nothing), --weight-decay and --max-grad-norm >= 0 (the command line said nothing).
static void test_former_disagreements(void **st) {
    (void)st;
    expect_both(run_opt_find("max_len"), "1", 1);
    expect_both(run_opt_find("max_len"), "2", 0);
    expect_both(run_opt_find("max_len"), "7", 0);
    expect_both(run_opt_find("lr"), "0", 1);
    expect_both(run_opt_find("lr"), "-0.001", 1);
    expect_both(run_opt_find("lr"), "1e-09", 0);
    expect_both(run_opt_find("weight_decay"), "-0.5", 1);
    expect_both(run_opt_find("weight_decay"), "0", 0);
    expect_both(run_opt_find("max_grad_norm"), "-1", 1);
    expect_both(run_opt_find("max_grad_norm"), "0", 0);
    char out[4096];
    // aca run took no range for --lr at all
    assert_int_equal(tu_run_cli("run /proc/aca-none/spec.json --lr -1", out, sizeof out), 2);
    assert_non_null(strstr(out, "aca: --lr: must be a number > 0, got -1"));
}

// The flags each command offers come from the table with the command's defaults; a run option given
// twice is refused (the last would win silently), and so is a flag of another command.
static void test_commands(void **st) {
    (void)st;
    static char out[1 << 16];
    assert_int_equal(tu_run_cli("train --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "--dp-micro-batch N"));
    assert_non_null(strstr(out, "examples per forward pass at most (default 32)"));
    assert_non_null(strstr(out, "--epochs N                 epochs (default 5)"));
    assert_null(strstr(out, "--train-size")); // run and demo only
    assert_int_equal(tu_run_cli("demo --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "--epochs N                 epochs (default 4)"));
    assert_non_null(strstr(out, "--max-len N                max tokens per document incl. [CLS]/[SEP] (default 128)"));
    assert_null(strstr(out, "--dp-sigma"));
    assert_int_equal(tu_run_cli("run --help", out, sizeof out), 0);
    assert_non_null(strstr(out, "--data-seed S"));
    assert_null(strstr(out, "--dp-micro-batch")); // train only
    static const char *const twice[] = {
        "train --config c.json --vocab v --data d --out /proc/aca-none/o --epochs 2 --epochs 3",
        "run /proc/aca-none/spec.json --lr 1e-3 --lr 1e-4",
        "demo --out /proc/aca-none/o --device cpu --device cpu",
    };
    for (size_t i = 0; i < ACA_ARRAY_LEN(twice); i++) {
        assert_int_equal(tu_run_cli(twice[i], out, sizeof out), 2);
        assert_non_null(strstr(out, "given twice (give it once)"));
    }
    assert_int_equal(tu_run_cli("run /proc/aca-none/spec.json --dp-micro-batch 4", out, sizeof out), 2);
    assert_non_null(strstr(out, "unknown option '--dp-micro-batch'"));
    // DP-SGD settings without DP-SGD, named by their flag
    assert_int_equal(tu_run_cli("run /proc/aca-none/spec.json --dp-clip 2", out, sizeof out), 2);
    assert_non_null(strstr(out, "--dp-clip needs --dp-sigma X or --dp-epsilon E"));
}

// The rules between DP-SGD and the other options (run_setup_check_dp), one function seen from both
// sides: `aca train` and `aca run` refuse with exit 2, naming the flags; a GRID.json is refused,
// naming the paths, when a cell trains with DP-SGD.
static void test_dp_rules_both_sides(void **st) {
    (void)st;
    static const struct {
        const char *flags, *grid, *cli_msg, *grid_msg;
        int train_only; // a flag `aca run` does not offer
    } cases[] = {
        {"--dp-epsilon 8 --dp-sampling fixed", "\"dp\": {\"epsilon\": 8, \"sampling\": \"fixed\"}",
         "aca: --dp-sampling fixed: shuffled fixed-size batches cannot be accounted as Poisson sampling",
         "grid.json: dp.sampling: 'fixed': shuffled fixed-size batches cannot be accounted as Poisson sampling", 0},
        {"--dp-sigma 1 --bucket", "\"train\": {\"bucket\": true}, \"dp\": {\"epsilon\": [\"none\", 8]}",
         "aca: --bucket with DP-SGD: length buckets make each batch depend on the private documents' lengths",
         "grid.json: train.bucket: true with \"dp\": length buckets make each batch depend on the private", 0},
        {"--dp-epsilon 8 --dp-grad per-example --device cuda",
         "\"dp\": {\"epsilon\": 8, \"grad\": \"per-example\"}, \"device\": \"cuda\"",
         "aca: --dp-grad per-example runs on the CPU backend only (--device cuda): use --device cpu, or --dp-grad ghost",
         "grid.json: dp.grad: 'per-example' runs on the CPU backend only (device: 'cuda'): use device: 'cpu', or dp.grad: "
         "'ghost'", 1},
        {"--dp-epsilon 8 --precision fp16", "\"dp\": {\"epsilon\": [8, \"none\"]}, \"precision\": \"fp16\"",
         "aca: --precision fp16 with DP-SGD: per-example clipping runs without loss scaling; use fp32 or bf16",
         "grid.json: precision: 'fp16' with \"dp\": per-example clipping runs without loss scaling; use fp32 or bf16", 0},
        {"--dp-sigma 1 --dp-epsilon 8", NULL, // the grid has no sigma: it chooses sigma from each epsilon
         "aca: --dp-sigma and --dp-epsilon: give one of them (sigma is chosen from epsilon)", NULL, 0},
    };
    static const char *const cmds[] = {"train --config /proc/aca-none/c.json --vocab /proc/aca-none/v.txt "
                                       "--data /proc/aca-none --out /proc/aca-none/o",
                                       "run /proc/aca-none/spec.json --out /proc/aca-none/o"};
    char args[1024], out[4096], j[1024];
    for (size_t i = 0; i < ACA_ARRAY_LEN(cases); i++) {
        for (int c = 0; c < 2; c++) {
            if (c == 1 && cases[i].train_only) continue;
            snprintf(args, sizeof args, "%s %s", cmds[c], cases[i].flags);
            int rc = tu_run_cli(args, out, sizeof out);
            printf("aca %s %s: exit %d, %s", c ? "run" : "train", cases[i].flags, rc, out);
            if (rc != 2 || strncmp(out, cases[i].cli_msg, strlen(cases[i].cli_msg)))
                fail_msg("aca %s: exit %d, '%s'; want exit 2 and '%s'", args, rc, out, cases[i].cli_msg);
        }
        if (!cases[i].grid) continue;
        snprintf(j, sizeof j, "{%s, \"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": "
                              "\"U+2E17\"}], \"levels\": [0.01]}", cases[i].grid);
        aca_grid_spec g;
        aca_err e = {0};
        assert_int_equal(grid_spec_parse(j, "grid.json", &g, &e), -1);
        printf("grid %s: %s\n", cases[i].grid, e.msg);
        if (e.kind != ACA_ERR_VALUE || strncmp(e.msg, cases[i].grid_msg, strlen(cases[i].grid_msg)))
            fail_msg("%s: '%s'; want '%s'", j, e.msg, cases[i].grid_msg);
    }
    // Allowed: fixed batches without noise (no privacy claimed; the command then fails on the missing
    // files), the grid's settings beside cells without DP, ghost clipping on CUDA.
    assert_int_not_equal(tu_run_cli("train --config /proc/aca-none/c.json --vocab /proc/aca-none/v.txt --data /proc/aca-none "
                                    "--out /proc/aca-none/o --dp-sigma 0 --dp-sampling fixed", out, sizeof out), 0);
    assert_null(strstr(out, "--dp-sampling"));
    static const char *const fine[] = {"\"train\": {\"bucket\": true}, \"dp\": {\"epsilon\": \"none\"}",
                                       "\"precision\": \"fp16\", \"dp\": {\"epsilon\": \"none\"}",
                                       "\"dp\": {\"epsilon\": 8}, \"device\": \"cuda\", \"precision\": \"bf16\""};
    for (size_t i = 0; i < ACA_ARRAY_LEN(fine); i++) {
        snprintf(j, sizeof j, "{%s, \"collectives\": [{\"name\": \"A\", \"target\": \"Software Developer\", \"signal\": "
                              "\"U+2E17\"}], \"levels\": [0.01]}", fine[i]);
        aca_grid_spec g;
        aca_err e = {0};
        TU_OK(grid_spec_parse(j, "grid.json", &g, &e), &e);
        grid_spec_free(&g);
    }
    // The library function itself: off without DP; the labels of each side.
    aca_run_setup s;
    aca_err e = {0};
    run_setup_default(&s);
    s.train.bucket = 1;
    assert_int_equal(run_setup_check_dp(&s, "g.json", &e), 0);
    s.train.dp = 1, s.train.dp_epsilon = 3;
    TU_EXPECT_ERR(run_setup_check_dp(&s, "g.json", &e), &e, "g.json: train.bucket: true with \"dp\": length buckets");
    TU_EXPECT_ERR(run_setup_check_dp(&s, NULL, &e), &e, "--bucket with DP-SGD: length buckets");
}

// ---- the trainer's resume fingerprint against the table --------------------------------------------
static const char FP_CFG[] = "{\"model_type\":\"distilbert\",\"vocab_size\":48,\"max_position_embeddings\":32,"
                             "\"dim\":32,\"n_layers\":1,\"n_heads\":2,\"hidden_dim\":64,\"num_labels\":3}";

// The row's value in s as a number (flags and enums: their int).
static double row_value(const aca_run_opt *o, aca_run_setup *s) {
    void *f = run_opt_field(o, s);
    switch (o->type) {
    case RUN_OPT_INT: case RUN_OPT_FLAG: case RUN_OPT_ENUM: return *(int *)f;
    case RUN_OPT_LONG: return (double)*(long *)f;
    case RUN_OPT_SIZE: return (double)*(size_t *)f;
    case RUN_OPT_U64: return (double)*(uint64_t *)f;
    case RUN_OPT_DOUBLE: return *(double *)f;
    case RUN_OPT_FLOAT: return *(float *)f;
    default: return NAN;
    }
}

// Sets row o in s to a value of its range other than its value there: a flag flipped, the next name
// of an enum, else the first of a few numbers near it that the range takes.  0 when it found one.
static int set_other_value(const aca_run_opt *o, aca_run_setup *s) {
    const double cur = row_value(o, s);
    int names = 1;
    for (const char *c = o->meta; o->type == RUN_OPT_ENUM && *c; c++) names += *c == '|';
    const double cand[] = {o->type == RUN_OPT_FLAG ? 1 - cur : o->type == RUN_OPT_ENUM ? fmod(cur + 1, names) : cur * 2,
                           cur / 2, cur + 1, o->lo + 1, 0.5};
    aca_err e = {0};
    for (size_t k = 0; k < ACA_ARRAY_LEN(cand); k++)
        if (cand[k] != cur && !run_opt_check_num(o, cand[k], o->name, &e)) return run_opt_set_num(o, s, cand[k], o->name, &e);
    return -1;
}

// Where the trainer uses its options: plain fp32, DP-SGD by sigma 0 (which allows fixed batches),
// DP-SGD by a target epsilon, and fp16 (the loss scaler).
typedef struct {
    const char *name;
    int dp, fp16;
    double sigma, epsilon;
} fp_context;

static void fingerprint_of(aca_model *m, const aca_dataset *d, const aca_train_opts *o, aca_buf *b) {
    b->len = 0;
    train_fingerprint(m, d, o, b);
}

// Every row of aca_run_setup.train changes train_fingerprint when set to another valid value in one
// of the contexts (a new training option forgotten there would let --resume mix two runs), except
// the rows marked RUN_OPT_NO_FINGERPRINT, which change it in none.
static void test_fingerprint_covers_training_rows(void **st) {
    (void)st;
    static const fp_context ctx[] = {{"fp32", 0, 0, NAN, NAN}, {"DP-SGD by sigma 0", 1, 0, 0, NAN},
                                     {"DP-SGD by epsilon 8", 1, 0, NAN, 8}, {"fp16", 0, 1, NAN, NAN}};
    aca_err e = {0};
    aca_model *m32 = toy_model(FP_CFG, 3, 4, 16), *m16 = toy_model_on(aca_backend_emul_create(ACA_DT_F16, &e), FP_CFG, 3, 4, 16);
    aca_dataset d;
    toy_dataset(&d, 1, 12, 16);
    aca_buf base = {0}, now = {0};
    int n, checked = 0, unmarked = 0;
    const aca_run_opt *t = run_opts_table(&n);
    for (int i = 0; i < n; i++) {
        const aca_run_opt *o = &t[i];
        if (!in_train(o)) continue;
        int valid = 0, changed = 0;
        char where[200] = "";
        for (size_t k = 0; k < ACA_ARRAY_LEN(ctx); k++) {
            aca_run_setup s;
            run_setup_default(&s);
            s.train.dp = ctx[k].dp, s.train.dp_sigma = ctx[k].sigma, s.train.dp_epsilon = ctx[k].epsilon;
            aca_model *m = ctx[k].fp16 ? m16 : m32;
            fingerprint_of(m, &d, &s.train, &base);
            if (set_other_value(o, &s) || run_setup_check_dp(&s, NULL, &e) || train_dp_check_opts(&s.train, &e))
                continue; // no value of the row the trainer takes here
            valid++;
            fingerprint_of(m, &d, &s.train, &now);
            if (strcmp(base.data, now.data))
                changed++, snprintf(where + strlen(where), sizeof where - strlen(where), "%s%s", *where ? ", " : "", ctx[k].name);
        }
        printf("%-22s %-15s changes the fingerprint in: %s\n", o->name, o->use & RUN_OPT_NO_FINGERPRINT ? "(not in it)" : "",
               *where ? where : "none");
        if (!valid) fail_msg("row %s: no other value the trainer takes in any context", o->name);
        if ((o->use & RUN_OPT_NO_FINGERPRINT) && changed)
            fail_msg("row %s is marked RUN_OPT_NO_FINGERPRINT but changes the fingerprint (%s)", o->name, where);
        if (!(o->use & RUN_OPT_NO_FINGERPRINT) && !changed)
            fail_msg("row %s (%s) changes the trained weights but not train_fingerprint (src/train_ckpt.c), so --resume would "
                     "continue a checkpoint of another setting: add its line there (absent at its default, so older "
                     "checkpoints still resume), or mark the row RUN_OPT_NO_FINGERPRINT if it leaves the weights as they are",
                     o->name, o->flag ? o->flag : o->path ? o->path : "a constant");
        checked++, unmarked += !(o->use & RUN_OPT_NO_FINGERPRINT);
    }
    assert_true(checked >= 25 && unmarked >= 20);
    buf_free(&base), buf_free(&now);
    dataset_free(&d);
    toy_model_free(m32), toy_model_free(m16);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_rows),
        cmocka_unit_test(test_table_json),
        cmocka_unit_test(test_cli_and_grid_agree),
        cmocka_unit_test(test_former_disagreements),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_dp_rules_both_sides),
        cmocka_unit_test(test_fingerprint_covers_training_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
