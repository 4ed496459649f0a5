// Tests of the gnuplot writer (include/aca/gnuplot.h): quoting, the data file's blocks, the script
// (settings once, the body once per output, series on continuation lines), the files written, and,
// when gnuplot is installed, that it draws the script and an inline-data PNG (skipped, and said so,
// without it).  Expected texts are written out by hand.
#include "testutil.h"

#include <math.h>
#include <unistd.h>

#include "aca/gnuplot.h"

static void test_quote(void **st) {
    (void)st;
    aca_buf b = {0};
    gnuplot_quote(&b, "a \"q\" \\ b\nc");
    assert_string_equal(b.data, "\"a \\\"q\\\" \\\\ b\\nc\"");
    buf_free(&b);
}

// A two-block figure: the data file, the settings, and the body drawn into PNG and SVG.
static void two_blocks(aca_gnuplot *p) {
    gnuplot_init(p, "fig", 300, 200);
    int k0 = gnuplot_block(p, "%s: x y", "A");
    gnuplot_row(p, "%g", 1.0), gnuplot_val(p, 0.5), gnuplot_row(p, "\n");
    gnuplot_row(p, "%g", 2.0), gnuplot_val(p, NAN), gnuplot_row(p, "\n");
    gnuplot_block_end(p);
    int k1 = gnuplot_block(p, NULL);
    gnuplot_row(p, "1 2\n");
    gnuplot_block_end(p);
    assert_int_equal(k0, 0);
    assert_int_equal(k1, 1);
    gnuplot_comment(p, "a figure");
    gnuplot_text(p, "title", "name \"q\"\nsecond line");
    gnuplot_set(p, "yrange [0:%d]", 105);
    gnuplot_tics(p, "xtics");
    gnuplot_tic(p, "1", 1), gnuplot_tic(p, "2", 2);
    gnuplot_tics_end(p);
    gnuplot_series(p, NULL, k0, "A", "using 1:2 with lines lc %d", 1);
    gnuplot_series(p, "0.5", -1, NULL, "dt 2");
    gnuplot_plot_end(p);
}

static void test_script_and_data(void **st) {
    (void)st;
    aca_gnuplot p;
    two_blocks(&p);
    assert_string_equal(p.dat.data, "# A: x y\n1 0.5\n2 NaN\n\n\n1 2\n\n\n");
    aca_buf s = {0};
    gnuplot_script(&p, &s);
    static const char draw[] = "plot \"fig.dat\" index 0 using 1:2 with lines lc 1 title \"A\", \\\n  0.5 dt 2 notitle\n";
    char want[2048];
    snprintf(want, sizeof want,
             "# a figure\nset title \"name \\\"q\\\"\\nsecond line\"\nset yrange [0:105]\nset xtics (\"1\" 1, \"2\" 2)\n"
             "set terminal pngcairo size 300,200 noenhanced font \",10\"\nset output \"fig.png\"\n%s"
             "set terminal svg size 300,200 noenhanced font \"sans,10\"\nset output \"fig.svg\"\n%sunset output\n",
             draw, draw);
    assert_string_equal(s.data, want);
    // gnuplot_write: the same bytes in DIR/fig.dat and DIR/fig.gp
    char *d = tu_tmpdir();
    aca_err e = {0};
    TU_OK(gnuplot_write(&p, d, &e), &e);
    char *dp = tu_path(d, "fig.dat"), *gp = tu_path(d, "fig.gp");
    char *dat = tu_read_file(dp, NULL), *script = tu_read_file(gp, NULL);
    assert_string_equal(dat, p.dat.data);
    assert_string_equal(script, s.data);
    if (gnuplot_available()) { // gnuplot reads the script: both images appear
        gnuplot_run(d, "fig.gp");
        char *png = tu_path(d, "fig.png"), *svg = tu_path(d, "fig.svg");
        assert_true(file_exists(png) && file_exists(svg));
        free(png), free(svg);
    } else {
        print_message("skipped: gnuplot is not installed (the script is not drawn)\n");
    }
    free(dat), free(script), free(dp), free(gp);
    tu_rm_rf(d);
    free(d);
    buf_free(&s);
    gnuplot_free(&p);
}

// gnuplot_render_png: the data inline ($data), one PNG at the path, nothing left on failure.
static void test_render_png(void **st) {
    (void)st;
    if (!gnuplot_available()) {
        print_message("skipped: gnuplot is not installed (no PNG to render)\n");
        return;
    }
    aca_gnuplot p;
    gnuplot_init(&p, "plan", 400, 300);
    p.inline_data = 1;
    int k = gnuplot_block(&p, NULL);
    for (int n = 1; n <= 5; n++) gnuplot_row(&p, "%d %.6f\n", n, n / 5.0);
    gnuplot_block_end(&p);
    gnuplot_draw_text(&p, "title", "panel");
    gnuplot_series(&p, NULL, k, "bound", "with steps lw 2");
    gnuplot_plot_end(&p);
    assert_non_null(strstr(p.body.data, "plot $data index 0 with steps lw 2 title \"bound\"\n"));
    char *d = tu_tmpdir(), *png = tu_path(d, "p.png"), *missing = tu_path(d, "no/such/dir/p.png");
    aca_err e = {0};
    TU_OK(gnuplot_render_png(&p, png, &e), &e);
    size_t n = 0;
    char *bytes = tu_read_file(png, &n);
    assert_true(n > 8 && !memcmp(bytes, "\x89PNG", 4));
    TU_EXPECT_ERR(gnuplot_render_png(&p, missing, &e), &e, "no/such/dir");
    assert_false(file_exists(missing));
    free(bytes);
    tu_rm_rf(d);
    free(d), free(png), free(missing);
    gnuplot_free(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quote),
        cmocka_unit_test(test_script_and_data),
        cmocka_unit_test(test_render_png),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
