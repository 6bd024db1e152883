#include "gpu/scan_record.h"

#include "statescope/error.h"
#include "gpu/dispatch_util.h"
#include "vulkan/commands.h"
#include "vulkan/context.h"
#include "vulkan/pipeline.h"

#include "common/push_constants.h"   // shaders/common: shared with the GLSL side

#include <algorithm>

namespace statescope::gpu {

using vk::Buffer;
using vk::CommandBatch;
using vk::MemoryKind;
using vk::VulkanContext;

static_assert(SS_KIND_IDENTITY == int(TransitionKind::Identity) && SS_KIND_SCALAR == int(TransitionKind::Scalar) &&
                  SS_KIND_DIAGONAL == int(TransitionKind::Diagonal) && SS_KIND_DELTA == int(TransitionKind::DeltaRule) &&
                  SS_KIND_DPLR == int(TransitionKind::DiagPlusRankOne),
              "shader kind codes must follow statescope::TransitionKind");
// Every scan kernel takes the one push block of push_constants.h.
static_assert(sizeof(ScanPush) == vk::kernel_push_bytes(vk::Kernel::scan_recurrent) &&
                  sizeof(ScanPush) == vk::kernel_push_bytes(vk::Kernel::scan_chunk_state) &&
                  sizeof(ScanPush) == vk::kernel_push_bytes(vk::Kernel::scan_tc_fused),
              "ScanPush must match the scan kernels' push block");

namespace {

bool key_gates(TransitionKind k) { return k == TransitionKind::Diagonal || k == TransitionKind::DiagPlusRankOne; }

ScanPush make_push(const ScanBuffers& b) {
    ScanPush p{};
    p.T = uint32_t(b.T);
    p.H = uint32_t(b.H);
    p.K = uint32_t(b.K);
    p.V = uint32_t(b.V);
    p.substeps = uint32_t(b.substeps);
    p.L = uint32_t(b.T) * uint32_t(b.substeps);
    p.flags = (b.has_beta ? SS_FLAG_HAS_BETA : 0u) | (b.has_decay ? SS_FLAG_HAS_DECAY : 0u) |
              (b.has_bonus ? SS_FLAG_BONUS : 0u);
    p.gate_width = key_gates(b.kind) ? uint32_t(b.K) : 1u;
    return p;
}

// The bindings of push_constants.h, in order; unused ones get the placeholder.
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
    v[SS_BIND_BONUS] = or_placeholder(b.bonus);
    return v;
}

vk::ComputePipeline& scan_pipeline(VulkanContext& ctx, vk::Kernel kernel,
                                   std::vector<std::pair<uint32_t, uint32_t>> spec, uint32_t subgroup = 0) {
    vk::PipelineDesc d;
    d.kernel = kernel;
    d.spec = std::move(spec);
    d.required_subgroup_size = subgroup;
    return ctx.pipeline(d);
}

// Dispatches a scan kernel with the layout's buffers up to the highest binding its SPIR-V
// declares (its binding count in the kernel table).
void dispatch_scan(CommandBatch& batch, const vk::ComputePipeline& pipe, std::vector<const Buffer*> binds,
                   const ScanPush& push, uint32_t gx, uint32_t gy = 1, uint32_t gz = 1) {
    binds.resize(pipe.interface().bindings);
    batch.dispatch(pipe, binds, push, gx, gy, gz);
}

} // namespace

namespace {

Buffer scan_buffer(VulkanContext& ctx, size_t count, size_t element_bytes, const std::string& name) {
    if (count >= (size_t(1) << 32))
        throw Error("scan buffer '" + name + "' would hold " + std::to_string(count) +
                    " values; the GPU kernels index at most 2^32 (use fewer tokens or heads)");
    return Buffer(ctx, count * element_bytes, MemoryKind::Device, name);
}

} // namespace

Buffer scan_float_buffer(VulkanContext& ctx, size_t count, const std::string& name) {
    return scan_buffer(ctx, count, sizeof(float), name);
}

Buffer scan_half_buffer(VulkanContext& ctx, size_t count, const std::string& name) {
    return scan_buffer(ctx, count, 2, name);
}

void ensure_chunk_scratch(VulkanContext& ctx, ScanBuffers& b, const ChunkPlan& plan, bool chunk_states, bool delta_wu) {
    const size_t L = size_t(b.T) * chunk_substeps(b);
    const int N = int((L + plan.chunk - 1) / plan.chunk);
    const bool gated = b.has_decay && b.kind != TransitionKind::Identity;
    const size_t gate_width = key_gates(b.kind) ? size_t(b.K) : 1;
    if (gated && !b.gcum.valid()) b.gcum = scan_float_buffer(ctx, L * b.H * gate_width, "chunk cumulative gates");
    const bool dplr = b.kind == TransitionKind::DiagPlusRankOne;
    if (delta_wu && (b.kind == TransitionKind::DeltaRule || dplr) && !b.w.valid()) {
        b.w = scan_float_buffer(ctx, L * b.H * b.K, dplr ? "DPLR W" : "delta-rule W");
        b.u = scan_float_buffer(ctx, L * b.H * b.V, dplr ? "DPLR U" : "delta-rule U");
    }
    if (dplr && !b.dplr_keys.valid()) b.dplr_keys = scan_float_buffer(ctx, L * b.H * b.K, "DPLR interleaved keys");
    if (!chunk_states) {
        b.sb = Buffer();   // a run that keeps none leaves none to download
    } else if (!b.sb.valid() || b.num_chunks != N) {
        b.sb = Buffer();
        b.sb = scan_float_buffer(ctx, size_t(N) * b.H * b.K * b.V, "chunk-boundary states");
    }
    b.chunk = int(plan.chunk / (dplr ? 2 : 1));   // chunk-start states count real positions
    b.num_chunks = N;
}

namespace {

void record_tensor_core(VulkanContext& ctx, CommandBatch& batch, ScanBuffers& b, const ScanRunOptions& options,
                        bool timestamps, bool cast_f16) {
    auto stamp = [&](const char* label) {
        if (timestamps) batch.timestamp(label);
    };
    ChunkPlan plan;
    plan.chunk = kTensorCoreChunk;
    ensure_chunk_scratch(ctx, b, plan, options.keep_chunk_states, /*delta_wu=*/false);
    const size_t L = size_t(b.T) * b.substeps;
    if (!b.q16.valid()) {
        b.q16 = scan_half_buffer(ctx, size_t(b.T) * b.H * b.K, "scan q (float16)");
        b.k16 = scan_half_buffer(ctx, L * b.H * b.K, "scan k (float16)");
        b.v16 = scan_half_buffer(ctx, L * b.H * b.V, "scan v (float16)");
        cast_f16 = true;
    }
    const bool delta = b.kind == TransitionKind::DeltaRule;
    const size_t t16_count = size_t(b.num_chunks) * b.H * 2 * kTensorCoreChunk * kTensorCoreChunk;
    if (delta && (!b.t16.valid() || b.t16.size() != t16_count * 2))
        b.t16 = scan_half_buffer(ctx, t16_count, "delta-rule UT transform (float16)");
    const TensorCorePlan tc = plan_tensor_core(b, options);
    if (options.tc_profile && (!b.profile.valid() || b.profile_workgroups != int(tc.groups))) {
        b.profile = Buffer(ctx, size_t(tc.groups) * SS_PROFILE_ROW * sizeof(uint32_t), MemoryKind::Device,
                           "tensor-core scan profile");
        b.profile_workgroups = int(tc.groups);
    }
    if (tc.segments > 1) {
        const size_t states = size_t(tc.segments - 1) * b.H * b.K * b.V, decays = size_t(tc.segments - 1) * b.H;
        if (!b.seg_state.valid() || b.seg_state.size() < states * sizeof(float))
            b.seg_state = scan_float_buffer(ctx, states, "scan segment states");
        if (!b.seg_decay.valid() || b.seg_decay.size() < decays * sizeof(float))
            b.seg_decay = scan_float_buffer(ctx, decays, "scan segment decays");
    }
    ScanPush push = make_push(b);
    push.num_chunks = uint32_t(b.num_chunks);
    push.seg_chunks = tc.seg_chunks;
    if (!options.keep_chunk_states) push.flags |= SS_FLAG_NO_CHUNK_STATES;
    const auto binds = bindings(b);   // (with the profile and segment buffers just made)
    const uint32_t N = uint32_t(b.num_chunks), H = uint32_t(b.H), kind = uint32_t(b.kind);
    const uint32_t subgroup = ctx.device().subgroup_size_control ? kTensorCoreSubgroup : 0;
    if (cast_f16) {
        const size_t counts[3] = {size_t(b.T) * b.H * b.K, L * b.H * b.K, L * b.H * b.V};
        for (uint32_t which = 0; which < 3; ++which) {
            const vk::ComputePipeline& cast = scan_pipeline(ctx, vk::Kernel::scan_tc_cast, {{SS_SC_WHICH, which}});
            dispatch_scan(batch, cast, binds, push, std::min<uint32_t>(4096, ceil_div(counts[which] / 4, 256)));
        }
        batch.barrier(); // float16 copies written -> read by the scan
        stamp("cast f16");
        b.f16_stale = false;
    }
    if (b.kind != TransitionKind::Identity && b.has_decay) {
        const vk::ComputePipeline& gates =
            scan_pipeline(ctx, vk::Kernel::scan_chunk_gates, {{SS_SC_WORKGROUP, 64}, {SS_SC_CHUNK, plan.chunk}});
        dispatch_scan(batch, gates, binds, push, ceil_div(size_t(H) * push.gate_width, 64), N);
        batch.barrier(); // gcum written -> read by the scan
        stamp("gates");
    }
    if (delta) {
        const vk::ComputePipeline& wy =
            scan_pipeline(ctx, vk::Kernel::scan_tc_wy, {{SS_SC_KDIM, uint32_t(b.K)}}, subgroup);
        dispatch_scan(batch, wy, binds, push, N, H);
        batch.barrier(); // TB, TG written -> read by the scan
        stamp("wy");
    }
    const uint32_t vblock = tc.vblock;
    auto fused_pipeline = [&](uint32_t prefetch_depth) -> const vk::ComputePipeline& {
        return scan_pipeline(ctx, options.tc_profile ? vk::Kernel::scan_tc_fused_prof : vk::Kernel::scan_tc_fused,
                             {{SS_SC_WORKGROUP, 2 * vblock},
                              {SS_SC_KIND, kind},
                              {SS_SC_KDIM, uint32_t(b.K)},
                              {SS_SC_VBLOCK, vblock},
                              {SS_SC_PREFETCH, prefetch_depth}},
                             subgroup);
    };
    // A split sequence: segment s runs chunks [s * seg_chunks, (s + 1) * seg_chunks). The
    // segment pass (all but the last segment) leaves each one's end state from a zero start;
    // the output pass carries S0 through them.
    if (tc.segments > 1) {
        ScanPush seg_push = push;
        seg_push.flags |= SS_FLAG_SEGMENT_STATES | SS_FLAG_NO_CHUNK_STATES;
        // (prefetch depths 2 and 3 issue loads inside phases the segment pass skips)
        dispatch_scan(batch, fused_pipeline(std::min(tc.prefetch, 1u)), binds, seg_push, ceil_div(b.V, vblock), H,
                      tc.segments - 1);
        batch.barrier();   // segment states written -> read by the output pass
        stamp("segments");
    }
    dispatch_scan(batch, fused_pipeline(tc.prefetch), binds, push, ceil_div(b.V, vblock), H, tc.segments);
    stamp("scan");
}

} // namespace

void record_scan(VulkanContext& ctx, CommandBatch& batch, ScanBuffers& b, const ScanRunOptions& options,
                 bool timestamps, bool cast_f16) {
    if (options.form == ScanForm::ChunkedF16) {
        check_tensor_core_form(ctx.device(), b, options);
        record_tensor_core(ctx, batch, b, options, timestamps, cast_f16);
        return;
    }
    auto stamp = [&](const char* label) {
        if (timestamps) batch.timestamp(label);
    };
    ScanPush push = make_push(b);
    const uint32_t kind = uint32_t(b.kind);

    if (options.form == ScanForm::Recurrent) {
        const RecurrentPlan p = plan_recurrent(ctx.device(), b, options);
        const vk::ComputePipeline& pipe = scan_pipeline(
            ctx, p.kernel,
            {{SS_SC_WORKGROUP, p.workgroup}, {SS_SC_KIND, kind}, {SS_SC_LANES, p.lanes}, {SS_SC_ROWS, p.rows},
             {SS_SC_KDIM, uint32_t(b.K)}, {SS_SC_TOKENS, p.tokens}, {SS_SC_SUBSTEPS, uint32_t(b.substeps)}},
            p.subgroup);
        const uint32_t columns_per_group = p.workgroup / p.lanes;
        const auto binds = bindings(b);
        for (uint32_t t = 0; t < uint32_t(b.T); t += p.segment) {
            if (t > 0) batch.barrier(); // the previous segment's state -> this segment's start
            push.seg_begin = t;
            push.seg_end = std::min<uint32_t>(uint32_t(b.T), t + p.segment);
            push.seg_first = t == 0;
            dispatch_scan(batch, pipe, binds, push, ceil_div(b.V, columns_per_group), uint32_t(b.H));
        }
        stamp("recurrent");
    } else {
        const ChunkPlan p = plan_chunked(ctx.device(), b, options);
        ensure_chunk_scratch(ctx, b, p, true);
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
            const vk::ComputePipeline& gates =
                scan_pipeline(ctx, vk::Kernel::scan_chunk_gates, {{SS_SC_WORKGROUP, 64}, {SS_SC_CHUNK, p.chunk}});
            dispatch_scan(batch, gates, binds, push, ceil_div(size_t(H) * push.gate_width, 64), N);
            batch.barrier(); // gcum written -> read by the WY, state and output kernels
            stamp("gates");
        }
        if (b.kind == TransitionKind::DeltaRule) {
            const vk::ComputePipeline& wy = scan_pipeline(
                ctx, vk::Kernel::scan_chunk_wy,
                {{SS_SC_WORKGROUP, p.wy_workgroup}, {SS_SC_CHUNK, p.chunk}, {SS_SC_KTILE, p.wy_ktile}});
            dispatch_scan(batch, wy, binds, push, N, H);
            batch.barrier(); // W, U written -> read by the state pass
            stamp("wy");
        }
        if (dplr) {
            const vk::ComputePipeline& prep =
                scan_pipeline(ctx, vk::Kernel::scan_chunk_dplr, {{SS_SC_WORKGROUP, 256}, {SS_SC_CHUNK, p.chunk}});
            dispatch_scan(batch, prep, binds, push, N, H);
            batch.barrier(); // keys, W, U written -> read by the state pass
            stamp("dplr");
        }
        const vk::ComputePipeline& state = scan_pipeline(ctx, vk::Kernel::scan_chunk_state,
                                                         {{SS_SC_WORKGROUP, p.state_workgroup},
                                                          {SS_SC_KIND, kind},
                                                          {SS_SC_CHUNK, p.chunk},
                                                          {SS_SC_KTILE, p.state_ktile},
                                                          {SS_SC_VBLOCK, p.state_vblock},
                                                          {SS_SC_KBLOCK, p.state_kblock}});
        for (uint32_t c = 0; c < N; c += p.state_segment) {
            if (c > 0) batch.barrier(); // the previous segment's state -> this segment's start
            push.seg_begin = c;
            push.seg_end = std::min(N, c + p.state_segment);
            push.seg_first = c == 0;
            dispatch_scan(batch, state, scan_binds, push, ceil_div(b.V, p.state_vblock), ceil_div(b.K, p.state_kblock), H);
        }
        batch.barrier(); // boundary states and u~ written -> read by the output kernel
        stamp("state pass");
        const vk::ComputePipeline& out = scan_pipeline(ctx, vk::Kernel::scan_chunk_output,
                                                       {{SS_SC_WORKGROUP, p.out_workgroup},
                                                        {SS_SC_KIND, kind},
                                                        {SS_SC_CHUNK, p.chunk},
                                                        {SS_SC_KTILE, p.out_ktile},
                                                        {SS_SC_VBLOCK, p.out_vblock}});
        dispatch_scan(batch, out, scan_binds, push, N, ceil_div(b.V, p.out_vblock), H);
        stamp("outputs");
    }
}

} // namespace statescope::gpu
