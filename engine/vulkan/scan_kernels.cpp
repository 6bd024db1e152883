#include "vulkan/scan_kernels.h"

#include "vulkan/commands.h"
#include "vulkan/context.h"
#include "vulkan/pipeline.h"

#include "common/push_constants.h"   // shaders/common: shared with the GLSL side

#include <algorithm>
#include <chrono>
#include <iterator>
#include <limits>

namespace statescope::vk {

static_assert(SS_KIND_IDENTITY == int(TransitionKind::Identity) && SS_KIND_SCALAR == int(TransitionKind::Scalar) &&
                  SS_KIND_DIAGONAL == int(TransitionKind::Diagonal) && SS_KIND_DELTA == int(TransitionKind::DeltaRule) &&
                  SS_KIND_DPLR == int(TransitionKind::DiagPlusRankOne),
              "shader kind codes must follow statescope::TransitionKind");

const char* scan_form_name(ScanForm f) {
    switch (f) {
    case ScanForm::Recurrent: return "recurrent";
    case ScanForm::Chunked: return "chunked";
    case ScanForm::ChunkedF16: return "chunked-f16";
    }
    return "?";
}

namespace {

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

bool key_gates(TransitionKind k) { return k == TransitionKind::Diagonal || k == TransitionKind::DiagPlusRankOne; }

ScanPush make_push(const ScanBuffers& b) {
    ScanPush p{};
    p.T = uint32_t(b.T);
    p.H = uint32_t(b.H);
    p.K = uint32_t(b.K);
    p.V = uint32_t(b.V);
    p.substeps = uint32_t(b.substeps);
    p.L = uint32_t(b.T) * uint32_t(b.substeps);
    p.flags = (b.has_beta ? SS_FLAG_HAS_BETA : 0u) | (b.has_decay ? SS_FLAG_HAS_DECAY : 0u);
    p.gate_width = key_gates(b.kind) ? uint32_t(b.K) : 1u;
    return p;
}

// The chunked form runs DiagPlusRankOne as a scan of two micro-steps per token
// (shaders/scan_chunk_dplr.comp): its chunk, gates and scratch count those.
uint32_t chunk_substeps(const ScanBuffers& b) {
    return b.kind == TransitionKind::DiagPlusRankOne ? 2u : uint32_t(b.substeps);
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
    v[SS_BIND_S0] = b.state_in ? b.state_in : or_placeholder(b.S0);
    v[SS_BIND_S] = b.state_out ? b.state_out : or_placeholder(b.S);
    v[SS_BIND_O] = or_placeholder(b.o);
    v[SS_BIND_GCUM] = or_placeholder(b.gcum);
    v[SS_BIND_W] = or_placeholder(b.w);
    v[SS_BIND_U] = or_placeholder(b.u);
    v[SS_BIND_SB] = or_placeholder(b.sb);
    v[SS_BIND_Q16] = or_placeholder(b.q16);
    v[SS_BIND_K16] = or_placeholder(b.k16);
    v[SS_BIND_V16] = or_placeholder(b.v16);
    v[SS_BIND_T16] = or_placeholder(b.t16);
    v[SS_BIND_DPLR_KEYS] = or_placeholder(b.dplr_keys);
    v[SS_BIND_PROFILE] = or_placeholder(b.profile);
    v[SS_BIND_SEG_STATE] = or_placeholder(b.seg_state);
    v[SS_BIND_SEG_DECAY] = or_placeholder(b.seg_decay);
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

// Shared-memory bytes of each chunked kernel for a plan (mirrors the shaders' declarations:
// C4 = row tiles of 4, CP = padded rows, C4S = vec4s per transposed staged row).
struct ChunkDims {
    size_t C4, CP, C4S;
    explicit ChunkDims(uint32_t C) : C4((C + 3) / 4), CP(4 * C4), C4S(C4 + 1) {}
};
size_t wy_shared(uint32_t C, uint32_t KT) {
    const ChunkDims d(C);
    const size_t scratch = std::max(size_t(KT) * d.C4S, d.CP * (KT / 4));
    return 4 * (d.CP * (d.CP + 1) + 3 * d.CP) + 16 * scratch;
}
size_t state_shared(bool delta, uint32_t C, uint32_t KT, uint32_t VB, uint32_t KB) {
    const ChunkDims d(C);
    const size_t kbp = 4 * ((size_t(KB) + 3) / 4), vb4 = VB / 4;
    const size_t st = delta ? kbp * vb4 : 1;
    const size_t scratch = std::max(delta ? size_t(KT) * d.C4S : 0, size_t(KT) * (kbp / 4));
    return 16 * (st + scratch + d.CP * vb4);
}
size_t output_shared(bool diag, uint32_t C, uint32_t KT, uint32_t VB) {
    const ChunkDims d(C);
    const size_t vb4 = VB / 4;
    const size_t phase1 = (diag ? 3 : 2) * size_t(KT) * d.C4S + size_t(KT) * vb4, phase2 = d.CP * vb4;
    return 16 * (d.CP * d.C4S + std::max(phase1, phase2)) + 4 * d.CP;
}
uint32_t round_up(uint32_t x, uint32_t m) { return (x + m - 1) / m * m; }

// Tensor-core form: the cooperative-matrix shape its shader uses, its chunk and largest K
// (shaders/common/scan_tc.glsl), and its largest shared memory (mirrors scan_tc_fused.comp:
// vector decay's with value blocks of 128: four regions of C x (KMAX + 8) halves, v, the
// scores, per-row and per-channel factors; the other kinds stage two regions, ~35 KB).
constexpr const char* kTensorCoreShape = "16x16x16 f16*f16+f32->f32";
constexpr uint32_t kTensorCoreChunk = 32, kTensorCoreKMax = 128, kTensorCoreSubgroup = 32;
constexpr size_t kTensorCoreShared =
    2 * (4 * 32 * (kTensorCoreKMax + 8) + 32 * 136 + 32 * 40) + 4 + 4 * 4 * 32 + 4 * kTensorCoreKMax;

// The kinds whose sequences the tensor-core form can split into segments: a segment's
// transition must be one scalar (scan_tc_fused.comp's segment pass).
bool tensor_core_splits(TransitionKind kind) {
    return kind == TransitionKind::Identity || kind == TransitionKind::Scalar;
}

Buffer half_buffer(VulkanContext& ctx, size_t count, const std::string& name) {
    if (count >= (size_t(1) << 32))
        throw Error("scan buffer '" + name + "' would hold " + std::to_string(count) +
                    " values; the GPU kernels index at most 2^32 (use fewer tokens or heads)");
    return Buffer(ctx, count * 2, MemoryKind::Device, name);
}

// Loop iterations one dispatch may spend per invocation on a CPU driver (limit 65535).
constexpr size_t kLoopIterationBudget = 30000;

} // namespace

ScanKernels::ScanKernels(VulkanContext& ctx) : ctx_(ctx) {}

void ScanKernels::require_supported(TransitionKind kind, ScanForm form) {
    require(supports(kind, form), std::string("GPU scan: the ") + scan_form_name(form) + " form is not implemented for " +
                                      transition_name(kind) + " (use the recurrent form)");
}

bool ScanKernels::supports(TransitionKind kind, ScanForm form) {
    if (form == ScanForm::ChunkedF16) return kind != TransitionKind::DiagPlusRankOne;
    return true;
}

bool ScanKernels::tensor_cores_available(std::string* why) const {
    const DeviceInfo& d = ctx_.device();
    std::string reason;
    if (!d.coop_matrix_nv) reason = "no VK_NV_cooperative_matrix";
    else if (std::find(d.coop_matrix_nv_shapes.begin(), d.coop_matrix_nv_shapes.end(), kTensorCoreShape) ==
             d.coop_matrix_nv_shapes.end())
        reason = std::string("no ") + kTensorCoreShape + " cooperative-matrix shape at subgroup scope";
    else if (!d.float16 || !d.storage16) reason = "no float16 arithmetic or 16-bit storage buffers";
    else if (!d.subgroup_in_compute || !(d.subgroup_ops & VK_SUBGROUP_FEATURE_SHUFFLE_BIT))
        reason = "no subgroup shuffles in compute shaders";
    else if (d.subgroup_size != kTensorCoreSubgroup && !(d.subgroup_size_control && d.subgroup_min <= kTensorCoreSubgroup &&
                                                         d.subgroup_max >= kTensorCoreSubgroup))
        reason = "subgroups of " + std::to_string(d.subgroup_size) + " (the kernels need 32)";
    else if (d.max_shared_memory < kTensorCoreShared)
        reason = std::to_string(d.max_shared_memory) + " bytes of shared memory (the kernels need " +
                 std::to_string(kTensorCoreShared) + ")";
    if (why) *why = reason;
    return reason.empty();
}

void ScanKernels::check_tensor_core_form(const ScanBuffers& b, const ScanRunOptions& options) const {
    std::string why;
    if (!tensor_cores_available(&why))
        throw Error("GPU scan: the chunked-f16 (tensor-core) form needs NVIDIA cooperative matrices; " +
                    ctx_.device().name + " has " + why + " (use the chunked form)");
    require(b.substeps == 1, "GPU scan: the chunked-f16 form takes one micro-step per token (got " +
                                 std::to_string(b.substeps) + "; use the chunked form)");
    require(b.K % 16 == 0 && b.V % 16 == 0 && b.K <= int(kTensorCoreKMax),
            "GPU scan: the chunked-f16 form needs K and V multiples of 16 and K <= " + std::to_string(kTensorCoreKMax) +
                " (got K = " + std::to_string(b.K) + ", V = " + std::to_string(b.V) + "; use the chunked form)");
    const int vb = options.output_vblock;
    require(vb == 0 || vb == 32 || vb == 64 || vb == 128,
            "GPU scan: the chunked-f16 form takes value blocks of 32, 64 or 128 (got " + std::to_string(vb) + ")");
    if (b.kind == TransitionKind::Diagonal) {
        // scan_tc_vector_decay.glsl: a row's K/8 invocations form a power-of-two lane cluster,
        // and at least 128 invocations (value blocks of 64 or 128) hold a chunk's rows in registers.
        require(b.K == 16 || b.K == 32 || b.K == 64 || b.K == 128,
                "GPU scan: the chunked-f16 form of vector decay needs K = 16, 32, 64 or 128 (got K = " +
                    std::to_string(b.K) + "; use the chunked form)");
        require(vb == 0 || vb == 64 || vb == 128,
                "GPU scan: the chunked-f16 form of vector decay takes value blocks of 64 or 128 (got " + std::to_string(vb) +
                    ")");
    }
    require(options.tc_prefetch >= -1 && options.tc_prefetch <= 3,
            "GPU scan: tc_prefetch takes 0 to 3, or -1 for the default (got " + std::to_string(options.tc_prefetch) + ")");
    require(options.tc_segments == -1 || options.tc_segments >= 1,
            "GPU scan: tc_segments takes a count of at least 1, or -1 for the default (got " +
                std::to_string(options.tc_segments) + ")");
    if (options.tc_segments > 1) {
        require(tensor_core_splits(b.kind),
                std::string("GPU scan: the chunked-f16 form splits sequences into segments for no decay and scalar "
                            "decay only (got ") +
                    transition_name(b.kind) + ")");
        require(!options.tc_profile, "GPU scan: the profiled tensor-core kernel runs unsplit sequences (tc_segments 1)");
    }
    require(!options.tc_profile || ctx_.device().shader_clock,
            "GPU scan: profiling the tensor-core form needs VK_KHR_shader_clock, which " + ctx_.device().name + " lacks");
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
    b.q = float_buffer(ctx_, size_t(T) * H * K, "scan q");
    b.k = float_buffer(ctx_, L * H * K, "scan k");
    b.v = float_buffer(ctx_, L * H * V, "scan v");
    if (b.has_beta) b.beta = float_buffer(ctx_, L * H, "scan beta");
    if (b.has_decay) b.g = float_buffer(ctx_, size_t(T) * H * (key_gate ? K : 1), "scan log decay");
    if (kind == TransitionKind::DiagPlusRankOne) {
        b.a = float_buffer(ctx_, size_t(T) * H * K, "scan a");
        b.b = float_buffer(ctx_, size_t(T) * H * K, "scan b");
    }
    b.o = float_buffer(ctx_, size_t(T) * H * V, "scan o");
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
        // Enough lanes that each holds at most 8 state rows (registers), within one subgroup.
        while (ceil_div(uint32_t(b.K), lanes) > 8 && lanes < d.subgroup_size) lanes *= 2;
    }
    p.lanes = lanes;
    p.rows = ceil_div(uint32_t(b.K), lanes);
    // The smallest variant compiled with a fixed row count that holds the rows (rows past K are
    // skipped by the kernel), else the generic one sized by a specialization constant.
    const std::vector<uint32_t> fixed = lanes > 1 ? std::vector<uint32_t>{2, 4, 8, 16} : std::vector<uint32_t>{8, 16, 32, 64, 128};
    p.module = lanes > 1 ? "scan_recurrent_sg" : "scan_recurrent";
    for (uint32_t r : fixed)
        if (p.rows <= r && 2 * p.rows > r) {   // at most half of the registers idle
            p.module += "_r" + std::to_string(r);
            p.rows = r;
            break;
        }
    // A multiple of the subgroup size, so that the lanes of one column never straddle subgroups.
    // Large workgroups on GPUs: measured on an H100, 512 threads ran 4x faster than 128 (the
    // driver kept few workgroups resident per multiprocessor). 128 on CPU drivers.
    p.workgroup = std::max<uint32_t>(d.type == VK_PHYSICAL_DEVICE_TYPE_CPU ? 128 : 512, d.subgroup_size);
    p.workgroup = std::min(p.workgroup, std::max(d.max_workgroup_invocations / d.subgroup_size, 1u) * d.subgroup_size);
    if (options.recurrent_workgroup > 0) {
        p.workgroup = uint32_t(options.recurrent_workgroup);
        require(p.workgroup % std::max<uint32_t>(d.subgroup_size, lanes) == 0 && p.workgroup <= d.max_workgroup_invocations,
                "GPU scan: the recurrent workgroup must be a multiple of the subgroup size and of the lanes");
    }
    if (lanes > 1 && d.subgroup_size_control) p.subgroup = d.subgroup_size;
    // As many tokens per staging block as shared memory holds (mirrors the shader's layout).
    const uint32_t K = uint32_t(b.K), n = uint32_t(b.substeps), cols = p.workgroup / lanes;
    const bool key_gate = b.kind == TransitionKind::Diagonal || b.kind == TransitionKind::DiagPlusRankOne;
    const uint32_t gw = key_gate ? K : (b.kind == TransitionKind::Identity ? 0 : 1);
    const uint32_t ab = b.kind == TransitionKind::DiagPlusRankOne ? K : 0;
    const size_t per_token = size_t(n) * K + K + gw + 2 * ab + n + size_t(n) * cols;
    p.tokens = options.recurrent_tokens > 0 ? uint32_t(options.recurrent_tokens) : 32;
    while (p.tokens > 1 && p.tokens * per_token * sizeof(float) > d.max_shared_memory) p.tokens /= 2;
    require(p.tokens * per_token * sizeof(float) <= d.max_shared_memory,
            "GPU scan: one token's inputs (K = " + std::to_string(K) + ") do not fit the device's shared memory");
    // llvmpipe/lavapipe ends a shader's loops after 65535 iterations counted over all its loops
    // (LP_MAX_TGSI_LOOP_ITERATIONS): on CPU drivers, split the token loop over dispatches with a
    // generous margin (an upper estimate of the loop iterations one token costs).
    p.segment = uint32_t(b.T);
    if (d.type == VK_PHYSICAL_DEVICE_TYPE_CPU) {
        const size_t per_token_iters = size_t(n) * (4 * p.rows + 4) + 2 * p.rows + 12 + per_token / p.workgroup;
        const uint32_t fit = uint32_t(std::max<size_t>(1, kLoopIterationBudget / per_token_iters));
        p.segment = std::max(p.tokens, fit / p.tokens * p.tokens);
    }
    return p;
}

ScanKernels::ChunkPlan ScanKernels::plan_chunked(const ScanBuffers& b, const ScanRunOptions& options) const {
    const DeviceInfo& d = ctx_.device();
    ChunkPlan p;
    require(b.kind != TransitionKind::DiagPlusRankOne || b.substeps == 1,
            "GPU scan: the chunked form of diagonal plus rank one takes one micro-step per token (got " +
                std::to_string(b.substeps) + "; use the recurrent form)");
    const uint32_t n = chunk_substeps(b);
    require(options.chunk >= 1 && options.chunk <= 64, "GPU scan: chunk must be between 1 and 64 positions");
    p.chunk = std::max(n, uint32_t(options.chunk) / n * n);
    require(p.chunk <= 64, "GPU scan: " + std::to_string(n) + " micro-steps per token do not fit a chunk of 64");
    const size_t limit = d.max_shared_memory;
    const uint32_t max_threads = d.max_workgroup_invocations;
    const uint32_t C = p.chunk, C4 = (C + 3) / 4;
    const uint32_t K = uint32_t(b.K), V = uint32_t(b.V);
    // DPLR's virtual scan has the delta rule's state-dependent values and per-channel gates.
    const bool dplr = b.kind == TransitionKind::DiagPlusRankOne;
    const bool delta = b.kind == TransitionKind::DeltaRule || dplr, diag = b.kind == TransitionKind::Diagonal || dplr;
    const uint32_t vcap = round_up(V, 4);   // no value block wider than V needs
    // Every kernel's threads: at least one per 4x4 tile of its largest product, a multiple of 32.
    auto threads = [&](uint32_t tiles) { return std::max<uint32_t>(64, round_up(tiles, 32)); };

    // WY (delta rule): the C x C matrix, the Gram tiles and the product tiles.
    p.wy_ktile = 32;
    while (p.wy_ktile > 4 && wy_shared(C, p.wy_ktile) > limit) p.wy_ktile /= 2;
    p.wy_workgroup = threads(std::max({C4 * C4, C4 * (p.wy_ktile / 4), C}));
    require(wy_shared(C, p.wy_ktile) <= limit && p.wy_workgroup <= max_threads,
            "GPU scan: a chunk of " + std::to_string(C) + " does not fit this device's workgroups");

    // State pass: the delta rule's block spans all K rows; the other kinds split K in blocks of
    // 32. Narrower value blocks when there are few heads, so that enough workgroups run.
    p.state_kblock = delta ? K : std::min<uint32_t>(K, 32);
    p.state_ktile = 16;
    const uint32_t kb4 = (p.state_kblock + 3) / 4;
    const uint32_t first_vb = uint32_t(b.H) * ((V + 31) / 32) < 128 ? 16 : 32;
    p.state_vblock = 0;
    for (uint32_t vb : {32u, 16u, 8u, 4u}) {
        if (vb > first_vb || (vb > vcap && vb > 4)) continue;
        const uint32_t wg = threads(std::max(kb4 * (vb / 4), delta ? C4 * (vb / 4) : 0));
        if (wg <= max_threads && state_shared(delta, C, p.state_ktile, vb, p.state_kblock) <= limit) {
            p.state_vblock = vb;
            p.state_workgroup = wg;
            break;
        }
    }
    require(p.state_vblock > 0, "GPU scan: the state pass does not fit this device for K = " + std::to_string(K));

    // Outputs: the widest value block that fits (the attention tile is computed once per block).
    p.out_vblock = 0;
    const std::pair<uint32_t, uint32_t> out_shapes[] = {{64, 16}, {32, 16}, {32, 8}, {16, 8}, {8, 8}, {4, 4}};
    for (const auto& [vb, kt] : out_shapes) {
        if (vb > vcap && vb > 4) continue;
        if ((options.output_vblock > 0 && vb != uint32_t(options.output_vblock)) ||
            (options.output_ktile > 0 && kt != uint32_t(options.output_ktile)))
            continue;
        const uint32_t wg = threads(std::max(C4 * C4, C4 * (vb / 4)));
        if (wg <= max_threads && wg <= 256 && output_shared(diag, C, kt, vb) <= limit) {
            p.out_vblock = vb;
            p.out_ktile = kt;
            p.out_workgroup = wg;
            break;
        }
    }
    require(p.out_vblock > 0, "GPU scan: the output kernel does not fit this device's shared memory");

    // The state pass walks all chunks in one loop; split it on CPU drivers (see plan_recurrent).
    p.state_segment = uint32_t((size_t(b.T) * n + C - 1) / C);
    if (d.type == VK_PHYSICAL_DEVICE_TYPE_CPU) {
        const size_t kt = p.state_ktile, kbp = 4 * kb4, wg = p.state_workgroup;
        const size_t per_chunk = (delta ? (K / kt + 1) * (4 * C4 * kt / wg + kt + 4) : 0) +
                                 (C / kt + 1) * (kt * kbp / wg + kt + 4) + 4 * C4 * p.state_vblock / wg + 48;
        p.state_segment = std::min<uint32_t>(p.state_segment, uint32_t(std::max<size_t>(1, kLoopIterationBudget / per_chunk)));
    }
    return p;
}

void ScanKernels::ensure_chunk_scratch(ScanBuffers& b, const ChunkPlan& plan, bool chunk_states, bool delta_wu) {
    const size_t L = size_t(b.T) * chunk_substeps(b);
    const int N = int((L + plan.chunk - 1) / plan.chunk);
    const bool gated = b.has_decay && b.kind != TransitionKind::Identity;
    const size_t gate_width = key_gates(b.kind) ? size_t(b.K) : 1;
    if (gated && !b.gcum.valid()) b.gcum = float_buffer(ctx_, L * b.H * gate_width, "chunk cumulative gates");
    const bool dplr = b.kind == TransitionKind::DiagPlusRankOne;
    if (delta_wu && (b.kind == TransitionKind::DeltaRule || dplr) && !b.w.valid()) {
        b.w = float_buffer(ctx_, L * b.H * b.K, dplr ? "DPLR W" : "delta-rule W");
        b.u = float_buffer(ctx_, L * b.H * b.V, dplr ? "DPLR U" : "delta-rule U");
    }
    if (dplr && !b.dplr_keys.valid()) b.dplr_keys = float_buffer(ctx_, L * b.H * b.K, "DPLR interleaved keys");
    if (!chunk_states) {
        b.sb = Buffer();   // a run that keeps none leaves none to download
    } else if (!b.sb.valid() || b.num_chunks != N) {
        b.sb = Buffer();
        b.sb = float_buffer(ctx_, size_t(N) * b.H * b.K * b.V, "chunk-boundary states");
    }
    b.chunk = int(plan.chunk / (dplr ? 2 : 1));   // chunk-start states count real positions
    b.num_chunks = N;
}

ScanTiming ScanKernels::run(ScanBuffers& b, const ScanRunOptions& options) {
    return run_repeated(b, options, 1).front();
}

std::vector<ScanTiming> ScanKernels::run_repeated(ScanBuffers& b, const ScanRunOptions& options, int runs) {
    require_supported(b.kind, options.form);
    require(runs >= 1 && runs <= 256, "GPU scan: run_repeated takes 1 to 256 runs");
    // A run allocates a few descriptor sets (a CPU driver's split loops reuse theirs: same
    // buffers) and stamps one timestamp per stage.
    constexpr const char* kRunEnd = "|";
    const auto start = std::chrono::steady_clock::now();
    CommandBatch batch(ctx_, uint32_t(64 * runs + 16), uint32_t(8 * runs + 8));
    batch.begin();
    batch.timestamp("start");
    for (int r = 0; r < runs; ++r) {
        record_stages(batch, b, options, /*timestamps=*/true, /*cast_f16=*/r == 0 && b.f16_stale);
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
    // The caller's kernels may have written q, k, v since the last call: always convert.
    record_stages(batch, b, options, /*timestamps=*/false, /*cast_f16=*/true);
    batch.barrier();   // o and the final state -> whatever the caller records next
}

void ScanKernels::record_stages(CommandBatch& batch, ScanBuffers& b, const ScanRunOptions& options, bool timestamps,
                                bool cast_f16) {
    if (options.form == ScanForm::ChunkedF16) {
        check_tensor_core_form(b, options);
        record_tensor_core(batch, b, options, timestamps, cast_f16);
        return;
    }
    auto stamp = [&](const char* label) {
        if (timestamps) batch.timestamp(label);
    };
    ScanPush push = make_push(b);
    const uint32_t kind = uint32_t(b.kind);

    if (options.form == ScanForm::Recurrent) {
        const RecurrentPlan p = plan_recurrent(b, options);
        ComputePipeline& pipe = ctx_.pipeline(scan_pipeline(
            p.module, {{SS_SC_WORKGROUP, p.workgroup}, {SS_SC_KIND, kind}, {SS_SC_LANES, p.lanes}, {SS_SC_ROWS, p.rows},
                       {SS_SC_KDIM, uint32_t(b.K)}, {SS_SC_TOKENS, p.tokens}, {SS_SC_SUBSTEPS, uint32_t(b.substeps)}},
            p.subgroup));
        const uint32_t columns_per_group = p.workgroup / p.lanes;
        const auto binds = bindings(b);
        for (uint32_t t = 0; t < uint32_t(b.T); t += p.segment) {
            if (t > 0) batch.barrier(); // the previous segment's state -> this segment's start
            push.seg_begin = t;
            push.seg_end = std::min<uint32_t>(uint32_t(b.T), t + p.segment);
            push.seg_first = t == 0;
            batch.dispatch(pipe, binds, push, ceil_div(b.V, columns_per_group), uint32_t(b.H));
        }
        stamp("recurrent");
    } else {
        const ChunkPlan p = plan_chunked(b, options);
        ensure_chunk_scratch(b, p, true);
        push.num_chunks = uint32_t(b.num_chunks);
        const bool dplr = b.kind == TransitionKind::DiagPlusRankOne;
        push.substeps = chunk_substeps(b);
        push.L = uint32_t(b.T) * push.substeps;
        const auto binds = bindings(b);
        // DPLR: the state and output kernels read the interleaved keys (a_t, k_t) as theirs.
        auto scan_binds = binds;
        if (dplr) scan_binds[SS_BIND_K] = &b.dplr_keys;
        const uint32_t N = uint32_t(b.num_chunks), H = uint32_t(b.H);
        const bool gated = b.has_decay && b.kind != TransitionKind::Identity;
        if (gated) {
            ComputePipeline& gates = ctx_.pipeline(
                scan_pipeline("scan_chunk_gates", {{SS_SC_WORKGROUP, 64}, {SS_SC_CHUNK, p.chunk}}));
            batch.dispatch(gates, binds, push, ceil_div(size_t(H) * push.gate_width, 64), N);
            batch.barrier(); // gcum written -> read by the WY, state and output kernels
            stamp("gates");
        }
        if (b.kind == TransitionKind::DeltaRule) {
            ComputePipeline& wy = ctx_.pipeline(scan_pipeline(
                "scan_chunk_wy", {{SS_SC_WORKGROUP, p.wy_workgroup}, {SS_SC_CHUNK, p.chunk}, {SS_SC_KTILE, p.wy_ktile}}));
            batch.dispatch(wy, binds, push, N, H);
            batch.barrier(); // W, U written -> read by the state pass
            stamp("wy");
        }
        if (dplr) {
            ComputePipeline& prep = ctx_.pipeline(
                scan_pipeline("scan_chunk_dplr", {{SS_SC_WORKGROUP, 256}, {SS_SC_CHUNK, p.chunk}}));
            batch.dispatch(prep, binds, push, N, H);
            batch.barrier(); // keys, W, U written -> read by the state pass
            stamp("dplr");
        }
        ComputePipeline& state = ctx_.pipeline(scan_pipeline(
            "scan_chunk_state", {{SS_SC_WORKGROUP, p.state_workgroup},
                                 {SS_SC_KIND, kind},
                                 {SS_SC_CHUNK, p.chunk},
                                 {SS_SC_KTILE, p.state_ktile},
                                 {SS_SC_VBLOCK, p.state_vblock},
                                 {SS_SC_KBLOCK, p.state_kblock}}));
        for (uint32_t c = 0; c < N; c += p.state_segment) {
            if (c > 0) batch.barrier(); // the previous segment's state -> this segment's start
            push.seg_begin = c;
            push.seg_end = std::min(N, c + p.state_segment);
            push.seg_first = c == 0;
            batch.dispatch(state, scan_binds, push, ceil_div(b.V, p.state_vblock), ceil_div(b.K, p.state_kblock), H);
        }
        batch.barrier(); // boundary states and u~ written -> read by the output kernel
        stamp("state pass");
        ComputePipeline& out = ctx_.pipeline(scan_pipeline("scan_chunk_output", {{SS_SC_WORKGROUP, p.out_workgroup},
                                                                                 {SS_SC_KIND, kind},
                                                                                 {SS_SC_CHUNK, p.chunk},
                                                                                 {SS_SC_KTILE, p.out_ktile},
                                                                                 {SS_SC_VBLOCK, p.out_vblock}}));
        batch.dispatch(out, scan_binds, push, N, ceil_div(b.V, p.out_vblock), H);
        stamp("outputs");
    }
}

// Chunks of the tensor-core form for b's length.
uint32_t tensor_core_chunks(const ScanBuffers& b) {
    return ceil_div(uint32_t(b.T) * uint32_t(b.substeps), kTensorCoreChunk);
}

uint32_t tensor_core_vblock(const ScanBuffers& b, const ScanRunOptions& options) {
    if (options.output_vblock != 0) return uint32_t(options.output_vblock);
    // Wider blocks read q and k fewer times (once per head with 128) and compute the scores
    // fewer times, but leave the GPU fewer workgroups, one per (block, head): with fewer than
    // ~128 of them (one per SM on an H100) the narrower blocks' extra workgroups matter more.
    // On the H100 at B=8, T=4096, H=16 (128 heads) blocks of 128 took 0.45 ms against 0.62 (64)
    // and 1.15 (32) for no decay; at B=4 and below, 64 was faster (docs/benchmarks.md, session 6).
    // Where sequences split into segments (tensor_core_segments), blocks of 128 with enough
    // segments for ~128 workgroups were fastest: no decay at T=65536, H=16 took 1.23 ms with 8
    // segments of blocks of 128 against 1.79 with 4 of 64 and 3.48 with blocks of 32.
    const uint32_t heads128 = ceil_div(b.V, 128) * uint32_t(b.H);
    if (heads128 >= 128) return 128;
    const bool splits = options.tc_segments != 1 && !options.tc_profile && tensor_core_splits(b.kind);
    if (splits && heads128 * (tensor_core_chunks(b) / 16) >= 128) return 128;
    if (b.kind == TransitionKind::Diagonal) return 64;   // (see check_tensor_core_form)
    return ceil_div(b.V, 64) * uint32_t(b.H) >= 256 ? 64 : 32;
}

// The prefetch depth of the fused kernel (ScanRunOptions::tc_prefetch). On the H100 (docs/
// benchmarks.md, session 5), spreading the next chunk's loads over three phases took scalar
// decay from 1.15 to 1.02 ms and the delta rule from 1.72 to 1.45 ms at B=8, T=4096, but made
// no decay slower (0.68 to 0.97 ms), and every kind slower when each SM holds a single
// workgroup (T=65536, B=1): the in-flight loads delay the shared-memory reads of the products
// (--tc-profile shows the score phase waiting), which pays only where the scalar gates' extra
// loads and arithmetic have something to hide behind.
// With value blocks of 128 (one workgroup per head, session 6) the next chunk's loads issued
// all at once (P=1) were fastest on the H100 (run 21, B=8, T=4096): no decay 0.357 ms against
// 0.440 with P=3 and 0.451 with P=0, scalar decay 0.460 against 0.525 (P=3), the delta rule
// 0.872 against 0.943 (P=3); split sequences too (H200, run 20: T=65536, 0.97 / 1.22 ms for no
// decay / scalar against 1.23 / 1.57 with P=0). Vector decay was slower with P=1.
uint32_t tensor_core_prefetch(const ScanBuffers& b, const ScanRunOptions& options, uint32_t workgroups,
                              uint32_t vblock, uint32_t segments) {
    if (options.tc_prefetch >= 0) return uint32_t(options.tc_prefetch);
    if (b.kind == TransitionKind::Diagonal) return 0;
    if (segments > 1) return 1;
    if (vblock == 128) return workgroups < 128 ? 0u : 1u;
    const bool gated_scalar = b.kind == TransitionKind::Scalar || b.kind == TransitionKind::DeltaRule;
    return gated_scalar && workgroups >= 256 ? 3u : 0u;
}

// Segments per sequence (ScanRunOptions::tc_segments). A workgroup walks its chunks one after
// another, so with few (value block, head) pairs most multiprocessors idle: split the chunks
// into segments run side by side, up to ~128 workgroups (one per SM on an H100), keeping at
// least 16 chunks a segment so that the extra pass stays small. Returns the count that
// segments of ceil(chunks / wanted) chunks make (at most the count wanted).
uint32_t tensor_core_segments(TransitionKind kind, uint32_t chunks, const ScanRunOptions& options, uint32_t workgroups) {
    uint32_t wanted = 1;
    if (options.tc_segments > 0) wanted = std::min<uint32_t>(uint32_t(options.tc_segments), std::max<uint32_t>(chunks, 1));
    else if (!options.tc_profile && tensor_core_splits(kind))
        wanted = std::max<uint32_t>(1, std::min<uint32_t>(128 / std::max<uint32_t>(workgroups, 1), chunks / 16));
    return wanted > 1 ? ceil_div(chunks, ceil_div(chunks, wanted)) : 1;
}

ScanKernels::TensorCorePlan ScanKernels::plan_tensor_core(const ScanBuffers& b, const ScanRunOptions& options) {
    TensorCorePlan p;
    const uint32_t chunks = tensor_core_chunks(b);
    p.vblock = tensor_core_vblock(b, options);
    p.groups = ceil_div(b.V, p.vblock) * uint32_t(b.H);
    p.segments = tensor_core_segments(b.kind, chunks, options, p.groups);
    p.seg_chunks = p.segments > 1 ? ceil_div(chunks, p.segments) : 0;
    p.prefetch = tensor_core_prefetch(b, options, p.groups * p.segments, p.vblock, p.segments);
    return p;
}

void ScanKernels::record_tensor_core(CommandBatch& batch, ScanBuffers& b, const ScanRunOptions& options,
                                     bool timestamps, bool cast_f16) {
    auto stamp = [&](const char* label) {
        if (timestamps) batch.timestamp(label);
    };
    ChunkPlan plan;
    plan.chunk = kTensorCoreChunk;
    ensure_chunk_scratch(b, plan, options.keep_chunk_states, /*delta_wu=*/false);
    const size_t L = size_t(b.T) * b.substeps;
    if (!b.q16.valid()) {
        b.q16 = half_buffer(ctx_, size_t(b.T) * b.H * b.K, "scan q (float16)");
        b.k16 = half_buffer(ctx_, L * b.H * b.K, "scan k (float16)");
        b.v16 = half_buffer(ctx_, L * b.H * b.V, "scan v (float16)");
        cast_f16 = true;
    }
    const bool delta = b.kind == TransitionKind::DeltaRule;
    const size_t t16_count = size_t(b.num_chunks) * b.H * 2 * kTensorCoreChunk * kTensorCoreChunk;
    if (delta && (!b.t16.valid() || b.t16.size() != t16_count * 2))
        b.t16 = half_buffer(ctx_, t16_count, "delta-rule UT transform (float16)");
    const TensorCorePlan tc = plan_tensor_core(b, options);
    if (options.tc_profile && (!b.profile.valid() || b.profile_workgroups != int(tc.groups))) {
        b.profile = Buffer(ctx_, size_t(tc.groups) * SS_PROFILE_ROW * sizeof(uint32_t), MemoryKind::Device,
                           "tensor-core scan profile");
        b.profile_workgroups = int(tc.groups);
    }
    if (tc.segments > 1) {
        const size_t states = size_t(tc.segments - 1) * b.H * b.K * b.V, decays = size_t(tc.segments - 1) * b.H;
        if (!b.seg_state.valid() || b.seg_state.size() < states * sizeof(float))
            b.seg_state = float_buffer(ctx_, states, "scan segment states");
        if (!b.seg_decay.valid() || b.seg_decay.size() < decays * sizeof(float))
            b.seg_decay = float_buffer(ctx_, decays, "scan segment decays");
    }
    ScanPush push = make_push(b);
    push.num_chunks = uint32_t(b.num_chunks);
    push.seg_chunks = tc.seg_chunks;
    if (!options.keep_chunk_states) push.flags |= SS_FLAG_NO_CHUNK_STATES;
    const auto binds = bindings(b);   // (with the profile and segment buffers just made)
    const uint32_t N = uint32_t(b.num_chunks), H = uint32_t(b.H), kind = uint32_t(b.kind);
    const uint32_t subgroup = ctx_.device().subgroup_size_control ? kTensorCoreSubgroup : 0;
    if (cast_f16) {
        const size_t counts[3] = {size_t(b.T) * b.H * b.K, L * b.H * b.K, L * b.H * b.V};
        for (uint32_t which = 0; which < 3; ++which) {
            ComputePipeline& cast = ctx_.pipeline(scan_pipeline("scan_tc_cast", {{SS_SC_WHICH, which}}));
            batch.dispatch(cast, binds, push, std::min<uint32_t>(4096, ceil_div(counts[which] / 4, 256)));
        }
        batch.barrier(); // float16 copies written -> read by the scan
        stamp("cast f16");
        b.f16_stale = false;
    }
    if (b.kind != TransitionKind::Identity && b.has_decay) {
        ComputePipeline& gates =
            ctx_.pipeline(scan_pipeline("scan_chunk_gates", {{SS_SC_WORKGROUP, 64}, {SS_SC_CHUNK, plan.chunk}}));
        batch.dispatch(gates, binds, push, ceil_div(size_t(H) * push.gate_width, 64), N);
        batch.barrier(); // gcum written -> read by the scan
        stamp("gates");
    }
    if (delta) {
        ComputePipeline& wy =
            ctx_.pipeline(scan_pipeline("scan_tc_wy", {{SS_SC_KDIM, uint32_t(b.K)}}, subgroup));
        batch.dispatch(wy, binds, push, N, H);
        batch.barrier(); // TB, TG written -> read by the scan
        stamp("wy");
    }
    const uint32_t vblock = tc.vblock;
    auto fused_pipeline = [&](uint32_t prefetch_depth) -> ComputePipeline& {
        return ctx_.pipeline(scan_pipeline(options.tc_profile ? "scan_tc_fused_prof" : "scan_tc_fused",
                                           {{SS_SC_WORKGROUP, 2 * vblock},
                                            {SS_SC_KIND, kind},
                                            {SS_SC_KDIM, uint32_t(b.K)},
                                            {SS_SC_VBLOCK, vblock},
                                            {SS_SC_PREFETCH, prefetch_depth}},
                                           subgroup));
    };
    // A split sequence: segment s runs chunks [s * seg_chunks, (s + 1) * seg_chunks). The
    // segment pass (all but the last segment) leaves each one's end state from a zero start;
    // the output pass carries S0 through them.
    if (tc.segments > 1) {
        ScanPush seg_push = push;
        seg_push.flags |= SS_FLAG_SEGMENT_STATES | SS_FLAG_NO_CHUNK_STATES;
        // (prefetch depths 2 and 3 issue loads inside phases the segment pass skips)
        batch.dispatch(fused_pipeline(std::min(tc.prefetch, 1u)), binds, seg_push, ceil_div(b.V, vblock), H,
                       tc.segments - 1);
        batch.barrier();   // segment states written -> read by the output pass
        stamp("segments");
    }
    batch.dispatch(fused_pipeline(tc.prefetch), binds, push, ceil_div(b.V, vblock), H, tc.segments);
    stamp("scan");
}

std::string ScanKernels::describe(const ScanBuffers& b, const ScanRunOptions& options) const {
    if (options.form == ScanForm::ChunkedF16) {
        check_tensor_core_form(b, options);
        const TensorCorePlan p = plan_tensor_core(b, options);
        return "tensor cores (NV cooperative matrix " + std::string(kTensorCoreShape) + "): fused, chunk=32, value block " +
               std::to_string(p.vblock) + " (" + std::to_string(2 * p.vblock) + " threads)" +
               (p.segments > 1 ? ", " + std::to_string(p.segments) + " segments per sequence" : "") +
               (p.prefetch ? ", next chunk prefetched in " + std::to_string(p.prefetch) + " part(s)" : "") +
               ", chunk states " +
               (options.keep_chunk_states ? "kept" : "not kept");
    }
    if (options.form == ScanForm::Recurrent) {
        const RecurrentPlan p = plan_recurrent(b, options);
        return p.module + " lanes=" + std::to_string(p.lanes) + " rows/lane=" + std::to_string(p.rows) +
               " workgroup=" + std::to_string(p.workgroup) + " tokens/block=" + std::to_string(p.tokens);
    }
    const ChunkPlan p = plan_chunked(b, options);
    const std::string dplr_note = b.kind == TransitionKind::DiagPlusRankOne
                                      ? " (" + std::to_string(p.chunk / 2) + " tokens of 2 virtual micro-steps)"
                                      : "";
    return "chunk=" + std::to_string(p.chunk) + dplr_note + ", state block " + std::to_string(p.state_kblock) + "x" +
           std::to_string(p.state_vblock) + " (" + std::to_string(p.state_workgroup) + " threads), output block " +
           std::to_string(p.out_vblock) + " (" + std::to_string(p.out_workgroup) + " threads)";
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

TensorCoreProfile ScanKernels::tensor_core_profile(const ScanBuffers& b) const {
    require(b.profile.valid(), "GPU scan: no tensor-core run with profiling (ScanRunOptions::tc_profile) to read");
    // The phases of scan_tc_fused.comp's chunk loop, in its PROF() order.
    static const char* const names[] = {"barrier 0 (chunk start)", "issue loads", "wait loads + stage", "barrier 1",
                                        "scores", "barrier 2", "mask (vector decay: stage 2)", "barrier 3",
                                        "outputs (+ delta values)", "state update"};
    static_assert(std::size(names) == SS_PROFILE_PHASES);
    constexpr size_t row = SS_PROFILE_ROW;
    std::vector<uint32_t> raw(size_t(b.profile_workgroups) * row);
    download(ctx_, b.profile, raw.data(), raw.size() * sizeof(uint32_t));
    TensorCoreProfile p;
    p.workgroups = b.profile_workgroups;
    p.chunks = b.num_chunks;
    const double per = 1.0 / (double(p.workgroups) * std::max(1, p.chunks));
    for (size_t i = 0; i < std::size(names); ++i) {
        double sum = 0;
        for (int g = 0; g < p.workgroups; ++g) sum += raw[size_t(g) * row + i];
        p.phases.emplace_back(names[i], sum * per);
    }
    double total = 0;
    for (int g = 0; g < p.workgroups; ++g) total += raw[size_t(g) * row + row - 1];
    p.total = total * per;
    return p;
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

} // namespace statescope::vk
