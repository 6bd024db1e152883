#include "gpu/family_kernels.h"

#include "statescope/error.h"
#include "gpu/dispatch_util.h"

// shaders/common: shared with the GLSL side
#include "common/linear_attn_push.h"
#include "common/retnet_push.h"
#include "common/rwkv7_push.h"

#include <algorithm>
#include <string>

namespace statescope::gpu {

// The push blocks against what the kernels' SPIR-V declares (the kernel table).
static_assert(sizeof(LinearAttnRowsPush) == vk::kernel_push_bytes(vk::Kernel::linear_attn_rows));
static_assert(sizeof(LinearAttnKeySumPush) == vk::kernel_push_bytes(vk::Kernel::linear_attn_key_sum));
static_assert(sizeof(RotaryPush) == vk::kernel_push_bytes(vk::Kernel::retnet_rotary));
static_assert(sizeof(Rwkv7BonusPush) == vk::kernel_push_bytes(vk::Kernel::rwkv7_bonus));

void linear_attn_rows(Ops& ops, const Mat& x, uint32_t group, RowsMode mode, float eps) {
    require(group > 0 && x.cols % group == 0, "linear_attn GPU: " + std::to_string(x.cols) +
                                                  " columns are not groups of " + std::to_string(group));
    if (x.rows == 0) return;
    LinearAttnRowsPush p{};
    p.rows = x.rows;
    p.group = group;
    p.offset = x.offset;
    p.stride = x.stride;
    p.mode = mode == RowsMode::Softmax ? LA_ROWS_SOFTMAX : LA_ROWS_SUM;
    p.rows_per_z = std::min<uint32_t>(x.rows, 65535);
    p.eps = eps;
    ops.dispatch(kernel_pipeline(vk::Kernel::linear_attn_rows), {x.buf}, &p, sizeof p, x.cols / group, p.rows_per_z,
                 (x.rows + p.rows_per_z - 1) / p.rows_per_z);
}

void linear_attn_divide_by_key_sum(Ops& ops, const Mat& q, const Mat& k, const Mat& o, DeviceTensor& key_sum,
                                   uint32_t T, uint32_t H, uint32_t F, uint32_t V) {
    require(Tensor::numel(key_sum.shape) == int64_t(H) * F,
            "linear_attn GPU: key_sum holds " + std::to_string(Tensor::numel(key_sum.shape)) + " values, expected " +
                std::to_string(H * F));
    LinearAttnKeySumPush p{};
    p.T = T;
    p.H = H;
    p.F = F;
    p.V = V;
    p.q_offset = q.offset, p.q_stride = q.stride;
    p.k_offset = k.offset, p.k_stride = k.stride;
    p.o_offset = o.offset, p.o_stride = o.stride;
    p.z_offset = 0;
    ops.dispatch(kernel_pipeline(vk::Kernel::linear_attn_key_sum), {q.buf, k.buf, o.buf, key_sum.buf.get()}, &p,
                 sizeof p, H);
}

void retnet_rotate(Ops& ops, const Mat& x, uint32_t heads, uint32_t K, const Mat& table) {
    require(x.cols == heads * K && table.rows == x.rows,
            "RetNet rotary: x [" + std::to_string(x.rows) + ", " + std::to_string(x.cols) + "] is not " +
                std::to_string(heads) + " heads of " + std::to_string(K) + " for " + std::to_string(table.rows) +
                " tokens");
    RotaryPush p{};
    p.T = x.rows;
    p.heads = heads;
    p.K = K;
    p.x_offset = x.offset;
    p.x_stride = x.stride;
    p.table_offset = table.offset;
    const uint64_t invocations = uint64_t(x.rows) * heads * (K / 2);
    const uint32_t groups = uint32_t(std::max<uint64_t>(1, (invocations + 255) / 256));
    p.groups_x = std::min<uint32_t>(groups, 65535);
    ops.dispatch(kernel_pipeline(vk::Kernel::retnet_rotary), {x.buf, table.buf}, &p, sizeof p, p.groups_x,
                 (groups + p.groups_x - 1) / p.groups_x);
}

void rwkv7_bonus(Ops& ops, const Mat& o, const Mat& r, const Mat& k, const Mat& rk, const Mat& v, const Mat& g,
                 uint32_t heads, uint32_t K, uint32_t V) {
    const uint32_t T = o.rows;
    Rwkv7BonusPush p{};
    p.rows = T;
    p.heads = heads;
    p.K = K;
    p.V = V;
    p.o_offset = o.offset, p.o_stride = o.stride;
    p.r_offset = r.offset, p.r_stride = r.stride;
    p.k_offset = k.offset, p.k_stride = k.stride;
    p.rk_offset = rk.offset;
    p.v_offset = v.offset, p.v_stride = v.stride;
    p.g_offset = g.offset, p.g_stride = g.stride;
    p.rows_per_z = std::min<uint32_t>(T, 65535);
    ops.dispatch(kernel_pipeline(vk::Kernel::rwkv7_bonus), {o.buf, r.buf, k.buf, rk.buf, v.buf, g.buf}, &p, sizeof p,
                 heads, p.rows_per_z, (T + p.rows_per_z - 1) / p.rows_per_z);
}

} // namespace statescope::gpu
