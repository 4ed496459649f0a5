// safetensors: the Hugging Face tensor file (8-byte little-endian header length N, N bytes of JSON
// header, then the data section).  The header maps names to {"dtype", "shape", "data_offsets"}
// (offsets relative to the data section), plus an optional "__metadata__" object of strings.
//
// The parser validates everything before any tensor is read: header length within the file, a JSON
// object, known dtypes, non-negative shapes, every [begin, end) inside the data section, no two
// tensors overlapping, numel * dtype size == end - begin, no duplicate names.  Errors name the file
// and the tensor.
#ifndef ACA_SAFETENSORS_H
#define ACA_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "aca/util.h"

#define ST_MAX_DIMS 8

typedef enum {
    ST_BOOL = 0, ST_U8, ST_I8, ST_F8_E4M3, ST_F8_E5M2, ST_I16, ST_U16, ST_F16, ST_BF16,
    ST_I32, ST_U32, ST_F32, ST_I64, ST_U64, ST_F64,
} st_dtype;

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    size_t begin, end; // byte range inside the data section
} st_tensor;

typedef struct {
    char *path;           // for error messages
    aca_buf file;         // the whole file (when opened with st_open)
    const uint8_t *data;  // the data section
    size_t data_size;
    st_tensor *tensors;   // in header order
    int n;
    char **meta_keys, **meta_vals; // __metadata__ (n_meta pairs)
    int n_meta;
} st_file;

const char *st_dtype_name(st_dtype dt);
size_t st_dtype_size(st_dtype dt);

// Parses and validates bytes[0..n) (kept by reference: bytes must outlive f).  f must be zeroed
// ({0}) or closed.  path is only used in messages.  On failure f is left empty (st_close is safe).
int st_parse(st_file *f, const void *bytes, size_t n, const char *path, aca_err *e);
// Reads the whole file and parses it.
int st_open(st_file *f, const char *path, aca_err *e);
void st_close(st_file *f);

const st_tensor *st_find(const st_file *f, const char *name);
const char *st_metadata(const st_file *f, const char *key); // NULL when absent

// Converts a tensor to fp32 (out: t->numel floats).  F32, F16, BF16 and F64 are accepted; any other
// dtype is an error naming the tensor.
int st_read_f32(const st_file *f, const st_tensor *t, float *out, aca_err *e);
// Converts an integer tensor (I32, I64, U8, I8, I16, U16, U32, BOOL) to int32 (out: numel values);
// values outside int32 are an error.
int st_read_i32(const st_file *f, const st_tensor *t, int32_t *out, aca_err *e);

// One tensor to write: fp32 data (numel = product of shape; ndim 0 means a scalar) or int32 when
// i32 != NULL.
typedef struct {
    const char *name;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const float *f32;
    const int32_t *i32;
} st_out;

// Writes path atomically (temp file + rename) with the given tensors in order and an optional
// __metadata__ (n_meta key/value pairs).  The header is padded with spaces to a multiple of 8.
int st_write(const char *path, const st_out *t, int n, const char *const *meta_kv, int n_meta, aca_err *e);

#endif
