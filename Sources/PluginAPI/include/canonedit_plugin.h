/*
 * canonedit_plugin.h — the contract between canonedit (the host) and editing methods (plugins).
 * ABI version 1.4 (see CE_API_MINOR). This header, with the two it includes, is the whole
 * contract: a plugin links against nothing else of the host's, and can be written in C, Swift,
 * Rust or anything with a C ABI.
 *
 * A short tour
 * ------------
 * A plugin is a shared library that exports one symbol, `canonedit_plugin_entry`. The host
 * calls it with its own ABI version; the plugin returns a pointer to a constant descriptor
 * (or NULL when it cannot serve that host). The descriptor is plain data — id, version,
 * hyperparameter schema, capabilities — plus five functions:
 *
 *     create   -> make an instance (read hyperparameters through host->option_*)
 *     prepare  -> choose what to train: whole tensors, rows, low-rank adapters, ...
 *     update   -> called by the host's training loop after gradients are in place
 *     apply    -> closed-form methods edit the model here instead (may be NULL)
 *     destroy  -> free the instance
 *
 * and, since 1.3, one optional function that runs before any weight is read:
 *
 *     describe -> say what prepare will train or add, what the method holds, how far down its
 *                 backward passes go and which model tensors its edits may change; memory
 *                 plans, edit validation, sweeps and `plugins check` read only this
 *
 * The host owns the model, the data, the training loop, evaluation and degradation checks.
 * Everything a plugin needs comes through `ce_host`, a table of services passed to every
 * call. A plugin that trains only has to say *what* to train and *how to update it*: the
 * LoRA plugin shipped with canonedit is about 100 lines.
 *
 *     const ce_plugin_descriptor *canonedit_plugin_entry(uint32_t major, uint32_t minor) {
 *         return major == CE_API_MAJOR ? &my_descriptor : NULL;
 *     }
 *
 * Rules that hold everywhere
 * --------------------------
 * - Versions: the host refuses a descriptor whose api_major differs from its own. Minor
 *   versions only add: new fields go at the END of a struct, `struct_size` tells how much of
 *   it the other side knows, and optional features are found by string id through
 *   host->get_extension ("canonedit.backpack/1"), which returns NULL when absent.
 * - Threads: the host calls a plugin from one thread at a time and never concurrently on
 *   one instance. Host services may be called only from inside a plugin call, on that
 *   thread. Plugins must not create threads that call the host.
 * - Ownership: every pointer says who owns it and for how long ("borrowed" = owned by the
 *   host, valid until the stated point; the plugin must not free it). Strings are UTF-8 and
 *   NUL-terminated.
 * - Errors: functions return a ce_status. On failure a plugin calls host->set_error with a
 *   message the host shows to the user, then returns the code. Nothing may unwind (no C++
 *   exceptions, Swift errors or Rust panics) across this boundary.
 * - Numbers: tensors are fp32, row-major, with shapes slowest dimension first (a linear
 *   layer's weight is [out, in]), as PyTorch stores them.
 * - No libffi: every call across the boundary has a fixed C signature declared here, so
 *   the host never needs to build a call at run time.
 */
#ifndef CANONEDIT_PLUGIN_H
#define CANONEDIT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CE_API_MAJOR 1u
#define CE_API_MINOR 4u   /* 1.1 ce_backpack_ext.add_predicted_probabilities; 1.2 "canonedit.hooks/1";
                             1.3 describe, ce_outline, the learning-rate sweep range, CE_HP_CLEARED_IN_SWEEPS;
                             1.4 ce_linalg_ext.solve and symmetric_eigen, carried state in ce_hooks_ext */
#define CE_PLUGIN_ENTRY_SYMBOL "canonedit_plugin_entry"

/* ---- status codes -------------------------------------------------------------------- */
typedef int32_t ce_status;
#define CE_OK                   0
#define CE_ERR_INVALID_ARGUMENT 1   /* a bad value from the caller */
#define CE_ERR_NOT_FOUND        2   /* no parameter / module / option of that name */
#define CE_ERR_UNSUPPORTED      3   /* this model or host cannot do that */
#define CE_ERR_NUMERIC          4   /* NaN, infinity, a singular system */
#define CE_ERR_CANCELLED        5   /* the user asked to stop */
#define CE_ERR_NO_MEMORY        6
#define CE_ERR_INTERNAL         7

/* ---- tensors and handles ------------------------------------------------------------- */

/* A view of fp32 data. `data` is borrowed: owned by the host, valid until the plugin call
 * that obtained it returns, unless the function says otherwise. */
typedef struct ce_tensor {
    float *data;
    int64_t count;        /* number of floats */
    int32_t ndim;         /* 1..4 */
    int32_t reserved;
    int64_t shape[4];     /* slowest first; unused entries are 1 */
} ce_tensor;

/* A trainable tensor: a model parameter or one the host made for the plugin (an adapter).
 * Opaque; valid from the moment a host function returns it until destroy. */
typedef struct ce_param ce_param;

/* ---- hyperparameter schema (plain data, readable without running the plugin) ---------- */
#define CE_HP_FLOAT  1
#define CE_HP_INT    2
#define CE_HP_BOOL   3
#define CE_HP_STRING 4

#define CE_HP_LOG_SCALE  (1u << 0)   /* sweeps sample log-uniformly in [sweep_min, sweep_max] */
#define CE_HP_NO_SWEEP   (1u << 1)   /* sweeps keep the default */
#define CE_HP_CLEARED_IN_SWEEPS (1u << 2)  /* since 1.3: sweeps remove it from the base config, because a
                                              value there would override swept options (LoRA's target_modules
                                              overrides layer_fraction) */

typedef struct ce_hyperparameter {
    const char *name;            /* as written in YAML configs, e.g. "lora_rank" */
    int32_t type;                /* CE_HP_* */
    uint32_t flags;              /* CE_HP_LOG_SCALE | CE_HP_NO_SWEEP */
    double min, max;             /* inclusive bounds for FLOAT and INT; ignored otherwise */
    double default_number;       /* default for FLOAT, INT, BOOL (0 or 1) */
    const char *default_string;  /* default for STRING (NULL means "") */
    double sweep_min, sweep_max; /* the range random sweeps draw from (within min..max) */
    const char *help;            /* one line for `canonedit plugins list` */
} ce_hyperparameter;

/* ---- capabilities -------------------------------------------------------------------- */
#define CE_CAP_TRAINS            (1ull << 0)  /* uses the host's training loop (prepare + update) */
#define CE_CAP_CLOSED_FORM       (1ull << 1)  /* edits in `apply`, without the training loop */
#define CE_CAP_BACKPACK_ONLY     (1ull << 2)  /* needs extension "canonedit.backpack/1" */
#define CE_CAP_NEEDS_ACTIVATIONS (1ull << 3)  /* needs extension "canonedit.activations/1" */
#define CE_CAP_HOOKS             (1ull << 4)  /* since 1.2: needs extension "canonedit.hooks/1" */

/* ---- what the host tells a plugin ---------------------------------------------------- */
typedef struct ce_model_info {
    uint32_t struct_size;
    int32_t layer_count;
    int32_t hidden_size;
    int32_t vocab_size;
    int32_t context_length;
    int32_t reserved;
    /* The model type of its config ("llama", "qwen2", "gemma3", "gpt2", ... and "backpack"; docs/models.md
     * lists them); borrowed, lives as long as the host */
    const char *architecture;
} ce_model_info;

typedef struct ce_update_info {
    uint32_t struct_size;
    int32_t epoch;              /* 0-based */
    int32_t epochs;
    int32_t reserved;
    int64_t step;               /* 1-based count of updates in this run */
    double learning_rate;       /* already scheduled (cosine over epochs) */
} ce_update_info;

/* Which text of a canonical example to read. */
#define CE_TEXT_PREFIX  0
#define CE_TEXT_SUFFIX  1   /* the suffix, or suffix1 of a pair */
#define CE_TEXT_SUFFIX2 2   /* pairs only */
#define CE_TEXT_THROUGH_SUBJECT 3   /* the prefix up to the end of the record's "subject" (its last
                                        occurrence), tokenized in context: its last id is the subject's last token */

#define CE_LOG_DEBUG 0
#define CE_LOG_INFO  1
#define CE_LOG_WARN  2

/* ---- host services ------------------------------------------------------------------- */
/* Every function takes `ctx` (the table's own `ctx` field) first. */
typedef struct ce_host {
    uint32_t api_major;
    uint32_t api_minor;
    uint32_t struct_size;        /* sizeof(ce_host) as the host compiled it */
    uint32_t reserved;
    void *ctx;                   /* the host's; pass it back unchanged */

    /* Diagnostics. `message` is copied. */
    void (*set_error)(void *ctx, const char *message);
    void (*log)(void *ctx, int32_t level, const char *message);
    void (*progress)(void *ctx, double fraction, const char *what);
    int32_t (*cancelled)(void *ctx);                 /* 1 when the user asked to stop */

    /* Hyperparameters, validated against the schema, defaults filled in. `*out` for strings
     * is borrowed until destroy. CE_ERR_NOT_FOUND for a name not in the schema. */
    ce_status (*option_number)(void *ctx, const char *name, double *out);
    ce_status (*option_string)(void *ctx, const char *name, const char **out);

    /* The model. */
    ce_status (*model_info)(void *ctx, ce_model_info *out);  /* out->struct_size set by caller */

    /* Canonical examples, tokenized as the host tokenizes them: the prefix starts with the model's BOS
     * id when its tokenizer adds one (Gemma), else nothing before the text. `*ids` borrowed
     * until destroy. */
    int64_t (*example_count)(void *ctx);
    ce_status (*example_tokens)(void *ctx, int64_t index, int32_t which, const int32_t **ids, int64_t *count);

    /* Parameters, by index (0..param_count-1) or Hugging Face name
     * ("model.layers.12.mlp.down_proj.weight"). */
    int64_t (*param_count)(void *ctx);
    ce_status (*param_at)(void *ctx, int64_t index, ce_param **out);
    ce_status (*param_find)(void *ctx, const char *name, ce_param **out);
    const char *(*param_name)(void *ctx, const ce_param *param);   /* borrowed until destroy */
    ce_status (*param_value)(void *ctx, const ce_param *param, ce_tensor *out);
    /* The gradient, or data == NULL when the tensor is not trained. Valid in update and in a
     * hook's backward (canonedit.hooks/1). */
    ce_status (*param_grad)(void *ctx, const ce_param *param, ce_tensor *out);

    /* Selection. Each call adds to what the host trains; the host keeps the original values
     * so it can run the unedited model and revert. */
    ce_status (*train_param)(void *ctx, ce_param *param);                       /* the whole tensor */
    /* Only these rows (first dimension) change; `rows` is copied. */
    ce_status (*train_rows)(void *ctx, ce_param *param, const int64_t *rows, int64_t count);

    /* Linear modules ("model.layers.12.mlp.down_proj"), where adapters can be attached. */
    int64_t (*module_count)(void *ctx);
    const char *(*module_name)(void *ctx, int64_t index);                       /* borrowed until destroy */
    /* 1 when `regex` matches the whole name (Python re.fullmatch semantics), 0 when not,
     * negative when the regex is invalid (set_error has been called). */
    int32_t (*module_matches)(void *ctx, const char *name, const char *regex);
    /* y += scale * (x A^T) B^T with A [rank, in] and B [out, rank], both zero; the plugin
     * initialises them through param_value. Both are trained. */
    ce_status (*attach_low_rank)(void *ctx, const char *module, int32_t rank, float scale, ce_param **A, ce_param **B);

    /* Updates. Adam with bias correction; its state lives in the host (checkpointed, resumed). */
    ce_status (*adam_step)(void *ctx, ce_param *param, double lr, double beta1, double beta2, double eps,
                           double weight_decay);

    /* Random numbers from the run's seed: the same seed gives the same sequence. */
    uint64_t (*random_u64)(void *ctx);
    double (*random_uniform)(void *ctx);    /* [0, 1) */
    double (*random_normal)(void *ctx);     /* mean 0, variance 1 */

    /* Scratch memory: 64-byte aligned, owned by the plugin until host->free or destroy
     * (the host frees what is left after destroy). */
    void *(*alloc)(void *ctx, size_t bytes);
    void (*free)(void *ctx, void *pointer);

    /* Optional services by id, "name/version" ("canonedit.backpack/1",
     * "canonedit.activations/1", "canonedit.linalg/1", since 1.2 "canonedit.hooks/1"). NULL when the host or the model
     * does not offer it. The returned table is borrowed until destroy. */
    const void *(*get_extension)(void *ctx, const char *id);

    /* Text corpora: a {"text": ...} JSONL file, read and tokenized once by the host (a
     * relative path is resolved like the config's data paths). `*ids` is borrowed until destroy. */
    ce_status (*corpus_size)(void *ctx, const char *path, int64_t *documents);
    ce_status (*corpus_document)(void *ctx, const char *path, int64_t index, const int32_t **ids, int64_t *count);

    /* The task's loss: "good", "bad", "balance" or "good-v-bad" (borrowed, lives as long as the host). */
    const char *(*task_loss)(void *ctx);

    /* Continues `prompt` (count ids) with the UNEDITED model: greedy when temperature <= 0,
     * else sampled with `seed`. Writes up to max_tokens ids into the caller's `out`, the count
     * into *written. */
    ce_status (*generate)(void *ctx, const int32_t *prompt, int64_t count, int64_t max_tokens, double temperature,
                          uint64_t seed, int32_t *out, int64_t *written);

    /* Since 1.2 (check struct_size): only these entries (flat row-major indices, copied) of a
     * linear layer's weight change. The host keeps only their originals, and the gradient
     * (param_grad) and Adam state hold one value per entry, in ascending index order: a sparse
     * edit costs memory in proportion to its entries. Select a tensor's entries once. */
    ce_status (*train_entries)(void *ctx, ce_param *param, const int64_t *indices, int64_t count);
} ce_host;

/* The optional service tables (activations, linear algebra, Backpack, hooks), found by id. */
#include "canonedit_plugin_extensions.h"

/* The table a plugin's `describe` receives (since 1.3). */
#include "canonedit_plugin_outline.h"

/* ---- the plugin ---------------------------------------------------------------------- */
typedef struct ce_plugin_descriptor {
    uint32_t api_major;          /* CE_API_MAJOR the plugin was built against; checked first */
    uint32_t api_minor;
    uint32_t struct_size;        /* sizeof(ce_plugin_descriptor) as the plugin compiled it */
    uint32_t reserved;
    const char *id;              /* matches `finetune_type` in configs: "lora", "full", ... */
    const char *version;         /* the plugin's own version, e.g. "1.2.0" */
    const char *description;     /* one line */
    uint64_t capabilities;       /* CE_CAP_* */
    int32_t hyperparameter_count;
    int32_t reserved2;
    const ce_hyperparameter *hyperparameters;

    /* Makes an instance. *instance is the plugin's; the host passes it back unchanged. */
    ce_status (*create)(const ce_host *host, void **instance);
    /* Chooses what to train (CE_CAP_TRAINS). Called once, before the first update. */
    ce_status (*prepare)(void *instance, const ce_host *host);
    /* One update of the trained tensors; gradients are readable with host->param_grad. */
    ce_status (*update)(void *instance, const ce_host *host, const ce_update_info *info);
    /* Closed-form edit of the model (CE_CAP_CLOSED_FORM); NULL for training methods. */
    ce_status (*apply)(void *instance, const ce_host *host);
    /* Frees the instance. Host-owned memory handed out during the run is released after. */
    void (*destroy)(void *instance);

    /* Since 1.3 (the host checks struct_size; a 1.0-1.2 plugin has none of these). */
    /* Says what the method will do, before any weight is read (ce_outline). May be NULL: the
     * host then plans as if every parameter were trained and says so. No instance exists yet. */
    ce_status (*describe)(const ce_outline *outline);
    /* Random sweeps draw the training loop's learning rate log-uniformly from this range;
     * 0 and 0: the host's default (1e-6 to 1e-3). Ignored for closed-form methods. */
    double learning_rate_sweep_min;
    double learning_rate_sweep_max;
} ce_plugin_descriptor;

/* The one exported symbol. Returns NULL when the plugin cannot serve this host version.
 * The descriptor is owned by the plugin and must stay valid while the library is loaded. */
typedef const ce_plugin_descriptor *(*ce_plugin_entry_fn)(uint32_t host_api_major, uint32_t host_api_minor);

/* ---- layout ---------------------------------------------------------------------------
 * Sizes on 64-bit targets (x86-64, AArch64), for plugins written in languages that declare the
 * structs themselves (docs/plugin-authors.md has them in Rust). A compiler that disagrees stops here. */
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && UINTPTR_MAX == 0xFFFFFFFFFFFFFFFFu
_Static_assert(sizeof(ce_tensor) == 56, "ce_tensor is 56 bytes");
_Static_assert(sizeof(ce_hyperparameter) == 72, "ce_hyperparameter is 72 bytes");
_Static_assert(sizeof(ce_model_info) == 32, "ce_model_info is 32 bytes");
_Static_assert(sizeof(ce_update_info) == 32, "ce_update_info is 32 bytes");
_Static_assert(sizeof(ce_host) == 288, "ce_host is 288 bytes");
_Static_assert(sizeof(ce_plugin_descriptor) == 128, "ce_plugin_descriptor is 128 bytes");
_Static_assert(offsetof(ce_plugin_descriptor, describe) == 104, "describe follows destroy");
#endif

#ifdef __cplusplus
}
#endif
#endif /* CANONEDIT_PLUGIN_H */
