// Decoding stored weight formats to fp32. Block layouts follow GGML:
//   Q8_0: 32 values in 34 bytes = f16 scale d, 32 int8 q;          value = d*q
//   Q4_0: 32 values in 18 bytes = f16 d, 16 bytes of nibbles;       value = d*(nibble-8)
//   Q4_1: 32 values in 20 bytes = f16 d, f16 min m, 16 nibble bytes; value = d*nibble + m
//   Q5_0: 32 values in 22 bytes = f16 d, 32 high bits, 16 nibble bytes; value = d*(q5-16)
//   Q5_1: 32 values in 24 bytes = f16 d, f16 m, 32 high bits, 16 nibble bytes; value = d*q5 + m
// In the 4- and 5-bit formats value j<16 is the low nibble of byte j and value j+16 its high
// nibble; in the 5-bit ones bit j of the 32-bit little-endian word is value j's fifth bit.
// The K-quants (256-value super-blocks) are in dequant_k.c.
#include "Kernels.h"
#include "hot.h"

static inline float h2f(uint16_t h) { _Float16 f; memcpy(&f, &h, 2); return (float)f; }

// F32, F16 and BF16 read their bytes one value at a time: a mapped file need not align them.
// Every decoder's pointers are `restrict`: a byte pointer may alias anything, so without it the
// compiler kept each block's loops scalar.
CE_HOT void ce_dequant_f32(float *restrict dst, const uint8_t *restrict src, int64_t n) {
    memcpy(dst, src, (size_t)n * 4);
}

CE_HOT void ce_dequant_f16(float *restrict dst, const uint8_t *restrict src, int64_t n) {
    for (int64_t i = 0; i < n; i++) { _Float16 f; memcpy(&f, src + 2 * i, 2); dst[i] = (float)f; }
}

CE_HOT void ce_quant_f16(uint16_t *dst, const float *src, int64_t n) {
    for (int64_t i = 0; i < n; i++) { _Float16 f = (_Float16)src[i]; memcpy(dst + i, &f, 2); }
}

CE_HOT void ce_dequant_bf16(float *restrict dst, const uint8_t *restrict src, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)(src[2 * i] | (src[2 * i + 1] << 8)) << 16;
        memcpy(dst + i, &bits, 4);
    }
}

CE_HOT void ce_dequant_q8_0(float *restrict dst, const uint8_t *restrict src, int64_t n) {
    for (int64_t blk = 0; blk < n / 32; blk++) {
        const uint8_t *p = src + blk * 34;
        float d = h2f((uint16_t)(p[0] | (p[1] << 8)));
        const int8_t *q = (const int8_t *)(p + 2);
        float *o = dst + blk * 32;
        SCALE_LOOP
        for (int j = 0; j < 32; j++) o[j] = d * q[j];
    }
}

// A block's integer values go to a small array first, then one loop scales them, kept a loop
// of 8-wide vectors (at -O3 clang unrolled the fixed-count loops into scalar or shuffle-heavy
// code): Q4_1 decodes 16 G values/s on one core instead of 4, every value by the same
// expression as the plain loop (`bash scripts/bench-dequant.sh REV` compares another revision's).
CE_HOT void ce_dequant_q4_0(float *restrict dst, const uint8_t *restrict src, int64_t n) {
    for (int64_t blk = 0; blk < n / 32; blk++) {
        const uint8_t *p = src + blk * 18, *q = p + 2;
        float d = h2f((uint16_t)(p[0] | (p[1] << 8)));
        int8_t v[32];
        for (int j = 0; j < 16; j++) { v[j] = (int8_t)((q[j] & 15) - 8); v[j + 16] = (int8_t)((q[j] >> 4) - 8); }
        float *o = dst + blk * 32;
        SCALE_LOOP
        for (int j = 0; j < 32; j++) o[j] = d * v[j];
    }
}

CE_HOT void ce_dequant_q4_1(float *restrict dst, const uint8_t *restrict src, int64_t n) {
    for (int64_t blk = 0; blk < n / 32; blk++) {
        const uint8_t *p = src + blk * 20, *q = p + 4;
        float d = h2f((uint16_t)(p[0] | (p[1] << 8)));
        float m = h2f((uint16_t)(p[2] | (p[3] << 8)));
        uint8_t v[32];
        for (int j = 0; j < 16; j++) { v[j] = q[j] & 15; v[j + 16] = q[j] >> 4; }
        float *o = dst + blk * 32;
        SCALE_LOOP
        for (int j = 0; j < 32; j++) o[j] = d * (float)v[j] + m;
    }
}

// The two 5-bit formats differ only in the offset: Q5_0 subtracts 16 and has no min. Inline,
// so each clone of its callers has its own code generation.
static inline __attribute__((always_inline)) void dequant_q5(float *restrict dst, const uint8_t *restrict src,
                                                              int64_t n, int with_min) {
    const int size = with_min ? 24 : 22;
    for (int64_t blk = 0; blk < n / 32; blk++) {
        const uint8_t *p = src + blk * size;
        float d = h2f((uint16_t)(p[0] | (p[1] << 8)));
        float m = with_min ? h2f((uint16_t)(p[2] | (p[3] << 8))) : -16.0f * d;
        const uint8_t *hp = p + (with_min ? 4 : 2);
        uint32_t high = (uint32_t)hp[0] | ((uint32_t)hp[1] << 8) | ((uint32_t)hp[2] << 16) | ((uint32_t)hp[3] << 24);
        const uint8_t *q = hp + 4;
        // The fifth bits first, as 32-bit lanes (a shift by each lane's own count vectorises).
        int32_t v[32];
        for (int j = 0; j < 32; j++) v[j] = (int32_t)((high >> j) & 1) << 4;
        for (int j = 0; j < 16; j++) { v[j] |= q[j] & 15; v[j + 16] |= q[j] >> 4; }
        float *o = dst + blk * 32;
        SCALE_LOOP
        for (int j = 0; j < 32; j++) o[j] = d * (float)v[j] + m;
    }
}

CE_HOT void ce_dequant_q5_0(float *restrict dst, const uint8_t *restrict src, int64_t n) { dequant_q5(dst, src, n, 0); }
CE_HOT void ce_dequant_q5_1(float *restrict dst, const uint8_t *restrict src, int64_t n) { dequant_q5(dst, src, n, 1); }

// The decoder of ggml type `type` (its id), or NULL for a type canonedit does not read.
ce_dequant_fn ce_dequant_for_type(int type) {
    switch (type) {
    case 0: return ce_dequant_f32;
    case 1: return ce_dequant_f16;
    case 30: return ce_dequant_bf16;
    case 2: return ce_dequant_q4_0;
    case 3: return ce_dequant_q4_1;
    case 6: return ce_dequant_q5_0;
    case 7: return ce_dequant_q5_1;
    case 8: return ce_dequant_q8_0;
    case 10: return ce_dequant_q2_k;
    case 11: return ce_dequant_q3_k;
    case 12: return ce_dequant_q4_k;
    case 13: return ce_dequant_q5_k;
    case 14: return ce_dequant_q6_k;
    default: return NULL;
    }
}
