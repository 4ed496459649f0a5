// Multi-head self-attention with a key-padding mask and dropout on the probabilities, as a tiled
// online-softmax ("flash") kernel: the (T,T) score matrix never exists in global memory.
//
// Shapes: qkv (B,T,3C) packed per token as [q | k | v], each C = NH*HS; out (B,T,C); mask (B,T)
// int32 (1 real token, 0 padding; NULL = no padding); dqkv (B,T,3C) OVERWRITTEN.
// Semantics are the CPU backend's: scores alpha q.k (alpha = 1/sqrt(HS)); a masked key's score is
// REPLACED by -FLT_MAX (masked_fill), so a row with no real key is uniform, and no gradient reaches
// q or k through a masked key; dropout keeps probability (b,h,i,j) iff
// aca_dropout_keep(seed, ((b*NH+h)*T+i)*T+j, thr) and scales kept ones by 1/(1-p).
//
// State saved for backward: per (b,h,i) the running max m and 1/l (l = sum exp(s - m)), float2
// (B,NH,T); backward recomputes p = exp(s - m) / l.  Storing m and l apart (not log-sum-exp) keeps a
// fully masked row exact: its m is -FLT_MAX, to which log(l) cannot be added in fp32.
//
// Head sizes: the kernels are instantiated for HS padded up to D = 32 or 64 (elements d >= HS are
// zero and never written), so every HS <= 64 runs, HS = 64 (DistilBERT/BERT-base) at full width.
//
// Parallelism (all fp32 arithmetic, CUDA cores, no atomics: deterministic):
//   forward   one thread per query row, K/V tiles of ATT_FWD_BK keys in shared memory;
//   dK, dV    one thread per key row, Q/dO tiles of ATT_KV_BQ queries in shared memory;
//   dQ        one thread per query row, K/V tiles of ATT_Q_BK keys in shared memory;
//   Di        = rowsum(dO * O) per (b,h,i), which equals rowsum(P * dP) also under dropout.
#include <float.h>
#include <math.h>

#include "aca/philox.h"
#include "common.cuh"

enum {
    ATT_FWD_BQ = 64, // forward: query rows (threads) per block
    ATT_FWD_BK = 32, // forward: keys per shared-memory tile
    ATT_KV_BK = 64,  // dK/dV: key rows (threads) per block
    ATT_KV_BQ = 16,  // dK/dV: queries per shared-memory tile
    ATT_Q_BQ = 64,   // dQ: query rows (threads) per block
    ATT_Q_BK = 16,   // dQ: keys per shared-memory tile
};

typedef struct {
    int T, C, NH, hs;
    float alpha;  // 1/sqrt(hs)
    int drop;     // dropout on (p > 0)
    uint32_t thr; // keep iff philox >= thr
    float dscale; // 1/(1-p) for kept values (0 when p >= 1: everything dropped)
    uint64_t seed;
} att_params;

// Not inlined: the Philox rounds would otherwise be copied into every unrolled key iteration.
__device__ __noinline__ float att_keep_scale(const att_params &a, int bh, int i, int j) {
    uint64_t idx = ((uint64_t)bh * a.T + i) * a.T + j;
    return aca_dropout_keep(a.seed, idx, a.thr) ? a.dscale : 0.0f;
}

// ---- forward -------------------------------------------------------------------------------------
template <typename T, int D>
__global__ void __launch_bounds__(ATT_FWD_BQ)
    attention_forward_kernel(T *out, float2 *state, const T *qkv, const int32_t *mask, att_params a) {
    __shared__ float Ks[ATT_FWD_BK][D], Vs[ATT_FWD_BK][D];
    __shared__ int Ms[ATT_FWD_BK]; // 1 real key, 0 masked key, -1 beyond T
    const int T_ = a.T, C = a.C, hs = a.hs, bh = blockIdx.y, b = bh / a.NH, h = bh % a.NH;
    const int i = blockIdx.x * ATT_FWD_BQ + threadIdx.x;
    const bool active = i < T_;
    const size_t C3 = 3 * (size_t)C;
    const T *base = qkv + (size_t)b * T_ * C3 + (size_t)h * hs;

    float q[D], o[D];
#pragma unroll
    for (int d = 0; d < D; d++) {
        q[d] = (active && d < hs) ? to_f(base[(size_t)i * C3 + d]) : 0.0f;
        o[d] = 0.0f;
    }
    float m = -INFINITY, l = 0.0f;

    for (int k0 = 0; k0 < T_; k0 += ATT_FWD_BK) {
        __syncthreads(); // the previous tile is consumed
        for (int e = threadIdx.x; e < ATT_FWD_BK * D; e += ATT_FWD_BQ) {
            int j = e / D, d = e % D, kj = k0 + j;
            bool ok = kj < T_ && d < hs;
            Ks[j][d] = ok ? to_f(base[(size_t)kj * C3 + C + d]) : 0.0f;
            Vs[j][d] = ok ? to_f(base[(size_t)kj * C3 + 2 * C + d]) : 0.0f;
        }
        for (int j = threadIdx.x; j < ATT_FWD_BK; j += ATT_FWD_BQ) {
            int kj = k0 + j;
            Ms[j] = kj < T_ ? (mask ? (mask[(size_t)b * T_ + kj] != 0) : 1) : -1;
        }
        __syncthreads();
        if (!active) continue;

        float s[ATT_FWD_BK], tmax = -INFINITY;
#pragma unroll
        for (int j = 0; j < ATT_FWD_BK; j++) {
            float dot = 0.0f;
#pragma unroll
            for (int d = 0; d < D; d++) dot += q[d] * Ks[j][d];
            s[j] = Ms[j] < 0 ? -INFINITY : (Ms[j] == 0 ? -FLT_MAX : a.alpha * dot);
            tmax = fmaxf(tmax, s[j]);
        }
        // Key k0 < T is in every tile, so tmax and mnew are finite; exp(-inf - mnew) = 0.
        float mnew = fmaxf(m, tmax), corr = expf(m - mnew);
        l *= corr;
#pragma unroll
        for (int d = 0; d < D; d++) o[d] *= corr;
#pragma unroll
        for (int j = 0; j < ATT_FWD_BK; j++) {
            float p = expf(s[j] - mnew);
            l += p;
            if (a.drop && Ms[j] >= 0) p *= att_keep_scale(a, bh, i, k0 + j);
#pragma unroll
            for (int d = 0; d < D; d++) o[d] += p * Vs[j][d];
        }
        m = mnew;
    }
    if (!active) return;
    float inv = 1.0f / l;
    T *orow = out + ((size_t)b * T_ + i) * C + (size_t)h * hs;
#pragma unroll
    for (int d = 0; d < D; d++)
        if (d < hs) orow[d] = from_f<T>(o[d] * inv);
    state[(size_t)bh * T_ + i] = make_float2(m, inv);
}

// ---- backward: Di = rowsum(dO * O) ------------------------------------------------------------------
template <typename T>
__global__ void attention_backward_di_kernel(float *Di, const T *dout, const T *out, int B, int T_, int C, int NH) {
    int hs = C / NH;
    size_t total = (size_t)B * NH * T_;
    for (size_t r = blockIdx.x * (size_t)blockDim.x + threadIdx.x; r < total; r += (size_t)gridDim.x * blockDim.x) {
        size_t bh = r / T_, i = r % T_, b = bh / NH, h = bh % NH;
        size_t off = (b * T_ + i) * C + h * hs;
        float s = 0.0f;
        for (int d = 0; d < hs; d++) s += to_f(dout[off + d]) * to_f(out[off + d]);
        Di[r] = s;
    }
}

// ---- backward: dK, dV (one thread per key j) ----------------------------------------------------------
// dv_j = sum_i pd_ij dO_i;  dk_j = alpha sum_i ds_ij q_i;  ds_ij = p_ij (dp_ij - Di_i), 0 for masked j.
template <typename T, int D>
__global__ void __launch_bounds__(ATT_KV_BK)
    attention_backward_dkdv_kernel(T *dqkv, const T *dout, const T *qkv, const float2 *state, const float *Di,
                                   const int32_t *mask, att_params a) {
    __shared__ float Ks[ATT_KV_BK][D + 1], Vs[ATT_KV_BK][D + 1]; // own rows; +1: no bank conflicts
    __shared__ float Qs[ATT_KV_BQ][D], dOs[ATT_KV_BQ][D];         // read as broadcasts
    __shared__ float Sm[ATT_KV_BQ], Sl[ATT_KV_BQ], Sd[ATT_KV_BQ];
    const int T_ = a.T, C = a.C, hs = a.hs, bh = blockIdx.y, b = bh / a.NH, h = bh % a.NH;
    const int j0 = blockIdx.x * ATT_KV_BK, j = j0 + threadIdx.x;
    const bool active = j < T_;
    const size_t C3 = 3 * (size_t)C;
    const T *base = qkv + (size_t)b * T_ * C3 + (size_t)h * hs;
    const T *dbase = dout + (size_t)b * T_ * C + (size_t)h * hs;

    for (int e = threadIdx.x; e < ATT_KV_BK * D; e += ATT_KV_BK) {
        int r = e / D, d = e % D, kj = j0 + r;
        bool ok = kj < T_ && d < hs;
        Ks[r][d] = ok ? to_f(base[(size_t)kj * C3 + C + d]) : 0.0f;
        Vs[r][d] = ok ? to_f(base[(size_t)kj * C3 + 2 * C + d]) : 0.0f;
    }
    const bool masked = active && mask && mask[(size_t)b * T_ + j] == 0;
    float dk[D], dv[D];
#pragma unroll
    for (int d = 0; d < D; d++) dk[d] = dv[d] = 0.0f;

    for (int i0 = 0; i0 < T_; i0 += ATT_KV_BQ) {
        __syncthreads(); // the previous tile is consumed (and Ks/Vs are loaded, the first time)
        for (int e = threadIdx.x; e < ATT_KV_BQ * D; e += ATT_KV_BK) {
            int r = e / D, d = e % D, qi = i0 + r;
            bool ok = qi < T_ && d < hs;
            Qs[r][d] = ok ? to_f(base[(size_t)qi * C3 + d]) : 0.0f;
            dOs[r][d] = ok ? to_f(dbase[(size_t)qi * C + d]) : 0.0f;
        }
        for (int r = threadIdx.x; r < ATT_KV_BQ; r += ATT_KV_BK) {
            int qi = i0 + r;
            float2 st = qi < T_ ? state[(size_t)bh * T_ + qi] : make_float2(0.0f, 0.0f);
            Sm[r] = st.x, Sl[r] = st.y;
            Sd[r] = qi < T_ ? Di[(size_t)bh * T_ + qi] : 0.0f;
        }
        __syncthreads();
        if (!active) continue;
        const int ni = min(ATT_KV_BQ, T_ - i0);
        for (int r = 0; r < ni; r++) {
            float s = 0.0f, dpd = 0.0f;
#pragma unroll
            for (int d = 0; d < D; d++) {
                s += Qs[r][d] * Ks[threadIdx.x][d];
                dpd += dOs[r][d] * Vs[threadIdx.x][d];
            }
            s = masked ? -FLT_MAX : a.alpha * s;
            float p = expf(s - Sm[r]) * Sl[r], pd = p, dp = dpd;
            if (a.drop) {
                float ks = att_keep_scale(a, bh, i0 + r, j);
                pd = p * ks, dp = dpd * ks;
            }
            float ds = masked ? 0.0f : p * (dp - Sd[r]);
#pragma unroll
            for (int d = 0; d < D; d++) {
                dv[d] += pd * dOs[r][d];
                dk[d] += ds * Qs[r][d];
            }
        }
    }
    if (!active) return;
    T *drow = dqkv + ((size_t)b * T_ + j) * C3 + (size_t)h * hs;
#pragma unroll
    for (int d = 0; d < D; d++)
        if (d < hs) {
            drow[C + d] = from_f<T>(a.alpha * dk[d]);
            drow[2 * C + d] = from_f<T>(dv[d]);
        }
}

// ---- backward: dQ (one thread per query i) ---------------------------------------------------------------
// dq_i = alpha sum_j ds_ij k_j.
template <typename T, int D>
__global__ void __launch_bounds__(ATT_Q_BQ)
    attention_backward_dq_kernel(T *dqkv, const T *dout, const T *qkv, const float2 *state, const float *Di,
                                 const int32_t *mask, att_params a) {
    __shared__ float Qs[ATT_Q_BQ][D + 1], dOs[ATT_Q_BQ][D + 1]; // own rows
    __shared__ float Ks[ATT_Q_BK][D], Vs[ATT_Q_BK][D];         // broadcasts
    __shared__ int Ms[ATT_Q_BK];
    const int T_ = a.T, C = a.C, hs = a.hs, bh = blockIdx.y, b = bh / a.NH, h = bh % a.NH;
    const int i0 = blockIdx.x * ATT_Q_BQ, i = i0 + threadIdx.x;
    const bool active = i < T_;
    const size_t C3 = 3 * (size_t)C;
    const T *base = qkv + (size_t)b * T_ * C3 + (size_t)h * hs;
    const T *dbase = dout + (size_t)b * T_ * C + (size_t)h * hs;

    for (int e = threadIdx.x; e < ATT_Q_BQ * D; e += ATT_Q_BQ) {
        int r = e / D, d = e % D, qi = i0 + r;
        bool ok = qi < T_ && d < hs;
        Qs[r][d] = ok ? to_f(base[(size_t)qi * C3 + d]) : 0.0f;
        dOs[r][d] = ok ? to_f(dbase[(size_t)qi * C + d]) : 0.0f;
    }
    float mi = 0.0f, li = 0.0f, di = 0.0f;
    if (active) {
        float2 st = state[(size_t)bh * T_ + i];
        mi = st.x, li = st.y, di = Di[(size_t)bh * T_ + i];
    }
    float dq[D];
#pragma unroll
    for (int d = 0; d < D; d++) dq[d] = 0.0f;

    for (int k0 = 0; k0 < T_; k0 += ATT_Q_BK) {
        __syncthreads();
        for (int e = threadIdx.x; e < ATT_Q_BK * D; e += ATT_Q_BQ) {
            int r = e / D, d = e % D, kj = k0 + r;
            bool ok = kj < T_ && d < hs;
            Ks[r][d] = ok ? to_f(base[(size_t)kj * C3 + C + d]) : 0.0f;
            Vs[r][d] = ok ? to_f(base[(size_t)kj * C3 + 2 * C + d]) : 0.0f;
        }
        for (int r = threadIdx.x; r < ATT_Q_BK; r += ATT_Q_BQ) {
            int kj = k0 + r;
            Ms[r] = kj < T_ ? (mask ? (mask[(size_t)b * T_ + kj] != 0) : 1) : -1;
        }
        __syncthreads();
        if (!active) continue;
        const int nk = min(ATT_Q_BK, T_ - k0);
        for (int r = 0; r < nk; r++) {
            if (Ms[r] == 0) continue; // masked key: ds = 0
            float s = 0.0f, dpd = 0.0f;
#pragma unroll
            for (int d = 0; d < D; d++) {
                s += Qs[threadIdx.x][d] * Ks[r][d];
                dpd += dOs[threadIdx.x][d] * Vs[r][d];
            }
            float p = expf(a.alpha * s - mi) * li, dp = dpd;
            if (a.drop) dp *= att_keep_scale(a, bh, i, k0 + r);
            float ds = p * (dp - di);
#pragma unroll
            for (int d = 0; d < D; d++) dq[d] += ds * Ks[r][d];
        }
    }
    if (!active) return;
    T *drow = dqkv + ((size_t)b * T_ + i) * C3 + (size_t)h * hs;
#pragma unroll
    for (int d = 0; d < D; d++)
        if (d < hs) drow[d] = from_f<T>(a.alpha * dq[d]);
}

// ---- host side ---------------------------------------------------------------------------------------------
static att_params att_setup(int B, int T, int C, int NH, float p_drop, uint64_t seed) {
    if (NH <= 0 || C % NH != 0) cuda_fail_msg(__FILE__, __LINE__, "attention: C=%d is not a multiple of NH=%d", C, NH);
    att_params a;
    a.T = T, a.C = C, a.NH = NH, a.hs = C / NH;
    if (a.hs > 64)
        cuda_fail_msg(__FILE__, __LINE__, "attention: head size %d > 64 is not supported by the CUDA kernels", a.hs);
    if ((size_t)B * NH > 65535)
        cuda_fail_msg(__FILE__, __LINE__, "attention: B*NH = %zu exceeds 65535", (size_t)B * NH);
    a.alpha = (float)(1.0 / sqrt((double)a.hs));
    a.drop = p_drop > 0;
    a.thr = 0, a.dscale = 1.0f;
    if (p_drop >= 1) {
        a.dscale = 0.0f; // keep-all threshold times 0: everything dropped
    } else if (a.drop) {
        a.thr = aca_dropout_threshold(p_drop);
        a.dscale = (float)(1.0 / (1.0 - (double)p_drop));
    }
    a.seed = seed;
    return a;
}

size_t cuda_attention_state_bytes(aca_backend *be, int B, int T, int NH) { return (size_t)B * NH * T * sizeof(float2); }

template <typename T, int D>
static void attention_forward_launch(cudaStream_t s, void *out, void *state, const void *qkv, const int32_t *mask,
                                     int B, const att_params &a) {
    dim3 grid((a.T + ATT_FWD_BQ - 1) / ATT_FWD_BQ, B * a.NH);
    attention_forward_kernel<T, D><<<grid, ATT_FWD_BQ, 0, s>>>((T *)out, (float2 *)state, (const T *)qkv, mask, a);
    CUDA_CHECK_LAUNCH("attention_forward_kernel");
}

void cuda_attention_forward(aca_backend *be, void *out, void *state, const void *qkv, const int32_t *mask, int B,
                            int T, int C, int NH, float p_drop, uint64_t seed) {
    if (B <= 0 || T <= 0) return;
    att_params a = att_setup(B, T, C, NH, p_drop, seed);
    cudaStream_t s = cuda_stream(be);
    CUDA_DISPATCH(be->dtype, DT, {
        if (a.hs <= 32)
            attention_forward_launch<DT, 32>(s, out, state, qkv, mask, B, a);
        else
            attention_forward_launch<DT, 64>(s, out, state, qkv, mask, B, a);
    });
}

template <typename T, int D>
static void attention_backward_launch(cudaStream_t s, void *dqkv, const void *dout, const void *qkv,
                                      const void *state, const float *Di, const int32_t *mask, int B,
                                      const att_params &a) {
    dim3 gkv((a.T + ATT_KV_BK - 1) / ATT_KV_BK, B * a.NH), gq((a.T + ATT_Q_BQ - 1) / ATT_Q_BQ, B * a.NH);
    attention_backward_dkdv_kernel<T, D><<<gkv, ATT_KV_BK, 0, s>>>((T *)dqkv, (const T *)dout, (const T *)qkv,
                                                                   (const float2 *)state, Di, mask, a);
    CUDA_CHECK_LAUNCH("attention_backward_dkdv_kernel");
    attention_backward_dq_kernel<T, D><<<gq, ATT_Q_BQ, 0, s>>>((T *)dqkv, (const T *)dout, (const T *)qkv,
                                                               (const float2 *)state, Di, mask, a);
    CUDA_CHECK_LAUNCH("attention_backward_dq_kernel");
}

void cuda_attention_backward(aca_backend *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                             const void *state, const int32_t *mask, int B, int T, int C, int NH, float p_drop,
                             uint64_t seed) {
    if (B <= 0 || T <= 0) return;
    att_params a = att_setup(B, T, C, NH, p_drop, seed);
    cudaStream_t s = cuda_stream(be);
    size_t rows = (size_t)B * NH * T;
    float *Di = (float *)cuda_scratch(be, rows * sizeof(float));
    CUDA_DISPATCH(be->dtype, DT, {
        attention_backward_di_kernel<DT><<<cuda_grid(rows, 256), 256, 0, s>>>(Di, (const DT *)dout, (const DT *)out,
                                                                              B, T, C, NH);
        CUDA_CHECK_LAUNCH("attention_backward_di_kernel");
        if (a.hs <= 32)
            attention_backward_launch<DT, 32>(s, dqkv, dout, qkv, state, Di, mask, B, a);
        else
            attention_backward_launch<DT, 64>(s, dqkv, dout, qkv, state, Di, mask, B, a);
    });
}
