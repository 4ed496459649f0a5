// The SentencePiece backend: the project's only C++, a thin extern "C" shim over
// libsentencepiece's SentencePieceProcessor (see tok_internal.h for the contract).
#include <sentencepiece_processor.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>
#include <vector>

extern "C" {
#include "tok_internal.h"
}

struct spm_model {
    sentencepiece::SentencePieceProcessor sp;
    std::vector<std::string> pieces; // id -> piece, so id_to_piece can hand out stable pointers
};

static void set_err(char *err, size_t errn, const std::string &s) {
    if (errn) std::snprintf(err, errn, "%s", s.c_str());
}

extern "C" spm_model *spm_shim_load(const char *path, char *err, size_t errn) {
    spm_model *m = new (std::nothrow) spm_model();
    if (!m) {
        set_err(err, errn, "out of memory");
        return nullptr;
    }
    const auto st = m->sp.Load(path);
    if (!st.ok()) {
        set_err(err, errn, "not a SentencePiece model: " + st.ToString());
        delete m;
        return nullptr;
    }
    const int n = m->sp.GetPieceSize();
    m->pieces.reserve(n);
    for (int i = 0; i < n; i++) m->pieces.push_back(m->sp.IdToPiece(i));
    return m;
}

extern "C" void spm_shim_free(spm_model *m) { delete m; }
extern "C" int spm_shim_size(const spm_model *m) { return (int)m->pieces.size(); }

extern "C" int spm_shim_piece_to_id(const spm_model *m, const char *piece) {
    const int id = m->sp.PieceToId(piece);
    // PieceToId answers unk_id for an unknown piece; report "absent" unless it is the unk piece itself.
    if (id == m->sp.unk_id() && m->pieces[id] != piece) return -1;
    return id;
}

extern "C" const char *spm_shim_id_to_piece(const spm_model *m, int id) {
    if (id < 0 || id >= (int)m->pieces.size()) return nullptr;
    return m->pieces[id].c_str();
}

extern "C" int spm_shim_unk_id(const spm_model *m) { return m->sp.unk_id(); }
extern "C" int spm_shim_pad_id(const spm_model *m) { return m->sp.pad_id(); }
extern "C" int spm_shim_bos_id(const spm_model *m) { return m->sp.bos_id(); }
extern "C" int spm_shim_eos_id(const spm_model *m) { return m->sp.eos_id(); }

extern "C" int spm_shim_encode(const spm_model *m, const char *text, size_t len, int32_t **ids, size_t *n,
                               size_t *cap, char *err, size_t errn) {
    std::vector<int> out;
    const auto st = m->sp.Encode(std::string(text, len), &out);
    if (!st.ok()) {
        set_err(err, errn, st.ToString());
        return -1;
    }
    if (*n + out.size() > *cap) {
        size_t c = *cap ? *cap : 256;
        while (c < *n + out.size()) c *= 2;
        int32_t *p = (int32_t *)std::realloc(*ids, c * sizeof(int32_t));
        if (!p) {
            set_err(err, errn, "out of memory");
            return -1;
        }
        *ids = p;
        *cap = c;
    }
    for (int id : out) (*ids)[(*n)++] = id;
    return 0;
}
