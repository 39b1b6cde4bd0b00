// Adam with decoupled weight decay (AdamW; weight_decay 0 gives plain Adam), bias-corrected.
#include <string.h>
#include "Kernels.h"
#include "hot.h"

// 1 when x is a NaN or an infinity (all exponent bits set), as an integer so that the OR over a
// loop vectorises without reordering the float arithmetic.
static inline uint32_t nonfinite(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (u & 0x7f800000u) == 0x7f800000u;
}

CE_HOT int ce_adam_step(float *p, const float *g, float *m, float *v, int64_t n, float lr, float beta1,
                        float beta2, float eps, float weight_decay, int64_t t) {
    float c1 = 1.0f - powf(beta1, (float)t), c2 = 1.0f - powf(beta2, (float)t);
    uint32_t bad_g = 0, bad_p = 0;
    for (int64_t i = 0; i < n; i++) {
        m[i] = beta1 * m[i] + (1.0f - beta1) * g[i];
        v[i] = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
        float mh = m[i] / c1, vh = v[i] / c2;
        p[i] -= lr * (mh / (sqrtf(vh) + eps) + weight_decay * p[i]);
        bad_g |= nonfinite(g[i]);
        bad_p |= nonfinite(p[i]);
    }
    return (bad_g ? CE_ADAM_NONFINITE_GRADIENT : 0) | (bad_p ? CE_ADAM_NONFINITE_VALUE : 0);
}
