// The CUDA backend's attention op: chooses the path (--attention, ops.h) and runs it.
//   gemm   tensor-core GEMMs + row kernels (attention_gemm.cu); every dtype, every head size; the
//          CPU's dropout mask bit for bit; state P (B,NH,T,T) in the compute dtype.
//   cudnn  cuDNN's fused flash attention (cudnn_sdpa.cc) where cuDNN builds its graph (bf16/fp16,
//          sm_80+); its own dropout mask; state = the softmax statistics (B,NH,T) fp32.
//   auto   cudnn when the capability query (cuda_attention_prepare) finds cuDNN builds the model's
//          largest shape, with and without dropout, else gemm.
// The CUDA-core flash kernel this file held before (74x / 175x its floor on an H100 at B=32) is gone:
// both paths run on tensor cores.
#include "common.cuh"

#ifdef ACA_HAVE_CUDNN_FE
#include "cudnn_sdpa.h"
#endif

// The CUDA backend's capability query (ops->prepare): resolves `auto`, checks that the requested
// path runs the model's largest shape, with dropout (training) and without (evaluation: cuDNN builds
// another graph), and reserves the GEMM path's scratch, so that a forward never stops on either.
int cuda_attention_prepare(aca_backend *be, const aca_shape *s, aca_err *e) {
    cuda_impl *c = cuda_of(be);
    int B = s->B, T = s->T, C = s->C, NH = s->NH;
    if (NH <= 0 || C % NH != 0)
        return aca_errf(e, ACA_ERR_VALUE, "attention: hidden size %d is not a multiple of the %d heads", C, NH);
    c->attention_path = ACA_ATT_GEMM;
    be->attention_used = "gemm";
    if (be->attention == ACA_ATT_GEMM) return cuda_gemm_attention_reserve(be, B, T, NH, s->p_attn, e);
#ifdef ACA_HAVE_CUDNN_FE
    char why[512] = "";
    int ok = cuda_cudnn_attention_prepare(be, B, T, C, NH, s->p_attn, why, sizeof why) == 0 &&
             (s->p_attn <= 0 || cuda_cudnn_attention_prepare(be, B, T, C, NH, 0.0f, why, sizeof why) == 0);
    if (ok) {
        c->attention_path = ACA_ATT_CUDNN;
        be->attention_used = "cudnn";
        return 0;
    }
    if (be->attention == ACA_ATT_CUDNN)
        return aca_errf(e, ACA_ERR_VALUE, "--attention cudnn: cuDNN cannot run this model's attention (batch %d x %d, %d "
                        "heads of %d, %s): %s; use --attention gemm or auto", B, T, NH, C / NH,
                        aca_dtype_name(be->dtype), why);
#else
    if (be->attention == ACA_ATT_CUDNN)
        return aca_errf(e, ACA_ERR_VALUE, "--attention cudnn: this build has no cuDNN attention");
#endif
    return cuda_gemm_attention_reserve(be, B, T, NH, s->p_attn, e);
}

size_t cuda_attention_state_bytes(aca_backend *be, int B, int T, int C, int NH) {
#ifdef ACA_HAVE_CUDNN_FE
    if (cuda_of(be)->attention_path == ACA_ATT_CUDNN) return cuda_cudnn_attention_state_bytes(be, B, T, C, NH);
#endif
    return cuda_gemm_attention_state_bytes(be, B, T, C, NH);
}

void cuda_attention_forward(aca_backend *be, void *out, void *state, const void *qkv, const int32_t *mask, int B,
                            int T, int C, int NH, float p_drop, uint64_t seed) {
    if (B <= 0 || T <= 0) return;
#ifdef ACA_HAVE_CUDNN_FE
    if (cuda_of(be)->attention_path == ACA_ATT_CUDNN) {
        cuda_cudnn_attention_forward(be, out, state, qkv, mask, B, T, C, NH, p_drop, seed);
        return;
    }
#endif
    cuda_gemm_attention_forward(be, out, state, qkv, mask, B, T, C, NH, p_drop, seed);
}

void cuda_attention_backward(aca_backend *be, void *dqkv, const void *dout, const void *qkv, const void *out,
                             const void *state, const int32_t *mask, int B, int T, int C, int NH, float p_drop,
                             uint64_t seed) {
    if (B <= 0 || T <= 0) return;
#ifdef ACA_HAVE_CUDNN_FE
    if (cuda_of(be)->attention_path == ACA_ATT_CUDNN) {
        cuda_cudnn_attention_backward(be, dqkv, dout, qkv, out, state, mask, B, T, C, NH, p_drop, seed);
        return;
    }
#endif
    cuda_gemm_attention_backward(be, dqkv, dout, qkv, state, mask, B, T, C, NH, p_drop, seed);
}
