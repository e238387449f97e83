/*
 * ctorch.h — the plain C API vidtag's Swift engine uses to reach libtorch.
 *
 * Contract (docs: design.md, "The shim contract"):
 *  - Handles are opaque. Every `ct_tensor *` or `ct_generator *` handed out through an out-parameter is
 *    owned by the caller, who releases it with `ct_tensor_free` / `ct_generator_free`. Handles passed in
 *    are borrowed: the shim never frees or keeps them beyond the call (tensors it stores, such as a
 *    gradient, are shared copies of the underlying at::Tensor).
 *  - Every function that can fail returns `ct_status`: 0 for success, 1 for failure. On failure the
 *    out-parameters are untouched and `ct_last_error()` returns the message of this thread's last failure.
 *  - No C++ exception ever leaves a function of this header.
 *  - A NULL tensor handle passed in is an error ("invalid tensor"), never a crash, so a failed operation
 *    can propagate through later ones and be reported once.
 *
 * Codes: dtypes are c10::ScalarType values (u8 0, i32 3, i64 4, f16 5, f32 6, f64 7, bool 11, bf16 15);
 * device types are c10::DeviceType values (cpu 0, cuda 1), with an index (-1 = current / none).
 */
#ifndef CTORCH_H
#define CTORCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#pragma GCC visibility push(default)

typedef struct ct_tensor ct_tensor;
typedef struct ct_generator ct_generator;
typedef int ct_status;

/* ---- library ---------------------------------------------------------------------------------- */
/** Version of this C API; the Swift side checks it at start-up. */
int ct_abi_version(void);
/** The message of the last failed call on this thread (valid until the next failure on it). */
const char *ct_last_error(void);
/** TORCH_VERSION of the libtorch headers the shim was compiled against, e.g. "2.13.0". */
const char *ct_torch_version(void);
/** Absolute path of the libtorch_cpu library loaded in this process ("" if unknown). */
const char *ct_torch_library_path(void);
void ct_set_num_threads(int n);
/** Fixes glibc's mmap threshold at `bytes` (mallopt M_MMAP_THRESHOLD), which turns off its dynamic raising:
 *  blocks from `bytes` up are mapped and unmapped when freed instead of kept in the heap. */
void ct_fix_mmap_threshold(int bytes);
int ct_get_num_threads(void);
void ct_manual_seed(uint64_t seed);
bool ct_cuda_is_available(void);
int ct_cuda_device_count(void);
/** cuDNN version as an integer (e.g. 90100), 0 when absent. */
long ct_cudnn_version(void);
/** CUDA device name into `buffer` (NUL-terminated). */
ct_status ct_cuda_device_name(int index, char *buffer, size_t capacity);
ct_status ct_cuda_synchronize(int index);
/** libtorch's own build description (at::show_config()); caller frees with ct_string_free. */
char *ct_build_config(void);
void ct_string_free(char *s);

/* ---- lifetime and inspection ------------------------------------------------------------------ */
void ct_tensor_free(ct_tensor *t);
/** Number of dimensions, or -1 for an invalid handle. */
int ct_dim(const ct_tensor *t);
/** Writes `ct_dim(t)` sizes into `sizes`. */
void ct_sizes(const ct_tensor *t, int64_t *sizes);
int ct_dtype(const ct_tensor *t);
void ct_device(const ct_tensor *t, int *type, int *index);
int64_t ct_numel(const ct_tensor *t);
bool ct_requires_grad(const ct_tensor *t);
bool ct_is_contiguous(const ct_tensor *t);
/** Whether `a` and `b` share storage (same data pointer). */
bool ct_same_data(const ct_tensor *a, const ct_tensor *b);

/* ---- creation --------------------------------------------------------------------------------- */
/** A new CPU tensor holding a copy of `nbytes` bytes at `data`, read as `dtype` with the given shape. */
ct_status ct_from_data(const void *data, size_t nbytes, int dtype, const int64_t *shape, int ndim,
                       ct_tensor **out);
ct_status ct_full(const int64_t *shape, int ndim, double value, int dtype, int device_type,
                  int device_index, ct_tensor **out);
ct_status ct_empty(const int64_t *shape, int ndim, int dtype, int device_type, int device_index,
                   bool pin_memory, ct_tensor **out);
ct_status ct_arange(double start, double end, double step, int dtype, int device_type, int device_index,
                    ct_tensor **out);
/** kind: 0 normal(0,1), 1 uniform[0,1). `gen` may be NULL (the default generator). */
ct_status ct_random(int kind, const int64_t *shape, int ndim, int dtype, int device_type, int device_index,
                    ct_generator *gen, ct_tensor **out);
ct_status ct_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, int dtype, int device_type,
                     int device_index, ct_generator *gen, ct_tensor **out);
ct_status ct_randperm(int64_t n, int device_type, int device_index, ct_generator *gen, ct_tensor **out);
/** In place: kind 0 normal_(a, b), 1 uniform_(a, b). */
ct_status ct_init_(ct_tensor *t, int kind, double a, double b, ct_generator *gen);

/* ---- generators ------------------------------------------------------------------------------- */
/** device_type 0: a CPU generator; 1 + N: a generator of CUDA device N (a libtorch with CUDA only). */
ct_status ct_generator_new(uint64_t seed, int device_type, ct_generator **out);
/** While set (not NULL), dropout and attention dropout on this thread draw from `g` instead of the device's
 *  default generator; `g` is borrowed and must outlive the setting. NULL goes back to the default. */
ct_status ct_set_dropout_generator(ct_generator *g);
void ct_generator_free(ct_generator *g);
/** A u8 tensor holding the generator's state; `g` NULL means the default CPU generator. */
ct_status ct_generator_get_state(ct_generator *g, ct_tensor **out);
ct_status ct_generator_set_state(ct_generator *g, const ct_tensor *state);
/** The default generator of a device (0 CPU, 1 CUDA with its index): its state, a new state, a new seed.
 *  Dropout draws from it. On a libtorch without CUDA, asking for a CUDA generator fails with its message. */
ct_status ct_default_generator_get_state(int device_type, int device_index, ct_tensor **out);
ct_status ct_default_generator_set_state(int device_type, int device_index, const ct_tensor *state);
ct_status ct_default_generator_seed(int device_type, int device_index, uint64_t seed);

/* ---- reading data back ------------------------------------------------------------------------ */
/** Copies the tensor (moved to the CPU and made contiguous first) into `dst`; `nbytes` must match. */
ct_status ct_copy_to_buffer(const ct_tensor *t, void *dst, size_t nbytes);
ct_status ct_item_double(const ct_tensor *t, double *out);
ct_status ct_item_int64(const ct_tensor *t, int64_t *out);
/** How many times the calling thread has read tensor data on the host (copies out, items, data-dependent
 *  output sizes): each is a synchronisation point on a GPU. */
int64_t ct_host_read_count(void);

/* ---- element-wise ----------------------------------------------------------------------------- */
enum ct_unary_op {
    CT_NEG, CT_EXP, CT_LOG, CT_SQRT, CT_RSQRT, CT_ABS, CT_TANH, CT_SIGMOID, CT_RELU, CT_GELU_ERF,
    CT_GELU_TANH, CT_SIN, CT_COS, CT_ERF, CT_SIGN, CT_FLOOR, CT_CEIL, CT_ROUND, CT_LOGICAL_NOT,
    CT_ISFINITE, CT_ISNAN, CT_SQUARE, CT_RECIPROCAL, CT_SILU, CT_LOG1P, CT_CLONE, CT_DETACH,
    CT_CONTIGUOUS, CT_PIN_MEMORY
};
ct_status ct_unary(int op, const ct_tensor *a, ct_tensor **out);

enum ct_binary_op {
    CT_ADD, CT_SUB, CT_MUL, CT_DIV, CT_POW, CT_MAXIMUM, CT_MINIMUM, CT_EQ, CT_NE, CT_LT, CT_LE, CT_GT,
    CT_GE, CT_MATMUL, CT_BMM, CT_LOGICAL_AND, CT_LOGICAL_OR, CT_REMAINDER, CT_FLOOR_DIVIDE, CT_RSUB,
    CT_RDIV
};
ct_status ct_binary(int op, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
/** `a op s`; the scalar is an integer when `scalar_is_integer` (keeps integer tensors integer).
 *  CT_RSUB is `s - a`, CT_RDIV `s / a`, CT_MAXIMUM / CT_MINIMUM clamp below / above. */
ct_status ct_binary_scalar(int op, const ct_tensor *a, double s, bool scalar_is_integer, ct_tensor **out);
/** clamp(a, lo, hi); a bound is ignored when its flag is false. */
ct_status ct_clamp(const ct_tensor *a, double lo, bool has_lo, double hi, bool has_hi, ct_tensor **out);
ct_status ct_where(const ct_tensor *condition, const ct_tensor *a, const ct_tensor *b, ct_tensor **out);
ct_status ct_masked_fill(const ct_tensor *a, const ct_tensor *mask, double value, ct_tensor **out);
ct_status ct_lerp(const ct_tensor *a, const ct_tensor *end, double weight, ct_tensor **out);

/* ---- reductions ------------------------------------------------------------------------------- */
enum ct_reduce_op {
    CT_SUM, CT_MEAN, CT_AMAX, CT_AMIN, CT_PROD, CT_VAR, CT_STD, CT_LOGSUMEXP, CT_ALL, CT_ANY, CT_NORM
};
/** Over `dims` (all dims when `ndims` < 0). `p` is the correction for var/std and the order for norm. */
ct_status ct_reduce(int op, const ct_tensor *a, const int64_t *dims, int ndims, bool keepdim, double p,
                    ct_tensor **out);
/** kind 0 max, 1 min: values and indices along `dim`. */
ct_status ct_extremum_dim(int kind, const ct_tensor *a, int64_t dim, bool keepdim, ct_tensor **values,
                          ct_tensor **indices);
/** kind 0 argmax, 1 argmin. */
ct_status ct_arg_extremum(int kind, const ct_tensor *a, int64_t dim, bool keepdim, ct_tensor **out);
ct_status ct_topk(const ct_tensor *a, int64_t k, int64_t dim, bool largest, bool sorted, ct_tensor **values,
                  ct_tensor **indices);
ct_status ct_sort(const ct_tensor *a, int64_t dim, bool descending, ct_tensor **values, ct_tensor **indices);
ct_status ct_cumsum(const ct_tensor *a, int64_t dim, ct_tensor **out);

/* ---- shape ------------------------------------------------------------------------------------ */
ct_status ct_reshape(const ct_tensor *a, const int64_t *shape, int ndim, ct_tensor **out);
ct_status ct_view(const ct_tensor *a, const int64_t *shape, int ndim, ct_tensor **out);
ct_status ct_permute(const ct_tensor *a, const int64_t *dims, int ndim, ct_tensor **out);
ct_status ct_transpose(const ct_tensor *a, int64_t d0, int64_t d1, ct_tensor **out);
ct_status ct_expand(const ct_tensor *a, const int64_t *shape, int ndim, ct_tensor **out);
ct_status ct_repeat(const ct_tensor *a, const int64_t *repeats, int ndim, ct_tensor **out);
ct_status ct_squeeze(const ct_tensor *a, int64_t dim, ct_tensor **out);
ct_status ct_unsqueeze(const ct_tensor *a, int64_t dim, ct_tensor **out);
ct_status ct_flatten(const ct_tensor *a, int64_t start, int64_t end, ct_tensor **out);
ct_status ct_slice(const ct_tensor *a, int64_t dim, int64_t start, int64_t end, int64_t step, ct_tensor **out);
ct_status ct_select(const ct_tensor *a, int64_t dim, int64_t index, ct_tensor **out);
ct_status ct_flip(const ct_tensor *a, const int64_t *dims, int ndim, ct_tensor **out);
ct_status ct_roll(const ct_tensor *a, const int64_t *shifts, const int64_t *dims, int n, ct_tensor **out);
/** Constant padding, `pad` as torch.nn.functional.pad (last dimension first). */
ct_status ct_pad(const ct_tensor *a, const int64_t *pad, int npad, double value, ct_tensor **out);
ct_status ct_cat(const ct_tensor *const *ts, int n, int64_t dim, ct_tensor **out);
ct_status ct_stack(const ct_tensor *const *ts, int n, int64_t dim, ct_tensor **out);
/** split_with_sizes: writes `nsizes` new handles into `outs`. */
ct_status ct_split(const ct_tensor *a, const int64_t *sizes, int nsizes, int64_t dim, ct_tensor **outs);
ct_status ct_index_select(const ct_tensor *a, int64_t dim, const ct_tensor *index, ct_tensor **out);
ct_status ct_gather(const ct_tensor *a, int64_t dim, const ct_tensor *index, ct_tensor **out);
/** mode 0 scatter (replace), 1 scatter_add. */
ct_status ct_scatter(int mode, const ct_tensor *a, int64_t dim, const ct_tensor *index, const ct_tensor *src,
                     ct_tensor **out);
/** a[mask] as a 1-D tensor. */
ct_status ct_masked_select(const ct_tensor *a, const ct_tensor *mask, ct_tensor **out);
ct_status ct_one_hot(const ct_tensor *a, int64_t num_classes, ct_tensor **out);
ct_status ct_tril(const ct_tensor *a, int64_t diagonal, ct_tensor **out);

/* ---- conversion ------------------------------------------------------------------------------- */
/** dtype < 0 keeps the dtype; device_type < 0 keeps the device. */
ct_status ct_to(const ct_tensor *a, int dtype, int device_type, int device_index, bool non_blocking,
                ct_tensor **out);

/* ---- neural-network functions ----------------------------------------------------------------- */
/** bias may be NULL. */
ct_status ct_linear(const ct_tensor *x, const ct_tensor *weight, const ct_tensor *bias, ct_tensor **out);
ct_status ct_embedding(const ct_tensor *weight, const ct_tensor *ids, int64_t padding_idx, ct_tensor **out);
ct_status ct_layer_norm(const ct_tensor *x, const int64_t *shape, int ndim, const ct_tensor *weight,
                        const ct_tensor *bias, double eps, ct_tensor **out);
ct_status ct_dropout(const ct_tensor *x, double p, bool train, ct_tensor **out);
ct_status ct_conv2d(const ct_tensor *x, const ct_tensor *weight, const ct_tensor *bias, const int64_t *stride,
                    const int64_t *padding, const int64_t *dilation, int64_t groups, ct_tensor **out);
/** kind 0 average, 1 max. */
ct_status ct_pool2d(int kind, const ct_tensor *x, const int64_t *kernel, const int64_t *stride,
                    const int64_t *padding, ct_tensor **out);
ct_status ct_adaptive_avg_pool2d(const ct_tensor *x, const int64_t *size, ct_tensor **out);
/** mode 0 nearest, 1 bilinear, 2 bicubic; `size` is [H, W]. */
ct_status ct_interpolate(const ct_tensor *x, const int64_t *size, int mode, bool align_corners,
                         bool antialias, ct_tensor **out);
ct_status ct_softmax(const ct_tensor *x, int64_t dim, bool log, ct_tensor **out);
/** mask may be NULL (bool: true = attend, or float: added); scale <= 0 means 1/sqrt(head_dim). */
ct_status ct_scaled_dot_product_attention(const ct_tensor *q, const ct_tensor *k, const ct_tensor *v,
                                          const ct_tensor *mask, double dropout_p, bool is_causal,
                                          double scale, ct_tensor **out);
/** reduction: 0 none, 1 mean, 2 sum. `weight` may be NULL. Target: class indices (i64) or
 *  probabilities (same shape as the logits). */
ct_status ct_cross_entropy(const ct_tensor *logits, const ct_tensor *target, const ct_tensor *weight,
                           int reduction, int64_t ignore_index, double label_smoothing, ct_tensor **out);
ct_status ct_kl_div(const ct_tensor *input, const ct_tensor *target, int reduction, bool log_target,
                    ct_tensor **out);
ct_status ct_mse_loss(const ct_tensor *a, const ct_tensor *b, int reduction, ct_tensor **out);
ct_status ct_bce_with_logits(const ct_tensor *logits, const ct_tensor *target, int reduction, ct_tensor **out);
ct_status ct_cosine_similarity(const ct_tensor *a, const ct_tensor *b, int64_t dim, double eps,
                               ct_tensor **out);

/* ---- autograd --------------------------------------------------------------------------------- */
ct_status ct_set_requires_grad(ct_tensor *t, bool requires_grad);
/** `grad_output` may be NULL for a scalar. */
ct_status ct_backward(const ct_tensor *t, const ct_tensor *grad_output, bool retain_graph, bool create_graph);
/** The accumulated gradient; *out is NULL when there is none. */
ct_status ct_grad(const ct_tensor *t, ct_tensor **out);
/** Replaces the gradient (`grad` NULL clears it). */
ct_status ct_set_grad(ct_tensor *t, const ct_tensor *grad);
bool ct_grad_enabled(void);
void ct_set_grad_enabled(bool enabled);

/* ---- in-place updates (autograd-aware; use under no-grad for parameters) ---------------------- */
enum ct_inplace_op { CT_ADD_, CT_SUB_, CT_MUL_, CT_DIV_, CT_COPY_ };
ct_status ct_inplace(int op, ct_tensor *a, const ct_tensor *b, double alpha);
enum ct_inplace_scalar_op { CT_ADDS_, CT_MULS_, CT_FILL_, CT_ZERO_ };
ct_status ct_inplace_scalar(int op, ct_tensor *a, double s);
ct_status ct_lerp_(ct_tensor *a, const ct_tensor *end, double weight);
/** For each i: ts[i].lerp_(ends[i], weight) — one call for a whole model (EMA). */
ct_status ct_foreach_lerp_(ct_tensor *const *ts, const ct_tensor *const *ends, int n, double weight);
/** Replaces the data of `t` by `src` (dtype and device may change), keeping the handle (set_data). */
ct_status ct_set_data(ct_tensor *t, const ct_tensor *src);

/* ---- mixed precision -------------------------------------------------------------------------- */
/** Enters a region where autocast for `device_type` is on (computing in `dtype`) or, with `enabled` false,
 *  off; regions nest and `ct_autocast_pop` restores the enclosing state. */
ct_status ct_autocast_push(int device_type, int dtype, bool enabled);
ct_status ct_autocast_pop(int device_type);
/** Gradient-scaler helper: multiplies every gradient of `params` by `inv_scale` (1-element f32 tensor
 *  on their device) and sets `found_inf` (1-element f32) to 1 if any is non-finite. */
ct_status ct_amp_unscale(ct_tensor *const *params, int n, ct_tensor *found_inf, const ct_tensor *inv_scale);

/* ---- optimisation ----------------------------------------------------------------------------- */
/** How `ct_adamw_step` runs: a loop of per-tensor ops, libtorch's multi-tensor `_foreach_*` ops (as
 *  torch.optim.AdamW(foreach=True)), or its fused kernel `_fused_adamw_` (fused=True; CPU and CUDA). */
enum ct_adamw_kernel { CT_ADAMW_PER_TENSOR, CT_ADAMW_FOREACH, CT_ADAMW_FUSED };
/** One AdamW step (torch.optim.AdamW's algorithm) over params with gradients; `step` counts from 1.
 *  Params without a gradient are skipped. Runs without recording gradients and without reading the host. */
ct_status ct_adamw_step(ct_tensor *const *params, ct_tensor *const *exp_avg, ct_tensor *const *exp_avg_sq,
                        int n, double lr, double beta1, double beta2, double eps, double weight_decay,
                        int64_t step, int kernel);
/** Scales all gradients so that their global norm is at most `max_norm` (multi-tensor, on their device,
 *  without a host read); `*total_norm` receives the norm before, a 0-d tensor on the gradients' device. */
ct_status ct_clip_grad_norm(ct_tensor *const *params, int n, double max_norm, double norm_type,
                            ct_tensor **total_norm);

/* ---- distributed (c10d) ----------------------------------------------------------------------- */
/* Collectives run on libtorch's own c10d: rendezvous through a TCPStore, ProcessGroupGloo on the CPU,
 * ProcessGroupNCCL on CUDA (compiled in only when the shim was built against a libtorch with CUDA and
 * NCCL's headers). Every collective waits for its work to finish, at most the group's timeout; a failure
 * or a timeout returns 1 with a message naming the rank and the operation. After a failed collective the
 * group is unusable (its peers disagree about what ran): free it. */
typedef struct ct_store ct_store;
typedef struct ct_process_group ct_process_group;
enum ct_dist_backend { CT_DIST_GLOO, CT_DIST_NCCL };
enum ct_dist_reduce { CT_DIST_SUM, CT_DIST_AVG };
/** Whether this shim was built with `backend` (CT_DIST_GLOO needs Gloo's headers at build time,
 *  CT_DIST_NCCL a CUDA libtorch and NCCL's headers). */
bool ct_dist_backend_available(int backend);
/** A c10d TCPStore at host:port. The master listens on `port` and waits until `world_size` members
 *  (itself included) have connected; the others connect to `host`, retrying; both give up after
 *  `timeout_ms`, which is also the store's timeout for later waits. Caller frees with ct_store_free. */
ct_status ct_store_new(const char *host, int port, bool is_master, int world_size, int64_t timeout_ms,
                       ct_store **out);
void ct_store_free(ct_store *s);
/** Rank `rank` of a group of `world_size` processes over `store` (borrowed: the group keeps its own
 *  reference). Gloo's TCP device binds to `gloo_hostname` when given ("127.0.0.1" for one machine), else to
 *  the network interface `gloo_interface` when given, else to the address this machine's hostname resolves
 *  to. `timeout_ms` bounds each collective. Caller frees with ct_process_group_free. */
ct_status ct_process_group_new(int backend, ct_store *store, int rank, int world_size, const char *gloo_hostname,
                               const char *gloo_interface, int64_t timeout_ms, ct_process_group **out);
void ct_process_group_free(ct_process_group *pg);
/** In place over every rank: `t` becomes the sum (CT_DIST_SUM) or the mean (CT_DIST_AVG) of all ranks' `t`.
 *  `t` must be contiguous, on the group's device, with the same shape and dtype on every rank. */
ct_status ct_dist_all_reduce(ct_process_group *pg, ct_tensor *t, int op);
/** In place: every rank's `t` becomes rank `root`'s. */
ct_status ct_dist_broadcast(ct_process_group *pg, ct_tensor *t, int root);
/** A new tensor [world_size, ...t's shape] whose row r is rank r's `t`. */
ct_status ct_dist_all_gather(ct_process_group *pg, const ct_tensor *t, ct_tensor **out);
/** Returns once every rank has called it. */
ct_status ct_dist_barrier(ct_process_group *pg);

/* Gradient averaging overlapped with the backward pass (DistributedDataParallel's reducer): hooks on the
 * parameters' gradient accumulators launch a bucket's all-reduce as soon as backward has produced every
 * gradient in it, while backward goes on computing the rest. Buckets are launched in bucket order on every
 * rank (a bucket waits for the ones before it), so the ranks' collectives always match. */
typedef struct ct_grad_reducer ct_grad_reducer;
/** Hooks `params` (leaf tensors that require grad; the reducer keeps its own references). Bucket b holds the
 *  next `bucket_sizes[b]` entries of `bucket_members` (indices into `params`, each exactly once; one dtype and
 *  device per bucket). The group is borrowed and must outlive the reducer. Free with ct_grad_reducer_free,
 *  which removes the hooks. */
ct_status ct_grad_reducer_new(ct_process_group *pg, ct_tensor *const *params, int n, const int64_t *bucket_members,
                              const int64_t *bucket_sizes, int bucket_count, ct_grad_reducer **out);
void ct_grad_reducer_free(ct_grad_reducer *r);
/** Arms the hooks for the next backward pass only, the one from `loss` (the last of an optimizer step:
 *  earlier ones, as in gradient accumulation or an adversarial pass, only accumulate). Parameters that
 *  `loss`'s graph does not reach count as ready at once (DDP's find_unused_parameters), so that a bucket
 *  holding one does not wait for the end of backward. `stop_vote` (0 or 1) rides in the last bucket.
 *  With `loss` NULL, called after the backward pass, it only arms: `finish` then launches every bucket (no
 *  overlap, DDP without its hooks). */
ct_status ct_grad_reducer_prepare(ct_grad_reducer *r, const ct_tensor *loss, double stop_vote);
/** After that backward pass: launches the buckets it left incomplete (a parameter without a gradient on this
 *  rank counts as zeros), waits for every bucket (at most the group's timeout each) and replaces every
 *  gradient by its mean over the ranks; a parameter that no rank had a gradient for keeps none. `*stop_votes`:
 *  a one-element tensor, the share of ranks that voted to stop; `*launched_before_finish`: the buckets whose
 *  all-reduce had started before this call (the overlap). An error inside a hook is reported here. */
ct_status ct_grad_reducer_finish(ct_grad_reducer *r, ct_tensor **stop_votes, int *launched_before_finish);

#pragma GCC visibility pop
#ifdef __cplusplus
}
#endif
#endif
