// Launch geometry of the CUDA kernels whose grids grow with the batch, as plain C so that
// tests/test_launch_geometry.c checks the limits on a machine without a GPU: grid.x may reach
// 2^31 - 1 blocks, grid.y and grid.z only 65,535, so whatever grows with the number of tokens goes
// on x.
#ifndef ACA_CUDA_LAUNCH_H
#define ACA_CUDA_LAUNCH_H

#include <stddef.h>

typedef struct {
    unsigned long long x, y; // blocks (x may be up to 2^31-1, y up to 65535)
} launch_grid;

enum { LAUNCH_MAX_X = 2147483647, LAUNCH_MAX_Y = 65535 };

// Column reductions (dbias, LayerNorm dw/db): chunks of `rows_per_chunk` rows on x, blocks of
// `threads` channels on y.
static inline launch_grid launch_column_chunks(size_t N, int C, int rows_per_chunk, int threads) {
    launch_grid g = {(N + rows_per_chunk - 1) / rows_per_chunk, ((size_t)C + threads - 1) / threads};
    return g;
}

// Row kernels with `rows_per_block` rows per block (one warp per row): rows on x.
static inline launch_grid launch_rows(size_t rows, int rows_per_block) {
    launch_grid g = {(rows + rows_per_block - 1) / rows_per_block, 1};
    return g;
}

static inline int launch_grid_ok(launch_grid g) { return g.x >= 1 && g.x <= LAUNCH_MAX_X && g.y >= 1 && g.y <= LAUNCH_MAX_Y; }

#endif
