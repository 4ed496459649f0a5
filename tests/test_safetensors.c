// safetensors parser and writer: dtype conversions, round trip, and every validation failure with its
// message (file and tensor named).
#include <stdlib.h>
#include <unistd.h>

#include "aca/safetensors.h"
#include "testutil.h"

// bytes = 8-byte length + header + data_len bytes of data (0x3f pattern); caller frees.
static uint8_t *make(const char *header, size_t data_len, size_t *n) {
    size_t hl = strlen(header);
    *n = 8 + hl + data_len;
    uint8_t *b = xcalloc(*n + 1, 1);
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hl >> (8 * i));
    memcpy(b + 8, header, hl);
    memset(b + 8 + hl, 0x3f, data_len);
    return b;
}

static void expect_error(const char *header, size_t data_len, const char *needle) {
    size_t n;
    uint8_t *b = make(header, data_len, &n);
    st_file f = {0};
    aca_err e = {0};
    int rc = st_parse(&f, b, n, "w.safetensors", &e);
    if (rc == 0 || !strstr(e.msg, needle) || !strstr(e.msg, "w.safetensors")) {
        print_error("header %s: rc %d, message '%s' (wanted '%s')\n", header, rc, e.msg, needle);
        fail();
    }
    assert_int_equal(f.n, 0);
    st_close(&f);
    free(b);
}

static void test_validation(void **s) {
    // A valid two-tensor file (one a 0-d scalar) with metadata.
    size_t n;
    uint8_t *b = make("{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                      "\"b\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[24,32]}}",
                      32, &n);
    st_file f = {0};
    aca_err e;
    assert_int_equal(st_parse(&f, b, n, "ok.safetensors", &e), 0);
    assert_int_equal(f.n, 2);
    assert_string_equal(st_metadata(&f, "format"), "pt");
    assert_null(st_metadata(&f, "nope"));
    const st_tensor *t = st_find(&f, "a");
    assert_int_equal(t->numel, 6), assert_int_equal(t->ndim, 2), assert_int_equal(t->shape[1], 3);
    assert_int_equal(st_find(&f, "b")->numel, 1);
    float x[6];
    assert_int_equal(st_read_f32(&f, st_find(&f, "b"), x, &e), -1); // I64 is not floating point
    assert_non_null(strstr(e.msg, "tensor 'b'"));
    st_close(&f);
    free(b);

    assert_int_equal(st_parse(&f, "\x02\0\0", 3, "w.safetensors", &e), -1);
    assert_non_null(strstr(e.msg, "w.safetensors: 3 bytes, too short"));
    st_close(&f);
    expect_error("", 0, "not a JSON object");
    expect_error("{\"a\":1}", 0, "not an object");
    expect_error("not json", 0, "not a JSON object");
    expect_error("{} x", 0, "junk after");
    expect_error("{\"a\":{\"dtype\":\"F33\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "unknown dtype 'F33'");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "shape[0]");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "shape[0]");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}}", 4, "run past the data section");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8, "end before they begin");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 8, "needs 8 bytes");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                 12, "overlap");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                 8, "appears twice");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "data_offsets");
    expect_error("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "dtype");
    expect_error("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}", 4, "overflows");
    // Header length beyond the file.
    b = make("{}", 0, &n);
    b[0] = 200;
    assert_int_equal(st_parse(&f, b, n, "w.safetensors", &e), -1);
    assert_non_null(strstr(e.msg, "header length 200 exceeds the file size"));
    st_close(&f);
    free(b);
}

static uint16_t f32_to_bf16(float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return (uint16_t)(u >> 16);
}

static void test_dtypes(void **s) {
    // F16: 1.0, -2.5, 65504 (max), 2^-24 (smallest subnormal), +inf; BF16: 3.0, -0.15625; I64: -7, 2^31-1.
    uint16_t h[5] = {0x3c00, 0xc100, 0x7bff, 0x0001, 0x7c00};
    uint16_t bf[2] = {f32_to_bf16(3.0f), f32_to_bf16(-0.15625f)};
    int64_t i64[2] = {-7, 2147483647};
    char hdr[512];
    snprintf(hdr, sizeof hdr,
             "{\"h\":{\"dtype\":\"F16\",\"shape\":[5],\"data_offsets\":[0,10]},\"bf\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[10,14]},"
             "\"i\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[14,30]}}");
    size_t n;
    uint8_t *b = make(hdr, 30, &n);
    uint8_t *d = b + n - 30;
    memcpy(d, h, 10), memcpy(d + 10, bf, 4), memcpy(d + 14, i64, 16);
    st_file f = {0};
    aca_err e;
    assert_int_equal(st_parse(&f, b, n, "d.safetensors", &e), 0);
    float x[5];
    assert_int_equal(st_read_f32(&f, st_find(&f, "h"), x, &e), 0);
    assert_true(x[0] == 1.0f && x[1] == -2.5f && x[2] == 65504.0f && x[3] == ldexpf(1, -24) && isinf(x[4]) && x[4] > 0);
    assert_int_equal(st_read_f32(&f, st_find(&f, "bf"), x, &e), 0);
    assert_true(x[0] == 3.0f && x[1] == -0.15625f);
    int32_t iv[2];
    assert_int_equal(st_read_i32(&f, st_find(&f, "i"), iv, &e), 0);
    assert_int_equal(iv[0], -7), assert_int_equal(iv[1], 2147483647);
    assert_int_equal(st_read_i32(&f, st_find(&f, "h"), iv, &e), -1);
    st_close(&f);
    // An int64 beyond int32 is an error naming the tensor.
    i64[1] = 1LL << 40;
    memcpy(d + 14, i64, 16);
    assert_int_equal(st_parse(&f, b, n, "d.safetensors", &e), 0);
    assert_int_equal(st_read_i32(&f, st_find(&f, "i"), iv, &e), -1);
    assert_non_null(strstr(e.msg, "tensor 'i': element 1 does not fit"));
    st_close(&f);
    free(b);
}

static void test_write_roundtrip(void **s) {
    char *dir = tu_tmpdir(), *path = path_join(dir, "tmp_st.safetensors");
    float a[6] = {1, 2, 3, 4, 5, 6.5f}, sc = 7;
    int32_t ids[3] = {-1, 0, 123456};
    st_out o[3] = {{.name = "w\"x", .ndim = 2, .shape = {2, 3}, .f32 = a},
                   {.name = "scalar", .ndim = 0, .f32 = &sc},
                   {.name = "ids", .ndim = 1, .shape = {3}, .i32 = ids}};
    const char *meta[] = {"format", "pt", "version", "1"};
    aca_err e;
    assert_int_equal(st_write(path, o, 3, meta, 2, &e), 0);
    st_file f;
    assert_int_equal(st_open(&f, path, &e), 0);
    assert_int_equal(f.n, 3);
    assert_int_equal((f.data - (const uint8_t *)f.file.data) % 8, 0); // header padded to 8 bytes
    assert_string_equal(st_metadata(&f, "version"), "1");
    float x[6];
    assert_int_equal(st_read_f32(&f, st_find(&f, "w\"x"), x, &e), 0);
    tu_check_bits("roundtrip", x, a, 6);
    assert_int_equal(st_find(&f, "scalar")->ndim, 0);
    assert_int_equal(st_read_f32(&f, st_find(&f, "scalar"), x, &e), 0);
    assert_true(x[0] == 7);
    int32_t iv[3];
    assert_int_equal(st_read_i32(&f, st_find(&f, "ids"), iv, &e), 0);
    assert_memory_equal(iv, ids, sizeof ids);
    st_close(&f);
    // Unwritable path: an error naming it, nothing left behind.
    char *bad = path_join(dir, "no/such/dir/x.safetensors"), *absent = path_join(dir, "absent.safetensors");
    assert_int_equal(st_write(bad, o, 1, NULL, 0, &e), -1);
    assert_non_null(strstr(e.msg, bad));
    assert_int_equal(st_open(&f, absent, &e), -1);
    assert_non_null(strstr(e.msg, "absent.safetensors: cannot open"));
    unlink(path);
    assert_int_equal(tu_dir_count(dir), 0); // nothing left behind
    tu_rm_rf(dir);
    free(dir), free(path), free(bad), free(absent);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_write_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
