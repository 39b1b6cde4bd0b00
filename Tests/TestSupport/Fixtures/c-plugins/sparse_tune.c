/*
 * sparse_tune: a test plugin that trains a fixed, sparse set of entries (every 7th) of the MLP
 * down projections with the host's Adam, through train_entries (ABI 1.2).
 */
#include <stdlib.h>
#include "canonedit_plugin.h"

#define EXPORT __attribute__((visibility("default")))

static const ce_hyperparameter schema[] = {
    { .name = "stride", .type = CE_HP_INT, .min = 1, .max = 1000000, .default_number = 7,
      .flags = CE_HP_NO_SWEEP, .help = "train every stride-th entry" },
};

typedef struct sparse_tune { ce_param *params[64]; int count; int stride; } sparse_tune;

static ce_status create(const ce_host *host, void **instance) {
    sparse_tune *self = calloc(1, sizeof *self);
    if (!self) return CE_ERR_NO_MEMORY;
    double stride = 7;
    host->option_number(host->ctx, "stride", &stride);
    self->stride = (int)stride;
    *instance = self;
    return CE_OK;
}

static ce_status prepare(void *instance, const ce_host *host) {
    sparse_tune *self = instance;
    if (host->struct_size < offsetof(ce_host, train_entries) + sizeof host->train_entries) {
        host->set_error(host->ctx, "sparse_tune needs a 1.2 host");
        return CE_ERR_UNSUPPORTED;
    }
    for (int64_t i = 0; i < host->param_count(host->ctx) && self->count < 64; i++) {
        ce_param *p;
        host->param_at(host->ctx, i, &p);
        const char *name = host->param_name(host->ctx, p);
        size_t n = 0;
        while (name[n]) n++;
        if (n < 20 || __builtin_strcmp(name + n - 20, "mlp.down_proj.weight") != 0) continue;
        ce_tensor t;
        host->param_value(host->ctx, p, &t);
        int64_t count = (t.count + self->stride - 1) / self->stride;
        int64_t *idx = malloc((size_t)count * sizeof *idx);
        if (!idx) return CE_ERR_NO_MEMORY;
        for (int64_t k = 0; k < count; k++) idx[k] = k * self->stride;
        ce_status s = host->train_entries(host->ctx, p, idx, count);
        free(idx);
        if (s != CE_OK) return s;
        self->params[self->count++] = p;
    }
    return CE_OK;
}

static ce_status update(void *instance, const ce_host *host, const ce_update_info *info) {
    sparse_tune *self = instance;
    for (int i = 0; i < self->count; i++) {
        ce_status s = host->adam_step(host->ctx, self->params[i], info->learning_rate, 0.9, 0.995, 1e-8, 0);
        if (s != CE_OK) return s;
    }
    return CE_OK;
}

static void destroy(void *instance) { free(instance); }

static const ce_plugin_descriptor descriptor = {
    .api_major = CE_API_MAJOR, .api_minor = CE_API_MINOR, .struct_size = sizeof(ce_plugin_descriptor),
    .id = "sparse_tune", .version = "1.0.0", .description = "test: every stride-th entry of the down projections",
    .capabilities = CE_CAP_TRAINS, .hyperparameter_count = 1, .hyperparameters = schema,
    .create = create, .prepare = prepare, .update = update, .apply = NULL, .destroy = destroy,
};

EXPORT const ce_plugin_descriptor *canonedit_plugin_entry(uint32_t major, uint32_t minor) {
    (void)minor;
    return major == CE_API_MAJOR ? &descriptor : NULL;
}
