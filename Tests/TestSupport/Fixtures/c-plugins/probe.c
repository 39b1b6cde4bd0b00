/*
 * probe: a test plugin that misbehaves on purpose, one way per define, to check what the host
 * trusts. It trains the final norm's gain with plain SGD and logs every update's info.
 *   PROBE_PERTURB_SELECTED    prepare multiplies the tensor it selected by 1.5 (allowed, but it
 *                             changes the model before epoch 1: an "after prepare" row)
 *   PROBE_PERTURB_UNSELECTED  prepare also writes a tensor it never selected (refused)
 *   PROBE_PERTURB_IN_UPDATE   update writes a tensor it never selected (refused after the epoch)
 *   PROBE_UNKNOWN_CAPABILITY  declares capability bit 20, which no host defines (refused)
 *   PROBE_MINOR_0             declares ABI 1.0 (accepted by a 1.x host)
 *   PROBE_SHORT_DESCRIPTOR    declares a struct_size shorter than ABI 1.0's (refused)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "canonedit_plugin.h"

#define EXPORT __attribute__((visibility("default")))

typedef struct probe { ce_param *param; } probe;

static ce_status create(const ce_host *host, void **instance) {
    (void)host;
    *instance = calloc(1, sizeof(probe));
    return *instance ? CE_OK : CE_ERR_NO_MEMORY;
}

static ce_status prepare(void *instance, const ce_host *host) {
    probe *self = instance;
#ifdef PROBE_FAIL_PREPARE
    host->set_error(host->ctx, "probe refuses to prepare");
    return CE_ERR_UNSUPPORTED;
#endif
    ce_status s = host->param_find(host->ctx, "model.norm.weight", &self->param);
    if (s != CE_OK) return s;
    s = host->train_param(host->ctx, self->param);
    if (s != CE_OK) return s;
#ifdef PROBE_PERTURB_SELECTED
    ce_tensor v;
    host->param_value(host->ctx, self->param, &v);
    for (int64_t i = 0; i < v.count; i++) v.data[i] *= 1.5f;
#endif
#ifdef PROBE_PERTURB_UNSELECTED
    ce_param *other = NULL;
    if (host->param_find(host->ctx, "model.embed_tokens.weight", &other) == CE_OK) {
        ce_tensor e;
        host->param_value(host->ctx, other, &e);
        e.data[0] += 1.0f;
    }
#endif
    return CE_OK;
}

static ce_status update(void *instance, const ce_host *host, const ce_update_info *info) {
    probe *self = instance;
#ifdef PROBE_PERTURB_IN_UPDATE
    ce_param *other = NULL;
    if (host->param_find(host->ctx, "model.embed_tokens.weight", &other) == CE_OK) {
        ce_tensor e;
        host->param_value(host->ctx, other, &e);
        e.data[1] -= 0.5f;
    }
#endif
    ce_tensor value, grad;
    host->param_value(host->ctx, self->param, &value);
    host->param_grad(host->ctx, self->param, &grad);
    char line[160];
    snprintf(line, sizeof line, "probe update epoch=%d epochs=%d step=%lld", info->epoch, info->epochs,
             (long long)info->step);
    host->log(host->ctx, CE_LOG_INFO, line);
    for (int64_t i = 0; i < value.count; i++) value.data[i] -= (float)info->learning_rate * grad.data[i];
    return CE_OK;
}

static void destroy(void *instance) { free(instance); }

static const ce_plugin_descriptor descriptor = {
    .api_major = CE_API_MAJOR,
#ifdef PROBE_MINOR_0
    .api_minor = 0,
#else
    .api_minor = CE_API_MINOR,
#endif
#ifdef PROBE_SHORT_DESCRIPTOR
    .struct_size = 24,
#else
    .struct_size = sizeof(ce_plugin_descriptor),
#endif
    .id = "probe",
    .version = "0.1.0",
    .description = "Test plugin: misbehaves on purpose",
#ifdef PROBE_UNKNOWN_CAPABILITY
    .capabilities = CE_CAP_TRAINS | (1ull << 20),
#else
    .capabilities = CE_CAP_TRAINS,
#endif
    .create = create,
    .prepare = prepare,
    .update = update,
    .destroy = destroy,
};

EXPORT const ce_plugin_descriptor *canonedit_plugin_entry(uint32_t host_major, uint32_t host_minor) {
    (void)host_minor;
    return host_major == CE_API_MAJOR ? &descriptor : NULL;
}
