#include "gpu/scan_plan.h"

#include "statescope/error.h"
#include "gpu/dispatch_util.h"
#include "vulkan/device_info.h"

#include <algorithm>
#include <span>
#include <utility>

namespace statescope::gpu {

namespace {

// Loop iterations one dispatch may spend per invocation on a CPU driver (limit 65535).
constexpr size_t kLoopIterationBudget = 30000;

// The variants of scan_recurrent.comp compiled with a fixed number of state rows per lane
// (shaders/CMakeLists.txt), with subgroup shuffles and without.
struct RowVariant {
    uint32_t rows;
    vk::Kernel kernel;
};
constexpr RowVariant kSubgroupVariants[] = {{2, vk::Kernel::scan_recurrent_sg_r2},
                                            {4, vk::Kernel::scan_recurrent_sg_r4},
                                            {8, vk::Kernel::scan_recurrent_sg_r8},
                                            {16, vk::Kernel::scan_recurrent_sg_r16}};
constexpr RowVariant kPortableVariants[] = {{8, vk::Kernel::scan_recurrent_r8},
                                            {16, vk::Kernel::scan_recurrent_r16},
                                            {32, vk::Kernel::scan_recurrent_r32},
                                            {64, vk::Kernel::scan_recurrent_r64},
                                            {128, vk::Kernel::scan_recurrent_r128}};

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
} // namespace

uint32_t chunk_substeps(const ScanBuffers& b) {
    return b.kind == TransitionKind::DiagPlusRankOne ? 2u : uint32_t(b.substeps);
}

RecurrentPlan plan_recurrent(const vk::DeviceInfo& d, const ScanBuffers& b, const ScanRunOptions& options) {
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
    p.kernel = lanes > 1 ? vk::Kernel::scan_recurrent_sg : vk::Kernel::scan_recurrent;
    const std::span<const RowVariant> variants = lanes > 1 ? std::span<const RowVariant>(kSubgroupVariants)
                                                           : std::span<const RowVariant>(kPortableVariants);
    for (const RowVariant& v : variants)
        if (p.rows <= v.rows && 2 * p.rows > v.rows) {   // at most half of the registers idle
            p.kernel = v.kernel;
            p.rows = v.rows;
            break;
        }
    // A multiple of the subgroup size, so that the lanes of one column never straddle subgroups.
    // Large workgroups (512) on GPUs, whose drivers keep few workgroups resident per
    // multiprocessor; 128 on CPU drivers (docs/benchmarks.md, "Why the scan planner's defaults").
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

ChunkPlan plan_chunked(const vk::DeviceInfo& d, const ScanBuffers& b, const ScanRunOptions& options) {
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

std::string describe_plan(const vk::DeviceInfo& d, const ScanBuffers& b, const ScanRunOptions& options) {
    if (options.form == ScanForm::ChunkedF16) {
        check_tensor_core_form(d, b, options);
        const TensorCorePlan p = plan_tensor_core(b, options);
        return "tensor cores (NV cooperative matrix " + std::string(kTensorCoreShape) + "): fused, chunk=32, value block " +
               std::to_string(p.vblock) + " (" + std::to_string(2 * p.vblock) + " threads)" +
               (p.segments > 1 ? ", " + std::to_string(p.segments) + " segments per sequence" : "") +
               (p.prefetch ? ", next chunk prefetched in " + std::to_string(p.prefetch) + " part(s)" : "") +
               ", chunk states " +
               (options.keep_chunk_states ? "kept" : "not kept");
    }
    if (options.form == ScanForm::Recurrent) {
        const RecurrentPlan p = plan_recurrent(d, b, options);
        return std::string(vk::kernel_name(p.kernel)) + " lanes=" + std::to_string(p.lanes) + " rows/lane=" + std::to_string(p.rows) +
               " workgroup=" + std::to_string(p.workgroup) + " tokens/block=" + std::to_string(p.tokens);
    }
    const ChunkPlan p = plan_chunked(d, b, options);
    const std::string dplr_note = b.kind == TransitionKind::DiagPlusRankOne
                                      ? " (" + std::to_string(p.chunk / 2) + " tokens of 2 virtual micro-steps)"
                                      : "";
    return "chunk=" + std::to_string(p.chunk) + dplr_note + ", state block " + std::to_string(p.state_kblock) + "x" +
           std::to_string(p.state_vblock) + " (" + std::to_string(p.state_workgroup) + " threads), output block " +
           std::to_string(p.out_vblock) + " (" + std::to_string(p.out_workgroup) + " threads)";
}

} // namespace statescope::gpu
