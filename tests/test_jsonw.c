// Tests of the JSON writer (include/aca/jsonw.h): commas and nesting, escaping, NaN and infinities
// as null, the number formats, the spaced and line-broken layout, and that cJSON reads back what
// it wrote.  Expected texts are written out by hand.
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "aca/jsonw.h"

static void test_nesting_and_commas(void **st) {
    (void)st;
    aca_buf b = {0};
    aca_jsonw w;
    jsonw_init(&w, &b);
    jsonw_obj(&w);
    jsonw_kint(&w, "a", 1);
    jsonw_key(&w, "b");
    jsonw_arr(&w);
    jsonw_int(&w, 2), jsonw_num(&w, 3.5), jsonw_num(&w, NAN);
    jsonw_arr(&w), jsonw_end(&w); // an empty array inside an array
    jsonw_end(&w);
    jsonw_key(&w, "c");
    jsonw_obj(&w);
    jsonw_kstr(&w, "d", "x\"y\\z\n");
    jsonw_kbool(&w, "e", 1);
    jsonw_kstr(&w, "f", NULL);
    jsonw_end(&w);
    jsonw_key(&w, "g");
    jsonw_obj(&w), jsonw_end(&w);
    jsonw_kuint(&w, "h", 18446744073709551615ULL);
    jsonw_kint(&w, "i", -9223372036854775807LL);
    jsonw_end(&w);
    assert_string_equal(b.data, "{\"a\":1,\"b\":[2,3.5,null,[]],\"c\":{\"d\":\"x\\\"y\\\\z\\n\",\"e\":true,\"f\":null},"
                                "\"g\":{},\"h\":18446744073709551615,\"i\":-9223372036854775807}");
    assert_int_equal(w.depth, 0);
    cJSON *o = cJSON_Parse(b.data);
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "c"), "d")->valuestring, "x\"y\\z\n");
    assert_true(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "b"), 2)));
    cJSON_Delete(o);
    buf_free(&b);
}

// Every number writer turns NaN and both infinities into null.
static void test_non_finite_is_null(void **st) {
    (void)st;
    const double bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t k = 0; k < ACA_ARRAY_LEN(bad); k++) {
        aca_buf b = {0};
        aca_jsonw w;
        jsonw_init(&w, &b);
        jsonw_arr(&w);
        jsonw_num(&w, bad[k]), jsonw_num_prec(&w, bad[k], 17), jsonw_num_exact(&w, bad[k]);
        jsonw_end(&w);
        assert_string_equal(b.data, "[null,null,null]");
        buf_free(&b);
    }
}

static void test_number_formats(void **st) {
    (void)st;
    aca_buf b = {0};
    aca_jsonw w;
    jsonw_init(&w, &b);
    jsonw_arr(&w);
    jsonw_num(&w, 1.0 / 3);              // 6 digits by default
    jsonw_num_prec(&w, 1.0 / 3, 9);      // as asked
    jsonw_num_exact(&w, 0.1);            // %.15g reads back
    jsonw_num_exact(&w, 1.0 / 3);        // it does not: %.17g
    jsonw_num_exact(&w, 1e7);            // no exponent below 15 digits
    jsonw_num(&w, 1e-7);
    jsonw_end(&w);
    assert_string_equal(b.data, "[0.333333,0.333333333,0.1,0.33333333333333331,10000000,1e-07]");
    w.digits = 9;
    buf_clear(&b);
    jsonw_num(&w, 2.0 / 3);
    assert_string_equal(b.data, "0.666666667");
    buf_free(&b);
}

// ", " and ": ", and items that start on their own lines: the layout of OUT/inputs.json.
static void test_spaced_layout(void **st) {
    (void)st;
    aca_buf b = {0};
    aca_jsonw w;
    jsonw_init(&w, &b);
    jsonw_spaced(&w);
    jsonw_obj(&w);
    jsonw_kstr(&w, "format", "f 1");
    jsonw_newline(&w, 1);
    jsonw_key(&w, "inputs");
    jsonw_arr(&w);
    for (int k = 0; k < 2; k++) {
        jsonw_newline(&w, 2);
        jsonw_obj(&w);
        jsonw_kstr(&w, "role", k ? "vocabulary" : "corpus");
        jsonw_kint(&w, "n", k);
        jsonw_end(&w);
    }
    jsonw_end(&w);
    jsonw_newline(&w, 1);
    jsonw_key(&w, "synthetic");
    jsonw_obj(&w);
    jsonw_kint(&w, "docs", 100);
    jsonw_key(&w, "char_rates");
    jsonw_obj(&w), jsonw_end(&w);
    jsonw_end(&w);
    jsonw_end(&w);
    assert_string_equal(b.data, "{\"format\": \"f 1\",\n \"inputs\": [\n  {\"role\": \"corpus\", \"n\": 0},\n"
                                "  {\"role\": \"vocabulary\", \"n\": 1}],\n \"synthetic\": {\"docs\": 100, \"char_rates\": {}}}");
    cJSON *o = cJSON_Parse(b.data);
    assert_non_null(o);
    cJSON_Delete(o);
    buf_free(&b);
}

// Strings with a length: bytes after a NUL are kept (escaped), control characters escaped.
static void test_strings(void **st) {
    (void)st;
    aca_buf b = {0};
    aca_jsonw w;
    jsonw_init(&w, &b);
    jsonw_arr(&w);
    jsonw_strn(&w, "a\0b", 3);
    jsonw_str(&w, "\x01\t\xc3\xa9");
    jsonw_raw(&w, "{\"pre\":1}");
    jsonw_end(&w);
    assert_string_equal(b.data, "[\"a\\u0000b\",\"\\u0001\\t\xc3\xa9\",{\"pre\":1}]");
    buf_free(&b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nesting_and_commas),
        cmocka_unit_test(test_non_finite_is_null),
        cmocka_unit_test(test_number_formats),
        cmocka_unit_test(test_spaced_layout),
        cmocka_unit_test(test_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
