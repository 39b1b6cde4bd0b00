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
