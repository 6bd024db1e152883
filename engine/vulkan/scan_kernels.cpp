#include "vulkan/scan_kernels.h"

#include "vulkan/commands.h"
#include "vulkan/context.h"
#include "vulkan/pipeline.h"

#include "common/push_constants.h"   // shaders/common: shared with the GLSL side

#include <algorithm>
#include <chrono>
#include <limits>

namespace statescope::vk {

static_assert(SS_KIND_IDENTITY == int(TransitionKind::Identity) && SS_KIND_SCALAR == int(TransitionKind::Scalar) &&
                  SS_KIND_DIAGONAL == int(TransitionKind::Diagonal) && SS_KIND_DELTA == int(TransitionKind::DeltaRule) &&
                  SS_KIND_DPLR == int(TransitionKind::DiagPlusRankOne),
              "shader kind codes must follow statescope::TransitionKind");

const char* scan_form_name(ScanForm f) { return f == ScanForm::Recurrent ? "recurrent" : "chunked"; }

namespace {

uint32_t next_pow2(uint32_t x) {
    uint32_t p = 1;
    while (p < x) p <<= 1;
    return p;
}

uint32_t ceil_div(uint64_t a, uint64_t b) { return uint32_t((a + b - 1) / b); }

// A device buffer of `count` floats, refusing sizes that the shaders' 32-bit indices cannot address.
Buffer float_buffer(VulkanContext& ctx, size_t count, const std::string& name) {
    if (count >= (size_t(1) << 32))
        throw Error("scan buffer '" + name + "' would hold " + std::to_string(count) +
                    " values; the GPU kernels index at most 2^32 (use fewer tokens or heads)");
    return Buffer(ctx, count * sizeof(float), MemoryKind::Device, name);
}

Buffer upload_tensor(VulkanContext& ctx, const Tensor& t, const std::string& name) {
    Buffer b = float_buffer(ctx, t.data.size(), name);
    upload(ctx, b, t.data.data(), t.data.size() * sizeof(float));
    return b;
}

ScanPush make_push(const ScanBuffers& b) {
    ScanPush p{};
    p.T = uint32_t(b.T);
    p.H = uint32_t(b.H);
    p.K = uint32_t(b.K);
    p.V = uint32_t(b.V);
    p.substeps = uint32_t(b.substeps);
    p.L = uint32_t(b.T) * uint32_t(b.substeps);
    p.flags = (b.has_beta ? SS_FLAG_HAS_BETA : 0u) | (b.has_decay ? SS_FLAG_HAS_DECAY : 0u);
    p.gate_width = b.kind == TransitionKind::Diagonal ? uint32_t(b.K) : 1u;
    return p;
}

// The 14 bindings of push_constants.h, in order; unused ones get the placeholder.
std::vector<const Buffer*> bindings(const ScanBuffers& b) {
    auto or_placeholder = [&](const Buffer& x) { return x.valid() ? &x : &b.placeholder; };
    std::vector<const Buffer*> v(SS_BINDING_COUNT);
    v[SS_BIND_Q] = or_placeholder(b.q);
    v[SS_BIND_K] = or_placeholder(b.k);
    v[SS_BIND_V] = or_placeholder(b.v);
    v[SS_BIND_BETA] = or_placeholder(b.beta);
    v[SS_BIND_G] = or_placeholder(b.g);
    v[SS_BIND_A] = or_placeholder(b.a);
    v[SS_BIND_B] = or_placeholder(b.b);
    v[SS_BIND_S0] = or_placeholder(b.S0);
    v[SS_BIND_S] = or_placeholder(b.S);
    v[SS_BIND_O] = or_placeholder(b.o);
    v[SS_BIND_GCUM] = or_placeholder(b.gcum);
    v[SS_BIND_W] = or_placeholder(b.w);
    v[SS_BIND_U] = or_placeholder(b.u);
    v[SS_BIND_SB] = or_placeholder(b.sb);
    return v;
}

PipelineDesc scan_pipeline(const std::string& module, std::vector<std::pair<uint32_t, uint32_t>> spec,
                           uint32_t subgroup = 0) {
    PipelineDesc d;
    d.module = module;
    d.spec = std::move(spec);
    d.bindings = SS_BINDING_COUNT;
    d.push_bytes = sizeof(ScanPush);
    d.required_subgroup_size = subgroup;
    return d;
}

// Shared-memory bytes of each chunked kernel for a plan (mirrors the shared declarations).
size_t wy_shared(uint32_t C, uint32_t KT) { return 4 * (size_t(C) * (C + 1) + size_t(C) * (KT + 1) + 3 * C); }
size_t state_shared(uint32_t C, uint32_t KT, uint32_t VB, uint32_t KB) {
    return 4 * (size_t(KB) * VB + size_t(C) * (VB + 1) + size_t(C) * (KT + 1));
}
size_t output_shared(uint32_t C, uint32_t KT, uint32_t VB) {
    const size_t phase1 = 3 * size_t(C) * (KT + 1) + size_t(KT) * VB, phase2 = size_t(C) * (VB + 1);
    return 4 * (size_t(C) * (C + 1) + std::max(phase1, phase2) + C);
}

} // namespace

ScanKernels::ScanKernels(VulkanContext& ctx) : ctx_(ctx) {}

bool ScanKernels::supports(TransitionKind kind, ScanForm form) {
    return form == ScanForm::Recurrent || kind != TransitionKind::DiagPlusRankOne;
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
    const size_t state_count = size_t(in.H) * in.K * in.V;
    b.S0 = float_buffer(ctx_, state_count, "S0");
    if (S0) {
        vk::upload(ctx_, b.S0, S0, state_count * sizeof(float));
    } else {
        std::vector<float> zeros(state_count, 0.0f);
        vk::upload(ctx_, b.S0, zeros.data(), zeros.size() * sizeof(float));
    }
    b.S = float_buffer(ctx_, state_count, "S");
    b.o = float_buffer(ctx_, size_t(in.T) * in.H * in.V, "o");
    return b;
}

ScanKernels::RecurrentPlan ScanKernels::plan_recurrent(const ScanBuffers& b, const ScanRunOptions& options) const {
    const DeviceInfo& d = ctx_.device();
    RecurrentPlan p;
    const bool shuffles = d.subgroup_in_compute && (d.subgroup_ops & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) && d.subgroup_size >= 2;
    uint32_t lanes = 1;
    if (options.lanes > 0) {
        lanes = uint32_t(options.lanes);
        require((lanes & (lanes - 1)) == 0, "GPU scan: lanes must be a power of two");
        require(lanes == 1 || (shuffles && lanes <= d.subgroup_size),
                "GPU scan: " + std::to_string(lanes) + " lanes per column need subgroup shuffles of at least that size");
    } else if (shuffles) {
        // Enough lanes that each holds at most 16 state rows (registers), within one subgroup.
        while (ceil_div(uint32_t(b.K), lanes) > 16 && lanes < d.subgroup_size) lanes *= 2;
    }
    p.lanes = lanes;
    p.rows = ceil_div(uint32_t(b.K), lanes);
    p.module = lanes > 1 ? "scan_recurrent_sg" : "scan_recurrent";
    // A multiple of the subgroup size, so that the lanes of one column never straddle subgroups.
    p.workgroup = std::max<uint32_t>(64, d.subgroup_size);
    if (lanes > 1 && d.subgroup_size_control) p.subgroup = d.subgroup_size;
    return p;
}

ScanKernels::ChunkPlan ScanKernels::plan_chunked(const ScanBuffers& b, const ScanRunOptions& options) const {
    const DeviceInfo& d = ctx_.device();
    ChunkPlan p;
    const uint32_t n = uint32_t(b.substeps);
    require(options.chunk >= 1 && options.chunk <= 64, "GPU scan: chunk must be between 1 and 64 positions");
    p.chunk = std::max(n, uint32_t(options.chunk) / n * n);
    require(p.chunk <= 64, "GPU scan: " + std::to_string(n) + " micro-steps per token do not fit a chunk of 64");
    p.workgroup = std::min<uint32_t>(256, d.max_workgroup_invocations);
    require(p.workgroup >= p.chunk, "GPU scan: the device's workgroups are too small for the chunked form");
    const size_t limit = d.max_shared_memory;
    const uint32_t C = p.chunk;
    const uint32_t K = uint32_t(b.K), V = uint32_t(b.V);
    const uint32_t vcap = next_pow2(V);
    const uint32_t vblocks[] = {64, 32, 16, 8, 4, 2, 1};

    p.wy_ktile = 32;
    while (p.wy_ktile > 1 && wy_shared(C, p.wy_ktile) > limit) p.wy_ktile /= 2;
    require(wy_shared(C, p.wy_ktile) <= limit, "GPU scan: chunk of " + std::to_string(C) + " does not fit shared memory");

    // The delta rule's state block spans all K rows; the other kinds split K in blocks of 32.
    p.state_kblock = b.kind == TransitionKind::DeltaRule ? K : std::min<uint32_t>(K, 32);
    p.state_ktile = std::min<uint32_t>(32, p.state_kblock);
    p.state_vblock = 0;
    for (uint32_t vb : vblocks)
        if (vb <= std::max<uint32_t>(vcap, 1) && vb <= 32 && state_shared(C, p.state_ktile, vb, p.state_kblock) <= limit) {
            p.state_vblock = vb;
            break;
        }
    require(p.state_vblock > 0, "GPU scan: the state pass does not fit shared memory for K = " + std::to_string(K));

    p.out_ktile = 16;
    p.out_vblock = 0;
    for (uint32_t vb : vblocks)
        if (vb <= std::max<uint32_t>(vcap, 1) && output_shared(C, p.out_ktile, vb) <= limit) {
            p.out_vblock = vb;
            break;
        }
    require(p.out_vblock > 0, "GPU scan: the output kernel does not fit shared memory");
    return p;
}

void ScanKernels::ensure_chunk_scratch(ScanBuffers& b, const ChunkPlan& plan) {
    const size_t L = size_t(b.T) * b.substeps;
    const int N = int((L + plan.chunk - 1) / plan.chunk);
    const bool gated = b.has_decay && b.kind != TransitionKind::Identity;
    const size_t gate_width = b.kind == TransitionKind::Diagonal ? size_t(b.K) : 1;
    if (gated && !b.gcum.valid()) b.gcum = float_buffer(ctx_, L * b.H * gate_width, "chunk cumulative gates");
    if (b.kind == TransitionKind::DeltaRule && !b.w.valid()) {
        b.w = float_buffer(ctx_, L * b.H * b.K, "delta-rule W");
        b.u = float_buffer(ctx_, L * b.H * b.V, "delta-rule U");
    }
    if (!b.sb.valid() || b.num_chunks != N) {
        b.sb = Buffer();
        b.sb = float_buffer(ctx_, size_t(N) * b.H * b.K * b.V, "chunk-boundary states");
    }
    b.chunk = int(plan.chunk);
    b.num_chunks = N;
}

ScanTiming ScanKernels::run(ScanBuffers& b, const ScanRunOptions& options) {
    require(supports(b.kind, options.form), std::string("GPU scan: the ") + scan_form_name(options.form) +
                                                 " form is not implemented for " + transition_name(b.kind) +
                                                 " (use the recurrent form)");
    const auto start = std::chrono::steady_clock::now();
    ScanPush push = make_push(b);
    const uint32_t kind = uint32_t(b.kind);
    CommandBatch batch(ctx_);
    batch.begin();
    batch.timestamp("start");

    if (options.form == ScanForm::Recurrent) {
        const RecurrentPlan p = plan_recurrent(b, options);
        ComputePipeline& pipe = ctx_.pipeline(scan_pipeline(
            p.module, {{SS_SC_WORKGROUP, p.workgroup}, {SS_SC_KIND, kind}, {SS_SC_LANES, p.lanes}, {SS_SC_ROWS, p.rows}},
            p.subgroup));
        const uint32_t columns_per_group = p.workgroup / p.lanes;
        batch.dispatch(pipe, bindings(b), push, ceil_div(b.V, columns_per_group), uint32_t(b.H));
        batch.timestamp("recurrent");
    } else {
        const ChunkPlan p = plan_chunked(b, options);
        ensure_chunk_scratch(b, p);
        push.num_chunks = uint32_t(b.num_chunks);
        const auto binds = bindings(b);
        const uint32_t N = uint32_t(b.num_chunks), H = uint32_t(b.H);
        const bool gated = b.has_decay && b.kind != TransitionKind::Identity;
        if (gated) {
            ComputePipeline& gates = ctx_.pipeline(
                scan_pipeline("scan_chunk_gates", {{SS_SC_WORKGROUP, 64}, {SS_SC_CHUNK, p.chunk}}));
            batch.dispatch(gates, binds, push, ceil_div(size_t(H) * push.gate_width, 64), N);
            batch.barrier(); // gcum written -> read by the WY, state and output kernels
            batch.timestamp("gates");
        }
        if (b.kind == TransitionKind::DeltaRule) {
            ComputePipeline& wy = ctx_.pipeline(scan_pipeline(
                "scan_chunk_wy", {{SS_SC_WORKGROUP, p.workgroup}, {SS_SC_CHUNK, p.chunk}, {SS_SC_KTILE, p.wy_ktile}}));
            batch.dispatch(wy, binds, push, N, H);
            batch.barrier(); // W, U written -> read by the state pass
            batch.timestamp("wy");
        }
        ComputePipeline& state = ctx_.pipeline(scan_pipeline(
            "scan_chunk_state", {{SS_SC_WORKGROUP, p.workgroup},
                                 {SS_SC_KIND, kind},
                                 {SS_SC_CHUNK, p.chunk},
                                 {SS_SC_KTILE, p.state_ktile},
                                 {SS_SC_VBLOCK, p.state_vblock},
                                 {SS_SC_KBLOCK, p.state_kblock}}));
        batch.dispatch(state, binds, push, ceil_div(b.V, p.state_vblock), ceil_div(b.K, p.state_kblock), H);
        batch.barrier(); // boundary states and u~ written -> read by the output kernel
        batch.timestamp("state pass");
        ComputePipeline& out = ctx_.pipeline(scan_pipeline("scan_chunk_output", {{SS_SC_WORKGROUP, p.workgroup},
                                                                                 {SS_SC_KIND, kind},
                                                                                 {SS_SC_CHUNK, p.chunk},
                                                                                 {SS_SC_KTILE, p.out_ktile},
                                                                                 {SS_SC_VBLOCK, p.out_vblock}}));
        batch.dispatch(out, binds, push, N, ceil_div(b.V, p.out_vblock), H);
        batch.timestamp("outputs");
    }
    batch.submit_and_wait();

    ScanTiming timing;
    timing.stages_ms = batch.intervals();
    for (const auto& s : timing.stages_ms) timing.gpu_ms += s.second;
    timing.wall_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return timing;
}

std::string ScanKernels::describe(const ScanBuffers& b, const ScanRunOptions& options) const {
    if (options.form == ScanForm::Recurrent) {
        const RecurrentPlan p = plan_recurrent(b, options);
        return p.module + " lanes=" + std::to_string(p.lanes) + " rows/lane=" + std::to_string(p.rows) +
               " workgroup=" + std::to_string(p.workgroup);
    }
    const ChunkPlan p = plan_chunked(b, options);
    return "chunk=" + std::to_string(p.chunk) + " workgroup=" + std::to_string(p.workgroup) + " state block " +
           std::to_string(p.state_kblock) + "x" + std::to_string(p.state_vblock) + " output vblock=" +
           std::to_string(p.out_vblock);
}

void ScanKernels::download_state(const ScanBuffers& b, float* S) const {
    download(ctx_, b.S, S, size_t(b.H) * b.K * b.V * sizeof(float));
}

void ScanKernels::download_outputs(const ScanBuffers& b, float* o) const {
    download(ctx_, b.o, o, size_t(b.T) * b.H * b.V * sizeof(float));
}

Tensor ScanKernels::download_chunk_states(const ScanBuffers& b) const {
    require(b.sb.valid(), "GPU scan: no chunked run has produced chunk-boundary states");
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
    if (chunk_states && options.form == ScanForm::Chunked) *chunk_states = kernels.download_chunk_states(b);
    return t;
}

} // namespace statescope::vk
