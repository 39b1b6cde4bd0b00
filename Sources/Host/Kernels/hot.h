// Shared by the kernel files: the dispatch attribute and a vectorisable exp.
#ifndef CANONEDIT_HOT_H
#define CANONEDIT_HOT_H
#include <math.h>
#include <stdint.h>
#include <string.h>

// Each hot function is compiled twice, for x86-64-v3 (AVX2, FMA, F16C) and for baseline x86-64;
// the loader picks one at start-up (GNU ifunc), so the library runs on any x86-64 CPU. The
// clone is named by feature level, not by CPU: clang's "arch=haswell" clone is chosen only on
// an Intel Haswell-family model, so AMD CPUs with AVX2 got the baseline code.
#if defined(__x86_64__) && !defined(CE_NO_CLONES)
#define CE_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define CE_HOT
#endif

// exp(x) for float, written so loops that call it vectorise: Cody-Waite range reduction and
// the Cephes degree-6 polynomial, about 1 ulp. Inputs below -87.3 give ~1e-38, not 0.
static inline float ce_expf(float x) {
    x = fminf(fmaxf(x, -87.3f), 88.7f);
    float k = floorf(x * 1.44269504088896341f + 0.5f);
    float r = x - k * 0.693359375f;
    r = r + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)k + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

// Before a short fixed-count loop that scales decoded integers: keep it a loop of 8-wide
// vectors rather than letting -O3 unroll it first (the dequantisers).
#define SCALE_LOOP _Pragma("clang loop unroll(disable) vectorize_width(8)")

static inline float ce_sigmoidf(float x) { return 1.0f / (1.0f + ce_expf(-x)); }

// A row's maximum, in 16 lanes: written as one running maximum, clang kept the loop 4 wide with
// one chain of dependent comparisons (2.3 G values/s in cache; 29 G values/s now). A maximum
// does not depend on the order it is taken in, so the result is the same bit for bit. Always
// inlined, so each caller's clone compiles it for its own vector width.
__attribute__((always_inline)) static inline float ce_row_max(const float *x, int n) {
    float lane[16];
    for (int j = 0; j < 16; j++) lane[j] = -INFINITY;
    int i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) lane[j] = x[i + j] > lane[j] ? x[i + j] : lane[j];
    float mx = -INFINITY;
    for (int j = 0; j < 16; j++) mx = lane[j] > mx ? lane[j] : mx;
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    return mx;
}

#endif
