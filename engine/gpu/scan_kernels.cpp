#include "gpu/scan_kernels.h"

#include "statescope/error.h"
#include "gpu/scan_plan.h"
#include "gpu/scan_record.h"
#include "vulkan/commands.h"
#include "vulkan/context.h"

#include <chrono>

namespace statescope::gpu {

using vk::Buffer;
using vk::CommandBatch;
using vk::MemoryKind;
using vk::VulkanContext;

const char* scan_form_name(ScanForm f) {
    switch (f) {
    case ScanForm::Recurrent: return "recurrent";
    case ScanForm::Chunked: return "chunked";
    case ScanForm::ChunkedF16: return "chunked-f16";
    }
    return "?";
}

namespace {

Buffer upload_tensor(VulkanContext& ctx, const Tensor& t, const std::string& name) {
    Buffer b = scan_float_buffer(ctx, t.data.size(), name);
    upload(ctx, b, t.data.data(), t.data.size() * sizeof(float));
    return b;
}

} // namespace

ScanKernels::ScanKernels(VulkanContext& ctx) : ctx_(ctx) {}

void ScanKernels::require_supported(TransitionKind kind, ScanForm form) {
    require(supports(kind, form), std::string("GPU scan: the ") + scan_form_name(form) + " form is not implemented for " +
                                      transition_name(kind) + " (use the recurrent form)");
}

void ScanKernels::require_bonus_supported(const ScanBuffers& b, ScanForm form) {
    require(!b.has_bonus || form == ScanForm::Recurrent,
            std::string("GPU scan: the bonus read (RWKV-6) is implemented in the recurrent form only, not the ") +
                scan_form_name(form) + " form");
    require(!b.has_bonus || (b.substeps == 1 && b.bonus.valid()),
            "GPU scan: the bonus read needs one micro-step per token and a bonus buffer");
}

bool ScanKernels::supports(TransitionKind kind, ScanForm form) {
    if (form == ScanForm::ChunkedF16) return kind != TransitionKind::DiagPlusRankOne;
    return true;
}

bool ScanKernels::tensor_cores_available(std::string* why) const {
    const std::string missing = tensor_core_missing(ctx_.device());
    if (why) *why = missing;
    return missing.empty();
}

ScanBuffers ScanKernels::upload(const ScanInputs& in, const float* S0) {
    in.check();
    require(in.T > 0 && in.H > 0 && in.K > 0 && in.V > 0 && in.substeps > 0,
            "GPU scan: T, H, K, V and substeps must be positive");
    ScanBuffers b;
    b.kind = in.kind;
    b.T = in.T;
    b.H = in.H;
    b.K = in.K;
    b.V = in.V;
    b.substeps = in.substeps;
    b.has_beta = !in.beta.data.empty();
    b.has_decay = !in.log_decay.data.empty();
    b.placeholder = Buffer(ctx_, 16, MemoryKind::Device, "placeholder");
    b.q = upload_tensor(ctx_, in.q, "q");
    b.k = upload_tensor(ctx_, in.k, "k");
    b.v = upload_tensor(ctx_, in.v, "v");
    if (b.has_beta) b.beta = upload_tensor(ctx_, in.beta, "beta");
    if (b.has_decay) b.g = upload_tensor(ctx_, in.log_decay, "log_decay");
    if (in.kind == TransitionKind::DiagPlusRankOne) {
        b.a = upload_tensor(ctx_, in.a, "a");
        b.b = upload_tensor(ctx_, in.b, "b");
    }
    b.has_bonus = !in.bonus.data.empty();
    if (b.has_bonus) b.bonus = upload_tensor(ctx_, in.bonus, "bonus");
    const size_t state_count = size_t(in.H) * in.K * in.V;
    b.S0 = scan_float_buffer(ctx_, state_count, "S0");
    if (S0) {
        vk::upload(ctx_, b.S0, S0, state_count * sizeof(float));
    } else {
        std::vector<float> zeros(state_count, 0.0f);
        vk::upload(ctx_, b.S0, zeros.data(), zeros.size() * sizeof(float));
    }
    b.S = scan_float_buffer(ctx_, state_count, "S");
    b.o = scan_float_buffer(ctx_, size_t(in.T) * in.H * in.V, "o");
    b.f16_stale = true;
    return b;
}

ScanBuffers ScanKernels::allocate(TransitionKind kind, int T, int H, int K, int V, int substeps, bool has_beta,
                                  bool has_decay) {
    require(T > 0 && H > 0 && K > 0 && V > 0 && substeps > 0, "GPU scan: T, H, K, V and substeps must be positive");
    ScanBuffers b;
    b.kind = kind;
    b.T = T;
    b.H = H;
    b.K = K;
    b.V = V;
    b.substeps = substeps;
    b.has_beta = has_beta;
    b.has_decay = has_decay || kind == TransitionKind::Scalar || kind == TransitionKind::Diagonal ||
                  kind == TransitionKind::DiagPlusRankOne;
    const size_t L = size_t(T) * substeps;
    const bool key_gate = kind == TransitionKind::Diagonal || kind == TransitionKind::DiagPlusRankOne;
    b.placeholder = Buffer(ctx_, 16, MemoryKind::Device, "placeholder");
    b.q = scan_float_buffer(ctx_, size_t(T) * H * K, "scan q");
    b.k = scan_float_buffer(ctx_, L * H * K, "scan k");
    b.v = scan_float_buffer(ctx_, L * H * V, "scan v");
    if (b.has_beta) b.beta = scan_float_buffer(ctx_, L * H, "scan beta");
    if (b.has_decay) b.g = scan_float_buffer(ctx_, size_t(T) * H * (key_gate ? K : 1), "scan log decay");
    if (kind == TransitionKind::DiagPlusRankOne) {
        b.a = scan_float_buffer(ctx_, size_t(T) * H * K, "scan a");
        b.b = scan_float_buffer(ctx_, size_t(T) * H * K, "scan b");
    }
    b.o = scan_float_buffer(ctx_, size_t(T) * H * V, "scan o");
    return b;
}

ScanTiming ScanKernels::run(ScanBuffers& b, const ScanRunOptions& options) {
    return run_repeated(b, options, 1).front();
}

std::vector<ScanTiming> ScanKernels::run_repeated(ScanBuffers& b, const ScanRunOptions& options, int runs) {
    require_supported(b.kind, options.form);
    require_bonus_supported(b, options.form);
    require(runs >= 1 && runs <= 256, "GPU scan: run_repeated takes 1 to 256 runs");
    // A run allocates a few descriptor sets (a CPU driver's split loops reuse theirs: same
    // buffers) and stamps one timestamp per stage.
    constexpr const char* kRunEnd = "|";
    const auto start = std::chrono::steady_clock::now();
    CommandBatch batch(ctx_, uint32_t(64 * runs + 16), uint32_t(8 * runs + 8));
    batch.begin();
    batch.timestamp("start");
    for (int r = 0; r < runs; ++r) {
        record_scan(ctx_, batch, b, options, /*timestamps=*/true, /*cast_f16=*/r == 0 && b.f16_stale);
        batch.barrier();   // this run's outputs -> the next run (which rewrites them)
        batch.timestamp(kRunEnd);
    }
    batch.submit_and_wait();
    const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

    std::vector<ScanTiming> out(static_cast<size_t>(runs));
    size_t r = 0;
    for (const auto& [label, ms] : batch.intervals()) {
        if (label == kRunEnd) {   // the barrier between runs: no stage of either
            if (++r == out.size()) break;
            continue;
        }
        out[r].stages_ms.emplace_back(label, ms);
        out[r].gpu_ms += ms;
    }
    for (ScanTiming& t : out) t.wall_ms = wall / runs;
    return out;
}

void ScanKernels::record(CommandBatch& batch, ScanBuffers& b, const ScanRunOptions& options) {
    require_supported(b.kind, options.form);
    require_bonus_supported(b, options.form);
    // The caller's kernels may have written q, k, v since the last call: always convert.
    record_scan(ctx_, batch, b, options, /*timestamps=*/false, /*cast_f16=*/true);
    batch.barrier();   // o and the final state -> whatever the caller records next
}

std::string ScanKernels::describe(const ScanBuffers& b, const ScanRunOptions& options) const {
    return describe_plan(ctx_.device(), b, options);
}

void ScanKernels::download_state(const ScanBuffers& b, float* S) const {
    download(ctx_, b.S, S, size_t(b.H) * b.K * b.V * sizeof(float));
}

void ScanKernels::download_outputs(const ScanBuffers& b, float* o) const {
    download(ctx_, b.o, o, size_t(b.T) * b.H * b.V * sizeof(float));
}

Tensor ScanKernels::download_chunk_states(const ScanBuffers& b) const {
    require(b.sb.valid(),
            "GPU scan: no chunked run has produced chunk-boundary states (the last run did not keep them)");
    Tensor t({b.num_chunks, b.H, b.K, b.V});
    download(ctx_, b.sb, t.ptr(), t.data.size() * sizeof(float));
    return t;
}

ScanTiming gpu_scan(VulkanContext& ctx, const ScanInputs& in, float* S, float* o, const ScanRunOptions& options,
                    Tensor* chunk_states) {
    ScanKernels kernels(ctx);
    ScanBuffers b = kernels.upload(in, S);
    ScanTiming t = kernels.run(b, options);
    kernels.download_state(b, S);
    kernels.download_outputs(b, o);
    if (chunk_states && options.form != ScanForm::Recurrent) *chunk_states = kernels.download_chunk_states(b);
    return t;
}

} // namespace statescope::gpu
