// Adam with decoupled weight decay (AdamW; weight_decay 0 gives plain Adam), bias-corrected.
#include "Kernels.h"
#include "hot.h"

CE_HOT void ce_adam_step(float *p, const float *g, float *m, float *v, int64_t n, float lr, float beta1,
                         float beta2, float eps, float weight_decay, int64_t t) {
    float c1 = 1.0f - powf(beta1, (float)t), c2 = 1.0f - powf(beta2, (float)t);
    for (int64_t i = 0; i < n; i++) {
        m[i] = beta1 * m[i] + (1.0f - beta1) * g[i];
        v[i] = beta2 * v[i] + (1.0f - beta2) * g[i] * g[i];
        float mh = m[i] / c1, vh = v[i] / c2;
        p[i] -= lr * (mh / (sqrtf(vh) + eps) + weight_decay * p[i]);
    }
}
