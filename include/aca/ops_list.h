// The op list: every slot of the ops table (ops.h), named once.  No include guard: an includer
// defines ACA_OP(group, ret, name, params) first, and this file calls it once per op, in table order.
// From it come the table's slots (struct aca_ops), the op ids and names (aca_op, aca_op_name), the
// refusal of a backend with an empty slot (aca_ops_check), and the per-op coverage of the tests and
// benchmarks: each maps every op in a switch over aca_op with no default, so a new op without a test
// or a bench does not compile (-Wswitch), and tests/ops_coverage.h fails a test file whose map
// leaves an op of its groups without a test it runs.
//
// group  MEM    memory, copies, conversions, lifetime: used by every test, no comparison of their own
//        QUERY  sizes and capabilities: a test each, no bench
//        CORE   the model's numerics: compared op by op (tests/test_ops_cpu.c against the fp64 kernels,
//               tests/gpu/test_ops_cuda.c against the CPU backend) and timed (bench/bench_ops_cpu.c,
//               bench/bench_kernels_cuda.c)
//        DP     DP-SGD's ops: compared (tests/test_dp_ghost.c, tests/gpu/test_dp_cuda.c) and timed
//
// Conventions (shapes, dtypes, gradients that accumulate or overwrite, dropout): the top of ops.h.

// ---- lifetime and memory ----
ACA_OP(MEM, void, destroy, (aca_backend *be))
ACA_OP(MEM, void *, alloc, (aca_backend *be, size_t bytes, aca_err *e)) // NULL + e filled (names the size) on failure
ACA_OP(MEM, void, free, (aca_backend *be, void *p))
ACA_OP(MEM, void, memset0, (aca_backend *be, void *p, size_t bytes))
ACA_OP(MEM, void, upload, (aca_backend *be, void *dst, const void *host_src, size_t bytes))
ACA_OP(MEM, void, download, (aca_backend *be, void *host_dst, const void *src, size_t bytes))
ACA_OP(MEM, void, sync, (aca_backend *be))
// Conversions between host fp32 and backend compute-dtype tensors (n elements).
ACA_OP(MEM, void, from_f32, (aca_backend *be, void *dst, const float *host_src, size_t n))
ACA_OP(MEM, void, to_f32, (aca_backend *be, float *host_dst, const void *src, size_t n))
// Compute-dtype copy of fp32 backend memory (for the weight copy; a copy when dtype is fp32).
ACA_OP(MEM, void, cast_params, (aca_backend *be, void *dst, const float *src, size_t n))

// ---- capabilities ----
// The capability query: called (through aca_backend_prepare) by model_create with the model's
// largest shapes before it allocates anything.  Checks that every op of the backend runs them and
// resolves what depends on them (the CUDA attention path: `auto` -> cudnn or gemm); -1 with e
// naming the limit otherwise (model_create adds the config fields).
ACA_OP(QUERY, int, prepare, (aca_backend *be, const aca_shape *s, aca_err *e))
// Bytes of the attention state that attention_forward saves for attention_backward.
ACA_OP(QUERY, size_t, attention_state_bytes, (aca_backend *be, int B, int T, int C, int NH))

// ---- embeddings ----
// out (B,T,C) = wte[ids] + wpe[t] (+ tte[type_ids] when tte != NULL); ids, type_ids (B,T) int32.
ACA_OP(CORE, void, embed_forward, (aca_backend *be, void *out, const int32_t *ids, const int32_t *type_ids,
                                   const void *wte, const void *wpe, const void *tte, int B, int T, int C))
// dwte (V,C), dwpe (maxT,C), dtte (types,C) += ...; rows of dwte whose id == pad_id get nothing
// (pad_id < 0: no such row).  dtte may be NULL.  Deterministic on every backend.
ACA_OP(CORE, void, embed_backward, (aca_backend *be, float *dwte, float *dwpe, float *dtte, const void *dout,
                                    const int32_t *ids, const int32_t *type_ids, int B, int T, int C, int pad_id))

// ---- linear ----
// out (N,OC) = in (N,IC) @ w (OC,IC)^T + bias (OC); bias may be NULL.
ACA_OP(CORE, void, linear_forward, (aca_backend *be, void *out, const void *in, const void *w, const void *bias,
                                    int N, int IC, int OC))
// din (N,IC) = dout @ w (overwrite; += when accum_din; skipped when din == NULL);
// dw (OC,IC) += dout^T @ in;  dbias (OC) += column sums of dout (skipped when NULL).
ACA_OP(CORE, void, linear_backward, (aca_backend *be, void *din, float *dw, float *dbias, const void *dout,
                                     const void *in, const void *w, int N, int IC, int OC, int accum_din))

// ---- layer norm ----
// out (N,C) = (in - mean) * rstd * w + b; mean, rstd (N) fp32 saved for backward.
ACA_OP(CORE, void, layernorm_forward, (aca_backend *be, void *out, float *mean, float *rstd, const void *in,
                                       const void *w, const void *b, int N, int C, float eps))
// din (N,C) overwrite (+= when accum); dw, db (C) fp32 +=.
ACA_OP(CORE, void, layernorm_backward, (aca_backend *be, void *din, float *dw, float *db, const void *dout,
                                        const void *in, const void *w, const float *mean, const float *rstd, int N,
                                        int C, int accum))

// ---- elementwise ----
ACA_OP(CORE, void, add, (aca_backend *be, void *out, const void *a, const void *b, size_t n)) // out may alias a or b
ACA_OP(CORE, void, act_forward, (aca_backend *be, aca_act act, void *out, const void *in, size_t n))
// din = dout * act'(in); din may alias dout.
ACA_OP(CORE, void, act_backward, (aca_backend *be, aca_act act, void *din, const void *dout, const void *in, size_t n))
// out = keep ? in / (1-p) : 0; in place allowed.
ACA_OP(CORE, void, dropout_forward, (aca_backend *be, void *out, const void *in, size_t n, float p, uint64_t seed))
// din = keep ? dout / (1-p) : 0; in place allowed.
ACA_OP(CORE, void, dropout_backward, (aca_backend *be, void *din, const void *dout, size_t n, float p, uint64_t seed))

// ---- attention ----
// qkv (B,T,3C) packed per token as [q | k | v], each C = NH*HS; mask (B,T) int32, 1 = real
// token, 0 = padding (masked as a key; padded query rows are computed like any other).
// out (B,T,C) = concat_h( dropout(softmax(q_h k_h^T / sqrt(HS) + maskbias)) v_h ).
// Dropout on the probabilities uses element index ((b*NH + h)*T + i)*T + j.
// state: attention_state_bytes(B,T,C,NH) bytes the backend saves for backward.
ACA_OP(CORE, void, attention_forward, (aca_backend *be, void *out, void *state, const void *qkv, const int32_t *mask,
                                       int B, int T, int C, int NH, float p_drop, uint64_t seed))
// dqkv (B,T,3C) overwrite.
ACA_OP(CORE, void, attention_backward, (aca_backend *be, void *dqkv, const void *dout, const void *qkv,
                                        const void *out, const void *state, const int32_t *mask, int B, int T, int C,
                                        int NH, float p_drop, uint64_t seed))

// ---- classification head ----
// out (B,C) = in[b, 0, :];  backward: din (B,T,C) = 0 except din[b,0,:] = dout (overwrite).
ACA_OP(CORE, void, cls_gather, (aca_backend *be, void *out, const void *in, int B, int T, int C))
ACA_OP(CORE, void, cls_scatter, (aca_backend *be, void *din, const void *dout, int B, int T, int C))
// losses (B) fp32 = -log softmax(logits)[label]; when dlogits != NULL it is overwritten with
// (softmax - onehot(label)) * dscale.  label < 0: loss 0 and zero gradient row.
ACA_OP(CORE, void, cross_entropy, (aca_backend *be, float *losses, void *dlogits, const void *logits,
                                   const int32_t *labels, int B, int K, float dscale))

// ---- optimizer ----
// Sum of squares of n fp32 values, returned on the host (NaN/Inf propagate).
ACA_OP(CORE, double, sumsq, (aca_backend *be, const float *x, size_t n))
// AdamW over n fp32 master params p with fp32 grads g and state m, v (see aca_adamw); the first
// n_decay elements get weight decay.  When pc != NULL, pc = cast(p) in the compute dtype.
ACA_OP(CORE, void, adamw, (aca_backend *be, float *p, const float *g, float *m, float *v, void *pc, size_t n,
                           size_t n_decay, const aca_adamw *h))

// ==== DP-SGD: per-example gradient norms (ghost clipping), reweighting, noise ====
// (models/ghost.c drives them; docs/dp.md.)  Example b of a (B,T,...) tensor owns rows
// [b*T, b*T + lens[b]); lens (B) int32 backend memory, or NULL: every example has T rows.  Rows
// past lens[b] are padding whose output gradient is zero (the model's backward guarantees it):
// a backend may skip them or include them, they add exact zeros.  sq outputs are (B) fp64 and
// ACCUMULATE (+=): the squared L2 norm of the example's gradient of that parameter.
// linear: example b's weight gradient is G_b^T A_b (OC,IC), A_b = its rows of in (T,IC), G_b =
//   its rows of dout (T,OC).  gram != 0: sq_w[b] += sum_{t,s} (a_t . a_s)(g_t . g_s) (the Gram
//   form, O(T^2 (IC+OC))); gram == 0: G_b^T A_b is formed and its entries squared (O(T IC OC)).
//   sq_b (NULL: none) += ||sum_t g_t||^2, the bias's.  Which form is cheaper: aca_ghost_gram.
ACA_OP(DP, void, ghost_linear, (aca_backend *be, double *sq_w, double *sq_b, const void *dout, const void *in,
                                const int32_t *lens, int B, int T, int IC, int OC, int gram))
// layernorm: sq[b] += ||sum_t dout_t * xhat_t||^2 + ||sum_t dout_t||^2 (weight and bias),
//   xhat = (in - mean) * rstd as layernorm_backward computes it.
ACA_OP(DP, void, ghost_layernorm, (aca_backend *be, double *sq, const void *dout, const void *in, const float *mean,
                                   const float *rstd, const int32_t *lens, int B, int T, int C))
// embed (its backward's tables, each NULL to leave it out): sq_wte[b] += sum over token ids v !=
//   pad_id of ||sum_{t: ids_t = v} dout_t||^2; sq_wpe[b] += sum_t ||dout_t||^2; sq_tte[b] +=
//   sum over types y of ||sum_{t: type_t = y} dout_t||^2 (type_ids NULL: every token type 0).
ACA_OP(DP, void, ghost_embed, (aca_backend *be, double *sq_wte, double *sq_wpe, double *sq_tte, const void *dout,
                               const int32_t *ids, const int32_t *type_ids, const int32_t *lens, int B, int T, int C,
                               int pad_id))
// x (rows, cols) compute dtype: row r *= w[r] (w (rows) fp32), in place.
ACA_OP(DP, void, scale_rows, (aca_backend *be, void *x, const float *w, int rows, int cols))
// g[j] += std * z_j for j in [begin, end), z_j ~ N(0,1) the Box-Muller pair (2p, 2p+1) of the
// Philox draw with key `key`, counter (p, step) (train.h train_dp_add_noise), computed in double.
ACA_OP(DP, void, dp_noise, (aca_backend *be, float *g, size_t begin, size_t end, double std, uint64_t key,
                            uint64_t step))
