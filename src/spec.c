// The collectives spec (include/aca/spec.h): JSON -> aca_spec with every field checked, and back (normalized).
// Errors name the spec file and the JSON path of the field: "spec.json: collectives[1].size: ...".
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "aca/corpus.h"
#include "aca/jsontext.h"
#include "aca/jsonw.h"
#include "aca/spec.h"

static const char *const STRATEGY_NAMES[] = {"feature-label", "feature-only", "label-only", "strike", "unplant", "erase"};
static const char *const SAMPLING_NAMES[] = {"uniform", "class", "propensity"};

const char *strategy_name(aca_strategy st) { return STRATEGY_NAMES[st]; }

// ---- signals -----------------------------------------------------------------------------------
static int cp_check(uint32_t cp, aca_err *e) {
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return aca_errf(e, ACA_ERR_VALUE, "U+%04X is not a Unicode scalar value", (unsigned)cp);
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
        return aca_errf(e, ACA_ERR_VALUE, "U+%04X is a control character", (unsigned)cp);
    return 0;
}

// "U+2E18" -> code point; returns 0 on success.
static int parse_u_plus(const char *s, size_t n, uint32_t *cp) {
    if (n < 3 || n > 8 || (s[0] != 'U' && s[0] != 'u') || s[1] != '+') return -1;
    uint32_t v = 0;
    for (size_t i = 2; i < n; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + (uint32_t)d;
    }
    *cp = v;
    return 0;
}

static int signal_finish(aca_buf *b, char **out, aca_err *e) {
    int blank = 1;
    for (size_t i = 0; i < b->len; i++) blank &= text_is_space((unsigned char)b->data[i]);
    if (blank) {
        buf_free(b);
        return aca_errf(e, ACA_ERR_VALUE, "empty signal");
    }
    *out = b->data;
    return 0;
}

int signal_parse(const char *spelling, char **utf8_out, aca_err *e) {
    aca_buf b = {0};
    buf_reserve(&b, 8);
    const char *p = spelling;
    while (*p == ' ') p++;
    if ((p[0] == 'U' || p[0] == 'u') && p[1] == '+') {
        // Code points separated by spaces.
        while (*p) {
            const char *t = p;
            while (*p && *p != ' ') p++;
            uint32_t cp;
            if (parse_u_plus(t, (size_t)(p - t), &cp)) {
                buf_free(&b);
                return aca_errf(e, ACA_ERR_VALUE, "'%.*s' is not a code point (expected U+ and 1 to 6 hex digits)",
                                (int)(p - t), t);
            }
            if (cp_check(cp, e)) return buf_free(&b), -1;
            char u[4];
            buf_append(&b, u, utf8_encode(u, cp));
            while (*p == ' ') p++;
        }
        return signal_finish(&b, utf8_out, e);
    }
    const unsigned char *s = (const unsigned char *)spelling;
    size_t n = strlen(spelling);
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        size_t k = utf8_decode(s + i, n - i, &cp);
        if (!k) return buf_free(&b), aca_errf(e, ACA_ERR_VALUE, "invalid UTF-8 in signal");
        if (cp != ' ' && cp_check(cp, e)) return buf_free(&b), -1;
        i += k;
    }
    buf_append(&b, spelling, n);
    return signal_finish(&b, utf8_out, e);
}

// ---- JSON walking ------------------------------------------------------------------------------
typedef struct {
    const char *file;
    aca_err *e;
} spec_ctx;

static int field_err(spec_ctx *x, const char *jpath, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int field_err(spec_ctx *x, const char *jpath, const char *fmt, ...) {
    char m[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    return aca_errf(x->e, ACA_ERR_VALUE, "%s: %s: %s", x->file, jpath, m);
}

static int check_fields(spec_ctx *x, const cJSON *obj, const char *jpath, const char *const *allowed) {
    const cJSON *it;
    cJSON_ArrayForEach(it, obj) {
        for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
            if (!strcmp(prev->string, it->string)) {
                char p[256];
                snprintf(p, sizeof p, "%s%s%s", jpath, *jpath ? "." : "", it->string);
                return field_err(x, p, "duplicate field");
            }
        int ok = 0;
        for (const char *const *a = allowed; *a; a++) ok |= !strcmp(it->string, *a);
        if (!ok) {
            char p[256];
            snprintf(p, sizeof p, "%s%s%s", jpath, *jpath ? "." : "", it->string);
            char list[256];
            size_t k = 0;
            list[0] = 0;
            for (const char *const *al = allowed; *al && k < sizeof list; al++)
                k += (size_t)snprintf(list + k, sizeof list - k, "%s%s", k ? ", " : "", *al);
            return field_err(x, p, "unknown field (allowed: %s)", list);
        }
    }
    return 0;
}

static int get_string(spec_ctx *x, const cJSON *obj, const char *key, const char *jpath, const char **out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v) return *out = NULL, 0;
    char p[256];
    snprintf(p, sizeof p, "%s.%s", jpath, key);
    if (!cJSON_IsString(v)) return field_err(x, p, "expected a string");
    *out = v->valuestring;
    return 0;
}

static int name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 64 || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == '-'))
            return 0;
    }
    return 1;
}

static int parse_signal_field(spec_ctx *x, const cJSON *v, const char *jpath, char **out) {
    aca_err sub = {0};
    if (cJSON_IsString(v)) {
        if (signal_parse(v->valuestring, out, &sub)) return field_err(x, jpath, "%s", sub.msg);
        return 0;
    }
    if (!cJSON_IsArray(v)) return field_err(x, jpath, "expected a string or an array of code points");
    aca_buf b = {0};
    buf_reserve(&b, 8);
    int i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
        uint32_t cp;
        if (cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble <= 0x10FFFF &&
            it->valuedouble == floor(it->valuedouble))
            cp = (uint32_t)it->valuedouble;
        else if (!cJSON_IsString(it) || parse_u_plus(it->valuestring, strlen(it->valuestring), &cp)) {
            buf_free(&b);
            return field_err(x, jpath, "[%d]: expected a code point (a number or \"U+XXXX\")", i);
        }
        if (cp_check(cp, &sub)) {
            buf_free(&b);
            return field_err(x, jpath, "[%d]: %s", i, sub.msg);
        }
        char u[4];
        buf_append(&b, u, utf8_encode(u, cp));
        i++;
    }
    if (signal_finish(&b, out, &sub)) return field_err(x, jpath, "%s", sub.msg);
    return 0;
}

static int parse_size(spec_ctx *x, const cJSON *v, const char *jpath, aca_collective *c) {
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (d > 0 && d < 1) return c->fraction = d, c->count = -1, 0;
        if (d >= 1 && d == floor(d) && d < 1e12) return c->count = (long)d, c->fraction = 0, 0;
        return field_err(x, jpath, "expected a fraction in (0,1), a whole count >= 1 or \"P%%\", got %g", d);
    }
    if (cJSON_IsString(v)) {
        char *end;
        double d = strtod(v->valuestring, &end);
        if (end != v->valuestring && !strcmp(end, "%") && d > 0 && d <= 100)
            return c->fraction = d / 100, c->count = -1, 0;
        return field_err(x, jpath, "expected \"P%%\" with 0 < P <= 100, got \"%s\"", v->valuestring);
    }
    return field_err(x, jpath, "expected a number or a percentage string");
}

static int parse_collective(spec_ctx *x, const cJSON *o, int i, aca_collective *c) {
    static const char *const FIELDS[] = {"name", "target", "signal", "period", "size",
                                         "members", "sampling", "strategy", "n_e", NULL};
    char jp[64], p[128];
    snprintf(jp, sizeof jp, "collectives[%d]", i);
    if (!cJSON_IsObject(o)) return field_err(x, jp, "expected an object");
    if (check_fields(x, o, jp, FIELDS)) return -1;
    c->period = 20;
    c->count = -1;
    c->n_e = -1;
    const char *s;
    if (get_string(x, o, "name", jp, &s)) return -1;
    snprintf(p, sizeof p, "%s.name", jp);
    if (!s) return field_err(x, p, "missing (every collective needs a name)");
    if (!name_ok(s)) return field_err(x, p, "'%s' is not filename-safe (use 1 to 64 of A-Z a-z 0-9 . _ -, not starting with '.')", s);
    c->name = xstrdup(s);
    if (get_string(x, o, "target", jp, &s)) return -1;
    snprintf(p, sizeof p, "%s.target", jp);
    if (!s || !*s) return field_err(x, p, "missing (the class the collective relabels to)");
    c->target = xstrdup(s);

    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "strategy");
    snprintf(p, sizeof p, "%s.strategy", jp);
    if (v) {
        int k = -1;
        if (cJSON_IsString(v))
            for (int j = 0; j < (int)ACA_ARRAY_LEN(STRATEGY_NAMES); j++)
                if (!strcmp(v->valuestring, STRATEGY_NAMES[j])) k = j;
        if (k < 0) return field_err(x, p, "expected feature-label, feature-only, label-only, strike, unplant or erase");
        c->strategy = (aca_strategy)k;
    }
    v = cJSON_GetObjectItemCaseSensitive(o, "signal");
    snprintf(p, sizeof p, "%s.signal", jp);
    if (v) {
        if (parse_signal_field(x, v, p, &c->signal)) return -1;
    } else if (c->strategy == STRATEGY_FEATURE_LABEL || c->strategy == STRATEGY_FEATURE_ONLY ||
               c->strategy == STRATEGY_UNPLANT || c->strategy == STRATEGY_ERASE) {
        return field_err(x, p, "missing (strategy %s inserts a signal)", STRATEGY_NAMES[c->strategy]);
    }
    v = cJSON_GetObjectItemCaseSensitive(o, "n_e");
    snprintf(p, sizeof p, "%s.n_e", jp);
    if (v) {
        if (c->strategy != STRATEGY_UNPLANT)
            return field_err(x, p, "only the unplant strategy has estimators (strategy is %s)", STRATEGY_NAMES[c->strategy]);
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e12 || v->valuedouble != floor(v->valuedouble))
            return field_err(x, p, "expected a whole number >= 1 of estimators");
        c->n_e = (long)v->valuedouble;
    }

    v = cJSON_GetObjectItemCaseSensitive(o, "period");
    snprintf(p, sizeof p, "%s.period", jp);
    if (v) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e9 || v->valuedouble != floor(v->valuedouble))
            return field_err(x, p, "expected a whole number >= 1");
        c->period = (int)v->valuedouble;
    }

    v = cJSON_GetObjectItemCaseSensitive(o, "members");
    snprintf(p, sizeof p, "%s.members", jp);
    if (v) {
        if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) return field_err(x, p, "expected a non-empty array of doc ids");
        c->n_members = (size_t)cJSON_GetArraySize(v);
        c->members = xcalloc(c->n_members, sizeof *c->members);
        size_t k = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, v) {
            char idb[32];
            if (cJSON_IsString(it)) c->members[k] = xstrdup(it->valuestring);
            else if (cJSON_IsNumber(it) && it->valuedouble == floor(it->valuedouble)) {
                snprintf(idb, sizeof idb, "%lld", (long long)it->valuedouble);
                c->members[k] = xstrdup(idb);
            } else return field_err(x, p, "[%zu]: expected a doc id (string or whole number)", k);
            k++;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(o, "size");
    snprintf(p, sizeof p, "%s.size", jp);
    if (v) {
        if (parse_size(x, v, p, c)) return -1;
        if (c->members && !(c->count >= 0 && (size_t)c->count == c->n_members))
            return field_err(x, p, "disagrees with members (%zu ids); leave size out", c->n_members);
    } else if (c->members) {
        c->count = (long)c->n_members;
    } else {
        return field_err(x, p, "missing (a fraction of the train split or a count)");
    }

    v = cJSON_GetObjectItemCaseSensitive(o, "sampling");
    snprintf(p, sizeof p, "%s.sampling", jp);
    if (v) {
        static const char *const SF[] = {"kind", "seed_class", "p", NULL};
        if (!cJSON_IsObject(v)) return field_err(x, p, "expected an object {\"kind\": ...}");
        if (check_fields(x, v, p, SF)) return -1;
        if (c->members) return field_err(x, p, "cannot be combined with members");
        const cJSON *k = cJSON_GetObjectItemCaseSensitive(v, "kind");
        char q[160];
        snprintf(q, sizeof q, "%s.kind", p);
        int kind = -1;
        if (cJSON_IsString(k))
            for (int j = 0; j < 3; j++)
                if (!strcmp(k->valuestring, SAMPLING_NAMES[j])) kind = j;
        if (kind < 0) return field_err(x, q, "expected uniform, class or propensity");
        c->sampling = (aca_sampling_kind)kind;
        const cJSON *sc = cJSON_GetObjectItemCaseSensitive(v, "seed_class");
        const cJSON *pp = cJSON_GetObjectItemCaseSensitive(v, "p");
        snprintf(q, sizeof q, "%s.seed_class", p);
        if (c->sampling == SAMPLING_UNIFORM && sc) return field_err(x, q, "only for kind class or propensity");
        if (c->sampling != SAMPLING_UNIFORM) {
            if (!cJSON_IsString(sc) || !sc->valuestring[0]) return field_err(x, q, "missing (a class name)");
            c->seed_class = xstrdup(sc->valuestring);
        }
        snprintf(q, sizeof q, "%s.p", p);
        if (c->sampling != SAMPLING_PROPENSITY && pp) return field_err(x, q, "only for kind propensity");
        if (c->sampling == SAMPLING_PROPENSITY) {
            if (!cJSON_IsNumber(pp) || !(pp->valuedouble >= 0 && pp->valuedouble <= 1))
                return field_err(x, q, "expected a probability in [0, 1]");
            c->p = pp->valuedouble;
        }
    }
    return 0;
}

int spec_parse(const char *json, const char *path_for_errors, aca_spec *s, aca_err *e) {
    memset(s, 0, sizeof *s);
    const char *file = path_for_errors ? path_for_errors : "spec";
    spec_ctx x = {file, e};
    const char *end = NULL;
    if (json_doc_check(json, strlen(json), file, e)) return -1; // strict JSON; no U+0000 in any string
    cJSON *j = cJSON_ParseWithOpts(json, &end, 1);
    if (!j) {
        size_t line = 1;
        for (const char *p = json; end && p < end; p++) line += *p == '\n';
        return aca_errf(e, ACA_ERR_FORMAT, "%s:%zu: invalid JSON", file, line);
    }
    int rc = -1;
    static const char *const TOP[] = {"seed", "overlap", "collectives", NULL};
    if (!cJSON_IsObject(j)) {
        aca_errf(e, ACA_ERR_FORMAT, "%s: expected a JSON object", file);
        goto done;
    }
    if (check_fields(&x, j, "", TOP)) goto done;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "seed");
    if (v) {
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0 ||
            v->valuedouble != floor(v->valuedouble)) {
            field_err(&x, "seed", "expected a whole number >= 0 (at most 2^53)");
            goto done;
        }
        s->seed = (uint64_t)v->valuedouble;
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "overlap");
    if (v) {
        if (cJSON_IsString(v) && !strcmp(v->valuestring, "disjoint")) s->overlap = OVERLAP_DISJOINT;
        else if (cJSON_IsString(v) && !strcmp(v->valuestring, "allow")) s->overlap = OVERLAP_ALLOW;
        else {
            field_err(&x, "overlap", "expected \"disjoint\" or \"allow\"");
            goto done;
        }
    }
    v = cJSON_GetObjectItemCaseSensitive(j, "collectives");
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) == 0) {
        field_err(&x, "collectives", "missing or empty (a non-empty array of collectives)");
        goto done;
    }
    s->n = cJSON_GetArraySize(v);
    s->collectives = xcalloc((size_t)s->n, sizeof *s->collectives);
    for (int i = 0; i < s->n; i++) {
        if (parse_collective(&x, cJSON_GetArrayItem(v, i), i, &s->collectives[i])) goto done;
        for (int k = 0; k < i; k++)
            if (!strcmp(s->collectives[k].name, s->collectives[i].name)) {
                char p[64];
                snprintf(p, sizeof p, "collectives[%d].name", i);
                field_err(&x, p, "'%s' is also the name of collectives[%d]", s->collectives[i].name, k);
                goto done;
            }
    }
    s->source_path = xstrdup(file);
    rc = 0;
done:
    cJSON_Delete(j);
    if (rc) spec_free(s);
    return rc;
}

int spec_load(const char *path, aca_spec *s, aca_err *e) {
    aca_buf b = {0};
    memset(s, 0, sizeof *s);
    if (file_read_all(path, &b, e)) return -1;
    size_t bom = utf8_bom_len(b.data, b.len);
    // the file's own bytes first: a raw NUL would end the C string spec_parse reads
    int rc = json_doc_check(b.data + bom, b.len - bom, path, e) || spec_parse(b.data + bom, path, s, e) ? -1 : 0;
    buf_free(&b);
    return rc;
}

void spec_free(aca_spec *s) {
    for (int i = 0; s->collectives && i < s->n; i++) {
        aca_collective *c = &s->collectives[i];
        free(c->name), free(c->target), free(c->signal), free(c->seed_class);
        for (size_t k = 0; c->members && k < c->n_members; k++) free(c->members[k]);
        free(c->members);
    }
    free(s->collectives);
    free(s->source_path);
    memset(s, 0, sizeof *s);
}

// ---- normalized form ---------------------------------------------------------------------------
// The signal as its code points, "U+2E17 U+2E18" (U+FFFD for a byte that is not UTF-8).
static void signal_codepoints(const char *sig, aca_buf *b) {
    const unsigned char *p = (const unsigned char *)sig;
    size_t n = strlen(sig);
    for (size_t k = 0, first = 1; k < n; first = 0) {
        uint32_t cp = 0xFFFD;
        size_t m = utf8_decode(p + k, n - k, &cp);
        k += m ? m : 1;
        buf_printf(b, "%sU+%04X", first ? "" : " ", (unsigned)cp);
    }
}

// How members are drawn: {"kind", "seed_class", "p"}.
static void sampling_json(const aca_collective *c, aca_jsonw *w) {
    jsonw_obj(w);
    jsonw_kstr(w, "kind", SAMPLING_NAMES[c->sampling]);
    if (c->seed_class) jsonw_kstr(w, "seed_class", c->seed_class);
    if (c->sampling == SAMPLING_PROPENSITY) jsonw_key(w, "p"), jsonw_num_exact(w, c->p);
    jsonw_end(w);
}

static void collective_json(const aca_collective *c, aca_jsonw *w) {
    jsonw_obj(w);
    jsonw_kstr(w, "name", c->name);
    jsonw_kstr(w, "target", c->target);
    if (c->signal) {
        aca_buf cps = {0};
        signal_codepoints(c->signal, &cps);
        jsonw_kstr(w, "signal", cps.data ? cps.data : "");
        buf_free(&cps);
    }
    jsonw_kint(w, "period", c->period);
    jsonw_key(w, "size");
    if (c->count >= 0) jsonw_int(w, c->count);
    else if (c->fraction < 1) jsonw_num_exact(w, c->fraction);
    else jsonw_str(w, "100%");
    if (c->members) {
        jsonw_key(w, "members");
        jsonw_arr(w);
        for (size_t k = 0; k < c->n_members; k++) jsonw_str(w, c->members[k]);
        jsonw_end(w);
    } else {
        jsonw_key(w, "sampling");
        sampling_json(c, w);
    }
    jsonw_kstr(w, "strategy", STRATEGY_NAMES[c->strategy]);
    if (c->n_e >= 0) jsonw_kint(w, "n_e", c->n_e);
    jsonw_end(w);
}

void spec_write_json(aca_buf *out, const aca_spec *s) {
    aca_jsonw w;
    jsonw_init(&w, out);
    jsonw_obj(&w);
    jsonw_kuint(&w, "seed", s->seed);
    jsonw_kstr(&w, "overlap", s->overlap == OVERLAP_ALLOW ? "allow" : "disjoint");
    jsonw_key(&w, "collectives");
    jsonw_arr(&w);
    for (int i = 0; i < s->n; i++) collective_json(&s->collectives[i], &w);
    jsonw_end(&w);
    jsonw_end(&w);
}

// ---- the unpoisoned condition's spec --------------------------------------------------------------
int spec_unpoisoned(const aca_spec *s, aca_spec *out, aca_err *e) {
    aca_buf b = {0};
    spec_write_json(&b, s);
    cJSON *root = cJSON_Parse(b.data);
    buf_free(&b);
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(root, "collectives")) {
        const char *drop[] = {"size", "members", "sampling", "strategy", "n_e"};
        for (size_t k = 0; k < ACA_ARRAY_LEN(drop); k++) cJSON_DeleteItemFromObjectCaseSensitive(c, drop[k]);
        cJSON_AddNumberToObject(c, "size", 1);
        cJSON *smp = cJSON_AddObjectToObject(c, "sampling");
        cJSON_AddStringToObject(smp, "kind", "class");
        cJSON_AddStringToObject(smp, "seed_class", cJSON_GetObjectItemCaseSensitive(c, "target")->valuestring);
        cJSON_AddStringToObject(c, "strategy", "label-only");
    }
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    int rc = spec_parse(txt, s->source_path, out, e);
    cJSON_free(txt);
    return rc;
}
