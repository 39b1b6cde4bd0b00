/*
 * canonedit_plugin_outline.h — the self-description table of canonedit_plugin.h (ABI 1.3).
 * Included by canonedit_plugin.h; include that header, not this one.
 */
#ifndef CANONEDIT_PLUGIN_OUTLINE_H
#define CANONEDIT_PLUGIN_OUTLINE_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---- self-description (since 1.3) -------------------------------------------------------
 * What the host knows before any weight is read, passed to a plugin's `describe`. The plugin
 * reads its options and the model's outline (names and sizes, no values) and reports, with the
 * will_* functions, what its prepare will do with those options; may_change says which model
 * tensors an edit of the method may change directly. Every function takes `ctx` first; strings
 * handed out are borrowed until describe returns. describe may be called with the plugin's
 * default options (validating an edit file that records none), so may_change should cover
 * every value of the options. */
typedef struct ce_outline {
    uint32_t struct_size;        /* sizeof(ce_outline) as the host compiled it */
    uint32_t reserved;
    void *ctx;

    void (*set_error)(void *ctx, const char *message);   /* as ce_host's: say why before failing */

    ce_status (*option_number)(void *ctx, const char *name, double *out);
    ce_status (*option_string)(void *ctx, const char *name, const char **out);
    ce_status (*model_info)(void *ctx, ce_model_info *out);   /* out->struct_size set by caller */
    int64_t (*example_count)(void *ctx);
    int64_t (*longest_example)(void *ctx);  /* tokens of the longest canonical example, prefix and suffix */
    int32_t (*sequential)(void *ctx);       /* 1 when the examples are edited one step after another */

    /* Parameters (as ce_host names them) with their element counts, and linear modules with
     * their (out, in) sizes and layer. */
    int64_t (*param_count)(void *ctx);
    const char *(*param_name)(void *ctx, int64_t index);
    int64_t (*param_elements)(void *ctx, int64_t index);
    int64_t (*module_count)(void *ctx);
    const char *(*module_name)(void *ctx, int64_t index);
    ce_status (*module_shape)(void *ctx, int64_t index, int64_t *out_features, int64_t *in_features, int32_t *layer);
    int32_t (*module_matches)(void *ctx, const char *name, const char *regex);   /* as ce_host's */

    /* What the method will do. Each call adds to the plan. */
    /* Trains whole every parameter whose name matches `regex` (fullmatch); the host counts their
     * fp32 values, originals, gradients and Adam moments, and backward passes down to the lowest. */
    ce_status (*will_train)(void *ctx, const char *regex);
    /* Attaches a rank-`rank` adapter to `module` (attach_low_rank). */
    ce_status (*will_attach_low_rank)(void *ctx, const char *module, int32_t rank);
    /* Trains `floats` values of its own (new_param, hook vectors) that act at block `layer`:
     * backward passes reach that block. */
    ce_status (*will_add)(void *ctx, int64_t floats, int32_t layer);
    /* Holds `bytes` of memory of its own at its peak (`what` names it in the plan). */
    ce_status (*will_hold)(void *ctx, int64_t bytes, const char *what);
    /* Runs passes of its own of `rows` × `tokens` with backward down to `lowest_layer`. */
    ce_status (*will_run)(void *ctx, int64_t rows, int64_t tokens, int32_t lowest_layer);
    /* An edit of this method may change the model parameters whose names match `regex`. */
    ce_status (*may_change)(void *ctx, const char *regex);
} ce_outline;

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
_Static_assert(sizeof(ce_outline) == 176, "ce_outline is 176 bytes");
#endif

#ifdef __cplusplus
}
#endif
#endif /* CANONEDIT_PLUGIN_OUTLINE_H */
