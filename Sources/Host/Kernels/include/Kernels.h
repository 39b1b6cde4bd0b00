// Kernels: the hot loops of canonedit's fp32 CPU engine.
//
// Every layer is a pair of plain functions, `xxx_forward(out, inputs…)` and
// `xxx_backward(dinputs, dweights…, dout, saved…)`, in the style of llm.c.
// Backward functions ADD into gradient buffers (`+=`) unless a comment says they set.
// Shapes use: N rows (tokens = B*T), C channels, T time, H query heads, G key/value heads,
// D head dim, F feed-forward width, V vocabulary.
// Large matrix products are not here: the Swift side calls cblas_sgemm directly.
#ifndef CANONEDIT_KERNELS_H
#define CANONEDIT_KERNELS_H
#include <stdint.h>
#include <stddef.h>

// ---- normalisation (norm.c) ----
// out (N,C) = x * rstd * w ; rstd (N) saved for backward.
void ce_rmsnorm_forward(float *out, float *rstd, const float *x, const float *w, int64_t N, int C, float eps);
// dx (N,C) += ; dw (C) += (dw may be NULL when the weight is frozen).
void ce_rmsnorm_backward(float *dx, float *dw, const float *dout, const float *x, const float *w,
                         const float *rstd, int64_t N, int C);
// out = (x - mean) * rstd * w + b ; mean, rstd (N) saved. b may be NULL.
void ce_layernorm_forward(float *out, float *mean, float *rstd, const float *x, const float *w,
                          const float *b, int64_t N, int C, float eps);
// dx += ; dw, db += (each may be NULL).
void ce_layernorm_backward(float *dx, float *dw, float *db, const float *dout, const float *x,
                           const float *w, const float *mean, const float *rstd, int64_t N, int C);

// ---- rotary position embedding (rope.c) ----
// Rotates x (N, H*D) in place. pos (N) is each row's position; cos/sin are (maxPos, R/2)
// tables for rotary dim R <= D. interleaved=1 rotates pairs (2i, 2i+1) (GPT-J, GGUF Llama);
// 0 rotates pairs (i, i+R/2) (GPT-NeoX, Hugging Face Llama). sign=-1 rotates backwards,
// which is the backward pass (the rotation is orthogonal).
void ce_rope(float *x, int64_t N, int H, int D, int R, const int32_t *pos, const float *cos_t,
             const float *sin_t, int interleaved, float sign);

// ---- activations (activation.c) ----
// out (n) = silu(gate) * up
void ce_swiglu_forward(float *out, const float *gate, const float *up, int64_t n);
// dgate, dup (n) SET (not accumulated): they are fresh per layer.
void ce_swiglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int64_t n);
// GELU, tanh approximation (GPT-2 "gelu_new", GPT-J) when tanh_approx=1, exact erf form otherwise.
void ce_gelu_forward(float *out, const float *x, int64_t n, int tanh_approx);
// dx SET.
void ce_gelu_backward(float *dx, const float *dout, const float *x, int64_t n, int tanh_approx);
// out (n) = gelu_tanh(gate) * up (Gemma's GeGLU); backward SETS dgate, dup.
void ce_geglu_forward(float *out, const float *gate, const float *up, int64_t n);
void ce_geglu_backward(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int64_t n);

// ---- causal self-attention (attention.c) ----
// q (B*T, H*D), k and v (B*T, G*D), rows b*T+t; query head h reads key/value head h/(H/G).
// probs (B, H, T, T) saved for backward; out (B*T, H*D) SET. scale is usually 1/sqrt(D).
// window > 0: position t sees only positions s > t - window (sliding-window layers).
// OpenBLAS runs a product of at most this many multiply-adds (M·N·K) on the calling thread
// (its multithreading threshold), so products this small may run in parallel callers.
#define CE_CALLER_THREAD_PRODUCT (1 << 18)
// Query rows per block of ce_attention_forward_rows: blocks whose products stay on the calling
// thread, or all T rows when such blocks would be under 16 rows.
int ce_attention_block_rows(int T, int D);
// Rows [r0, r1) of sequence b's head h; they see keys [0, r1) only (causal), so a block's
// products shrink with it. ce_attention_forward runs every block in order.
void ce_attention_forward_rows(float *out, float *probs, const float *q, const float *k, const float *v, int T,
                               int H, int G, int D, float scale, int window, int b, int h, int r0, int r1);
void ce_attention_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                          int B, int T, int H, int G, int D, float scale, int window);
// dq SET; dk, dv ADDED (several query heads share one key/value head). scratch: T*T floats.
// The window is in probs (zero outside it).
void ce_attention_backward(float *dq, float *dk, float *dv, float *scratch, const float *dout,
                           const float *probs, const float *q, const float *k, const float *v,
                           int B, int T, int H, int G, int D, float scale);

// The backward pass in blocks, in three steps that may each run their blocks in parallel:
// dV rows [s0, s1) of sequence b's key/value head g (ADDED, from probs and dout); then per
// query-row block of head h, dQ (SET) and dS written over probs (scratch: (r1-r0)*T floats);
// then dK rows [s0, s1) (ADDED, from dS and q). Blocks as in ce_attention_block_rows.
void ce_attention_backward_values(float *dv, const float *dout, const float *probs, int T, int H, int G, int D,
                                  int b, int g, int s0, int s1);
void ce_attention_backward_rows(float *dq, float *probs, float *scratch, const float *dout, const float *k,
                                const float *v, int T, int H, int G, int D, float scale, int b, int h, int r0,
                                int r1);
void ce_attention_backward_keys(float *dk, const float *dscores, const float *q, int T, int H, int G, int D,
                                float scale, int b, int g, int s0, int s1);

// One new query per sequence against a key/value cache: q (B, H*D) at position len-1;
// kc, vc (B, maxT, G*D) hold positions 0..len-1. out (B, H*D) SET. scratch: len floats.
void ce_attention_decode(float *out, const float *q, const float *kc, const float *vc, int B, int len, int maxT,
                         int H, int G, int D, float scale, int window, float *scratch);

// Causal softmax of each row of a (T, T) score matrix in place (row t over columns 0..t).
void ce_causal_softmax(float *p, int T);
// dS (T, T) holds d(probs) on entry and d(scores) on return: P * (dS - rowsum(P * dS)).
void ce_causal_softmax_backward(float *dS, const float *P, int T);

// ---- softmax over the vocabulary (softmax.c) ----
// For each of R rows of logits (R,V): nll[r] = logsumexp(row) - row[target[r]] (a row whose
// target < 0 gives nll 0). If grad_scale != NULL the row is overwritten in place with
// grad_scale[r] * (softmax(row) - onehot(target)), the gradient of grad_scale[r] * nll[r].
void ce_softmax_xent(float *logits, float *nll, const int32_t *target, const float *grad_scale, int64_t R, int V);
// KL(ref || new) per row: kl[r] = Σ_v exp(ref_logp) (ref_logp - log_softmax(logits)).
// With write_grad the row becomes weight * (softmax(logits) - exp(ref_logp)), its gradient.
void ce_kl_rows(float *logits, float *kl, const float *ref_logp, float weight, int64_t R, int V, int write_grad);
// Rows (R,V) replaced in place by their log-softmax.
void ce_logsoftmax(float *x, int64_t R, int V);
// Columns [c0, c0 + n) of R rows of logits (stride ld) folded into running row maxima and sums of
// exponentials; target_logit[r] set when target[r] lies in the panel.
void ce_logsumexp_panel(const float *x, int64_t R, int n, int ld, int c0, float *max_so_far, double *row_sum,
                        const int32_t *target, float *target_logit);

// ---- weight formats (dequant.c) ----
// n values (a multiple of 32 for the block formats) decoded to fp32 from bytes at any alignment.
void ce_dequant_f32(float *dst, const uint8_t *src, int64_t n);
void ce_dequant_f16(float *dst, const uint8_t *src, int64_t n);
void ce_dequant_bf16(float *dst, const uint8_t *src, int64_t n);
void ce_dequant_q8_0(float *dst, const uint8_t *src, int64_t n);
void ce_dequant_q4_0(float *dst, const uint8_t *src, int64_t n);
void ce_dequant_q4_1(float *dst, const uint8_t *src, int64_t n);
void ce_dequant_q5_0(float *dst, const uint8_t *src, int64_t n);
void ce_dequant_q5_1(float *dst, const uint8_t *src, int64_t n);
// K-quants (dequant_k.c): n is a multiple of 256.
void ce_dequant_q2_k(float *dst, const uint8_t *src, int64_t n);
void ce_dequant_q3_k(float *dst, const uint8_t *src, int64_t n);
void ce_dequant_q4_k(float *dst, const uint8_t *src, int64_t n);
void ce_dequant_q5_k(float *dst, const uint8_t *src, int64_t n);
void ce_dequant_q6_k(float *dst, const uint8_t *src, int64_t n);
typedef void (*ce_dequant_fn)(float *dst, const uint8_t *src, int64_t n);
// The decoder of a ggml type id (F32, F16, BF16, Q4_0 … Q6_K), NULL for others: the one table.
ce_dequant_fn ce_dequant_for_type(int type);

// ---- products with weights kept in their stored format (qmatmul.c) ----
// out (N, M) = x (N, K) Wᵀ (added to out with accumulate) for output columns [o0, o1); W is M
// rows of `row_bytes` bytes. row: K floats of scratch.
void ce_qmatmul_forward(float *out, const float *x, int64_t N, int64_t K, int64_t M, const uint8_t *w,
                        int64_t row_bytes, ce_dequant_fn dequant, float *row, int accumulate, int64_t o0, int64_t o1);
// dx (N, K) += dout (N, M) W for columns [k0, k1) (multiples of the block size); row: k1 - k0 floats.
void ce_qmatmul_backward_input(float *dx, const float *dout, int64_t N, int64_t K, int64_t M,
                               const uint8_t *w, int64_t row_bytes, ce_dequant_fn dequant, float *row,
                               int64_t k0, int64_t k1, int64_t block_values, int64_t block_bytes);
void ce_quant_f16(uint16_t *dst, const float *src, int64_t n);

// ---- OpenBLAS kernels (blas_cores.c) ----
// 1 when the processor (and the OS) run AVX-512 F, CD, BW, DQ and VL.
int ce_cpu_has_avx512(void);
// Restarts OpenBLAS on the kernels named `core` (as OPENBLAS_CORETYPE names them), before any
// product runs; 1 when it now reports that core.
int ce_blas_switch_core(const char *core);
// Ends OpenBLAS's worker threads (they spin for a while after each threaded product); a later
// threaded product starts them again.
void ce_blas_stop_threads(void);

// ---- files (direct_io.c) ----
// O_DIRECT where the platform has it (writes bypass the page cache), else 0.
int ce_direct_io_flag(void);

// ---- optimiser (adam.c) ----
// One Adam(W) step over n parameters. m, v are the moment buffers; t is the 1-based step.
// Returns which of the gradients and the updated values held a NaN or infinity (flags below),
// so the trainer's checks need no second pass over memory.
#define CE_ADAM_NONFINITE_GRADIENT 1
#define CE_ADAM_NONFINITE_VALUE 2
int ce_adam_step(float *p, const float *g, float *m, float *v, int64_t n, float lr, float beta1,
                 float beta2, float eps, float weight_decay, int64_t t);

// ---- small helpers (vector.c) ----
void ce_map_large_allocations(void);  // allocations of 1 MB and more are mapped (allocator.c)
void ce_add(float *y, const float *x, int64_t n);            // y += x
void ce_scale(float *y, float a, int64_t n);                 // y *= a
double ce_sum_squares(const float *x, int64_t n);
int ce_all_finite(const float *x, int64_t n);                // 1 when no NaN/Inf
// Entries whose bit patterns differ: counted (stopping once `limit` is reached), or listed.
int64_t ce_count_differing(const float *a, const float *b, int64_t n, int64_t limit);
int64_t ce_differing_indices(const float *a, const float *b, int64_t n, int64_t *out);

#endif
