/*
 * norm_tune: a complete canonedit plugin in plain C, written against canonedit_plugin.h alone.
 * It edits something simple: the gain vector of the model's final normalisation layer
 * ("model.norm.weight"), with its own update rule (plain SGD with optional momentum) instead
 * of the host's Adam. docs/plugin-authors.md walks through it.
 *
 * Build:  cc -O2 -shared -fPIC -fvisibility=hidden -I <canonedit>/Sources/PluginAPI/include \
 *            norm_tune.c -o libnorm_tune.so
 * Use:    canonedit plugins check ./libnorm_tune.so
 *         canonedit run config.yaml --plugin-path .      (with finetune_type: norm_tune)
 *
 * The test suite also builds variants that misbehave on purpose (-DCE_TEST_WRONG_ABI,
 * -DCE_TEST_FAIL_UPDATE, -DCE_TEST_NAN_UPDATE, -DCE_TEST_SEGFAULT) to check that the host survives them,
 * and one without `describe` (-DCE_TEST_NO_DESCRIBE), which the memory plan must treat conservatively.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "canonedit_plugin.h"

#define EXPORT __attribute__((visibility("default")))

/* The schema: plain data, readable by `canonedit plugins list` without creating anything. */
static const ce_hyperparameter schema[] = {
    { .name = "momentum", .type = CE_HP_FLOAT, .min = 0.0, .max = 0.99, .default_number = 0.0,
      .sweep_min = 0.0, .sweep_max = 0.9, .help = "SGD momentum" },
    { .name = "parameter", .type = CE_HP_STRING, .default_string = "model.norm.weight",
      .flags = CE_HP_NO_SWEEP, .help = "the tensor to tune (Hugging Face name)" },
};

/* One instance per run; the host hands it back to every call. */
typedef struct norm_tune {
    ce_param *param;       /* borrowed handle, valid until destroy */
    double momentum;
    float *velocity;       /* host scratch memory (host->alloc), one float per element */
} norm_tune;

static ce_status create(const ce_host *host, void **instance) {
    norm_tune *self = calloc(1, sizeof *self);
    if (!self) return CE_ERR_NO_MEMORY;
    ce_status s = host->option_number(host->ctx, "momentum", &self->momentum);
    if (s != CE_OK) { free(self); return s; }
    *instance = self;
    return CE_OK;
}

/* Choose what to train: one whole tensor. */
static ce_status prepare(void *instance, const ce_host *host) {
    norm_tune *self = instance;
    const char *name = NULL;
    ce_status s = host->option_string(host->ctx, "parameter", &name);
    if (s != CE_OK) return s;
    s = host->param_find(host->ctx, name, &self->param);
    if (s != CE_OK) return s;                    /* the host already has the message */
    s = host->train_param(host->ctx, self->param);
    if (s != CE_OK) return s;
    ce_tensor value;
    host->param_value(host->ctx, self->param, &value);
    self->velocity = host->alloc(host->ctx, (size_t)value.count * sizeof(float));
    if (!self->velocity) { host->set_error(host->ctx, "no memory for the velocity buffer"); return CE_ERR_NO_MEMORY; }
    memset(self->velocity, 0, (size_t)value.count * sizeof(float));
    host->log(host->ctx, CE_LOG_INFO, "norm_tune: training one tensor with SGD");
    return CE_OK;
}

/* The update rule: v = momentum * v + g ; p -= lr * v. */
static ce_status update(void *instance, const ce_host *host, const ce_update_info *info) {
    norm_tune *self = instance;
    ce_tensor value, grad;
    host->param_value(host->ctx, self->param, &value);
    host->param_grad(host->ctx, self->param, &grad);
    if (!grad.data) { host->set_error(host->ctx, "the tensor has no gradient"); return CE_ERR_INTERNAL; }
#ifdef CE_TEST_SEGFAULT
    *(volatile int *)0 = 1;      /* a plugin bug that kills its process */
#endif
#ifdef CE_TEST_FAIL_UPDATE
    host->set_error(host->ctx, "this test plugin always fails in update");
    return CE_ERR_NUMERIC;
#endif
    for (int64_t i = 0; i < value.count; i++) {
        self->velocity[i] = (float)self->momentum * self->velocity[i] + grad.data[i];
        value.data[i] -= (float)info->learning_rate * self->velocity[i];
#ifdef CE_TEST_NAN_UPDATE
        value.data[i] = NAN;
#endif
    }
    return CE_OK;
}

static void destroy(void *instance) {
    free(instance);          /* velocity is host memory: the host frees it after destroy */
}

#ifndef CE_TEST_NO_DESCRIBE
/* Before any weight is read (ABI 1.3): the tensor prepare will train, and the velocity buffer,
 * one float per element of it. An edit changes that tensor and nothing else. */
static ce_status describe(const ce_outline *o) {
    const char *name = NULL;
    ce_status s = o->option_string(o->ctx, "parameter", &name);
    if (s != CE_OK) return s;
    for (int64_t i = 0; i < o->param_count(o->ctx); i++) {
        if (strcmp(o->param_name(o->ctx, i), name) != 0) continue;
        s = o->will_train(o->ctx, name);       /* a regex; Hugging Face names' dots match themselves */
        if (s == CE_OK) s = o->will_hold(o->ctx, o->param_elements(o->ctx, i) * (int64_t)sizeof(float), "SGD velocity");
        if (s == CE_OK) s = o->may_change(o->ctx, name);
        return s;
    }
    o->set_error(o->ctx, "the model has no parameter of that name");
    return CE_ERR_NOT_FOUND;
}
#endif

static const ce_plugin_descriptor descriptor = {
#ifdef CE_TEST_WRONG_ABI
    .api_major = 99,
#else
    .api_major = CE_API_MAJOR,
#endif
    .api_minor = CE_API_MINOR,
    .struct_size = sizeof(ce_plugin_descriptor),
    .id = "norm_tune",
    .version = "1.0.0",
    .description = "Example C plugin: tune the final norm's gain with SGD",
    .capabilities = CE_CAP_TRAINS,
    .hyperparameter_count = sizeof schema / sizeof schema[0],
    .hyperparameters = schema,
    .create = create,
    .prepare = prepare,
    .update = update,
    .apply = NULL,
    .destroy = destroy,
#ifndef CE_TEST_NO_DESCRIBE
    .describe = describe,
#endif
};

EXPORT const ce_plugin_descriptor *canonedit_plugin_entry(uint32_t host_major, uint32_t host_minor) {
    (void)host_minor;
#ifdef CE_TEST_WRONG_ABI
    return &descriptor;      /* pretend to serve, so the host's own version check is exercised */
#else
    return host_major == CE_API_MAJOR ? &descriptor : NULL;
#endif
}
