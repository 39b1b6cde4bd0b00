// Decoding speed of every quantized weight format, one core, and (with -DWITH_OLD) a bit-for-bit
// comparison with another revision's decoders, built from its sources with their names prefixed
// old_. Driven by scripts/bench-dequant.sh.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef void (*decoder)(float *, const uint8_t *, int64_t);
#ifdef WITH_OLD
#define DECODERS(x) void ce_dequant_##x(float *, const uint8_t *, int64_t); \
    void old_ce_dequant_##x(float *, const uint8_t *, int64_t);
#define OLD(x) old_ce_dequant_##x
#else
#define DECODERS(x) void ce_dequant_##x(float *, const uint8_t *, int64_t);
#define OLD(x) NULL
#endif
DECODERS(q8_0) DECODERS(q4_0) DECODERS(q4_1) DECODERS(q5_0) DECODERS(q5_1)
DECODERS(q2_k) DECODERS(q3_k) DECODERS(q4_k) DECODERS(q5_k) DECODERS(q6_k)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// Best of `reps` decodes of n values, in G values/s.
static double rate(decoder f, float *dst, const uint8_t *src, int64_t n, int reps) {
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        f(dst, src, n);
        double dt = now() - t0;
        best = dt < best ? dt : best;
    }
    return n / best / 1e9;
}

int main(void) {
    struct { const char *name; decoder now, old; int values, bytes; int scales[3]; } formats[] = {
        {"Q8_0", ce_dequant_q8_0, OLD(q8_0), 32, 34, {0, -1}},
        {"Q4_0", ce_dequant_q4_0, OLD(q4_0), 32, 18, {0, -1}},
        {"Q4_1", ce_dequant_q4_1, OLD(q4_1), 32, 20, {0, 2, -1}},
        {"Q5_0", ce_dequant_q5_0, OLD(q5_0), 32, 22, {0, -1}},
        {"Q5_1", ce_dequant_q5_1, OLD(q5_1), 32, 24, {0, 2, -1}},
        {"Q2_K", ce_dequant_q2_k, OLD(q2_k), 256, 84, {80, 82, -1}},
        {"Q3_K", ce_dequant_q3_k, OLD(q3_k), 256, 110, {108, -1}},
        {"Q4_K", ce_dequant_q4_k, OLD(q4_k), 256, 144, {0, 2, -1}},
        {"Q5_K", ce_dequant_q5_k, OLD(q5_k), 256, 176, {0, 2, -1}},
        {"Q6_K", ce_dequant_q6_k, OLD(q6_k), 256, 210, {208, -1}},
    };
    const int64_t n = 576 * 3584;  // a SmolLM2 panel: 3584 rows of 576 values (a multiple of 256)
    uint8_t *src = malloc(n / 32 * 34);
    float *a = malloc(n * 4), *b = malloc(n * 4);
    srand(7);
    for (size_t k = 0; k < sizeof formats / sizeof formats[0]; k++) {
        int64_t blocks = n / formats[k].values;
        for (int64_t i = 0; i < blocks * formats[k].bytes; i++) src[i] = (uint8_t)rand();
        for (int64_t blk = 0; blk < blocks; blk++) {
            for (int j = 0; formats[k].scales[j] >= 0; j++) {  // finite f16 scales of moderate size
                uint16_t h = (uint16_t)((rand() & 0x83ff) | ((8 + rand() % 14) << 10));
                memcpy(src + blk * formats[k].bytes + formats[k].scales[j], &h, 2);
            }
        }
        double fresh = rate(formats[k].now, a, src, n, 7);
        if (!formats[k].old) {
            printf("%s: %.1f G values/s\n", formats[k].name, fresh);
            continue;
        }
        double before = rate(formats[k].old, b, src, n, 7);
        int64_t differ = 0;
        for (int64_t i = 0; i < n; i++) differ += memcmp(a + i, b + i, 4) != 0;
        printf("%s: %.1f G values/s, before %.1f (%.1fx); %lld of %lld values differ\n", formats[k].name, fresh,
               before, fresh / before, (long long)differ, (long long)n);
    }
    return 0;
}
