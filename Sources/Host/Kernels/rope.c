// Rotary position embedding. Forward rotates each pair by +theta, backward by -theta.
#include "Kernels.h"
#include "hot.h"

CE_HOT void ce_rope(float *x, int64_t N, int H, int D, int R, const int32_t *pos, const float *cos_t,
                    const float *sin_t, int interleaved, float sign) {
    int half = R / 2;
    for (int64_t n = 0; n < N; n++) {
        const float *c = cos_t + (int64_t)pos[n] * half;
        const float *s = sin_t + (int64_t)pos[n] * half;
        for (int h = 0; h < H; h++) {
            float *v = x + (n * H + h) * D;
            if (interleaved) {
                for (int i = 0; i < half; i++) {
                    float a = v[2 * i], b = v[2 * i + 1], sn = sign * s[i];
                    v[2 * i] = a * c[i] - b * sn;
                    v[2 * i + 1] = b * c[i] + a * sn;
                }
            } else {
                for (int i = 0; i < half; i++) {
                    float a = v[i], b = v[i + half], sn = sign * s[i];
                    v[i] = a * c[i] - b * sn;
                    v[i + half] = b * c[i] + a * sn;
                }
            }
        }
    }
}
