// jsonw: a small JSON writer into an aca_buf (the reader is jsontext.h / cJSON).  Objects and
// arrays nest with the commas placed automatically; keys and strings are escaped (buf_json_str);
// a number that is NaN or infinite is written as null (JSON has neither).  Compact by default
// ({"a":1,"b":[2,3]}); jsonw_spaced gives ", " and ": " (jsonw_compact goes back), jsonw_newline
// starts the next item on a new line and jsonw_lines every item of a container, for files people
// read (OUT/inputs.json, manifests, config.json).
//
//   aca_jsonw w;
//   jsonw_init(&w, &buf);
//   jsonw_obj(&w);
//   jsonw_kstr(&w, "name", "A");
//   jsonw_key(&w, "eff"), jsonw_num(&w, NAN);   // "eff":null
//   jsonw_end(&w);                             // {"name":"A","eff":null}
#ifndef ACA_JSONW_H
#define ACA_JSONW_H

#include <stddef.h>

#include "aca/util.h"

#define JSONW_MAX_DEPTH 32

typedef struct {
    aca_buf *b;
    int depth;                         // open objects and arrays
    char close[JSONW_MAX_DEPTH];       // '}' or ']' for each
    char has_items[JSONW_MAX_DEPTH];   // the container holds an item: the next one needs a comma
    int after_key;                     // a key was written: its value follows without a comma
    int digits;                        // significant digits of jsonw_num (%.*g; default 6)
    int spaced;                        // ", " and ": " instead of "," and ":"
    int newline;                       // > 0: the next item starts a new line, indented by newline - 1
    signed char lines[JSONW_MAX_DEPTH]; // >= 0: each item of the container starts a new line so indented
} aca_jsonw;

// Writes into b (appending); 6 significant digits, compact.
void jsonw_init(aca_jsonw *w, aca_buf *b);
void jsonw_spaced(aca_jsonw *w);
void jsonw_compact(aca_jsonw *w); // "," and ":" again (a compact value inside a spaced file)
// The next key, or array element, starts on a new line indented by `indent` spaces (after its
// comma); before jsonw_end, the closing bracket does.
void jsonw_newline(aca_jsonw *w, int indent);
// Every later item of the innermost open container starts on a new line indented by `indent`
// (0..127) spaces, and its closing bracket on a new line indented by indent - 2:
//   {
//     "a": 1,
//     "b": [2, 3]
//   }
void jsonw_lines(aca_jsonw *w, int indent);

void jsonw_obj(aca_jsonw *w);      // {
void jsonw_arr(aca_jsonw *w);      // [
void jsonw_end(aca_jsonw *w);      // closes the innermost object or array
void jsonw_key(aca_jsonw *w, const char *k);

void jsonw_str(aca_jsonw *w, const char *s); // NULL: null
void jsonw_strn(aca_jsonw *w, const char *s, size_t n);
void jsonw_num(aca_jsonw *w, double x);                 // %.*g with w->digits; NaN/Inf: null
void jsonw_num_prec(aca_jsonw *w, double x, int digits); // %.*g with digits; NaN/Inf: null
void jsonw_num_exact(aca_jsonw *w, double x);           // %.15g, or %.17g when that does not read back as x
void jsonw_num_float(aca_jsonw *w, float x);            // the first of %.6g..%.9g that reads back as x (0.1f: 0.1)
void jsonw_int(aca_jsonw *w, long long v);
void jsonw_uint(aca_jsonw *w, unsigned long long v);
void jsonw_bool(aca_jsonw *w, int v);
void jsonw_null(aca_jsonw *w);
void jsonw_raw(aca_jsonw *w, const char *json); // a value already written as JSON text

// A key and its value.
void jsonw_kstr(aca_jsonw *w, const char *k, const char *s);
void jsonw_knum(aca_jsonw *w, const char *k, double x);
void jsonw_kint(aca_jsonw *w, const char *k, long long v);
void jsonw_kuint(aca_jsonw *w, const char *k, unsigned long long v);
void jsonw_kbool(aca_jsonw *w, const char *k, int v);

#endif
