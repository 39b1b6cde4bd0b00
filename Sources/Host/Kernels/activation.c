// SwiGLU (Llama MLP), GELU (GPT-2, GPT-NeoX, GPT-J MLPs) and GeGLU with tanh GELU (Gemma).
#include "Kernels.h"
#include "hot.h"

CE_HOT void ce_swiglu_forward(float *out, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) out[i] = gate[i] * ce_sigmoidf(gate[i]) * up[i];
}

CE_HOT void ce_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                               int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i], sg = ce_sigmoidf(g);
        float silu = g * sg;
        dup[i] = dout[i] * silu;
        // d silu/dg = sg (1 + g (1 - sg))
        dgate[i] = dout[i] * up[i] * sg * (1.0f + g * (1.0f - sg));
    }
}

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

static inline float tanh_fast(float y) { return 1.0f - 2.0f / (ce_expf(2.0f * y) + 1.0f); }

CE_HOT void ce_gelu_forward(float *out, const float *x, int64_t n, int tanh_approx) {
    if (tanh_approx) {
        for (int64_t i = 0; i < n; i++) {
            float v = x[i];
            out[i] = 0.5f * v * (1.0f + tanh_fast(GELU_K * (v + 0.044715f * v * v * v)));
        }
    } else {
        for (int64_t i = 0; i < n; i++) out[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
    }
}

CE_HOT void ce_gelu_backward(float *dx, const float *dout, const float *x, int64_t n, int tanh_approx) {
    if (tanh_approx) {
        for (int64_t i = 0; i < n; i++) {
            float v = x[i];
            float u = GELU_K * (v + 0.044715f * v * v * v);
            float t = tanh_fast(u);
            float du = GELU_K * (1.0f + 3.0f * 0.044715f * v * v);
            dx[i] = dout[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
        }
    } else {
        for (int64_t i = 0; i < n; i++) {
            float v = x[i];
            float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
            float pdf = 0.3989422804014327f * ce_expf(-0.5f * v * v);
            dx[i] = dout[i] * (cdf + v * pdf);
        }
    }
}

// GeGLU: out = gelu_tanh(gate) * up.
CE_HOT void ce_geglu_forward(float *out, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        out[i] = 0.5f * g * (1.0f + tanh_fast(GELU_K * (g + 0.044715f * g * g * g))) * up[i];
    }
}

CE_HOT void ce_geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up,
                              int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        float t = tanh_fast(GELU_K * (g + 0.044715f * g * g * g));
        float du = GELU_K * (1.0f + 3.0f * 0.044715f * g * g);
        dup[i] = dout[i] * 0.5f * g * (1.0f + t);
        dgate[i] = dout[i] * up[i] * (0.5f * (1.0f + t) + 0.5f * g * (1.0f - t * t) * du);
    }
}
