// ctorch.cpp — the implementation of ctorch.h over libtorch's C++ API. Every entry point catches every
// exception (CT_TRY) and reports it through the thread-local error text.
#include "ctorch.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/autocast_mode.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>
#include <torch/utils.h>
#include <torch/version.h>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
// Gloo's and NCCL's process groups need headers the torch wheel does not ship (Gloo's own; CUDA's and
// NCCL's): scripts/build-shim.sh defines CT_WITH_GLOO / CT_WITH_NCCL only when it found them.
#ifdef CT_WITH_GLOO
#define USE_C10D_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef CT_WITH_NCCL
#define USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <torch/csrc/autograd/variable.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>

#include <dlfcn.h>
#include <malloc.h>
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <limits>
#include <optional>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <unordered_set>
#include <cstring>
#include <string>
#include <vector>

struct ct_tensor {
    at::Tensor t;
};
struct ct_generator {
    at::Generator g;
};
struct ct_store {
    c10::intrusive_ptr<c10d::Store> store;
};
struct ct_process_group {
    c10::intrusive_ptr<c10d::Backend> backend;
    const char *backend_name;
    int rank;
    int world_size;
    std::chrono::milliseconds timeout;
};
namespace {
struct GradReducerState;
}
struct ct_grad_reducer {
    std::shared_ptr<GradReducerState> state;
    // Each parameter's gradient accumulator, kept alive so that every backward pass reuses it (and its hook).
    std::vector<std::pair<c10::intrusive_ptr<torch::autograd::Node>, std::uintptr_t>> hooks;
};

namespace {

thread_local std::string last_error;

// Every read of tensor data on the host (a copy out, an item, an op whose output size depends on the data):
// on a GPU each one waits for the device to finish its queue. Counted per thread, so that a test counts its
// own training loop's reads whatever runs beside it.
thread_local int64_t host_reads = 0;
void count_host_read() { host_reads += 1; }

struct AutocastFrame {
    c10::DeviceType device;
    bool was_enabled;
    at::ScalarType previous_dtype;
};
thread_local std::vector<AutocastFrame> autocast_stack;

const at::Tensor &T(const ct_tensor *t) {
    if (t == nullptr) throw std::invalid_argument("invalid tensor (the result of an earlier failed operation)");
    return t->t;
}
at::Tensor &M(ct_tensor *t) {
    if (t == nullptr) throw std::invalid_argument("invalid tensor (the result of an earlier failed operation)");
    return t->t;
}
ct_tensor *wrap(at::Tensor t) { return new ct_tensor{std::move(t)}; }
c10::optional<at::Tensor> optional(const ct_tensor *t) {
    if (t == nullptr) return c10::nullopt;
    return t->t;
}
at::IntArrayRef ints(const int64_t *values, int n) { return at::IntArrayRef(values, static_cast<size_t>(n)); }
at::TensorOptions options(int dtype, int device_type, int device_index) {
    return at::TensorOptions()
        .dtype(static_cast<at::ScalarType>(dtype))
        .device(at::Device(static_cast<c10::DeviceType>(device_type), static_cast<c10::DeviceIndex>(device_index)));
}
c10::optional<at::Generator> generator(ct_generator *g) {
    if (g == nullptr) return c10::nullopt;
    return g->g;
}
std::vector<at::Tensor> tensors(const ct_tensor *const *ts, int n) {
    std::vector<at::Tensor> out;
    out.reserve(static_cast<size_t>(n));
    for (int i = 0; i < n; i++) out.push_back(T(ts[i]));
    return out;
}
at::Scalar scalar(double s, bool integer) {
    if (integer) return at::Scalar(static_cast<int64_t>(s));
    return at::Scalar(s);
}

}  // namespace

#define CT_TRY(body)                                                   \
    try {                                                              \
        body;                                                          \
        return 0;                                                      \
    } catch (const c10::Error &e) {                                    \
        last_error = e.what_without_backtrace();                       \
    } catch (const std::exception &e) {                                \
        last_error = e.what();                                         \
    } catch (...) {                                                    \
        last_error = "unknown C++ exception inside libtorch";          \
    }                                                                  \
    return 1;

#define CT_OUT(expr) CT_TRY(*out = wrap(expr))

extern "C" {

// ---- library ----------------------------------------------------------------------------------
int ct_abi_version(void) { return 2; }
const char *ct_last_error(void) { return last_error.c_str(); }
const char *ct_torch_version(void) { return TORCH_VERSION; }
const char *ct_torch_library_path(void) {
    static std::string path = [] {
        Dl_info info;
        if (dladdr(reinterpret_cast<void *>(&at::set_num_threads), &info) != 0 && info.dli_fname != nullptr)
            return std::string(info.dli_fname);
        return std::string();
    }();
    return path.c_str();
}
void ct_set_num_threads(int n) { at::set_num_threads(n); }
void ct_fix_mmap_threshold(int bytes) { mallopt(M_MMAP_THRESHOLD, bytes); }
int ct_get_num_threads(void) { return at::get_num_threads(); }
void ct_manual_seed(uint64_t seed) {
    try {
        torch::manual_seed(seed);
    } catch (...) {
    }
}
bool ct_cuda_is_available(void) {
    try {
        return torch::cuda::is_available();
    } catch (...) {
        return false;
    }
}
int ct_cuda_device_count(void) {
    try {
        return static_cast<int>(torch::cuda::device_count());
    } catch (...) {
        return 0;
    }
}
long ct_cudnn_version(void) {
    try {
        const auto &hooks = at::detail::getCUDAHooks();
        if (!hooks.hasCUDA() || !hooks.hasCuDNN()) return 0;
        return hooks.versionCuDNN();
    } catch (...) {
        return 0;
    }
}
ct_status ct_cuda_device_name(int index, char *buffer, size_t capacity) {
    CT_TRY({
        using GetProperties = int (*)(void *, int);
        auto get = reinterpret_cast<GetProperties>(dlsym(RTLD_DEFAULT, "cudaGetDeviceProperties_v2"));
        if (get == nullptr) get = reinterpret_cast<GetProperties>(dlsym(RTLD_DEFAULT, "cudaGetDeviceProperties"));
        if (get == nullptr) throw std::runtime_error("the CUDA runtime is not loaded (no cudaGetDeviceProperties)");
        std::vector<char> properties(16384, 0);  // cudaDeviceProp starts with `char name[256]`
        if (get(properties.data(), index) != 0)
            throw std::runtime_error("cudaGetDeviceProperties failed for device " + std::to_string(index));
        std::snprintf(buffer, capacity, "%.255s", properties.data());
    })
}
ct_status ct_cuda_synchronize(int index) {
    CT_TRY(at::detail::getCUDAHooks().deviceSynchronize(static_cast<c10::DeviceIndex>(index)))
}
char *ct_build_config(void) {
    try {
        return strdup(at::show_config().c_str());
    } catch (...) {
        return strdup("");
    }
}
void ct_string_free(char *s) { free(s); }

// ---- lifetime and inspection ------------------------------------------------------------------
void ct_tensor_free(ct_tensor *t) { delete t; }
int ct_dim(const ct_tensor *t) { return t == nullptr ? -1 : static_cast<int>(t->t.dim()); }
void ct_sizes(const ct_tensor *t, int64_t *sizes) {
    if (t == nullptr) return;
    auto s = t->t.sizes();
    std::copy(s.begin(), s.end(), sizes);
}
int ct_dtype(const ct_tensor *t) { return t == nullptr ? -1 : static_cast<int>(t->t.scalar_type()); }
void ct_device(const ct_tensor *t, int *type, int *index) {
    if (t == nullptr) {
        *type = -1;
        *index = -1;
        return;
    }
    *type = static_cast<int>(t->t.device().type());
    *index = static_cast<int>(t->t.device().index());
}
int64_t ct_numel(const ct_tensor *t) { return t == nullptr ? -1 : t->t.numel(); }
bool ct_requires_grad(const ct_tensor *t) { return t != nullptr && t->t.requires_grad(); }
bool ct_is_contiguous(const ct_tensor *t) { return t != nullptr && t->t.is_contiguous(); }
bool ct_same_data(const ct_tensor *a, const ct_tensor *b) {
    return a != nullptr && b != nullptr && a->t.data_ptr() == b->t.data_ptr();
}

// ---- creation ---------------------------------------------------------------------------------
ct_status ct_from_data(const void *data, size_t nbytes, int dtype, const int64_t *shape, int ndim,
                       ct_tensor **out) {
    CT_TRY({
        auto t = at::empty(ints(shape, ndim), at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype)));
        if (t.nbytes() != nbytes)
            throw std::invalid_argument("from_data: shape " + c10::str(t.sizes()) + " of " +
                                        c10::toString(t.scalar_type()) + " needs " + std::to_string(t.nbytes()) +
                                        " bytes, got " + std::to_string(nbytes));
        if (nbytes > 0) std::memcpy(t.data_ptr(), data, nbytes);
        *out = wrap(std::move(t));
    })
}
ct_status ct_full(const int64_t *shape, int ndim, double value, int dtype, int device_type, int device_index,
                  ct_tensor **out) {
    CT_OUT(at::full(ints(shape, ndim), value, options(dtype, device_type, device_index)))
}
ct_status ct_empty(const int64_t *shape, int ndim, int dtype, int device_type, int device_index, bool pin_memory,
                   ct_tensor **out) {
    CT_OUT(at::empty(ints(shape, ndim), options(dtype, device_type, device_index).pinned_memory(pin_memory)))
}
ct_status ct_arange(double start, double end, double step, int dtype, int device_type, int device_index,
                    ct_tensor **out) {
    CT_OUT(at::arange(start, end, step, options(dtype, device_type, device_index)))
}
ct_status ct_random(int kind, const int64_t *shape, int ndim, int dtype, int device_type, int device_index,
                    ct_generator *gen, ct_tensor **out) {
    CT_TRY({
        // A seeded generator is a CPU generator: draw on the CPU, then move, so that a seed gives the same
        // numbers on every device.
        bool on_cpu = gen != nullptr || device_type == 0;
        auto opts = on_cpu ? options(dtype, 0, -1) : options(dtype, device_type, device_index);
        at::Tensor t = kind == 0 ? at::randn(ints(shape, ndim), generator(gen), opts)
                                 : at::rand(ints(shape, ndim), generator(gen), opts);
        if (on_cpu && device_type != 0) t = t.to(options(dtype, device_type, device_index).device());
        *out = wrap(std::move(t));
    })
}
ct_status ct_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, int dtype, int device_type,
                     int device_index, ct_generator *gen, ct_tensor **out) {
    CT_TRY({
        bool on_cpu = gen != nullptr || device_type == 0;
        auto opts = on_cpu ? options(dtype, 0, -1) : options(dtype, device_type, device_index);
        auto t = at::randint(low, high, ints(shape, ndim), generator(gen), opts);
        if (on_cpu && device_type != 0) t = t.to(options(dtype, device_type, device_index).device());
        *out = wrap(std::move(t));
    })
}
ct_status ct_randperm(int64_t n, int device_type, int device_index, ct_generator *gen, ct_tensor **out) {
    CT_TRY({
        auto t = at::randperm(n, generator(gen), options(static_cast<int>(at::kLong), 0, -1));
        if (device_type != 0) t = t.to(options(static_cast<int>(at::kLong), device_type, device_index).device());
        *out = wrap(std::move(t));
    })
}
ct_status ct_init_(ct_tensor *t, int kind, double a, double b, ct_generator *gen) {
    CT_TRY({
        at::NoGradGuard no_grad;
        auto &x = M(t);
        if (gen != nullptr && x.device().type() != at::kCPU) {
            auto cpu = at::empty(x.sizes(), x.options().device(at::kCPU));
            if (kind == 0) cpu.normal_(a, b, generator(gen)); else cpu.uniform_(a, b, generator(gen));
            x.copy_(cpu);
        } else if (kind == 0) {
            x.normal_(a, b, generator(gen));
        } else {
            x.uniform_(a, b, generator(gen));
        }
    })
}

// ---- generators -------------------------------------------------------------------------------
ct_status ct_generator_new(uint64_t seed, int device_type, ct_generator **out) {
    CT_TRY({
        if (device_type == 0) {
            *out = new ct_generator{at::make_generator<at::CPUGeneratorImpl>(seed)};
        } else {
            // A generator of the device's own type (CUDA), independent of its default one.
            auto gen = at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device_type - 1))).clone();
            gen.set_current_seed(seed);
            *out = new ct_generator{gen};
        }
    })
}
void ct_generator_free(ct_generator *g) { delete g; }
ct_status ct_generator_get_state(ct_generator *g, ct_tensor **out) {
    CT_TRY({
        at::Generator gen = g ? g->g : at::detail::getDefaultCPUGenerator();
        std::lock_guard<std::mutex> lock(gen.mutex());
        *out = wrap(gen.get_state());
    })
}
ct_status ct_generator_set_state(ct_generator *g, const ct_tensor *state) {
    CT_TRY({
        at::Generator gen = g ? g->g : at::detail::getDefaultCPUGenerator();
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_state(T(state));
    })
}

// The default generator of a device: dropout (and other in-op randomness) draws from it.
static at::Generator default_generator(int device_type, int device_index) {
    if (device_type == 0) return at::detail::getDefaultCPUGenerator();
    return at::globalContext().defaultGenerator(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(device_index)));
}
ct_status ct_default_generator_get_state(int device_type, int device_index, ct_tensor **out) {
    CT_TRY({
        at::Generator gen = default_generator(device_type, device_index);
        std::lock_guard<std::mutex> lock(gen.mutex());
        *out = wrap(gen.get_state());
    })
}
ct_status ct_default_generator_set_state(int device_type, int device_index, const ct_tensor *state) {
    CT_TRY({
        at::Generator gen = default_generator(device_type, device_index);
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_state(T(state));
    })
}
ct_status ct_default_generator_seed(int device_type, int device_index, uint64_t seed) {
    CT_TRY({
        at::Generator gen = default_generator(device_type, device_index);
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_current_seed(seed);
    })
}

// ---- reading data back ------------------------------------------------------------------------
ct_status ct_copy_to_buffer(const ct_tensor *t, void *dst, size_t nbytes) {
    CT_TRY({
        count_host_read();
        auto cpu = T(t).to(at::kCPU).contiguous();
        if (cpu.nbytes() != nbytes)
            throw std::invalid_argument("copy_to_buffer: tensor has " + std::to_string(cpu.nbytes()) +
                                        " bytes, buffer " + std::to_string(nbytes));
        if (nbytes > 0) std::memcpy(dst, cpu.data_ptr(), nbytes);
    })
}
ct_status ct_item_double(const ct_tensor *t, double *out) {
    CT_TRY({
        count_host_read();
        *out = T(t).item<double>();
    })
}
ct_status ct_item_int64(const ct_tensor *t, int64_t *out) {
    CT_TRY({
        count_host_read();
        *out = T(t).item<int64_t>();
    })
}
int64_t ct_host_read_count(void) { return host_reads; }

// ---- element-wise -----------------------------------------------------------------------------
ct_status ct_unary(int op, const ct_tensor *a, ct_tensor **out) {
    CT_TRY({
        const auto &x = T(a);
        at::Tensor r;
        switch (op) {
            case CT_NEG: r = at::neg(x); break;
            case CT_EXP: r = at::exp(x); break;
            case CT_LOG: r = at::log(x); break;
            case CT_SQRT: r = at::sqrt(x); break;
            case CT_RSQRT: r = at::rsqrt(x); break;
            case CT_ABS: r = at::abs(x); break;
            case CT_TANH: r = at::tanh(x); break;
            case CT_SIGMOID: r = at::sigmoid(x); break;
            case CT_RELU: r = at::relu(x); break;
            case CT_GELU_ERF: r = at::gelu(x, "none"); break;
            case CT_GELU_TANH: r = at::gelu(x, "tanh"); break;
            case CT_SIN: r = at::sin(x); break;
            case CT_COS: r = at::cos(x); break;
            case CT_ERF: r = at::erf(x); break;
            case CT_SIGN: r = at::sign(x); break;
            case CT_FLOOR: r = at::floor(x); break;
            case CT_CEIL: r = at::ceil(x); break;
            case CT_ROUND: r = at::round(x); break;
            case CT_LOGICAL_NOT: r = at::logical_not(x); break;
            case CT_ISFINITE: r = at::isfinite(x); break;
            case CT_ISNAN: r = at::isnan(x); break;
            case CT_SQUARE: r = at::square(x); break;
            case CT_RECIPROCAL: r = at::reciprocal(x); break;
            case CT_SILU: r = at::silu(x); break;
            case CT_LOG1P: r = at::log1p(x); break;
            case CT_CLONE: r = x.clone(); break;
            case CT_DETACH: r = x.detach(); break;
            case CT_CONTIGUOUS: r = x.contiguous(); break;
            case CT_PIN_MEMORY: r = x.is_pinned() ? x : x.pin_memory(); break;
            default: throw std::invalid_argument("unknown unary op " + std::to_string(op));
        }
        *out = wrap(std::move(r));
    })
}

ct_status ct_binary(int op, const ct_tensor *a, const ct_tensor *b, ct_tensor **out) {
    CT_TRY({
        const auto &x = T(a);
        const auto &y = T(b);
        at::Tensor r;
        switch (op) {
            case CT_ADD: r = at::add(x, y); break;
            case CT_SUB: r = at::sub(x, y); break;
            case CT_MUL: r = at::mul(x, y); break;
            case CT_DIV: r = at::div(x, y); break;
            case CT_POW: r = at::pow(x, y); break;
            case CT_MAXIMUM: r = at::maximum(x, y); break;
            case CT_MINIMUM: r = at::minimum(x, y); break;
            case CT_EQ: r = at::eq(x, y); break;
            case CT_NE: r = at::ne(x, y); break;
            case CT_LT: r = at::lt(x, y); break;
            case CT_LE: r = at::le(x, y); break;
            case CT_GT: r = at::gt(x, y); break;
            case CT_GE: r = at::ge(x, y); break;
            case CT_MATMUL: r = at::matmul(x, y); break;
            case CT_BMM: r = at::bmm(x, y); break;
            case CT_LOGICAL_AND: r = at::logical_and(x, y); break;
            case CT_LOGICAL_OR: r = at::logical_or(x, y); break;
            case CT_REMAINDER: r = at::remainder(x, y); break;
            case CT_FLOOR_DIVIDE: r = at::floor_divide(x, y); break;
            case CT_RSUB: r = at::sub(y, x); break;
            case CT_RDIV: r = at::div(y, x); break;
            default: throw std::invalid_argument("unknown binary op " + std::to_string(op));
        }
        *out = wrap(std::move(r));
    })
}

ct_status ct_binary_scalar(int op, const ct_tensor *a, double s, bool scalar_is_integer, ct_tensor **out) {
    CT_TRY({
        const auto &x = T(a);
        auto v = scalar(s, scalar_is_integer);
        at::Tensor r;
        switch (op) {
            case CT_ADD: r = at::add(x, v); break;
            case CT_SUB: r = at::sub(x, v); break;
            case CT_MUL: r = at::mul(x, v); break;
            case CT_DIV: r = at::div(x, v); break;
            case CT_POW: r = at::pow(x, v); break;
            case CT_MAXIMUM: r = at::clamp_min(x, v); break;
            case CT_MINIMUM: r = at::clamp_max(x, v); break;
            case CT_EQ: r = at::eq(x, v); break;
            case CT_NE: r = at::ne(x, v); break;
            case CT_LT: r = at::lt(x, v); break;
            case CT_LE: r = at::le(x, v); break;
            case CT_GT: r = at::gt(x, v); break;
            case CT_GE: r = at::ge(x, v); break;
            case CT_REMAINDER: r = at::remainder(x, v); break;
            case CT_FLOOR_DIVIDE: r = at::floor_divide(x, at::scalar_tensor(v, x.options())); break;
            case CT_RSUB: r = at::rsub(x, v); break;
            case CT_RDIV: r = at::mul(at::reciprocal(x), v); break;
            default: throw std::invalid_argument("unknown scalar op " + std::to_string(op));
        }
        *out = wrap(std::move(r));
    })
}
ct_status ct_clamp(const ct_tensor *a, double lo, bool has_lo, double hi, bool has_hi, ct_tensor **out) {
    CT_OUT(at::clamp(T(a), has_lo ? c10::optional<at::Scalar>(lo) : c10::nullopt,
                     has_hi ? c10::optional<at::Scalar>(hi) : c10::nullopt))
}
ct_status ct_where(const ct_tensor *condition, const ct_tensor *a, const ct_tensor *b, ct_tensor **out) {
    CT_OUT(at::where(T(condition), T(a), T(b)))
}
ct_status ct_masked_fill(const ct_tensor *a, const ct_tensor *mask, double value, ct_tensor **out) {
    CT_OUT(at::masked_fill(T(a), T(mask), value))
}
ct_status ct_lerp(const ct_tensor *a, const ct_tensor *end, double weight, ct_tensor **out) {
    CT_OUT(at::lerp(T(a), T(end), weight))
}

// ---- reductions -------------------------------------------------------------------------------
ct_status ct_reduce(int op, const ct_tensor *a, const int64_t *dims, int ndims, bool keepdim, double p,
                    ct_tensor **out) {
    CT_TRY({
        const auto &x = T(a);
        std::vector<int64_t> all;
        if (ndims < 0) {
            for (int64_t d = 0; d < x.dim(); d++) all.push_back(d);
        } else {
            all.assign(dims, dims + ndims);
        }
        at::IntArrayRef d(all);
        at::OptionalIntArrayRef od(d);
        at::Tensor r;
        switch (op) {
            case CT_SUM: r = at::sum(x, od, keepdim); break;
            case CT_MEAN: r = at::mean(x, od, keepdim); break;
            case CT_AMAX: r = at::amax(x, d, keepdim); break;
            case CT_AMIN: r = at::amin(x, d, keepdim); break;
            case CT_PROD: {
                r = x;
                std::vector<int64_t> sorted(all.rbegin(), all.rend());
                std::sort(sorted.begin(), sorted.end(), std::greater<int64_t>());
                for (auto dim : sorted) r = at::prod(r, dim, keepdim);
                if (all.empty()) r = x.clone();
                break;
            }
            case CT_VAR: r = at::var(x, od, at::Scalar(p), keepdim); break;
            case CT_STD: r = at::std(x, od, at::Scalar(p), keepdim); break;
            case CT_LOGSUMEXP: r = at::logsumexp(x, d, keepdim); break;
            case CT_ALL: r = ndims < 0 && !keepdim ? at::all(x) : at::all(x, od, keepdim); break;
            case CT_ANY: r = ndims < 0 && !keepdim ? at::any(x) : at::any(x, od, keepdim); break;
            case CT_NORM: r = at::linalg_vector_norm(x, at::Scalar(p), od, keepdim); break;
            default: throw std::invalid_argument("unknown reduction " + std::to_string(op));
        }
        *out = wrap(std::move(r));
    })
}
ct_status ct_extremum_dim(int kind, const ct_tensor *a, int64_t dim, bool keepdim, ct_tensor **values,
                          ct_tensor **indices) {
    CT_TRY({
        auto r = kind == 0 ? at::max(T(a), dim, keepdim) : at::min(T(a), dim, keepdim);
        *values = wrap(std::get<0>(r));
        *indices = wrap(std::get<1>(r));
    })
}
ct_status ct_arg_extremum(int kind, const ct_tensor *a, int64_t dim, bool keepdim, ct_tensor **out) {
    CT_OUT(kind == 0 ? at::argmax(T(a), dim, keepdim) : at::argmin(T(a), dim, keepdim))
}
ct_status ct_topk(const ct_tensor *a, int64_t k, int64_t dim, bool largest, bool sorted, ct_tensor **values,
                  ct_tensor **indices) {
    CT_TRY({
        auto r = at::topk(T(a), k, dim, largest, sorted);
        *values = wrap(std::get<0>(r));
        *indices = wrap(std::get<1>(r));
    })
}
ct_status ct_sort(const ct_tensor *a, int64_t dim, bool descending, ct_tensor **values, ct_tensor **indices) {
    CT_TRY({
        auto r = at::sort(T(a), /*stable=*/true, dim, descending);
        *values = wrap(std::get<0>(r));
        *indices = wrap(std::get<1>(r));
    })
}
ct_status ct_cumsum(const ct_tensor *a, int64_t dim, ct_tensor **out) { CT_OUT(at::cumsum(T(a), dim)) }

// ---- shape ------------------------------------------------------------------------------------
ct_status ct_reshape(const ct_tensor *a, const int64_t *shape, int ndim, ct_tensor **out) {
    CT_OUT(at::reshape(T(a), ints(shape, ndim)))
}
ct_status ct_view(const ct_tensor *a, const int64_t *shape, int ndim, ct_tensor **out) {
    CT_OUT(T(a).view(ints(shape, ndim)))
}
ct_status ct_permute(const ct_tensor *a, const int64_t *dims, int ndim, ct_tensor **out) {
    CT_OUT(T(a).permute(ints(dims, ndim)))
}
ct_status ct_transpose(const ct_tensor *a, int64_t d0, int64_t d1, ct_tensor **out) {
    CT_OUT(at::transpose(T(a), d0, d1))
}
ct_status ct_expand(const ct_tensor *a, const int64_t *shape, int ndim, ct_tensor **out) {
    CT_OUT(T(a).expand(ints(shape, ndim)))
}
ct_status ct_repeat(const ct_tensor *a, const int64_t *repeats, int ndim, ct_tensor **out) {
    CT_OUT(T(a).repeat(ints(repeats, ndim)))
}
ct_status ct_squeeze(const ct_tensor *a, int64_t dim, ct_tensor **out) { CT_OUT(at::squeeze(T(a), dim)) }
ct_status ct_unsqueeze(const ct_tensor *a, int64_t dim, ct_tensor **out) { CT_OUT(at::unsqueeze(T(a), dim)) }
ct_status ct_flatten(const ct_tensor *a, int64_t start, int64_t end, ct_tensor **out) {
    CT_OUT(at::flatten(T(a), start, end))
}
ct_status ct_slice(const ct_tensor *a, int64_t dim, int64_t start, int64_t end, int64_t step, ct_tensor **out) {
    CT_OUT(at::slice(T(a), dim, start, end, step))
}
ct_status ct_select(const ct_tensor *a, int64_t dim, int64_t index, ct_tensor **out) {
    CT_OUT(at::select(T(a), dim, index))
}
ct_status ct_flip(const ct_tensor *a, const int64_t *dims, int ndim, ct_tensor **out) {
    CT_OUT(at::flip(T(a), ints(dims, ndim)))
}
ct_status ct_roll(const ct_tensor *a, const int64_t *shifts, const int64_t *dims, int n, ct_tensor **out) {
    CT_OUT(at::roll(T(a), ints(shifts, n), ints(dims, n)))
}
ct_status ct_pad(const ct_tensor *a, const int64_t *pad, int npad, double value, ct_tensor **out) {
    CT_OUT(at::constant_pad_nd(T(a), ints(pad, npad), value))
}
ct_status ct_cat(const ct_tensor *const *ts, int n, int64_t dim, ct_tensor **out) {
    CT_OUT(at::cat(tensors(ts, n), dim))
}
ct_status ct_stack(const ct_tensor *const *ts, int n, int64_t dim, ct_tensor **out) {
    CT_OUT(at::stack(tensors(ts, n), dim))
}
ct_status ct_split(const ct_tensor *a, const int64_t *sizes, int nsizes, int64_t dim, ct_tensor **outs) {
    CT_TRY({
        auto parts = at::split_with_sizes(T(a), ints(sizes, nsizes), dim);
        for (size_t i = 0; i < parts.size(); i++) outs[i] = wrap(parts[i]);
    })
}
ct_status ct_index_select(const ct_tensor *a, int64_t dim, const ct_tensor *index, ct_tensor **out) {
    CT_OUT(at::index_select(T(a), dim, T(index)))
}
ct_status ct_gather(const ct_tensor *a, int64_t dim, const ct_tensor *index, ct_tensor **out) {
    CT_OUT(at::gather(T(a), dim, T(index)))
}
ct_status ct_scatter(int mode, const ct_tensor *a, int64_t dim, const ct_tensor *index, const ct_tensor *src,
                     ct_tensor **out) {
    CT_OUT(mode == 0 ? at::scatter(T(a), dim, T(index), T(src)) : at::scatter_add(T(a), dim, T(index), T(src)))
}
ct_status ct_masked_select(const ct_tensor *a, const ct_tensor *mask, ct_tensor **out) {
    count_host_read();  // the output's size is read from the mask on the host
    CT_OUT(at::masked_select(T(a), T(mask)))
}
ct_status ct_one_hot(const ct_tensor *a, int64_t num_classes, ct_tensor **out) {
    CT_OUT(at::one_hot(T(a), num_classes))
}
ct_status ct_tril(const ct_tensor *a, int64_t diagonal, ct_tensor **out) { CT_OUT(at::tril(T(a), diagonal)) }

// ---- conversion -------------------------------------------------------------------------------
ct_status ct_to(const ct_tensor *a, int dtype, int device_type, int device_index, bool non_blocking,
                ct_tensor **out) {
    CT_TRY({
        const auto &x = T(a);
        auto type = dtype < 0 ? x.scalar_type() : static_cast<at::ScalarType>(dtype);
        auto device = device_type < 0 ? x.device()
                                      : at::Device(static_cast<c10::DeviceType>(device_type),
                                                   static_cast<c10::DeviceIndex>(device_index));
        *out = wrap(x.to(device, type, non_blocking));
    })
}

// ---- neural-network functions -----------------------------------------------------------------
ct_status ct_linear(const ct_tensor *x, const ct_tensor *weight, const ct_tensor *bias, ct_tensor **out) {
    CT_OUT(at::linear(T(x), T(weight), optional(bias)))
}
ct_status ct_embedding(const ct_tensor *weight, const ct_tensor *ids, int64_t padding_idx, ct_tensor **out) {
    CT_OUT(at::embedding(T(weight), T(ids), padding_idx))
}
ct_status ct_layer_norm(const ct_tensor *x, const int64_t *shape, int ndim, const ct_tensor *weight,
                        const ct_tensor *bias, double eps, ct_tensor **out) {
    CT_OUT(at::layer_norm(T(x), ints(shape, ndim), optional(weight), optional(bias), eps))
}
// The generator dropout draws from on this thread while one is set (a training run's own stream), else the
// device's default generator.
static thread_local std::optional<at::Generator> tl_dropout_generator;

ct_status ct_set_dropout_generator(ct_generator *g) {
    CT_TRY({
        if (g) tl_dropout_generator = g->g;
        else tl_dropout_generator.reset();
    })
}

// x · mask / (1 − p) with mask ~ Bernoulli(1 − p) drawn from the thread's dropout generator.
static at::Tensor dropout_with_generator(const at::Tensor &x, double p) {
    if (p >= 1) return at::zeros_like(x);
    auto keep = at::empty_like(x).bernoulli_(1 - p, *tl_dropout_generator);
    return x * keep * (1.0 / (1 - p));
}

ct_status ct_dropout(const ct_tensor *x, double p, bool train, ct_tensor **out) {
    CT_TRY({
        if (train && p > 0 && tl_dropout_generator) *out = wrap(dropout_with_generator(T(x), p));
        else *out = wrap(at::dropout(T(x), p, train));
    })
}
ct_status ct_conv2d(const ct_tensor *x, const ct_tensor *weight, const ct_tensor *bias, const int64_t *stride,
                    const int64_t *padding, const int64_t *dilation, int64_t groups, ct_tensor **out) {
    CT_OUT(at::conv2d(T(x), T(weight), optional(bias), ints(stride, 2), ints(padding, 2), ints(dilation, 2), groups))
}
ct_status ct_pool2d(int kind, const ct_tensor *x, const int64_t *kernel, const int64_t *stride,
                    const int64_t *padding, ct_tensor **out) {
    CT_OUT(kind == 0 ? at::avg_pool2d(T(x), ints(kernel, 2), ints(stride, 2), ints(padding, 2))
                     : at::max_pool2d(T(x), ints(kernel, 2), ints(stride, 2), ints(padding, 2)))
}
ct_status ct_adaptive_avg_pool2d(const ct_tensor *x, const int64_t *size, ct_tensor **out) {
    CT_OUT(at::adaptive_avg_pool2d(T(x), ints(size, 2)))
}
ct_status ct_interpolate(const ct_tensor *x, const int64_t *size, int mode, bool align_corners, bool antialias,
                         ct_tensor **out) {
    CT_TRY({
        const auto &t = T(x);
        auto s = ints(size, 2);
        at::Tensor r;
        switch (mode) {
            case 0: r = at::upsample_nearest2d(t, s); break;
            case 1: r = antialias ? at::_upsample_bilinear2d_aa(t, s, align_corners)
                                  : at::upsample_bilinear2d(t, s, align_corners); break;
            case 2: r = antialias ? at::_upsample_bicubic2d_aa(t, s, align_corners)
                                  : at::upsample_bicubic2d(t, s, align_corners); break;
            default: throw std::invalid_argument("unknown interpolation mode " + std::to_string(mode));
        }
        *out = wrap(std::move(r));
    })
}
ct_status ct_softmax(const ct_tensor *x, int64_t dim, bool log, ct_tensor **out) {
    CT_OUT(log ? at::log_softmax(T(x), dim) : at::softmax(T(x), dim))
}
ct_status ct_scaled_dot_product_attention(const ct_tensor *q, const ct_tensor *k, const ct_tensor *v,
                                          const ct_tensor *mask, double dropout_p, bool is_causal, double scale,
                                          ct_tensor **out) {
    CT_TRY({
        if (dropout_p > 0 && tl_dropout_generator) {
            // Attention dropout from the run's own generator: the math of SDPA written out (the fused kernels
            // draw from the device's default generator).
            const at::Tensor &query = T(q);
            const at::Tensor &key = T(k);
            const at::Tensor &value = T(v);
            double factor = scale > 0 ? scale : 1.0 / std::sqrt(static_cast<double>(query.size(-1)));
            auto scores = at::matmul(query, key.transpose(-2, -1)) * factor;
            if (is_causal) {
                auto causal = at::ones({query.size(-2), key.size(-2)}, query.options().dtype(at::kBool)).tril();
                scores = scores.masked_fill(causal.logical_not(), -std::numeric_limits<double>::infinity());
            }
            if (mask) {
                const auto &m = T(mask);
                scores = m.scalar_type() == at::kBool
                    ? scores.masked_fill(m.logical_not(), -std::numeric_limits<double>::infinity())
                    : scores + m;
            }
            auto weights = dropout_with_generator(at::softmax(scores, -1), dropout_p);
            *out = wrap(at::matmul(weights, value));
        } else {
            *out = wrap(at::scaled_dot_product_attention(T(q), T(k), T(v), optional(mask), dropout_p, is_causal,
                                                         scale > 0 ? c10::optional<double>(scale) : c10::nullopt));
        }
    })
}
ct_status ct_cross_entropy(const ct_tensor *logits, const ct_tensor *target, const ct_tensor *weight,
                           int reduction, int64_t ignore_index, double label_smoothing, ct_tensor **out) {
    CT_OUT(at::cross_entropy_loss(T(logits), T(target), optional(weight), reduction, ignore_index, label_smoothing))
}
ct_status ct_kl_div(const ct_tensor *input, const ct_tensor *target, int reduction, bool log_target,
                    ct_tensor **out) {
    CT_TRY({
        // reduction 3 = "batchmean" (sum / batch size), as torch.nn.functional.kl_div
        if (reduction == 3) {
            auto r = at::kl_div(T(input), T(target), at::Reduction::Sum, log_target) / T(input).size(0);
            *out = wrap(std::move(r));
        } else {
            *out = wrap(at::kl_div(T(input), T(target), reduction, log_target));
        }
    })
}
ct_status ct_mse_loss(const ct_tensor *a, const ct_tensor *b, int reduction, ct_tensor **out) {
    CT_OUT(at::mse_loss(T(a), T(b), reduction))
}
ct_status ct_bce_with_logits(const ct_tensor *logits, const ct_tensor *target, int reduction, ct_tensor **out) {
    CT_OUT(at::binary_cross_entropy_with_logits(T(logits), T(target), c10::nullopt, c10::nullopt, reduction))
}
ct_status ct_cosine_similarity(const ct_tensor *a, const ct_tensor *b, int64_t dim, double eps, ct_tensor **out) {
    CT_OUT(at::cosine_similarity(T(a), T(b), dim, eps))
}

// ---- autograd ---------------------------------------------------------------------------------
ct_status ct_set_requires_grad(ct_tensor *t, bool requires_grad) { CT_TRY(M(t).set_requires_grad(requires_grad)) }
ct_status ct_backward(const ct_tensor *t, const ct_tensor *grad_output, bool retain_graph, bool create_graph) {
    CT_TRY(T(t).backward(grad_output ? grad_output->t : at::Tensor(), retain_graph, create_graph))
}
ct_status ct_grad(const ct_tensor *t, ct_tensor **out) {
    CT_TRY({
        const auto &g = T(t).grad();
        *out = g.defined() ? wrap(g) : nullptr;
    })
}
ct_status ct_set_grad(ct_tensor *t, const ct_tensor *grad) {
    CT_TRY(M(t).mutable_grad() = grad ? grad->t : at::Tensor())
}
bool ct_grad_enabled(void) { return c10::GradMode::is_enabled(); }
void ct_set_grad_enabled(bool enabled) { c10::GradMode::set_enabled(enabled); }

// ---- in-place updates -------------------------------------------------------------------------
ct_status ct_inplace(int op, ct_tensor *a, const ct_tensor *b, double alpha) {
    CT_TRY({
        auto &x = M(a);
        const auto &y = T(b);
        switch (op) {
            case CT_ADD_: x.add_(y, alpha); break;
            case CT_SUB_: x.sub_(y, alpha); break;
            case CT_MUL_: x.mul_(y); break;
            case CT_DIV_: x.div_(y); break;
            case CT_COPY_: x.copy_(y); break;
            default: throw std::invalid_argument("unknown in-place op " + std::to_string(op));
        }
    })
}
ct_status ct_inplace_scalar(int op, ct_tensor *a, double s) {
    CT_TRY({
        auto &x = M(a);
        switch (op) {
            case CT_ADDS_: x.add_(s); break;
            case CT_MULS_: x.mul_(s); break;
            case CT_FILL_: x.fill_(s); break;
            case CT_ZERO_: x.zero_(); break;
            default: throw std::invalid_argument("unknown in-place scalar op " + std::to_string(op));
        }
    })
}
ct_status ct_lerp_(ct_tensor *a, const ct_tensor *end, double weight) { CT_TRY(M(a).lerp_(T(end), weight)) }
ct_status ct_foreach_lerp_(ct_tensor *const *ts, const ct_tensor *const *ends, int n, double weight) {
    CT_TRY({
        at::NoGradGuard no_grad;
        auto self = tensors(ts, n);
        at::_foreach_lerp_(self, tensors(ends, n), weight);
    })
}
ct_status ct_set_data(ct_tensor *t, const ct_tensor *src) { CT_TRY(M(t).set_data(T(src))) }

// ---- mixed precision --------------------------------------------------------------------------
ct_status ct_autocast_push(int device_type, int dtype, bool enabled) {
    CT_TRY({
        auto device = static_cast<c10::DeviceType>(device_type);
        autocast_stack.push_back({device, at::autocast::is_autocast_enabled(device),
                                  at::autocast::get_autocast_dtype(device)});
        at::autocast::set_autocast_enabled(device, enabled);
        if (enabled) at::autocast::set_autocast_dtype(device, static_cast<at::ScalarType>(dtype));
        at::autocast::increment_nesting();
    })
}
ct_status ct_autocast_pop(int device_type) {
    CT_TRY({
        if (autocast_stack.empty() || autocast_stack.back().device != static_cast<c10::DeviceType>(device_type))
            throw std::logic_error("autocast_pop without a matching push on this thread");
        auto frame = autocast_stack.back();
        autocast_stack.pop_back();
        at::autocast::set_autocast_enabled(frame.device, frame.was_enabled);
        at::autocast::set_autocast_dtype(frame.device, frame.previous_dtype);
        if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    })
}
ct_status ct_amp_unscale(ct_tensor *const *params, int n, ct_tensor *found_inf, const ct_tensor *inv_scale) {
    CT_TRY({
        at::NoGradGuard no_grad;
        std::vector<at::Tensor> grads;
        for (int i = 0; i < n; i++) {
            const auto &g = T(params[i]).grad();
            if (g.defined()) grads.push_back(g);
        }
        if (!grads.empty()) at::_amp_foreach_non_finite_check_and_unscale_(grads, M(found_inf), T(inv_scale));
    })
}

// ---- optimisation -----------------------------------------------------------------------------
namespace {
// The tensors of one AdamW call that share a device and dtype (multi-tensor kernels need one of each).
struct AdamWGroup {
    std::vector<at::Tensor> params, grads, exp_avgs, exp_avg_sqs;
};
std::map<std::tuple<int, int, int>, AdamWGroup> adamw_groups(ct_tensor *const *params, ct_tensor *const *exp_avg,
                                                              ct_tensor *const *exp_avg_sq, int n) {
    std::map<std::tuple<int, int, int>, AdamWGroup> groups;
    for (int i = 0; i < n; i++) {
        const auto &p = T(params[i]);
        const auto &g = p.grad();
        if (!g.defined()) continue;
        auto key = std::make_tuple(static_cast<int>(p.device().type()), static_cast<int>(p.device().index()),
                                   static_cast<int>(p.scalar_type()));
        auto &group = groups[key];
        group.params.push_back(p);
        group.grads.push_back(g);
        group.exp_avgs.push_back(T(exp_avg[i]));
        group.exp_avg_sqs.push_back(T(exp_avg_sq[i]));
    }
    return groups;
}
}  // namespace

ct_status ct_adamw_step(ct_tensor *const *params, ct_tensor *const *exp_avg, ct_tensor *const *exp_avg_sq, int n,
                        double lr, double beta1, double beta2, double eps, double weight_decay, int64_t step,
                        int kernel) {
    CT_TRY({
        at::NoGradGuard no_grad;
        const double bias_correction1 = 1.0 - std::pow(beta1, static_cast<double>(step));
        const double bias_correction2 = 1.0 - std::pow(beta2, static_cast<double>(step));
        const double step_size = lr / bias_correction1;
        const double bias_correction2_sqrt = std::sqrt(bias_correction2);
        switch (kernel) {
        case CT_ADAMW_PER_TENSOR:
            for (int i = 0; i < n; i++) {
                auto &p = M(params[i]);
                const auto &g = p.grad();
                if (!g.defined()) continue;
                auto &m = M(exp_avg[i]);
                auto &v = M(exp_avg_sq[i]);
                p.mul_(1.0 - lr * weight_decay);
                m.lerp_(g, 1.0 - beta1);
                v.mul_(beta2).addcmul_(g, g, 1.0 - beta2);
                auto denom = (v.sqrt() / bias_correction2_sqrt).add_(eps);
                p.addcdiv_(m, denom, -step_size);
            }
            break;
        case CT_ADAMW_FOREACH:
            // torch.optim.adamw._multi_tensor_adamw, operation for operation.
            for (auto &[key, g] : adamw_groups(params, exp_avg, exp_avg_sq, n)) {
                at::_foreach_mul_(g.params, 1.0 - lr * weight_decay);
                at::_foreach_lerp_(g.exp_avgs, g.grads, 1.0 - beta1);
                at::_foreach_mul_(g.exp_avg_sqs, beta2);
                at::_foreach_addcmul_(g.exp_avg_sqs, g.grads, g.grads, 1.0 - beta2);
                auto denom = at::_foreach_sqrt(g.exp_avg_sqs);
                at::_foreach_div_(denom, bias_correction2_sqrt);
                at::_foreach_add_(denom, eps);
                at::_foreach_addcdiv_(g.params, g.exp_avgs, denom, -step_size);
            }
            break;
        case CT_ADAMW_FUSED:
            // One kernel per device and dtype; every parameter reads the same step count (a 0-d f32 tensor on
            // its device, filled without a host round trip).
            for (auto &[key, g] : adamw_groups(params, exp_avg, exp_avg_sq, n)) {
                auto steps = at::full({}, static_cast<double>(step),
                                      at::TensorOptions().dtype(at::kFloat).device(g.params[0].device()));
                std::vector<at::Tensor> state_steps(g.params.size(), steps);
                at::_fused_adamw_(g.params, g.grads, g.exp_avgs, g.exp_avg_sqs, {}, state_steps, lr, beta1, beta2,
                                  weight_decay, eps, /*amsgrad=*/false, /*maximize=*/false);
            }
            break;
        default:
            throw std::invalid_argument("adamw: unknown kernel " + std::to_string(kernel));
        }
    })
}
ct_status ct_clip_grad_norm(ct_tensor *const *params, int n, double max_norm, double norm_type, ct_tensor **total_norm) {
    CT_TRY({
        at::NoGradGuard no_grad;
        std::vector<at::Tensor> grads;
        for (int i = 0; i < n; i++) {
            const auto &g = T(params[i]).grad();
            if (g.defined()) grads.push_back(g);
        }
        if (grads.empty()) {
            *total_norm = wrap(at::zeros({}, at::kFloat));
            return 0;
        }
        // torch.nn.utils.clip_grad_norm_ (foreach): per-tensor norms, their norm, one multi-tensor scale.
        auto norms = at::_foreach_norm(grads, norm_type);
        auto device = grads[0].device();
        for (auto &x : norms) x = x.to(device);
        auto total = at::linalg_vector_norm(at::stack(norms), norm_type);
        auto coefficient = at::clamp_max(max_norm / (total + 1e-6), 1.0);
        at::_foreach_mul_(grads, coefficient);
        *total_norm = wrap(total);
    })
}

}  // extern "C"

// ---- distributed (c10d) -----------------------------------------------------------------------
namespace {

ct_process_group &group(ct_process_group *pg) {
    if (pg == nullptr) throw std::invalid_argument("invalid process group");
    return *pg;
}

// Starts a collective on the group's backend and waits for it (at most the group's timeout), turning
// any failure into an error that names the rank, the backend and the operation.
std::string who(const ct_process_group &pg, const char *operation) {
    return "rank " + std::to_string(pg.rank) + " of " + std::to_string(pg.world_size) + " (" + pg.backend_name +
           "): " + operation;
}

// The error of a failed collective: a timeout says what usually causes one.
std::string describe_failure(const ct_process_group &pg, const char *operation,
                             const c10::intrusive_ptr<c10d::Work> &work, const std::string &message) {
    const std::string name = who(pg, operation);
    // Work::wait gave up, or Gloo's own timeout (the same length) fired first inside the work: Gloo says
    // "Timed out" or "Operation timed out!" depending on where it noticed.
    std::string lowered = message;
    std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char c) { return std::tolower(c); });
    if ((work && !work->isCompleted()) || lowered.find("timed out") != std::string::npos)
        return name + " did not finish within " + std::to_string(pg.timeout.count()) +
               " ms (a peer rank died, hangs, or runs a different collective): " + message;
    return name + " failed: " + message;
}

// Runs `body` (which starts or waits for `work`), turning any failure into an error that names the rank,
// the backend and the operation.
template <class Body>
void naming_failures(ct_process_group &pg, const char *operation, const c10::intrusive_ptr<c10d::Work> &work,
                     Body body) {
    try {
        body();
    } catch (const c10::Error &e) {
        throw std::runtime_error(describe_failure(pg, operation, work, e.what_without_backtrace()));
    } catch (const std::exception &e) {
        throw std::runtime_error(describe_failure(pg, operation, work, e.what()));
    }
}

template <class Start>
void run_collective(ct_process_group &pg, const char *operation, Start start) {
    c10::intrusive_ptr<c10d::Work> work;
    naming_failures(pg, operation, work, [&] {
        work = start(*pg.backend);
        work->wait(pg.timeout);
    });
}

bool averages_natively(const ct_process_group &pg) { return std::strcmp(pg.backend_name, "nccl") == 0; }

// The state the gradient hooks share with ct_grad_reducer_prepare / _finish. Hooks run on the thread that
// runs backward for the parameter's device (the caller's for the CPU, autograd's device thread for CUDA).
struct GradReducerState {
    ct_process_group *pg;
    std::vector<at::Tensor> params;
    std::vector<std::vector<int64_t>> buckets;
    std::vector<int64_t> bucket_of;
    std::mutex mutex;
    bool armed = false;
    double stop_vote = 0;
    std::vector<char> ready;        // per parameter: its hook fired in the armed pass
    std::vector<int64_t> pending;   // per bucket: parameters whose hook has not fired yet
    size_t next_bucket = 0;         // buckets before it have been launched
    std::vector<at::Tensor> buffers;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    std::vector<char> complete;     // per bucket: every member had a gradient on this rank at launch
    std::string error;              // from a hook, reported by finish

    // Flattens bucket b's gradients (zeros where this rank has none), one presence flag per member and, in
    // the last bucket, the stop vote; starts its all-reduce.
    void launch(size_t b) {
        at::NoGradGuard no_grad;
        const auto &members = buckets[b];
        const bool votes = b + 1 == buckets.size();
        std::vector<at::Tensor> pieces;
        std::vector<double> flags;
        for (auto index : members) {
            const auto &param = params[index];
            const auto &grad = param.grad();
            pieces.push_back(grad.defined() ? grad.reshape({-1}) : at::zeros({param.numel()}, param.options()));
            flags.push_back(grad.defined() ? 1 : 0);
        }
        if (votes) flags.push_back(stop_vote);
        const auto &first = params[members[0]];
        pieces.push_back(at::tensor(flags, at::TensorOptions().dtype(at::kDouble)).to(first.options()));
        complete[b] = std::all_of(flags.begin(), flags.begin() + members.size(), [](double f) { return f > 0; });
        buffers[b] = at::cat(pieces);
        std::vector<at::Tensor> tensors{buffers[b]};
        c10d::AllreduceOptions options;
        options.reduceOp = averages_natively(*pg) ? c10d::ReduceOp::AVG : c10d::ReduceOp::SUM;
        naming_failures(*pg, "all_reduce", works[b], [&] { works[b] = pg->backend->allreduce(tensors, options); });
    }

    void launch_ready_buckets() {
        while (next_bucket < buckets.size() && pending[next_bucket] == 0) launch(next_bucket++);
    }

    void gradient_ready(int64_t index) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!armed || ready[index] || !error.empty()) return;
        ready[index] = 1;
        pending[bucket_of[index]] -= 1;
        try {
            launch_ready_buckets();
        } catch (const std::exception &e) {
            error = e.what();
        }
    }

    void reset() {
        armed = false;
        std::fill(ready.begin(), ready.end(), 0);
        for (size_t b = 0; b < buckets.size(); b++) pending[b] = static_cast<int64_t>(buckets[b].size());
        next_bucket = 0;
        std::fill(buffers.begin(), buffers.end(), at::Tensor());
        std::fill(works.begin(), works.end(), c10::intrusive_ptr<c10d::Work>());
        error.clear();
    }
};

}  // namespace

extern "C" {

bool ct_dist_backend_available(int backend) {
    switch (backend) {
#ifdef CT_WITH_GLOO
    case CT_DIST_GLOO: return true;
#endif
#ifdef CT_WITH_NCCL
    case CT_DIST_NCCL: return true;
#endif
    default: return false;
    }
}

ct_status ct_store_new(const char *host, int port, bool is_master, int world_size, int64_t timeout_ms,
                       ct_store **out) {
    CT_TRY({
        if (host == nullptr) throw std::invalid_argument("store: no host");
        if (port < 0 || port > 65535) throw std::invalid_argument("store: port " + std::to_string(port) + " out of range");
        if (world_size < 1) throw std::invalid_argument("store: world size must be at least 1");
        c10d::TCPStoreOptions options;
        options.port = static_cast<std::uint16_t>(port);
        options.isServer = is_master;
        options.numWorkers = static_cast<std::size_t>(world_size);
        options.waitWorkers = true;
        options.timeout = std::chrono::milliseconds(timeout_ms);
        try {
            *out = new ct_store{c10::make_intrusive<c10d::TCPStore>(std::string(host), options)};
        } catch (const c10::Error &e) {
            throw std::runtime_error(std::string(is_master ? "hosting" : "connecting to") + " the TCPStore at " +
                                     host + ":" + std::to_string(port) + " (world size " +
                                     std::to_string(world_size) + ", timeout " + std::to_string(timeout_ms) +
                                     " ms) failed: " + e.what_without_backtrace());
        }
    })
}
void ct_store_free(ct_store *s) { delete s; }

ct_status ct_process_group_new(int backend, ct_store *store, int rank, int world_size, const char *gloo_hostname,
                               const char *gloo_interface, int64_t timeout_ms, ct_process_group **out) {
    CT_TRY({
        if (store == nullptr) throw std::invalid_argument("process group: invalid store");
        if (world_size < 1 || rank < 0 || rank >= world_size)
            throw std::invalid_argument("process group: rank " + std::to_string(rank) + " outside a world of " +
                                        std::to_string(world_size));
        const auto timeout = std::chrono::milliseconds(timeout_ms);
        auto where = [&](const char *name) {
            return std::string("rank ") + std::to_string(rank) + " of " + std::to_string(world_size) + " (" + name +
                   "): creating the process group failed: ";
        };
        (void)gloo_hostname;
        (void)gloo_interface;
        switch (backend) {
        case CT_DIST_GLOO: {
#ifdef CT_WITH_GLOO
            try {
                auto options = c10d::ProcessGroupGloo::Options::create(timeout);
                if (gloo_hostname != nullptr)
                    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(gloo_hostname));
                else if (gloo_interface != nullptr)
                    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(gloo_interface));
                else
                    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
                auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store->store, rank, world_size, options);
                *out = new ct_process_group(pg, "gloo", rank, world_size, timeout);
            } catch (const c10::Error &e) {
                throw std::runtime_error(where("gloo") + e.what_without_backtrace());
            } catch (const std::exception &e) {
                throw std::runtime_error(where("gloo") + e.what());
            }
            return 0;
#else
            throw std::runtime_error("this shim was built without Gloo (its headers were not found when "
                                     "scripts/build-shim.sh ran: run scripts/setup.sh, then rebuild the shim)");
#endif
        }
        case CT_DIST_NCCL: {
#ifdef CT_WITH_NCCL
            try {
                auto options = c10d::ProcessGroupNCCL::Options::create();
                options->timeout = timeout;
                auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store->store, rank, world_size, options);
                *out = new ct_process_group(pg, "nccl", rank, world_size, timeout);
            } catch (const c10::Error &e) {
                throw std::runtime_error(where("nccl") + e.what_without_backtrace());
            } catch (const std::exception &e) {
                throw std::runtime_error(where("nccl") + e.what());
            }
            return 0;
#else
            throw std::runtime_error("this shim was built without NCCL (it needs a libtorch with CUDA and NCCL's "
                                     "headers: rebuild with LIBTORCH=DIR scripts/build-shim.sh on the GPU machine)");
#endif
        }
        default: throw std::invalid_argument("unknown process-group backend " + std::to_string(backend));
        }
    })
}
void ct_process_group_free(ct_process_group *pg) {
    try {
        delete pg;
    } catch (...) {
    }
}

ct_status ct_dist_all_reduce(ct_process_group *pg, ct_tensor *t, int op) {
    CT_TRY({
        auto &g = group(pg);
        auto &tensor = M(t);
        if (op != CT_DIST_SUM && op != CT_DIST_AVG)
            throw std::invalid_argument(who(g, "all_reduce") + ": unknown reduction " + std::to_string(op));
        if (!tensor.is_contiguous()) throw std::invalid_argument(who(g, "all_reduce") + ": the tensor is not contiguous");
        std::vector<at::Tensor> tensors{tensor};
        c10d::AllreduceOptions options;
        // Gloo has no AVG: it sums, and the mean is taken here.
        const bool native_average = op == CT_DIST_AVG && averages_natively(g);
        options.reduceOp = native_average ? c10d::ReduceOp::AVG : c10d::ReduceOp::SUM;
        run_collective(g, "all_reduce", [&](c10d::Backend &b) { return b.allreduce(tensors, options); });
        if (op == CT_DIST_AVG && !native_average) {
            at::NoGradGuard no_grad;
            if (at::isIntegralType(tensor.scalar_type(), true))
                tensor.div_(g.world_size, "floor");
            else
                tensor.div_(g.world_size);
        }
    })
}
ct_status ct_dist_broadcast(ct_process_group *pg, ct_tensor *t, int root) {
    CT_TRY({
        auto &g = group(pg);
        auto &tensor = M(t);
        if (root < 0 || root >= g.world_size)
            throw std::invalid_argument(who(g, "broadcast") + ": root " + std::to_string(root) + " outside the world");
        if (!tensor.is_contiguous()) throw std::invalid_argument(who(g, "broadcast") + ": the tensor is not contiguous");
        std::vector<at::Tensor> tensors{tensor};
        c10d::BroadcastOptions options;
        options.rootRank = root;
        run_collective(g, "broadcast", [&](c10d::Backend &b) { return b.broadcast(tensors, options); });
    })
}
ct_status ct_dist_all_gather(ct_process_group *pg, const ct_tensor *t, ct_tensor **out) {
    CT_TRY({
        auto &g = group(pg);
        std::vector<at::Tensor> inputs{T(t).contiguous()};
        std::vector<std::vector<at::Tensor>> outputs(1);
        for (int r = 0; r < g.world_size; r++) outputs[0].push_back(at::empty_like(inputs[0]));
        run_collective(g, "all_gather", [&](c10d::Backend &b) { return b.allgather(outputs, inputs); });
        *out = wrap(at::stack(outputs[0]));
    })
}
ct_status ct_dist_barrier(ct_process_group *pg) {
    CT_TRY({
        auto &g = group(pg);
        run_collective(g, "barrier", [&](c10d::Backend &b) { return b.barrier(); });
    })
}

ct_status ct_grad_reducer_new(ct_process_group *pg, ct_tensor *const *params, int n, const int64_t *bucket_members,
                              const int64_t *bucket_sizes, int bucket_count, ct_grad_reducer **out) {
    CT_TRY({
        auto &g = group(pg);
        auto state = std::make_shared<GradReducerState>();
        state->pg = &g;
        for (int i = 0; i < n; i++) {
            const auto &param = T(params[i]);
            if (!param.is_leaf() || !param.requires_grad())
                throw std::invalid_argument(who(g, "gradient reducer") + ": parameter " + std::to_string(i) +
                                            " is not a leaf tensor that requires grad");
            state->params.push_back(param);
        }
        state->bucket_of.assign(n, -1);
        int64_t offset = 0;
        for (int b = 0; b < bucket_count; b++) {
            std::vector<int64_t> members(bucket_members + offset, bucket_members + offset + bucket_sizes[b]);
            offset += bucket_sizes[b];
            if (members.empty()) throw std::invalid_argument(who(g, "gradient reducer") + ": bucket " + std::to_string(b) + " is empty");
            for (auto index : members) {
                if (index < 0 || index >= n || state->bucket_of[index] >= 0)
                    throw std::invalid_argument(who(g, "gradient reducer") + ": parameter index " + std::to_string(index) +
                                                " is out of range or in two buckets");
                state->bucket_of[index] = b;
            }
            state->buckets.push_back(std::move(members));
        }
        for (int i = 0; i < n; i++)
            if (state->bucket_of[i] < 0)
                throw std::invalid_argument(who(g, "gradient reducer") + ": parameter " + std::to_string(i) + " is in no bucket");
        state->ready.assign(n, 0);
        state->pending.assign(bucket_count, 0);
        state->buffers.resize(bucket_count);
        state->works.resize(bucket_count);
        state->complete.assign(bucket_count, 0);
        state->reset();
        auto reducer = std::make_unique<ct_grad_reducer>();
        reducer->state = state;
        std::weak_ptr<GradReducerState> weak = state;
        for (int i = 0; i < n; i++) {
            auto accumulator = torch::autograd::impl::grad_accumulator(state->params[i]);
            auto key = accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
                [weak, i](const torch::autograd::variable_list &outputs, const torch::autograd::variable_list &) {
                    if (auto alive = weak.lock()) alive->gradient_ready(i);
                    return outputs;
                }));
            reducer->hooks.emplace_back(accumulator, key);
        }
        *out = reducer.release();
    })
}
void ct_grad_reducer_free(ct_grad_reducer *r) {
    if (r == nullptr) return;
    try {
        for (auto &[accumulator, key] : r->hooks) accumulator->del_post_hook(key);
        delete r;
    } catch (...) {
    }
}
ct_status ct_grad_reducer_prepare(ct_grad_reducer *r, const ct_tensor *loss, double stop_vote) {
    CT_TRY({
        if (r == nullptr) throw std::invalid_argument("invalid gradient reducer");
        auto &state = *r->state;
        std::lock_guard<std::mutex> lock(state.mutex);
        if (state.armed)
            throw std::logic_error(who(*state.pg, "gradient reducer") + ": prepared twice without finishing the step");
        state.reset();
        state.stop_vote = stop_vote;
        state.armed = true;
        if (loss == nullptr) return 0;  // after backward: finish launches every bucket
        // The graph's nodes: a parameter whose accumulator is not among them gets no gradient in this pass.
        std::unordered_set<const torch::autograd::Node *> reached;
        std::vector<const torch::autograd::Node *> stack;
        if (const auto &root = T(loss).grad_fn()) stack.push_back(root.get());
        while (!stack.empty()) {
            const auto *node = stack.back();
            stack.pop_back();
            if (!reached.insert(node).second) continue;
            for (const auto &edge : node->next_edges())
                if (edge.function) stack.push_back(edge.function.get());
        }
        for (size_t i = 0; i < r->hooks.size(); i++)
            if (!reached.count(r->hooks[i].first.get())) {
                state.ready[i] = 1;
                state.pending[state.bucket_of[i]] -= 1;
            }
        state.launch_ready_buckets();
    })
}
ct_status ct_grad_reducer_finish(ct_grad_reducer *r, ct_tensor **stop_votes, int *launched_before_finish) {
    CT_TRY({
        if (r == nullptr) throw std::invalid_argument("invalid gradient reducer");
        auto &state = *r->state;
        std::lock_guard<std::mutex> lock(state.mutex);
        struct Reset {
            GradReducerState &state;
            ~Reset() { state.reset(); }
        } reset{state};
        auto &g = *state.pg;
        if (!state.armed)
            throw std::logic_error(who(g, "gradient reducer") + ": finish without prepare before the backward pass");
        if (!state.error.empty()) throw std::runtime_error(state.error);
        *launched_before_finish = static_cast<int>(state.next_bucket);
        while (state.next_bucket < state.buckets.size()) state.launch(state.next_bucket++);
        at::NoGradGuard no_grad;
        at::Tensor votes;
        for (size_t b = 0; b < state.buckets.size(); b++) {
            naming_failures(g, "all_reduce", state.works[b], [&] { state.works[b]->wait(g.timeout); });
            auto &flat = state.buffers[b];
            if (!averages_natively(g)) flat.div_(g.world_size);
            const auto &members = state.buckets[b];
            std::vector<int64_t> sizes;
            for (auto index : members) sizes.push_back(state.params[index].numel());
            sizes.push_back(static_cast<int64_t>(members.size()));
            const bool carries_votes = b + 1 == state.buckets.size();
            if (carries_votes) sizes.push_back(1);
            auto parts = flat.split_with_sizes(sizes);
            if (carries_votes) votes = parts.back();
            // Only a rank that lacks a gradient must know whether another rank had one: a host read then.
            std::vector<double> present;
            if (!state.complete[b]) {
                count_host_read();
                auto flags = parts[members.size()].to(at::kCPU, at::kDouble).contiguous();
                present.assign(flags.data_ptr<double>(), flags.data_ptr<double>() + flags.numel());
            }
            for (size_t k = 0; k < members.size(); k++) {
                auto &param = state.params[members[k]];
                auto mean = parts[k].view(param.sizes());
                if (param.grad().defined())
                    param.mutable_grad().copy_(mean);
                else if (present[k] > 0)
                    param.mutable_grad() = mean.clone();
            }
        }
        *stop_votes = wrap(votes);
    })
}

}  // extern "C"
