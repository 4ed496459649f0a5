// Embeddings: out (B,T,C) = wte[ids] + wpe[t] (+ tte[type_ids]); backward into fp32 tables (+=).
//
// Deterministic backward without float atomics:
// - dwpe: thread per (t, c) sums over the batch in order b = 0..B-1.
// - dwte / dtte: the (id, row) pairs are sorted by id with CUB's radix sort, which is stable, so
//   every id's rows come in increasing row order; one block per distinct id then sums its rows in
//   that order and adds the sum once.  Rows whose id is pad_id add nothing.
//   type_ids == NULL means every token has type 0: dtte[0] += the column sums of dout.
#include <cub/device/device_radix_sort.cuh>

#include "common.cuh"

template <typename T>
static __global__ void embed_forward_kernel(T *out, const int32_t *ids, const int32_t *type_ids, const T *wte, const T *wpe,
                                     const T *tte, int T_, int C, size_t total) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        size_t n = i / C;
        int c = (int)(i % C), t = (int)(n % T_);
        float we = to_f(wte[(size_t)ids[n] * C + c]), pe = to_f(wpe[(size_t)t * C + c]);
        float o;
        if (tte) // BERT order: (word + token type) + position
            o = (we + to_f(tte[(size_t)(type_ids ? type_ids[n] : 0) * C + c])) + pe;
        else
            o = we + pe;
        out[i] = from_f<T>(o);
    }
}

void cuda_embed_forward(aca_backend *be, void *out, const int32_t *ids, const int32_t *type_ids, const void *wte,
                        const void *wpe, const void *tte, int B, int T, int C) {
    size_t total = (size_t)B * T * C;
    if (total == 0) return;
    CUDA_DISPATCH(be->dtype, DT,
                  embed_forward_kernel<DT><<<cuda_grid(total, 256), 256, 0, cuda_stream(be)>>>(
                      (DT *)out, ids, type_ids, (const DT *)wte, (const DT *)wpe, (const DT *)tte, T, C, total));
    CUDA_CHECK_LAUNCH("embed_forward_kernel");
}

// dwpe (maxT,C) += sum over b of dout (B,T,C)[b, t, c].
template <typename T> static __global__ void embed_dwpe_kernel(float *dwpe, const T *dout, int B, int T_, int C) {
    size_t total = (size_t)T_ * C;
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < total; i += (size_t)gridDim.x * blockDim.x) {
        float s = 0.0f;
        for (int b = 0; b < B; b++) s += to_f(dout[(size_t)b * total + i]);
        dwpe[i] += s;
    }
}

static __global__ void iota_kernel(int32_t *x, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) x[i] = i;
}

// One block per sorted position i that starts a run of equal keys: table[key] += sum of the rows
// rows[i..end) of dout in that (increasing) order.  skip_key's run adds nothing.
template <typename T>
static __global__ void embed_segment_sum_kernel(float *table, const T *dout, const int32_t *keys, const int32_t *rows, int N,
                                         int C, int skip_key) {
    int i = blockIdx.x;
    int key = keys[i];
    if ((i > 0 && keys[i - 1] == key) || key == skip_key) return;
    int end = i + 1;
    while (end < N && keys[end] == key) end++;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float s = 0.0f;
        for (int j = i; j < end; j++) s += to_f(dout[(size_t)rows[j] * C + c]);
        table[(size_t)key * C + c] += s;
    }
}

// Sorts (keys, row) pairs and adds each key's rows of dout into table (see the top of the file).
static void embed_scatter_sorted(aca_backend *be, float *table, const void *dout, const int32_t *keys, int N, int C,
                                 int skip_key) {
    cudaStream_t s = cuda_stream(be);
    size_t sort_bytes = 0;
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(NULL, sort_bytes, (const int32_t *)NULL, (int32_t *)NULL,
                                               (const int32_t *)NULL, (int32_t *)NULL, N, 0, 32, s));
    size_t arr = ((size_t)N * sizeof(int32_t) + 255) / 256 * 256;
    char *base = (char *)cuda_scratch(be, 3 * arr + sort_bytes);
    int32_t *rows_in = (int32_t *)base, *keys_out = (int32_t *)(base + arr), *rows_out = (int32_t *)(base + 2 * arr);
    void *tmp = base + 3 * arr;
    iota_kernel<<<cuda_grid((size_t)N, 256), 256, 0, s>>>(rows_in, N);
    CUDA_CHECK_LAUNCH("iota_kernel");
    CUDA_CHECK(cub::DeviceRadixSort::SortPairs(tmp, sort_bytes, keys, keys_out, rows_in, rows_out, N, 0, 32, s));
    CUDA_DISPATCH(be->dtype, DT,
                  embed_segment_sum_kernel<DT><<<N, 256, 0, s>>>(table, (const DT *)dout, keys_out, rows_out, N, C,
                                                                 skip_key));
    CUDA_CHECK_LAUNCH("embed_segment_sum_kernel");
}

void cuda_embed_backward(aca_backend *be, float *dwte, float *dwpe, float *dtte, const void *dout,
                         const int32_t *ids, const int32_t *type_ids, int B, int T, int C, int pad_id) {
    int N = B * T;
    if (N <= 0) return;
    CUDA_DISPATCH(be->dtype, DT,
                  embed_dwpe_kernel<DT><<<cuda_grid((size_t)T * C, 256), 256, 0, cuda_stream(be)>>>(
                      dwpe, (const DT *)dout, B, T, C));
    CUDA_CHECK_LAUNCH("embed_dwpe_kernel");
    // pad_id < 0 means no padding row: INT32_MIN never matches a (non-negative) id.
    embed_scatter_sorted(be, dwte, dout, ids, N, C, pad_id < 0 ? INT32_MIN : pad_id);
    if (dtte) {
        if (type_ids)
            embed_scatter_sorted(be, dtte, dout, type_ids, N, C, INT32_MIN);
        else
            cuda_colsum_add(be, dtte, dout, N, C);
    }
}
