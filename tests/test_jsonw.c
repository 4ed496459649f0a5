// Tests of the JSON writer (include/aca/jsonw.h): commas and nesting, escaping, NaN and infinities
// as null, the number formats (floats too), the spaced and line-broken layouts (one item, a whole
// container), and that cJSON reads back what it wrote.  Expected texts are written out by hand.
#include "testutil.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "aca/jsonw.h"

// A spaced writer into b with its outermost object open.
static void open_spaced(aca_jsonw *w, aca_buf *b) {
    jsonw_init(w, b);
    jsonw_spaced(w);
    jsonw_obj(w);
}

// cJSON reads b's text as one JSON value.
static void assert_parses(const aca_buf *b) {
    cJSON *o = cJSON_Parse(b->data);
    assert_non_null(o);
    cJSON_Delete(o);
}

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
    open_spaced(&w, &b);
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
    assert_parses(&b);
    buf_free(&b);
}

// Items on lines of their own (config.json, manifests): jsonw_lines for a whole container, whose
// closing bracket gets a line too, nested inline containers, jsonw_newline for one item and before a
// closing bracket, and a compact value inside a spaced file.
static void test_lines_layout(void **st) {
    (void)st;
    aca_buf b = {0};
    aca_jsonw w;
    open_spaced(&w, &b);
    jsonw_lines(&w, 2);
    jsonw_key(&w, "arch");
    jsonw_arr(&w), jsonw_str(&w, "Bert"), jsonw_end(&w);
    jsonw_kint(&w, "dim", 32);
    jsonw_key(&w, "labels");
    jsonw_obj(&w), jsonw_kstr(&w, "0", "A"), jsonw_kstr(&w, "1", "B"), jsonw_end(&w);
    jsonw_key(&w, "colls");
    jsonw_arr(&w);
    jsonw_lines(&w, 4);
    for (int k = 0; k < 2; k++) {
        jsonw_obj(&w);
        jsonw_kint(&w, "n", k);
        jsonw_key(&w, "by");
        jsonw_compact(&w);
        jsonw_obj(&w), jsonw_kint(&w, "x", 1), jsonw_kint(&w, "y", 2), jsonw_end(&w);
        jsonw_spaced(&w);
        jsonw_kbool(&w, "ok", k);
        jsonw_end(&w);
    }
    jsonw_end(&w);
    jsonw_key(&w, "counts");
    jsonw_obj(&w);
    jsonw_kint(&w, "a", 1), jsonw_kint(&w, "b", 2);
    jsonw_newline(&w, 4);
    jsonw_kint(&w, "c", 3);
    jsonw_end(&w);
    jsonw_key(&w, "empty");
    jsonw_arr(&w), jsonw_lines(&w, 4), jsonw_end(&w);
    jsonw_key(&w, "files");
    jsonw_arr(&w), jsonw_str(&w, "a"), jsonw_str(&w, "b"), jsonw_newline(&w, 2), jsonw_end(&w);
    jsonw_end(&w);
    assert_string_equal(b.data, "{\n"
                                "  \"arch\": [\"Bert\"],\n"
                                "  \"dim\": 32,\n"
                                "  \"labels\": {\"0\": \"A\", \"1\": \"B\"},\n"
                                "  \"colls\": [\n"
                                "    {\"n\": 0, \"by\": {\"x\":1,\"y\":2}, \"ok\": false},\n"
                                "    {\"n\": 1, \"by\": {\"x\":1,\"y\":2}, \"ok\": true}\n"
                                "  ],\n"
                                "  \"counts\": {\"a\": 1, \"b\": 2,\n"
                                "    \"c\": 3},\n"
                                "  \"empty\": [\n"
                                "  ],\n"
                                "  \"files\": [\"a\", \"b\"\n"
                                "  ]\n"
                                "}");
    assert_int_equal(w.depth, 0);
    assert_parses(&b);
    buf_free(&b);
}

// Floats: the shortest of 6 to 9 significant digits that reads back as the same float (the
// expected texts are numpy's repr of np.float32(x)); NaN and infinities as null.
static void test_float_format(void **st) {
    (void)st;
    aca_buf b = {0};
    aca_jsonw w;
    jsonw_init(&w, &b);
    jsonw_arr(&w);
    const float x[] = {0.1f, 1e-12f, 0.3333333f, 0.0123456789f, 1.0f / 3, 16777216.0f, 3e-8f, 0.15f, 0, NAN, -INFINITY};
    for (size_t k = 0; k < ACA_ARRAY_LEN(x); k++) jsonw_num_float(&w, x[k]);
    jsonw_end(&w);
    assert_string_equal(b.data, "[0.1,1e-12,0.3333333,0.012345679,0.33333334,16777216,3e-08,0.15,0,null,null]");
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
        cmocka_unit_test(test_lines_layout),
        cmocka_unit_test(test_float_format),
        cmocka_unit_test(test_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
