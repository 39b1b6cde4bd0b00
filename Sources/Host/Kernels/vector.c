// Small vector helpers used by the Swift side.
#include "Kernels.h"
#include "hot.h"

CE_HOT void ce_add(float *y, const float *x, int64_t n) { for (int64_t i = 0; i < n; i++) y[i] += x[i]; }
CE_HOT void ce_scale(float *y, float a, int64_t n) { for (int64_t i = 0; i < n; i++) y[i] *= a; }

double ce_sum_squares(const float *x, int64_t n) {
    double s = 0.0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return s;
}

int ce_all_finite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) if (!isfinite(x[i])) return 0;
    return 1;
}

// Counted in blocks so the inner loop vectorises and a tensor that changed everywhere stops
// early (bit patterns: -0 differs from +0, a NaN from itself never).
CE_HOT int64_t ce_count_differing(const float *a, const float *b, int64_t n, int64_t limit) {
    const uint32_t *x = (const uint32_t *)a, *y = (const uint32_t *)b;
    int64_t count = 0;
    for (int64_t start = 0; start < n && count < limit; start += 4096) {
        int64_t end = start + 4096 < n ? start + 4096 : n;
        for (int64_t i = start; i < end; i++) count += x[i] != y[i];
    }
    return count;
}

int64_t ce_differing_indices(const float *a, const float *b, int64_t n, int64_t *out) {
    const uint32_t *x = (const uint32_t *)a, *y = (const uint32_t *)b;
    int64_t k = 0;
    for (int64_t i = 0; i < n; i++) if (x[i] != y[i]) out[k++] = i;
    return k;
}
