/*
 * Runs the shipped loreft plugin's hook (Examples/c-plugin/loreft.c, included whole) on one
 * hidden state with given R, W, b, through a host table that holds only those three tensors:
 * the forward output and, for an upstream gradient, the gradients of h, R, W and b. Used by
 * scripts/check-loreft-pyreft.sh to compare with pyreft's LoreftIntervention.
 *   loreft_harness IN OUT   IN: int32 C, rank; float32 h (C), R (rank, C), W (rank, C), b (rank),
 *                                dout (C)
 *                           OUT: float32 out (C), dh (C), dR (rank, C), dW (rank, C), db (rank)
 */
#include "../Examples/c-plugin/loreft.c"

static float *values[3], *grads[3];

static ce_status param_value(void *ctx, const ce_param *p, ce_tensor *out) {
    (void)ctx;
    out->data = values[(intptr_t)p - 1];
    return CE_OK;
}

static ce_status param_grad(void *ctx, const ce_param *p, ce_tensor *out) {
    (void)ctx;
    out->data = grads[(intptr_t)p - 1];
    return CE_OK;
}

static void set_error(void *ctx, const char *message) { (void)ctx; fprintf(stderr, "%s\n", message); }

static int read_floats(FILE *f, float *x, int64_t n) { return fread(x, sizeof(float), n, f) == (size_t)n; }

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: loreft_harness IN OUT\n"); return 64; }
    FILE *in = fopen(argv[1], "rb");
    int32_t shape[2];
    if (!in || fread(shape, sizeof shape, 1, in) != 1 || shape[0] < 1 || shape[1] < 1 || shape[1] > MAX_RANK) {
        fprintf(stderr, "%s: not C and rank\n", argv[1]);
        return 1;
    }
    const int64_t C = shape[0], r = shape[1];
    float *h = malloc(C * 4), *x = malloc(C * 4), *d = malloc(C * 4);
    for (int i = 0; i < 3; i++) {
        int64_t n = i == 2 ? r : r * C;
        values[i] = malloc(n * 4);
        grads[i] = calloc(n, 4);
    }
    if (!read_floats(in, h, C) || !read_floats(in, values[0], r * C) || !read_floats(in, values[1], r * C)
        || !read_floats(in, values[2], r) || !read_floats(in, d, C)) {
        fprintf(stderr, "%s: too short\n", argv[1]);
        return 1;
    }
    fclose(in);
    ce_host host = {0};
    host.param_value = param_value;
    host.param_grad = param_grad;
    host.set_error = set_error;
    loreft self = {.layer = 0, .rank = (int32_t)r, .C = C,
                   .R = (ce_param *)(intptr_t)1, .W = (ce_param *)(intptr_t)2, .b = (ce_param *)(intptr_t)3};
    const int64_t lengths[1] = {1}, query[1] = {0};
    ce_hook_rows rows = {.struct_size = sizeof rows, .layer = 0, .batch = 1, .length = 1, .hidden = C, .start = 0,
                         .lengths = lengths, .query = query, .training = 1};
    memcpy(x, h, C * 4);
    if (hook_forward(&self, &host, &rows, x) != CE_OK || hook_backward(&self, &host, &rows, h, d) != CE_OK) return 1;
    FILE *out = fopen(argv[2], "wb");
    if (!out) return 1;
    fwrite(x, 4, C, out);
    fwrite(d, 4, C, out);
    fwrite(grads[0], 4, r * C, out);
    fwrite(grads[1], 4, r * C, out);
    fwrite(grads[2], 4, r, out);
    return fclose(out) == 0 ? 0 : 1;
}
