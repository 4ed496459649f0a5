// The cuDNN frontend shim (cudnn_sdpa.h): flash SDPA graphs for the ops table's attention.
// Everything C++ stays in this file; errors come back as messages, never as exceptions.
#include "cudnn_sdpa.h"

#include <cudnn_frontend.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

namespace fe = cudnn_frontend;

namespace {

enum Uid : int64_t { Q = 1, K, V, O, STATS, SEQ_Q, SEQ_KV, SEED, OFFSET, DO, DQ, DK, DV };

typedef std::shared_ptr<fe::graph::Graph> graph_ptr;
typedef std::shared_ptr<fe::graph::Tensor_attributes> tensor_ptr;

int fail(char *msg, size_t n, const char *what, const std::string &why) {
    if (msg && n) snprintf(msg, n, "cuDNN attention: %s: %s", what, why.c_str());
    return -1;
}

int64_t C_of(const cudnn_sdpa_shape &s) { return (int64_t)s.NH * s.HS; }

// q, k, v (and dq, dk, dv) inside (B,T,3C); o, dO inside (B,T,C): dims (B, NH, T, HS).
fe::graph::Tensor_attributes bhsd(const char *name, int64_t uid, const cudnn_sdpa_shape &s, int64_t row) {
    int64_t T = s.T, HS = s.HS;
    return fe::graph::Tensor_attributes()
        .set_name(name)
        .set_uid(uid)
        .set_dim({s.B, s.NH, T, HS})
        .set_stride({T * row, HS, row, 1});
}

void set_bhsd(const tensor_ptr &t, int64_t uid, const cudnn_sdpa_shape &s, int64_t row) {
    int64_t T = s.T, HS = s.HS;
    t->set_output(true).set_uid(uid).set_dim({s.B, s.NH, T, HS}).set_stride({T * row, HS, row, 1});
}

tensor_ptr seq_tensor(const graph_ptr &g, const char *name, int64_t uid, const cudnn_sdpa_shape &s) {
    return g->tensor(fe::graph::Tensor_attributes()
                         .set_name(name)
                         .set_uid(uid)
                         .set_dim({s.B, 1, 1, 1})
                         .set_stride({1, 1, 1, 1})
                         .set_data_type(fe::DataType_t::INT32));
}

tensor_ptr scalar_i64(const graph_ptr &g, const char *name, int64_t uid) {
    return g->tensor(fe::graph::Tensor_attributes()
                         .set_name(name)
                         .set_uid(uid)
                         .set_dim({1, 1, 1, 1})
                         .set_stride({1, 1, 1, 1})
                         .set_data_type(fe::DataType_t::INT64));
}

graph_ptr new_graph(const cudnn_sdpa_shape &s, int sm) {
    auto g = std::make_shared<fe::graph::Graph>();
    g->set_io_data_type(s.dt == ACA_DT_BF16 ? fe::DataType_t::BFLOAT16 : fe::DataType_t::HALF)
        .set_intermediate_data_type(fe::DataType_t::FLOAT)
        .set_compute_data_type(fe::DataType_t::FLOAT);
    if (sm > 0) g->set_sm_version(sm);
    return g;
}

// Padding and dropout, the same for both directions.
template <typename A> void common_options(const graph_ptr &g, const cudnn_sdpa_shape &s, A &a) {
    a.set_attn_scale((float)(1.0 / std::sqrt((double)s.HS)));
    if (s.padding)
        a.set_padding_mask(true)
            .set_seq_len_q(seq_tensor(g, "seq_q", SEQ_Q, s))
            .set_seq_len_kv(seq_tensor(g, "seq_kv", SEQ_KV, s));
    if (s.dropout) a.set_dropout(s.p, scalar_i64(g, "seed", SEED), scalar_i64(g, "offset", OFFSET));
}

graph_ptr forward_graph(const cudnn_sdpa_shape &s, int sm) {
    auto g = new_graph(s, sm);
    int64_t C3 = 3 * C_of(s), C = C_of(s);
    auto q = g->tensor(bhsd("Q", Q, s, C3)), k = g->tensor(bhsd("K", K, s, C3)), v = g->tensor(bhsd("V", V, s, C3));
    fe::graph::SDPA_attributes a;
    a.set_name("sdpa_forward").set_generate_stats(true);
    common_options(g, s, a);
    auto outs = g->sdpa(q, k, v, a);
    set_bhsd(outs[0], O, s, C);
    outs[1]->set_output(true).set_uid(STATS).set_data_type(fe::DataType_t::FLOAT);
    outs[1]->set_dim({s.B, s.NH, s.T, 1}).set_stride({(int64_t)s.NH * s.T, s.T, 1, 1});
    return g;
}

graph_ptr backward_graph(const cudnn_sdpa_shape &s, int sm) {
    auto g = new_graph(s, sm);
    int64_t C3 = 3 * C_of(s), C = C_of(s);
    auto q = g->tensor(bhsd("Q", Q, s, C3)), k = g->tensor(bhsd("K", K, s, C3)), v = g->tensor(bhsd("V", V, s, C3));
    auto o = g->tensor(bhsd("O", O, s, C)), dO = g->tensor(bhsd("dO", DO, s, C));
    auto stats = g->tensor(fe::graph::Tensor_attributes()
                               .set_name("stats")
                               .set_uid(STATS)
                               .set_dim({s.B, s.NH, s.T, 1})
                               .set_stride({(int64_t)s.NH * s.T, s.T, 1, 1})
                               .set_data_type(fe::DataType_t::FLOAT));
    fe::graph::SDPA_backward_attributes a;
    // aca's contract: bit-reproducible runs (ops.h, be->deterministic).  Where cuDNN has no ordered
    // dQ engine for the shape the graph fails and `auto` takes the GEMM path.
    a.set_name("sdpa_backward").set_deterministic_algorithm(true);
    common_options(g, s, a);
    auto grads = g->sdpa_backward(q, k, v, o, dO, stats, a);
    set_bhsd(grads[0], DQ, s, C3);
    set_bhsd(grads[1], DK, s, C3);
    set_bhsd(grads[2], DV, s, C3);
    return g;
}

int shape_ok(const cudnn_sdpa_shape *s, char *msg, size_t n) {
    if (s->dt != ACA_DT_BF16 && s->dt != ACA_DT_F16)
        return fail(msg, n, "precision", "cuDNN's flash attention takes bf16 or fp16 (use --attention gemm for fp32)");
    if (s->B < 1 || s->T < 1 || s->NH < 1 || s->HS < 1) return fail(msg, n, "shape", "empty");
    return 0;
}

bool same_shape(const cudnn_sdpa_shape &a, const cudnn_sdpa_shape &b) {
    return a.B == b.B && a.T == b.T && a.NH == b.NH && a.HS == b.HS && a.dt == b.dt && a.dropout == b.dropout &&
           a.p == b.p && a.padding == b.padding;
}

} // namespace

extern "C" int cudnn_sdpa_validate(const cudnn_sdpa_shape *s, int sm, char *msg, size_t n) {
    if (shape_ok(s, msg, n)) return -1;
    try {
        auto f = forward_graph(*s, sm);
        auto st = f->validate();
        if (st.is_bad()) return fail(msg, n, "forward graph", st.get_message());
        auto b = backward_graph(*s, sm);
        st = b->validate();
        if (st.is_bad()) return fail(msg, n, "backward graph", st.get_message());
    } catch (const std::exception &ex) {
        return fail(msg, n, "graph", ex.what());
    }
    return 0;
}

// ---- runtime ----
struct plan_pair {
    cudnn_sdpa_shape shape;
    graph_ptr fwd, bwd;
    int64_t workspace;
};

struct cudnn_sdpa {
    cudnnHandle_t handle = nullptr;
    std::vector<plan_pair> plans; // few shapes per run: the largest (with and without dropout), then each batch shape met
};

extern "C" cudnn_sdpa *cudnn_sdpa_create(void *stream, char *msg, size_t n) {
    cudnnHandle_t h = nullptr;
    cudnnStatus_t st = cudnnCreate(&h);
    if (st != CUDNN_STATUS_SUCCESS) {
        fail(msg, n, "cudnnCreate", cudnnGetErrorString(st));
        return nullptr;
    }
    st = cudnnSetStream(h, (cudaStream_t)stream);
    if (st != CUDNN_STATUS_SUCCESS) {
        cudnnDestroy(h);
        fail(msg, n, "cudnnSetStream", cudnnGetErrorString(st));
        return nullptr;
    }
    cudnn_sdpa *s = new (std::nothrow) cudnn_sdpa;
    if (!s) {
        cudnnDestroy(h);
        fail(msg, n, "create", "out of host memory");
        return nullptr;
    }
    s->handle = h;
    return s;
}

extern "C" void cudnn_sdpa_destroy(cudnn_sdpa *s) {
    if (!s) return;
    s->plans.clear();
    if (s->handle) cudnnDestroy(s->handle);
    delete s;
}

static plan_pair *find_plans(cudnn_sdpa *s, const cudnn_sdpa_shape *shape) {
    for (auto &p : s->plans)
        if (same_shape(p.shape, *shape)) return &p;
    return nullptr;
}

static int build_one(cudnn_sdpa *s, const graph_ptr &g, const char *what, int64_t *ws, char *msg, size_t n) {
    auto st = g->build(s->handle, {fe::HeurMode_t::A});
    if (st.is_bad()) return fail(msg, n, what, st.get_message());
    int64_t w = 0;
    st = g->get_workspace_size(w);
    if (st.is_bad()) return fail(msg, n, what, st.get_message());
    if (w > *ws) *ws = w;
    return 0;
}

extern "C" int cudnn_sdpa_prepare(cudnn_sdpa *s, const cudnn_sdpa_shape *shape, char *msg, size_t n) {
    if (find_plans(s, shape)) return 0;
    if (shape_ok(shape, msg, n)) return -1;
    try {
        plan_pair p;
        p.shape = *shape;
        p.workspace = 0;
        p.fwd = forward_graph(*shape, 0);
        p.bwd = backward_graph(*shape, 0);
        if (build_one(s, p.fwd, "forward graph", &p.workspace, msg, n) ||
            build_one(s, p.bwd, "backward graph", &p.workspace, msg, n))
            return -1;
        s->plans.push_back(p);
    } catch (const std::exception &ex) {
        return fail(msg, n, "graph", ex.what());
    }
    return 0;
}

extern "C" size_t cudnn_sdpa_workspace(cudnn_sdpa *s, const cudnn_sdpa_shape *shape) {
    plan_pair *p = find_plans(s, shape);
    return p ? (size_t)p->workspace : 0;
}

static void *offset_of(const void *base, int64_t elems, aca_dtype dt) {
    return (char *)base + elems * (dt == ACA_DT_F32 ? 4 : 2);
}

// The variant pack's pointers every graph has: q, k, v inside qkv, o, stats, lengths, seed.
static std::unordered_map<int64_t, void *> common_pointers(const cudnn_sdpa_shape *sh, const void *qkv, const void *out,
                                                           const float *stats, const int32_t *seq_q,
                                                           const int32_t *seq_kv, const int64_t *seed_offset) {
    int64_t C = C_of(*sh);
    std::unordered_map<int64_t, void *> m = {{Q, (void *)qkv},
                                             {K, offset_of(qkv, C, sh->dt)},
                                             {V, offset_of(qkv, 2 * C, sh->dt)},
                                             {O, (void *)out},
                                             {STATS, (void *)stats}};
    if (sh->padding) m[SEQ_Q] = (void *)seq_q, m[SEQ_KV] = (void *)seq_kv;
    if (sh->dropout) m[SEED] = (void *)seed_offset, m[OFFSET] = (void *)(seed_offset + 1);
    return m;
}

static plan_pair *plans_for(cudnn_sdpa *s, const cudnn_sdpa_shape *sh, char *msg, size_t n) {
    if (!find_plans(s, sh) && cudnn_sdpa_prepare(s, sh, msg, n)) return nullptr;
    return find_plans(s, sh);
}

extern "C" int cudnn_sdpa_forward(cudnn_sdpa *s, const cudnn_sdpa_shape *sh, void *out, float *stats, const void *qkv,
                                  const int32_t *seq_q, const int32_t *seq_kv, const int64_t *seed_offset,
                                  void *workspace, char *msg, size_t n) {
    plan_pair *p = plans_for(s, sh, msg, n);
    if (!p) return -1;
    auto m = common_pointers(sh, qkv, out, stats, seq_q, seq_kv, seed_offset);
    auto st = p->fwd->execute(s->handle, m, workspace);
    return st.is_bad() ? fail(msg, n, "forward execute", st.get_message()) : 0;
}

extern "C" int cudnn_sdpa_backward(cudnn_sdpa *s, const cudnn_sdpa_shape *sh, void *dqkv, const void *dout,
                                   const void *qkv, const void *out, const float *stats, const int32_t *seq_q,
                                   const int32_t *seq_kv, const int64_t *seed_offset, void *workspace, char *msg,
                                   size_t n) {
    plan_pair *p = plans_for(s, sh, msg, n);
    if (!p) return -1;
    int64_t C = C_of(*sh);
    auto m = common_pointers(sh, qkv, out, stats, seq_q, seq_kv, seed_offset);
    m[DO] = (void *)dout, m[DQ] = dqkv, m[DK] = offset_of(dqkv, C, sh->dt), m[DV] = offset_of(dqkv, 2 * C, sh->dt);
    auto st = p->bwd->execute(s->handle, m, workspace);
    return st.is_bad() ? fail(msg, n, "backward execute", st.get_message()) : 0;
}
