// Decoding GGML's K-quants to fp32. Each super-block holds 256 values in sub-blocks with their
// own small integer scales (and mins), which a super-block's f16 d (and dmin) multiply:
//   Q2_K  84 bytes: scales[16] (low nibble scale, high nibble min), qs[64] (2 bits), d, dmin
//   Q3_K 110 bytes: hmask[32] (third bit), qs[64] (2 bits), scales[12] (16 × 6 bits), d
//   Q4_K 144 bytes: d, dmin, scales[12] (8 scales and 8 mins of 6 bits), qs[128] (4 bits)
//   Q5_K 176 bytes: d, dmin, scales[12], qh[32] (fifth bit), qs[128]
//   Q6_K 210 bytes: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8), d
// A value is d·scale·q − dmin·min (Q2_K, Q4_K, Q5_K) or d·scale·(q − offset) (Q3_K, Q6_K).
#include "Kernels.h"
#include "hot.h"

static inline float h2f_at(const uint8_t *p) {
    uint16_t h = (uint16_t)(p[0] | (p[1] << 8));
    _Float16 f;
    memcpy(&f, &h, 2);
    return (float)f;
}

// The j-th 6-bit scale and min (j < 8) packed in 12 bytes, as Q4_K and Q5_K store them: the
// first four in the low 6 bits of bytes 0–3 and 4–7, the rest split between bytes 8–11 and
// the top 2 bits of bytes 0–7.
static inline void scale_min_6bit(int j, const uint8_t *s, int *scale, int *min) {
    if (j < 4) {
        *scale = s[j] & 63;
        *min = s[j + 4] & 63;
    } else {
        *scale = (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
        *min = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

CE_HOT void ce_dequant_q2_k(float *restrict dst, const uint8_t *restrict src, int64_t n) {
    for (int64_t blk = 0; blk < n / 256; blk++) {
        const uint8_t *p = src + blk * 84, *scales = p, *q = p + 16;
        float d = h2f_at(p + 80), dmin = h2f_at(p + 82);
        float *o = dst + blk * 256;
        int is = 0;
        for (int half = 0; half < 2; half++, q += 32) {  // 128 values from 32 bytes, 2 bits at a time
            for (int shift = 0; shift < 8; shift += 2) {
                for (int part = 0; part < 2; part++) {  // 16 values from bytes 0–15, then 16–31
                    uint8_t sc = scales[is++];
                    float dl = d * (sc & 15), ml = dmin * (sc >> 4);
                    uint8_t v[16];
                    for (int l = 0; l < 16; l++) v[l] = (q[l + 16 * part] >> shift) & 3;
                    for (int l = 0; l < 16; l++) *o++ = dl * v[l] - ml;
                }
            }
        }
    }
}

CE_HOT void ce_dequant_q3_k(float *restrict dst, const uint8_t *restrict src, int64_t n) {
    for (int64_t blk = 0; blk < n / 256; blk++) {
        const uint8_t *p = src + blk * 110, *hmask = p, *q = p + 32, *packed = p + 96;
        float d = h2f_at(p + 108);
        // 16 scales of 6 bits: low 4 bits from nibbles of bytes 0–7, high 2 bits from bytes 8–11.
        int scales[16];
        for (int j = 0; j < 16; j++) {
            int low = j < 8 ? packed[j] & 15 : packed[j - 8] >> 4;
            int high = (packed[8 + (j % 4)] >> (2 * (j / 4))) & 3;
            scales[j] = (low | (high << 4)) - 32;
        }
        float *o = dst + blk * 256;
        int is = 0;
        uint8_t bit = 1;
        for (int half = 0; half < 2; half++, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, bit <<= 1) {
                for (int part = 0; part < 2; part++) {
                    float dl = d * scales[is++];
                    int8_t v[16];
                    for (int l = 0; l < 16; l++) {
                        int i = l + 16 * part;
                        v[l] = (int8_t)(((q[i] >> shift) & 3) - ((hmask[i] & bit) ? 0 : 4));
                    }
                    SCALE_LOOP
                    for (int l = 0; l < 16; l++) *o++ = dl * v[l];
                }
            }
        }
    }
}

// Q4_K and Q5_K: four pairs of 32-value sub-blocks; the pair shares 32 bytes of nibbles (low
// nibbles first), and Q5_K adds a fifth bit from qh, two bit planes per pair. Inline, so each
// clone of its callers has its own code generation (it was compiled once, for baseline x86-64).
static inline __attribute__((always_inline)) void dequant_q45_k(float *restrict dst, const uint8_t *restrict src,
                                                                 int64_t n, int five) {
    const int size = five ? 176 : 144;
    for (int64_t blk = 0; blk < n / 256; blk++) {
        const uint8_t *p = src + blk * size, *scales = p + 4;
        const uint8_t *qh = p + 16, *q = p + (five ? 48 : 16);
        float d = h2f_at(p), dmin = h2f_at(p + 2);
        float *o = dst + blk * 256;
        for (int pair = 0; pair < 4; pair++, q += 32) {
            for (int nib = 0; nib < 2; nib++) {
                int sc, mn;
                scale_min_6bit(2 * pair + nib, scales, &sc, &mn);
                float dl = d * sc, ml = dmin * mn;
                int plane = 2 * pair + nib;
                uint8_t v[32];
                for (int l = 0; l < 32; l++) {
                    v[l] = nib ? q[l] >> 4 : q[l] & 15;
                    if (five) v[l] += ((qh[l] >> plane) & 1) << 4;
                }
                for (int l = 0; l < 32; l++) *o++ = dl * v[l] - ml;
            }
        }
    }
}

CE_HOT void ce_dequant_q4_k(float *restrict dst, const uint8_t *restrict src, int64_t n) {
    dequant_q45_k(dst, src, n, 0);
}
CE_HOT void ce_dequant_q5_k(float *restrict dst, const uint8_t *restrict src, int64_t n) {
    dequant_q45_k(dst, src, n, 1);
}

CE_HOT void ce_dequant_q6_k(float *restrict dst, const uint8_t *restrict src, int64_t n) {
    for (int64_t blk = 0; blk < n / 256; blk++) {
        const uint8_t *p = src + blk * 210, *ql = p, *qh = p + 128;
        const int8_t *sc = (const int8_t *)(p + 192);
        float d = h2f_at(p + 208);
        float *o = dst + blk * 256;
        for (int half = 0; half < 2; half++, o += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 15) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                o[l] = d * sc[is] * q1;
                o[l + 32] = d * sc[is + 2] * q2;
                o[l + 64] = d * sc[is + 4] * q3;
                o[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}
