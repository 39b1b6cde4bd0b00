// RMSNorm (Llama) and LayerNorm (GPT-2, GPT-NeoX, GPT-J), forward and backward.
#include "Kernels.h"
#include "hot.h"

// Row sums may be reordered so they vectorise; results differ from serial order in the last bits.
#pragma clang fp reassociate(on)

CE_HOT void ce_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int64_t N, int C, float eps) {
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * C;
        float *o = out + n * C;
        float ss = 0.0f;
        for (int i = 0; i < C; i++) ss += xr[i] * xr[i];
        float s = 1.0f / sqrtf(ss / C + eps);
        rstd[n] = s;
        for (int i = 0; i < C; i++) o[i] = xr[i] * s * w[i];
    }
}

CE_HOT void ce_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                                const float *rstd, int64_t N, int C) {
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * C, *d = dout + n * C;
        float *dxr = dx + n * C;
        float s = rstd[n];
        // out_i = x_i s w_i, s = (mean(x^2)+eps)^-1/2, ds/dx_j = -s^3 x_j / C
        float dot = 0.0f; // sum_j dout_j w_j x_j
        for (int i = 0; i < C; i++) dot += d[i] * w[i] * xr[i];
        float k = dot * s * s * s / C;
        for (int i = 0; i < C; i++) dxr[i] += d[i] * w[i] * s - k * xr[i];
        if (dw) for (int i = 0; i < C; i++) dw[i] += d[i] * xr[i] * s;
    }
}

CE_HOT void ce_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w,
                                 const float *b, int64_t N, int C, float eps) {
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * C;
        float *o = out + n * C;
        float m = 0.0f, v = 0.0f;
        for (int i = 0; i < C; i++) m += xr[i];
        m /= C;
        for (int i = 0; i < C; i++) { float c = xr[i] - m; v += c * c; }
        float s = 1.0f / sqrtf(v / C + eps);
        mean[n] = m;
        rstd[n] = s;
        if (b) for (int i = 0; i < C; i++) o[i] = (xr[i] - m) * s * w[i] + b[i];
        else   for (int i = 0; i < C; i++) o[i] = (xr[i] - m) * s * w[i];
    }
}

CE_HOT void ce_layernorm_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                                  const float *w, const float *mean, const float *rstd, int64_t N, int C) {
    for (int64_t n = 0; n < N; n++) {
        const float *xr = x + n * C, *d = dout + n * C;
        float *dxr = dx + n * C;
        float m = mean[n], s = rstd[n];
        // xhat = (x-m)s ; dxhat = dout*w ; dx = s (dxhat - mean(dxhat) - xhat mean(dxhat xhat))
        float sum_d = 0.0f, sum_dx = 0.0f;
        for (int i = 0; i < C; i++) {
            float dh = d[i] * w[i];
            sum_d += dh;
            sum_dx += dh * (xr[i] - m) * s;
        }
        sum_d /= C;
        sum_dx /= C;
        for (int i = 0; i < C; i++) {
            float xh = (xr[i] - m) * s;
            dxr[i] += s * (d[i] * w[i] - sum_d - xh * sum_dx);
        }
        if (dw) for (int i = 0; i < C; i++) dw[i] += d[i] * (xr[i] - m) * s;
        if (db) for (int i = 0; i < C; i++) db[i] += d[i];
    }
}
