#include "gpu/scan_plan.h"

#include "statescope/error.h"
#include "gpu/dispatch_util.h"
#include "vulkan/device_info.h"

#include <algorithm>

namespace statescope::gpu {

namespace {

// The fused kernel's largest shared memory (mirrors scan_tc_fused.comp: vector decay's with
// value blocks of 128: four regions of C x (KMAX + 8) halves, v, the scores, per-row and
// per-channel factors; the other kinds stage two regions, ~35 KB).
constexpr size_t kTensorCoreShared =
    2 * (4 * 32 * (kTensorCoreKMax + 8) + 32 * 136 + 32 * 40) + 4 + 4 * 4 * 32 + 4 * kTensorCoreKMax;

// The kinds whose sequences the tensor-core form can split into segments: a segment's
// transition must be one scalar (scan_tc_fused.comp's segment pass).
bool tensor_core_splits(TransitionKind kind) {
    return kind == TransitionKind::Identity || kind == TransitionKind::Scalar;
}

// Chunks of the tensor-core form for b's length.
uint32_t tensor_core_chunks(const ScanBuffers& b) {
    return ceil_div(uint32_t(b.T) * uint32_t(b.substeps), kTensorCoreChunk);
}

// The value block (ScanRunOptions::output_vblock). Wider blocks read q and k fewer times (once
// per head with 128) and compute the scores fewer times, but leave the GPU fewer workgroups, one
// per (block, head): blocks of 128 from ~128 such workgroups up (about one per multiprocessor of
// a large GPU), or where split sequences make that many; narrower blocks below, whose extra
// workgroups then matter more. The measurements behind the thresholds: docs/benchmarks.md, "Why
// the scan planner's defaults are what they are".
uint32_t tensor_core_vblock(const ScanBuffers& b, const ScanRunOptions& options) {
    if (options.output_vblock != 0) return uint32_t(options.output_vblock);
    const uint32_t heads128 = ceil_div(b.V, 128) * uint32_t(b.H);
    if (heads128 >= 128) return 128;
    const bool splits = options.tc_segments != 1 && !options.tc_profile && tensor_core_splits(b.kind);
    if (splits && heads128 * (tensor_core_chunks(b) / 16) >= 128) return 128;
    if (b.kind == TransitionKind::Diagonal) return 64;   // (see check_tensor_core_form)
    return ceil_div(b.V, 64) * uint32_t(b.H) >= 256 ? 64 : 32;
}

// The prefetch depth of the fused kernel (ScanRunOptions::tc_prefetch). In-flight loads of the
// next chunk delay the shared-memory reads of this chunk's products, which pays only where there
// is work to hide them behind: with blocks of 128 and enough workgroups, and in split sequences,
// the next chunk's loads go out at once (1); with narrower blocks only the scalar gates' extra
// loads and arithmetic hide loads spread over three phases (3), given many workgroups; vector
// decay and a single workgroup per multiprocessor prefetch nothing. Measured in
// docs/benchmarks.md, "Why the scan planner's defaults are what they are".
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
// into segments run side by side, up to ~128 workgroups (about one per multiprocessor of a
// large GPU), keeping at least 16 chunks a segment so that the extra pass stays small. Returns
// the count that segments of ceil(chunks / wanted) chunks make (at most the count wanted).
uint32_t tensor_core_segments(TransitionKind kind, uint32_t chunks, const ScanRunOptions& options, uint32_t workgroups) {
    uint32_t wanted = 1;
    if (options.tc_segments > 0) wanted = std::min<uint32_t>(uint32_t(options.tc_segments), std::max<uint32_t>(chunks, 1));
    else if (!options.tc_profile && tensor_core_splits(kind))
        wanted = std::max<uint32_t>(1, std::min<uint32_t>(128 / std::max<uint32_t>(workgroups, 1), chunks / 16));
    return wanted > 1 ? ceil_div(chunks, ceil_div(chunks, wanted)) : 1;
}

} // namespace

std::string tensor_core_missing(const vk::DeviceInfo& d) {
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
    return reason;
}

void check_tensor_core_form(const vk::DeviceInfo& d, const ScanBuffers& b, const ScanRunOptions& options) {
    if (const std::string why = tensor_core_missing(d); !why.empty())
        throw Error("GPU scan: the chunked-f16 (tensor-core) form needs NVIDIA cooperative matrices; " +
                    d.name + " has " + why + " (use the chunked form)");
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
    require(!options.tc_profile || d.shader_clock,
            "GPU scan: profiling the tensor-core form needs VK_KHR_shader_clock, which " + d.name + " lacks");
}

TensorCorePlan plan_tensor_core(const ScanBuffers& b, const ScanRunOptions& options) {
    TensorCorePlan p;
    const uint32_t chunks = tensor_core_chunks(b);
    p.vblock = tensor_core_vblock(b, options);
    p.groups = ceil_div(b.V, p.vblock) * uint32_t(b.H);
    p.segments = tensor_core_segments(b.kind, chunks, options, p.groups);
    p.seg_chunks = p.segments > 1 ? ceil_div(chunks, p.segments) : 0;
    p.prefetch = tensor_core_prefetch(b, options, p.groups * p.segments, p.vblock, p.segments);
    return p;
}

} // namespace statescope::gpu
