#include "gpu/attention_ops.h"

#include "statescope/error.h"
#include "gpu/dispatch_util.h"
#include "vulkan/context.h"
#include "vulkan/device_info.h"
#include "vulkan/pipeline.h"

#include "common/attn_push.h"   // shaders/common: shared with the GLSL side

#include <algorithm>
#include <cmath>
#include <string>

namespace statescope::gpu {

// The push blocks against what the kernels' SPIR-V declares (the kernel table).
static_assert(sizeof(RopePush) == vk::kernel_push_bytes(vk::Kernel::attn_rope));
static_assert(sizeof(AttentionPush) == vk::kernel_push_bytes(vk::Kernel::attn_tile) &&
              sizeof(AttentionPush) == vk::kernel_push_bytes(vk::Kernel::attn_decode));
static_assert(sizeof(AttentionCombinePush) == vk::kernel_push_bytes(vk::Kernel::attn_combine));

namespace {

constexpr uint32_t kMaxHeadDim = 256;
constexpr uint32_t kTileKeys = 64;     // BK of attn_tile.comp
constexpr uint32_t kDecodeRows = 8;    // RD of attn_decode.comp
// Query rows per kv head up to which the decode kernel is chosen: it reads the cache once per
// 8 rows but wastes no work on padding, which the tile kernel's 64-row blocks would.
constexpr uint32_t kDecodeMaxRows = 32;
// Loop iterations one invocation may spend in a dispatch on a CPU driver (llvmpipe stops a
// shader's loops after 65535, counted over all of them; the estimates below are upper bounds).
constexpr double kLoopIterationBudget = 30000;





bool is_cpu(const vk::DeviceInfo& d) { return d.type == VK_PHYSICAL_DEVICE_TYPE_CPU; }

// Shared memory of the kernels, mirroring their declarations.
size_t tile_shared_bytes(uint32_t nt, uint32_t D) {
    const size_t bq = nt / 4, bq4 = bq / 4, d4 = (D + 3) / 4, dc = (d4 + 15) / 16;
    const size_t stage = std::max<size_t>(16 * (bq4 + 16), 16 * 16 * dc);
    return 16 * (stage + bq * 16) + 4 * (2 * size_t(nt) + 6 * bq);
}
// Key groups of attn_decode: as many as leave each group enough invocations for a head's columns.
uint32_t decode_key_groups(uint32_t nt, uint32_t D) {
    uint32_t width = 32;
    while (width < D && width < nt) width *= 2;
    return std::max<uint32_t>(1, nt / width);
}
size_t decode_shared_bytes(uint32_t nt, uint32_t D) {
    const size_t kc = nt / kDecodeRows, cw = nt / decode_key_groups(nt, D), dcn = (D + cw - 1) / cw;
    return 4 * (kc * (D + 1) + size_t(kDecodeRows) * D + size_t(kDecodeRows) * nt / kc * kc + kDecodeRows * kc +
                nt * dcn + 6 * kDecodeRows);
}

// Loop iterations per key of one invocation (every loop counted as not unrolled, except the
// ones the shaders unroll explicitly).
double tile_iterations_per_key(uint32_t nt, uint32_t D) {
    const double bq = nt / 4, slices = ceil_div(D, 16), dc = ceil_div(ceil_div(D, 4), 16);
    const double scores = slices * (1 + std::ceil(bq * 16 / nt) + std::ceil(kTileKeys * 16.0 / nt));
    const double values = (kTileKeys / 16.0) * (1 + std::ceil(16.0 * D / nt) + 16 * dc);
    return (scores + values + 4 * dc + 16) / kTileKeys;
}
double decode_iterations_per_key(uint32_t nt, uint32_t D) {
    const double kc = nt / kDecodeRows, parts = nt / kc, kh = decode_key_groups(nt, D);
    const double dcn = ceil_div(D, nt / decode_key_groups(nt, D));
    const double scores = kDecodeRows * (std::ceil(D / parts) + 1) + parts;
    const double values = std::ceil(kc / kh) * dcn * (1 + kDecodeRows);
    const double chunk = 1 + std::ceil(kc * D / nt) + scores + 2 * kc + kDecodeRows * dcn + values + 8;
    return chunk / kc;
}

} // namespace

// ---- rotary embedding ----------------------------------------------------------------------

void rope(Ops& ops, const Mat& dst, const Mat& src, uint32_t heads, uint32_t head_dim, const Mat& inv_freq,
          int64_t first_position) {
    check_view(src, "rotary embedding", "input");
    check_view(dst, "rotary embedding", "output");
    check_view(inv_freq, "rotary embedding", "frequencies");
    require(head_dim >= 2 && head_dim % 2 == 0,
            "GPU rotary embedding: head dimension " + std::to_string(head_dim) + " is not a positive even number");
    require(src.cols == heads * head_dim && dst.cols == src.cols && dst.rows == src.rows,
            "GPU rotary embedding: input [" + std::to_string(src.rows) + ", " + std::to_string(src.cols) + "] and output [" +
                std::to_string(dst.rows) + ", " + std::to_string(dst.cols) + "] are not both [T, " +
                std::to_string(heads) + " x " + std::to_string(head_dim) + "]");
    require(inv_freq.rows == 1 && inv_freq.cols == head_dim / 2,
            "GPU rotary embedding: " + std::to_string(inv_freq.cols) + " frequencies for heads of " +
                std::to_string(head_dim));
    require(first_position >= 0 && first_position + int64_t(src.rows) <= int64_t(UINT32_MAX),
            "GPU rotary embedding: position " + std::to_string(first_position) + " is out of range");
    if (src.rows == 0 || heads == 0) return;
    RopePush p{};
    p.T = src.rows;
    p.heads = heads;
    p.head_dim = head_dim;
    p.first_position = uint32_t(first_position);
    p.src_offset = src.offset;
    p.src_stride = src.stride;
    p.dst_offset = dst.offset;
    p.dst_stride = dst.stride;
    p.freq_offset = inv_freq.offset;
    const auto [gx, gy] = grid_2d(uint64_t(src.rows) * heads * (head_dim / 2));
    p.groups_x = gx;
    ops.dispatch(kernel_pipeline(vk::Kernel::attn_rope), {src.buf, dst.buf, inv_freq.buf}, &p, sizeof p, gx, gy);
}

// ---- attention -----------------------------------------------------------------------------

AttentionPlan plan_attention(const vk::DeviceInfo& dev, uint32_t T, uint32_t P, const AttentionParams& p,
                             const AttentionTuning& tuning) {
    const uint32_t D = p.head_dim;
    const uint32_t groups = p.heads / std::max(p.kv_heads, 1u);
    const uint32_t rows = T * groups;
    AttentionPlan plan;
    plan.decode = tuning.kernel == AttentionTuning::Kernel::Decode ||
                  (tuning.kernel == AttentionTuning::Kernel::Auto && rows <= kDecodeMaxRows);

    // The widest workgroup whose shared memory fits (CPU drivers: 128, which lavapipe's 32 KiB
    // holds for any head up to 256).
    auto fits = [&](uint32_t nt) {
        const size_t bytes = plan.decode ? decode_shared_bytes(nt, D) : tile_shared_bytes(nt, D);
        return nt <= dev.max_workgroup_invocations && bytes <= dev.max_shared_memory;
    };
    if (tuning.workgroup != 0) {
        require(tuning.workgroup == 64 || tuning.workgroup == 128 || tuning.workgroup == 256,
                "GPU attention: workgroups of " + std::to_string(tuning.workgroup) + " (64, 128 or 256 are possible)");
        if (fits(tuning.workgroup)) plan.workgroup = tuning.workgroup;
    }
    // attn_decode: 128 (fewer rows of partial sums, more workgroups resident); attn_tile: 256
    // where it fits (docs/benchmarks.md, "Why the scan planner's defaults are what they are").
    const uint32_t widest = is_cpu(dev) || plan.decode ? 128 : 256;
    for (uint32_t nt = widest; nt >= 64 && plan.workgroup == 0; nt /= 2)
        if (fits(nt)) plan.workgroup = nt;
    require(plan.workgroup != 0, "GPU attention: heads of " + std::to_string(D) +
                                     " features do not fit the device's shared memory (" +
                                     std::to_string(dev.max_shared_memory) + " bytes)");
    plan.rows_per_block = plan.decode ? kDecodeRows : plan.workgroup / 4;
    plan.row_blocks = ceil_div(std::max(rows, 1u), plan.rows_per_block);

    // Keys per split: enough workgroups to fill a GPU when the queries alone do not (a long
    // cache with few new tokens), at least four chunks or tiles each so that merging stays
    // cheap: about 256 workgroups for decoding, 1024 tiles otherwise (measured: docs/
    // benchmarks.md, "Why the scan planner's defaults are what they are").
    const uint32_t key_block = plan.decode ? plan.workgroup / kDecodeRows : kTileKeys;
    uint32_t kps = tuning.keys_per_split;
    if (kps == 0) {
        const uint32_t target_groups = plan.decode ? 256 : 1024;
        const uint32_t have = plan.row_blocks * std::max(p.kv_heads, 1u);
        const uint32_t want_splits = std::max<uint32_t>(1, ceil_div(target_groups, have));
        kps = std::max<uint32_t>(ceil_div(std::max(P, 1u), want_splits), 4 * key_block);
    }
    if (is_cpu(dev)) {
        const double per_key = plan.decode ? decode_iterations_per_key(plan.workgroup, D)
                                           : tile_iterations_per_key(plan.workgroup, D);
        kps = std::min<uint32_t>(kps, uint32_t(kLoopIterationBudget / per_key));
    }
    kps = std::max(key_block, kps / key_block * key_block);
    plan.keys_per_split = kps;
    plan.splits = ceil_div(std::max(P, 1u), kps);
    return plan;
}

Mat attention(Ops& ops, const Mat& q, const Mat& keys, const Mat& values, const AttentionParams& p,
              const AttentionTuning& tuning) {
    check_view(q, "attention", "queries");
    check_view(keys, "attention", "key cache");
    check_view(values, "attention", "value cache");
    const uint32_t T = q.rows, P = keys.rows, D = p.head_dim;
    require(p.heads > 0 && p.kv_heads > 0 && p.heads % p.kv_heads == 0,
            "GPU attention: " + std::to_string(p.kv_heads) + " kv heads do not divide " + std::to_string(p.heads) +
                " heads");
    require(D >= 1 && D <= kMaxHeadDim, "GPU attention: head dimension " + std::to_string(D) +
                                            " is not supported (1 to " + std::to_string(kMaxHeadDim) + ")");
    require(q.cols == p.heads * D, "GPU attention: queries have " + std::to_string(q.cols) + " columns, not " +
                                       std::to_string(p.heads) + " heads x " + std::to_string(D));
    require(keys.cols == p.kv_heads * D && values.cols == keys.cols && values.rows == P && keys.stride == values.stride,
            "GPU attention: key and value caches are not both [P, " + std::to_string(p.kv_heads) + " x " +
                std::to_string(D) + "] with one row stride");
    require(P >= T, "GPU attention: " + std::to_string(T) + " queries but only " + std::to_string(P) +
                        " cache rows (the queries' own keys must be in the cache)");
    Mat o = ops.alloc(T, p.heads * D, "attention output");
    if (T == 0) return o;

    const vk::DeviceInfo& dev = ops.context().device();
    const AttentionPlan plan = plan_attention(dev, T, P, p, tuning);
    require(plan.row_blocks <= dev.max_workgroup_count[0] && p.kv_heads <= dev.max_workgroup_count[1] &&
                plan.splits <= dev.max_workgroup_count[2],
            "GPU attention: " + std::to_string(T) + " queries over " + std::to_string(P) +
                " keys need more workgroups than the device dispatches");

    const uint32_t TH = T * p.heads;
    Mat part_o, part_ml;
    if (plan.splits > 1) {
        part_o = ops.alloc(plan.splits * TH, D, "attention partial outputs");
        part_ml = ops.alloc(plan.splits * TH, 2, "attention partial maxima and sums");
    }
    AttentionPush a{};
    a.T = T;
    a.heads = p.heads;
    a.groups = p.heads / p.kv_heads;
    a.rows = T * a.groups;
    a.q_offset = q.offset;
    a.q_stride = q.stride;
    a.o_offset = o.offset;
    a.o_stride = o.stride;
    a.k_offset = keys.offset;
    a.v_offset = values.offset;
    a.kv_stride = keys.stride;
    a.keys = P;
    a.first_slot = P - T;
    a.window = p.window;
    a.keys_per_split = plan.keys_per_split;
    a.splits = plan.splits;
    a.part_o_offset = part_o.offset;
    a.part_ml_offset = part_ml.offset;
    a.scale = p.scale;
    const vk::Buffer& none = ops.placeholder();
    std::vector<std::pair<uint32_t, uint32_t>> spec{{ATTN_SPEC_WORKGROUP, plan.workgroup}, {ATTN_SPEC_HEAD_DIM, D}};
    if (plan.decode) spec.push_back({ATTN_SPEC_KEY_GROUPS, decode_key_groups(plan.workgroup, D)});
    const vk::PipelineDesc desc = kernel_pipeline(plan.decode ? vk::Kernel::attn_decode : vk::Kernel::attn_tile, spec);
    ops.dispatch(desc,
                 {q.buf, keys.buf, values.buf, o.buf, part_o.buf ? part_o.buf : &none, part_ml.buf ? part_ml.buf : &none},
                 &a, sizeof a, plan.row_blocks, p.kv_heads, plan.splits);

    if (plan.splits > 1) {
        AttentionCombinePush c{};
        c.T = T;
        c.heads = p.heads;
        c.head_dim = D;
        c.splits = plan.splits;
        c.o_offset = o.offset;
        c.o_stride = o.stride;
        c.part_o_offset = part_o.offset;
        c.part_ml_offset = part_ml.offset;
        const auto [gx, gy] = grid_2d(uint64_t(TH) * D);
        c.groups_x = gx;
        ops.dispatch(kernel_pipeline(vk::Kernel::attn_combine), {part_o.buf, part_ml.buf, o.buf}, &c, sizeof c, gx, gy);
    }
    return o;
}

} // namespace statescope::gpu
