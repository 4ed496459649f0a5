// Helpers shared by the cmocka tests: includes in the order cmocka needs, NaN-proof comparisons
// that name the worst element, and output poisoning.
#ifndef ACA_TESTUTIL_H
#define ACA_TESTUTIL_H

// clang-format off
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
// clang-format on
#include <math.h>
#include <stdio.h>
#include <string.h>

// Fills n floats with NaN so an op that skips writing an output is caught.
static inline void tu_poison_f32(float *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = NAN;
}

static inline double tu_maxabs_f64(const double *p, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fabs(p[i]) > m ? fabs(p[i]) : m;
    return m;
}

// Fails unless every got[i] is finite and |got - ref| <= atol + rtol |ref| (a NaN fails).
// Prints the worst element (largest violation ratio) and the max abs difference.
static inline void tu_check_close(const char *what, const float *got, const double *ref, size_t n, double rtol,
                                  double atol) {
    size_t worst = 0, nbad = 0;
    double worst_ratio = 0, maxdiff = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]), lim = atol + rtol * fabs(ref[i]);
        int bad = !isfinite(got[i]) || !isfinite(ref[i]) || !(d <= lim);
        double ratio = !bad ? 0 : (isfinite(d) && lim > 0 ? d / lim : INFINITY);
        if (isfinite(d) && d > maxdiff) maxdiff = d;
        if (bad && (nbad++ == 0 || ratio > worst_ratio)) worst_ratio = ratio, worst = i;
    }
    if (nbad) {
        print_error("%s: %zu of %zu elements off (rtol %g atol %g); worst [%zu] got %.9g want %.9g; max|diff| %g\n", what,
                    nbad, n, rtol, atol, worst, (double)got[worst], ref[worst], maxdiff);
        fail();
    }
}

// Same for two float arrays that must be bit-identical.
static inline void tu_check_bits(const char *what, const float *a, const float *b, size_t n) {
    if (memcmp(a, b, n * sizeof(float))) {
        size_t i = 0;
        while (i < n && !memcmp(a + i, b + i, sizeof(float))) i++;
        print_error("%s: not bit-identical, first difference at [%zu]: %.9g vs %.9g\n", what, i, (double)a[i],
                    (double)b[i]);
        fail();
    }
}

#endif
