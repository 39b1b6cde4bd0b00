// Softmax over the vocabulary: cross-entropy with its gradient, log-softmax, argmax.
#include "Kernels.h"
#include "hot.h"

// Row sums may be reordered so they vectorise; results differ from serial order in the last bits.
#pragma clang fp reassociate(on)

// The sum is kept in double: in float, the many terms far below the largest (most of a
// vocabulary) fall under half an ulp of the running sum and are dropped, so the sum came out
// short by an amount that depended on the vector width (general loss 3.3e-6 relative apart
// between the AVX2 and SSE2 builds of this file; 2.4e-10 in double).
CE_HOT static float row_logsumexp(const float *x, int V) {
    float mx = ce_row_max(x, V);
    double sum = 0.0;
    for (int i = 0; i < V; i++) sum += (double)ce_expf(x[i] - mx);
    return mx + (float)log(sum);
}

CE_HOT void ce_softmax_xent(float *logits, float *nll, const int32_t *target, const float *grad_scale, int64_t R,
                            int V) {
    for (int64_t r = 0; r < R; r++) {
        float *x = logits + r * V;
        int32_t tg = target[r];
        float lse = row_logsumexp(x, V);
        nll[r] = tg >= 0 ? lse - x[tg] : 0.0f;
        if (grad_scale) {
            float w = tg >= 0 ? grad_scale[r] : 0.0f;
            for (int i = 0; i < V; i++) x[i] = w * ce_expf(x[i] - lse);
            if (tg >= 0) x[tg] -= w;
        }
    }
}

CE_HOT void ce_logsoftmax(float *x, int64_t R, int V) {
    for (int64_t r = 0; r < R; r++) {
        float *row = x + r * V;
        float lse = row_logsumexp(row, V);
        for (int i = 0; i < V; i++) row[i] -= lse;
    }
}

CE_HOT void ce_kl_rows(float *logits, float *kl, const float *ref_logp, float weight, int64_t R, int V,
                       int write_grad) {
    for (int64_t r = 0; r < R; r++) {
        float *x = logits + r * V;
        const float *q = ref_logp + r * V;
        float lse = row_logsumexp(x, V);
        double s = 0.0;
        for (int i = 0; i < V; i++) {
            float pr = ce_expf(q[i]);
            s += (double)(pr * (q[i] - (x[i] - lse)));
        }
        kl[r] = (float)s;
        if (write_grad)
            for (int i = 0; i < V; i++) x[i] = weight * (ce_expf(x[i] - lse) - ce_expf(q[i]));
    }
}

// One panel of vocabulary columns [c0, c0 + n) of R rows (row stride ld) folded into each row's
// running maximum and sum of exponentials (the sum so far rescaled when the maximum rises), while
// the panel is still in cache; a row's target logit is picked up from the panel holding it.
CE_HOT void ce_logsumexp_panel(const float *x, int64_t R, int n, int ld, int c0, float *max_so_far, double *row_sum,
                               const int32_t *target, float *target_logit) {
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x + r * ld;
        float pm = ce_row_max(xr, n);
        float before = max_so_far[r], m = before > pm ? before : pm;
        // Exponentials 8 wide in float, summed in 16 double lanes (a plain double sum kept the
        // exponentials 4 wide: 2.3x slower).
        double lane[16];
        for (int j = 0; j < 16; j++) lane[j] = 0.0;
        int i = 0;
        for (; i + 16 <= n; i += 16) {
            float e[16];
            for (int j = 0; j < 16; j++) e[j] = ce_expf(xr[i + j] - m);
            for (int j = 0; j < 16; j++) lane[j] += (double)e[j];
        }
        double sum = 0.0;
        for (int j = 0; j < 16; j++) sum += lane[j];
        for (; i < n; i++) sum += (double)ce_expf(xr[i] - m);
        row_sum[r] = (before == -INFINITY ? 0.0 : row_sum[r] * exp((double)before - (double)m)) + sum;
        max_so_far[r] = m;
        int32_t t = target[r];
        if (t >= c0 && t < c0 + n) target_logit[r] = xr[t - c0];
    }
}
