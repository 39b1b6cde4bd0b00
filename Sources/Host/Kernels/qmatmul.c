// Matrix products with a weight kept in its stored ggml format (frozen weights of a quantized
// model): W (M, K) is M rows of K values in blocks, `row_bytes` bytes a row. Each row is decoded
// into a K-float scratch row (the caller's, in L1/L2) and used at once for every input row, so
// the full fp32 matrix never exists. Meant for few input rows (training steps, decoding); for
// many, the caller decodes panels and calls sgemm.
#include "Kernels.h"
#include "hot.h"

// Eight independent partial sums, so the loop vectorises without reassociating.
CE_HOT static float dot(const float *a, const float *b, int64_t n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t k = 0;
    for (; k + 8 <= n; k += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[k + j] * b[k + j];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; k < n; k++) s += a[k] * b[k];
    return s;
}

// Output columns [o0, o1) only, so threads can split the rows of W.
CE_HOT void ce_qmatmul_forward(float *out, const float *x, int64_t N, int64_t K, int64_t M, const uint8_t *w,
                               int64_t row_bytes, ce_dequant_fn dequant, float *row, int accumulate, int64_t o0,
                               int64_t o1) {
    for (int64_t o = o0; o < o1; o++) {
        dequant(row, w + o * row_bytes, K);
        for (int64_t n = 0; n < N; n++) {
            float v = dot(x + n * K, row, K);
            out[n * M + o] = accumulate ? out[n * M + o] + v : v;
        }
    }
}

// Columns [k0, k1) of dx only (block-aligned, so threads can split the columns): each row's
// segment is decoded from its own blocks.
CE_HOT void ce_qmatmul_backward_input(float *dx, const float *dout, int64_t N, int64_t K, int64_t M,
                                      const uint8_t *w, int64_t row_bytes, ce_dequant_fn dequant, float *row,
                                      int64_t k0, int64_t k1, int64_t block_values, int64_t block_bytes) {
    const int64_t width = k1 - k0, skip = k0 / block_values * block_bytes;
    for (int64_t o = 0; o < M; o++) {
        dequant(row, w + o * row_bytes + skip, width);
        for (int64_t n = 0; n < N; n++) {
            float g = dout[n * M + o];
            if (g == 0.0f) continue;
            float *d = dx + n * K + k0;
            for (int64_t k = 0; k < width; k++) d[k] += g * row[k];
        }
    }
}
