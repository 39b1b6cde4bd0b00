// Causal multi-head self-attention with grouped key/value heads, forward and backward.
// The per-head products go to OpenBLAS with leading dimensions, so q, k, v stay in their
// (B*T, heads*D) projection layout and nothing is transposed or copied. A sliding window
// (window > 0, Gemma 3's local layers) lets position t see only s > t - window; 0 is no window.
#include "Kernels.h"
#include "hot.h"
#include <cblas.h>

// The first position row t sees.
static inline int window_start(int t, int window) { return window > 0 && t - window + 1 > 0 ? t - window + 1 : 0; }

// Row t of P (T): scaled causal softmax over s in [window_start, t], zero elsewhere.
CE_HOT static void causal_softmax_row(float *p, int t, int T, int window) {
    int s0 = window_start(t, window);
    float mx = ce_row_max(p + s0, t + 1 - s0);
    // The exponentials in a loop of their own, so they vectorise; the sum stays in serial order.
    for (int s = s0; s <= t; s++) p[s] = ce_expf(p[s] - mx);
    float sum = 0.0f;
    for (int s = s0; s <= t; s++) sum += p[s];
    float inv = 1.0f / sum;
    for (int s = 0; s < s0; s++) p[s] = 0.0f;
    for (int s = s0; s <= t; s++) p[s] *= inv;
    for (int s = t + 1; s < T; s++) p[s] = 0.0f;
}

int ce_attention_block_rows(int T, int D) {
    int64_t rows = CE_CALLER_THREAD_PRODUCT / ((int64_t)T * D);
    return rows >= 16 && rows < T ? (int)rows : T;
}

void ce_attention_forward_rows(float *out, float *probs, const float *q, const float *k, const float *v, int T,
                               int H, int G, int D, float scale, int window, int b, int h, int r0, int r1) {
    int qs = H * D, ks = G * D, g = h / (H / G), R = r1 - r0;
    const float *Q = q + ((int64_t)b * T + r0) * qs + h * D;   // (R, D), row stride qs
    const float *K = k + (int64_t)b * T * ks + g * D;          // (r1, D), row stride ks
    const float *Vv = v + (int64_t)b * T * ks + g * D;
    float *P = probs + ((int64_t)b * H + h) * T * T + (int64_t)r0 * T;  // (R, T)
    float *O = out + ((int64_t)b * T + r0) * qs + h * D;
    // scores = scale * Q K^T over the keys these rows can see
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, r1, D, scale, Q, qs, K, ks, 0.0f, P, T);
    for (int t = r0; t < r1; t++) causal_softmax_row(P + (int64_t)(t - r0) * T, t, T, window);
    // out = P V
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, D, r1, 1.0f, P, T, Vv, ks, 0.0f, O, qs);
}

void ce_attention_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                          int B, int T, int H, int G, int D, float scale, int window) {
    int rows = ce_attention_block_rows(T, D);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < H; h++)
            for (int r0 = 0; r0 < T; r0 += rows)
                ce_attention_forward_rows(out, probs, q, k, v, T, H, G, D, scale, window, b, h, r0,
                                          r0 + rows < T ? r0 + rows : T);
}

// dS = P * (dP - rowsum(P * dP)), the softmax backward, for row t over keys 0…t. `out` may be
// `p` or `d` (each entry is read before it is written). Masked entries have P = 0, so the same
// loop serves windows. Inline, so each caller keeps its own code generation.
static inline void softmax_backward_row(float *out, const float *p, const float *d, int t) {
    float dot = 0.0f;
    for (int s = 0; s <= t; s++) dot += p[s] * d[s];
    for (int s = 0; s <= t; s++) out[s] = p[s] * (d[s] - dot);
}

// The softmax backward of a whole (T, T) head, in place over dP.
CE_HOT static void softmax_backward_rows(float *dS, const float *P, int T) {
    for (int t = 0; t < T; t++) {
        float *d = dS + (int64_t)t * T;
        softmax_backward_row(d, P + (int64_t)t * T, d, t);
        for (int s = t + 1; s < T; s++) d[s] = 0.0f;
    }
}

void ce_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                           const float *probs, const float *q, const float *k, const float *v,
                           int B, int T, int H, int G, int D, float scale) {
    int qs = H * D, ks = G * D, per = H / G;
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            int g = h / per;
            int64_t qo = (int64_t)b * T * qs + h * D, ko = (int64_t)b * T * ks + g * D;
            const float *P = probs + ((int64_t)b * H + h) * T * T;
            const float *dO = dout + qo;
            // dV += P^T dO
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, 1.0f, P, T, dO, qs, 1.0f, dv + ko, ks);
            // dP = dO V^T   (T, T) into scratch, then dS in place
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, T, T, D, 1.0f, dO, qs, v + ko, ks, 0.0f, scratch, T);
            softmax_backward_rows(scratch, P, T);
            // dQ = scale dS K ; dK += scale dS^T Q
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, T, D, T, scale, scratch, T, k + ko, ks, 0.0f,
                        dq + qo, qs);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, T, D, T, scale, scratch, T, q + qo, qs, 1.0f,
                        dk + ko, ks);
        }
    }
}

void ce_attention_backward_values(float *dv, const float *dout, const float *probs, int T, int H, int G, int D,
                                  int b, int g, int s0, int s1) {
    int qs = H * D, ks = G * D, per = H / G;
    for (int h = g * per; h < (g + 1) * per; h++) {
        const float *P = probs + (((int64_t)b * H + h) * T + s0) * T + s0;  // rows [s0, T), keys [s0, s1)
        const float *dO = dout + ((int64_t)b * T + s0) * qs + h * D;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s1 - s0, D, T - s0, 1.0f, P, T, dO, qs, 1.0f,
                    dv + ((int64_t)b * T + s0) * ks + g * D, ks);
    }
}

void ce_attention_backward_rows(float *dq, float *probs, float *scratch, const float *dout, const float *k,
                                const float *v, int T, int H, int G, int D, float scale, int b, int h, int r0,
                                int r1) {
    int qs = H * D, ks = G * D, g = h / (H / G), R = r1 - r0;
    float *P = probs + (((int64_t)b * H + h) * T + r0) * T;   // (R, T)
    const float *dO = dout + ((int64_t)b * T + r0) * qs + h * D;
    const float *K = k + (int64_t)b * T * ks + g * D, *Vv = v + (int64_t)b * T * ks + g * D;
    // dP = dO V^T over the keys these rows see, then dS = P (dP - rowsum(P dP)) over P
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, r1, D, 1.0f, dO, qs, Vv, ks, 0.0f, scratch, T);
    for (int t = r0; t < r1; t++) {
        float *p = P + (int64_t)(t - r0) * T;
        softmax_backward_row(p, p, scratch + (int64_t)(t - r0) * T, t);
    }
    // dQ = scale dS K
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, D, r1, scale, P, T, K, ks, 0.0f,
                dq + ((int64_t)b * T + r0) * qs + h * D, qs);
}

void ce_attention_backward_keys(float *dk, const float *dscores, const float *q, int T, int H, int G, int D,
                                float scale, int b, int g, int s0, int s1) {
    int qs = H * D, ks = G * D, per = H / G;
    for (int h = g * per; h < (g + 1) * per; h++) {
        const float *dS = dscores + (((int64_t)b * H + h) * T + s0) * T + s0;
        const float *Q = q + ((int64_t)b * T + s0) * qs + h * D;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s1 - s0, D, T - s0, scale, dS, T, Q, qs, 1.0f,
                    dk + ((int64_t)b * T + s0) * ks + g * D, ks);
    }
}

void ce_attention_decode(float *out, const float *q, const float *kc, const float *vc, int B, int len, int maxT,
                         int H, int G, int D, float scale, int window, float *scratch) {
    int per = H / G, ks = G * D;
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < H; h++) {
            int g = h / per;
            const float *qv = q + ((int64_t)b * H + h) * D;
            const float *K = kc + (int64_t)b * maxT * ks + g * D;   // (len, D), row stride ks
            const float *Vv = vc + (int64_t)b * maxT * ks + g * D;
            float *o = out + ((int64_t)b * H + h) * D;
            cblas_sgemv(CblasRowMajor, CblasNoTrans, len, D, scale, K, ks, qv, 1, 0.0f, scratch, 1);
            causal_softmax_row(scratch, len - 1, len, window);
            cblas_sgemv(CblasRowMajor, CblasTrans, len, D, 1.0f, Vv, ks, scratch, 1, 0.0f, o, 1);
        }
    }
}

void ce_causal_softmax(float *p, int T) {
    for (int t = 0; t < T; t++) causal_softmax_row(p + (int64_t)t * T, t, T, 0);
}

void ce_causal_softmax_backward(float *dS, const float *P, int T) { softmax_backward_rows(dS, P, T); }
