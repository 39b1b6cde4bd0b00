/*
 * loreft: a low-rank intervention on one block's output at the query position (the last token
 * of the prompt), in the form of ReFT's LoReFT (Wu et al., 2024):
 *
 *     h  <-  h + R^T (W h + b - R h)          R, W (rank, C) trained, b (rank) trained
 *
 * R's rows are kept orthonormal by re-orthonormalising them after every update (LoReFT
 * parametrises R as orthogonal instead). W starts equal to R and b at zero, so the model is
 * unchanged before the first update. It is the plugin-author guide's second C example: it uses
 * the "canonedit.hooks/1" extension (ABI 1.2) to act inside the forward pass, and trains
 * tensors of its own shape with the host's Adam. canonedit builds and ships it as `loreft`.
 *
 * Build:  cc -O2 -shared -fPIC -fvisibility=hidden -I <canonedit>/Sources/PluginAPI/include \
 *            loreft.c -lm -o libloreft.so
 *
 * The test suite also builds variants whose hook fails (-DCE_TEST_HOOK_FAIL) or writes a NaN
 * (-DCE_TEST_HOOK_NAN), to check that the run ends with the error recorded.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "canonedit_plugin.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_RANK 64

static const ce_hyperparameter schema[] = {
    { .name = "reft_layer", .type = CE_HP_INT, .min = -1, .max = 1023, .default_number = -1,
      .flags = CE_HP_NO_SWEEP, .help = "the block whose output is intervened on (-1: the middle one)" },
    { .name = "reft_rank", .type = CE_HP_INT, .min = 1, .max = MAX_RANK, .default_number = 4,
      .sweep_min = 1, .sweep_max = 16, .help = "rank of the intervention (rows of R and W)" },
};

typedef struct loreft {
    int32_t layer, rank;
    int64_t C;
    ce_param *R, *W, *b;   /* borrowed handles, valid until destroy */
} loreft;

static ce_status create(const ce_host *host, void **instance) {
    loreft *self = calloc(1, sizeof *self);
    if (!self) return CE_ERR_NO_MEMORY;
    double layer = -1, rank = 4;
    ce_status s = host->option_number(host->ctx, "reft_layer", &layer);
    if (s == CE_OK) s = host->option_number(host->ctx, "reft_rank", &rank);
    if (s != CE_OK) { free(self); return s; }
    self->layer = (int32_t)layer;
    self->rank = (int32_t)rank;
    *instance = self;
    return CE_OK;
}

static float *data(const ce_host *host, ce_param *p) {
    ce_tensor t;
    host->param_value(host->ctx, p, &t);
    return t.data;
}

static float *grad(const ce_host *host, ce_param *p) {
    ce_tensor t;
    host->param_grad(host->ctx, p, &t);
    return t.data;
}

/* Gram-Schmidt on the rows of R (rank, C), in place. */
static void orthonormalise(float *R, int32_t rank, int64_t C) {
    for (int32_t i = 0; i < rank; i++) {
        float *r = R + i * C;
        for (int32_t k = 0; k < i; k++) {
            const float *q = R + k * C;
            double dot = 0;
            for (int64_t j = 0; j < C; j++) dot += (double)r[j] * q[j];
            for (int64_t j = 0; j < C; j++) r[j] -= (float)dot * q[j];
        }
        double norm = 0;
        for (int64_t j = 0; j < C; j++) norm += (double)r[j] * r[j];
        float inv = norm > 0 ? (float)(1 / sqrt(norm)) : 0;
        for (int64_t j = 0; j < C; j++) r[j] *= inv;
    }
}

/* The row of sequence i at its query position among rows->length positions, or NULL. */
static int64_t query_row(const ce_hook_rows *rows, int64_t i) {
    int64_t p = rows->query[i] - rows->start;
    return rows->query[i] >= 0 && p >= 0 && p < rows->length ? i * rows->length + p : -1;
}

/* u = W h + b - R h (rank). */
static void source(const loreft *self, const float *R, const float *W, const float *b, const float *h, float *u) {
    for (int32_t k = 0; k < self->rank; k++) {
        double s = b[k];
        for (int64_t j = 0; j < self->C; j++) s += (double)(W[k * self->C + j] - R[k * self->C + j]) * h[j];
        u[k] = (float)s;
    }
}

static ce_status hook_forward(void *user, const ce_host *host, const ce_hook_rows *rows, float *x) {
    loreft *self = user;
#ifdef CE_TEST_HOOK_FAIL
    host->set_error(host->ctx, "this test build of loreft fails in its hook");
    return CE_ERR_NUMERIC;
#endif
#ifdef CE_TEST_HOOK_NAN
    x[0] = NAN;
#endif
    const float *R = data(host, self->R), *W = data(host, self->W), *b = data(host, self->b);
    float u[MAX_RANK];
    for (int64_t i = 0; i < rows->batch; i++) {
        int64_t n = query_row(rows, i);
        if (n < 0) continue;
        float *h = x + n * self->C;
        source(self, R, W, b, h, u);
        for (int32_t k = 0; k < self->rank; k++)
            for (int64_t j = 0; j < self->C; j++) h[j] += R[k * self->C + j] * u[k];
    }
    return CE_OK;
}

/* With e = R d:  dh += (W - R)^T e,  dR += u d^T - e h^T,  dW += e h^T,  db += e. */
static ce_status hook_backward(void *user, const ce_host *host, const ce_hook_rows *rows, const float *x_in,
                               float *d) {
    loreft *self = user;
    const float *R = data(host, self->R), *W = data(host, self->W), *b = data(host, self->b);
    float *gR = grad(host, self->R), *gW = grad(host, self->W), *gb = grad(host, self->b);
    if (!gR || !gW || !gb) { host->set_error(host->ctx, "loreft: a tensor has no gradient"); return CE_ERR_INTERNAL; }
    float u[MAX_RANK], e[MAX_RANK];
    const int64_t C = self->C;
    for (int64_t i = 0; i < rows->batch; i++) {
        int64_t n = query_row(rows, i);
        if (n < 0) continue;
        const float *h = x_in + n * C;
        float *dh = d + n * C;
        source(self, R, W, b, h, u);
        for (int32_t k = 0; k < self->rank; k++) {
            double s = 0;
            for (int64_t j = 0; j < C; j++) s += (double)R[k * C + j] * dh[j];
            e[k] = (float)s;
        }
        for (int32_t k = 0; k < self->rank; k++) {
            for (int64_t j = 0; j < C; j++) {
                gR[k * C + j] += u[k] * dh[j] - e[k] * h[j];
                gW[k * C + j] += e[k] * h[j];
            }
            gb[k] += e[k];
        }
        for (int32_t k = 0; k < self->rank; k++)
            for (int64_t j = 0; j < C; j++) dh[j] += (W[k * C + j] - R[k * C + j]) * e[k];
    }
    return CE_OK;
}

static ce_status prepare(void *instance, const ce_host *host) {
    loreft *self = instance;
    const ce_hooks_ext *hooks = host->get_extension(host->ctx, CE_EXT_HOOKS);
    if (!hooks) {
        host->set_error(host->ctx, "loreft needs the canonedit.hooks/1 extension (a decoder model, ABI 1.2)");
        return CE_ERR_UNSUPPORTED;
    }
    ce_model_info info = { .struct_size = sizeof info };
    ce_status s = host->model_info(host->ctx, &info);
    if (s != CE_OK) return s;
    if (self->layer < 0) self->layer = info.layer_count / 2;
    if (self->layer >= info.layer_count || self->rank > info.hidden_size) {
        host->set_error(host->ctx, "loreft: reft_layer or reft_rank is beyond the model");
        return CE_ERR_INVALID_ARGUMENT;
    }
    self->C = info.hidden_size;
    int64_t shape[2] = { self->rank, self->C };
    char name[64];
    snprintf(name, sizeof name, "loreft.%d.R", self->layer);
    if ((s = hooks->new_param(host->ctx, name, 2, shape, &self->R)) != CE_OK) return s;
    snprintf(name, sizeof name, "loreft.%d.W", self->layer);
    if ((s = hooks->new_param(host->ctx, name, 2, shape, &self->W)) != CE_OK) return s;
    snprintf(name, sizeof name, "loreft.%d.b", self->layer);
    if ((s = hooks->new_param(host->ctx, name, 1, shape, &self->b)) != CE_OK) return s;
    /* R random orthonormal rows, W = R, b = 0: no change until trained. On resume and when an
     * edit is applied the host then overwrites all three with their saved values. */
    float *R = data(host, self->R), *W = data(host, self->W);
    for (int64_t i = 0; i < self->rank * self->C; i++) R[i] = (float)host->random_normal(host->ctx);
    orthonormalise(R, self->rank, self->C);
    memcpy(W, R, (size_t)(self->rank * self->C) * sizeof(float));
    s = hooks->on_block_output(host->ctx, self->layer, hook_forward, hook_backward, self);
    if (s != CE_OK) return s;
    char line[128];
    snprintf(line, sizeof line, "loreft: rank %d intervention on block %d's output at the query position",
             self->rank, self->layer);
    host->log(host->ctx, CE_LOG_INFO, line);
    return CE_OK;
}

static ce_status update(void *instance, const ce_host *host, const ce_update_info *info) {
    loreft *self = instance;
    ce_param *params[3] = { self->R, self->W, self->b };
    for (int i = 0; i < 3; i++) {
        ce_status s = host->adam_step(host->ctx, params[i], info->learning_rate, 0.9, 0.999, 1e-8, 0);
        if (s != CE_OK) return s;
    }
    orthonormalise(data(host, self->R), self->rank, self->C);
    return CE_OK;
}

static void destroy(void *instance) { free(instance); }

static const ce_plugin_descriptor descriptor = {
    .api_major = CE_API_MAJOR,
    .api_minor = CE_API_MINOR,
    .struct_size = sizeof(ce_plugin_descriptor),
    .id = "loreft",
    .version = "1.0.0",
    .description = "LoReFT: a trained low-rank intervention on one block's output at the query position",
    .capabilities = CE_CAP_TRAINS | CE_CAP_HOOKS,
    .hyperparameter_count = sizeof schema / sizeof schema[0],
    .hyperparameters = schema,
    .create = create,
    .prepare = prepare,
    .update = update,
    .apply = NULL,
    .destroy = destroy,
};

EXPORT const ce_plugin_descriptor *canonedit_plugin_entry(uint32_t major, uint32_t minor) {
    (void)minor;
    return major == CE_API_MAJOR ? &descriptor : NULL;
}
