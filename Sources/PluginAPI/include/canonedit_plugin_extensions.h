/*
 * canonedit_plugin_extensions.h — the optional service tables of the plugin ABI, part of
 * canonedit_plugin.h (which includes it; include that one). A plugin finds each table with
 * host->get_extension(ctx, id); NULL means the host or model does not offer it. Tables grow
 * at the end; check struct_size before using a field added in a later minor version.
 */
#ifndef CANONEDIT_PLUGIN_EXTENSIONS_H
#define CANONEDIT_PLUGIN_EXTENSIONS_H

#ifndef CANONEDIT_PLUGIN_H
#error "include canonedit_plugin.h, not this file"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- extension "canonedit.activations/1": looking inside decoder models ----------------
 * Offered for every decoder (docs/models.md lists the architectures). Sequences are token ids run
 * as one batch row; positions index them from 0. Functions take the host's ctx. */
#define CE_EXT_ACTIVATIONS "canonedit.activations/1"
typedef struct ce_activations_ext {
    uint32_t struct_size;
    /* The input rows of linear `module` (e.g. an MLP down projection's keys) at `positions`,
     * with the current (edited) model: out (count, in features). */
    ce_status (*module_inputs)(void *ctx, const int32_t *ids, int64_t n, const char *module,
                               const int64_t *positions, int64_t count, float *out);
    /* The residual stream leaving block `layer` at `positions`: out (count, hidden). */
    ce_status (*residual)(void *ctx, const int32_t *ids, int64_t n, int32_t layer, const int64_t *positions,
                          int64_t count, float *out);
    /* E[x x^T] of the inputs of `module` over the first `tokens` tokens of a corpus ({"text"}
     * JSONL), with the UNEDITED model: out (in, in). Computed once and cached on disk with its
     * provenance (model, module, corpus hash, count); a mismatched cache is recomputed. */
    ce_status (*input_second_moment)(void *ctx, const char *module, const char *corpus, int64_t tokens, float *out);
    /* A trainable vector (hidden) added to the residual stream leaving block `layer`, at the
     * position set by residual_delta_at in every sequence run (-1: nowhere). Once per run. */
    ce_status (*residual_delta)(void *ctx, int32_t layer, ce_param **delta);
    ce_status (*residual_delta_at)(void *ctx, int64_t position);
    /* sum_i weights[i] * -log p(targets[i] | ids[0..rows[i]]) for one sequence; with grad != 0
     * the gradient is added to every trained tensor's gradient. */
    ce_status (*sequence_loss)(void *ctx, const int32_t *ids, int64_t n, const int64_t *rows, const int32_t *targets,
                               const float *weights, int64_t count, int32_t grad, double *loss);
    /* weight * KL(unedited || edited) of the next-token distributions at `rows`; grad as above. */
    ce_status (*sequence_kl)(void *ctx, const int32_t *ids, int64_t n, const int64_t *rows, int64_t count,
                             double weight, int32_t grad, double *loss);
    /* Sets every trained tensor's gradient to zero. */
    ce_status (*zero_grads)(void *ctx);
} ce_activations_ext;

/* ---- extension "canonedit.linalg/1": dense linear algebra (LAPACK) ---------------------- */
#define CE_EXT_LINALG "canonedit.linalg/1"
typedef struct ce_linalg_ext {
    uint32_t struct_size;
    /* Solves A X = B for symmetric positive definite A (n, n), row-major; B (n, m) is replaced
     * by X and A by its Cholesky factor. CE_ERR_NUMERIC when A is not positive definite. */
    ce_status (*solve_spd)(void *ctx, float *A, float *B, int64_t n, int64_t m);
    /* Since 1.4 (check struct_size first). Solves A X = B for a general square A (n, n) by LU
     * with partial pivoting, in double precision; B (n, m) is replaced by X, A is not changed.
     * CE_ERR_NUMERIC when A is singular. */
    ce_status (*solve)(void *ctx, const float *A, float *B, int64_t n, int64_t m);
    /* Since 1.4. Eigenvalues and eigenvectors of a symmetric A (n, n), in double precision:
     * values (n) ascending, and A replaced by the eigenvectors as columns (A[i * n + j] is
     * component i of the vector of values[j]). */
    ce_status (*symmetric_eigen)(void *ctx, float *A, float *values, int64_t n);
} ce_linalg_ext;

/* ---- extension "canonedit.backpack/1": Backpack language models -------------------------
 * Offered when the model is a Backpack. Functions take the host's ctx. */
#define CE_EXT_BACKPACK "canonedit.backpack/1"
typedef struct ce_backpack_ext {
    uint32_t struct_size;
    int32_t num_senses;          /* k */
    int32_t hidden_size;         /* C */
    int32_t vocab_size;          /* V */
    /* For one sequence: out[v * k + l] += sum over rows i, and positions j with ids[j] == v,
     * of the contextualization weight alpha[l, i, j]. `out` (V, k) is the caller's. */
    ce_status (*add_sense_weights)(void *ctx, const int32_t *ids, int64_t count, const int64_t *rows,
                                   int64_t row_count, float *out);
    /* Sense vectors (count, k, C) of `tokens`, current deltas included, into the caller's `out`. */
    ce_status (*sense_vectors)(void *ctx, const int32_t *tokens, int64_t count, float *out);
    /* Trains a zero-initialised (count, C) delta added to sense senses[i] of token tokens[i]
     * wherever that token occurs. Once per run; `*deltas` is valid until destroy. */
    ce_status (*train_sense_deltas)(void *ctx, const int32_t *tokens, const int32_t *senses, int64_t count,
                                    ce_param **deltas);
    /* Since 1.1 (check struct_size first). For one sequence: out[v] += sum over rows i of
     * p(v | ids[0..i]), each word's expected count among the rows' predictions, from the
     * base model of a companion Backpack, otherwise from the Backpack itself, unedited.
     * `out` (V) is the caller's. */
    ce_status (*add_predicted_probabilities)(void *ctx, const int32_t *ids, int64_t count, const int64_t *rows,
                                             int64_t row_count, float *out);
} ce_backpack_ext;

/* ---- extension "canonedit.hooks/1": acting inside the forward pass (since 1.2) -----------
 * Offered for decoder models. A hook on block `layer`'s output is part of the edited model:
 * the host calls its forward in every pass of that model (training, evaluation, generation,
 * and wherever a saved edit is applied) and its backward in training; never while the
 * unedited model runs (KL reference, the ball's reference, revert). Register hooks, make
 * tensors and read state in prepare. prepare runs again on resume and when a saved edit is
 * applied: then get_state returns what set_state saved (and example_count may be 0), and the
 * host puts the trained values back into the tensors new_param makes after prepare returns. */
#define CE_EXT_HOOKS "canonedit.hooks/1"

/* The rows a hook sees: x and d are (batch, length, hidden), row-major. */
typedef struct ce_hook_rows {
    uint32_t struct_size;
    int32_t layer;
    int64_t batch;            /* B sequences */
    int64_t length;           /* T positions of each (1 while generating) */
    int64_t hidden;           /* C */
    int64_t start;            /* the position of the first of the T (0, or the one being generated) */
    const int64_t *lengths;   /* (B) each sequence's real length; positions from there are padding */
    const int64_t *query;     /* (B) the position of the prompt's last token; -1 when there is no prompt */
    int32_t training;         /* 1 when backward will follow */
    int32_t reserved;
} ce_hook_rows;

/* Rewrites x, the residual stream leaving the block, in place. A NaN or infinity written ends
 * the run, as an error returned does. */
typedef ce_status (*ce_hook_forward_fn)(void *user, const ce_host *host, const ce_hook_rows *rows, float *x);
/* d holds the gradient at the hook's output; replace it with the gradient at its input, and
 * add the gradients of the plugin's tensors (host->param_grad). x_in is what forward was given.
 * NULL: the gradient passes through unchanged (right for a hook that adds a constant). */
typedef ce_status (*ce_hook_backward_fn)(void *user, const ce_host *host, const ce_hook_rows *rows,
                                         const float *x_in, float *d);

typedef struct ce_hooks_ext {
    uint32_t struct_size;
    /* Calls forward (and backward) on block `layer`'s output; `user` is passed back unchanged. */
    ce_status (*on_block_output)(void *ctx, int32_t layer, ce_hook_forward_fn forward,
                                 ce_hook_backward_fn backward, void *user);
    /* A zero tensor of the plugin's own, trained by the host like an adapter (gradient, Adam
     * state, checkpoints, NaN checks) and stored whole in edit files. `name` must be new. Its
     * data pointer (param_value) stays valid until destroy. */
    ce_status (*new_param)(void *ctx, const char *name, int32_t ndim, const int64_t *shape, ce_param **out);
    /* Opaque state under `key`, copied: saved in checkpoints and edit files. Set it again to
     * change it. */
    ce_status (*set_state)(void *ctx, const char *key, const void *data, int64_t bytes);
    /* The state saved under `key` (borrowed until destroy), or CE_ERR_NOT_FOUND. */
    ce_status (*get_state)(void *ctx, const char *key, const void **data, int64_t *bytes);
    /* Since 1.4 (check struct_size first). State carried from each step of sequential editing
     * to the next, one value per key: a step reads what the steps before it left and may replace
     * it (set_state's values are the step's own). Saved in checkpoints and edit files; a run that
     * is not sequential has one step. Keys of set_state may not start with "carried:". */
    ce_status (*set_carried_state)(void *ctx, const char *key, const void *data, int64_t bytes);
    ce_status (*get_carried_state)(void *ctx, const char *key, const void **data, int64_t *bytes);
} ce_hooks_ext;

/* Sizes on 64-bit targets, as canonedit_plugin.h states its own. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
_Static_assert(sizeof(ce_activations_ext) == 72, "ce_activations_ext is 72 bytes");
_Static_assert(sizeof(ce_linalg_ext) == 32, "ce_linalg_ext is 32 bytes");
_Static_assert(sizeof(ce_backpack_ext) == 48, "ce_backpack_ext is 48 bytes");
_Static_assert(sizeof(ce_hook_rows) == 64, "ce_hook_rows is 64 bytes");
_Static_assert(sizeof(ce_hooks_ext) == 56, "ce_hooks_ext is 56 bytes");
#endif

#ifdef __cplusplus
}
#endif
#endif /* CANONEDIT_PLUGIN_EXTENSIONS_H */
