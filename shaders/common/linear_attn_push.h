// What engine/gpu/family_kernels.cpp and shaders/linear_attn_*.comp agree on (32-bit words only,
// so std430 packs a push block like the C struct). Included by GLSL (GL_core_profile defined) and
// C++; a shader may declare one push block, so it defines its own macro (LINEAR_ATTN_ROWS or
// LINEAR_ATTN_KEY_SUM) before the include.
#ifndef STATESCOPE_SHADERS_LINEAR_ATTN_PUSH_H
#define STATESCOPE_SHADERS_LINEAR_ATTN_PUSH_H

#ifdef GL_core_profile
#define LA_U32 uint
#define LA_F32 float
#define LA_PUSH(name) layout(push_constant) uniform name##Block {
#define LA_PUSH_END } pc;
#else
#include <cstdint>
namespace statescope::gpu {
#define LA_U32 uint32_t
#define LA_F32 float
#define LA_PUSH(name) struct name {
#define LA_PUSH_END };
#endif

// linear_attn_rows.comp, in place over groups of `group` consecutive columns of x [rows, cols]
// (offset, row stride in floats); one workgroup per (group, row), rows split over y and z.
#define LA_ROWS_SOFTMAX 0   // exp(x - max) / sum                 (hedgehog's softmax)
#define LA_ROWS_SUM 1       // x / (sum x + eps)                  (norm_q / norm_k)
#if !defined(GL_core_profile) || defined(LINEAR_ATTN_ROWS)
LA_PUSH(LinearAttnRowsPush)
    LA_U32 rows; LA_U32 group; LA_U32 offset; LA_U32 stride;
    LA_U32 mode; LA_U32 rows_per_z; LA_F32 eps; LA_U32 pad0;
LA_PUSH_END
#endif

// linear_attn_key_sum.comp: norm_feature_map's denominator. Per head h (one workgroup each), token
// by token: z_h += k[t, h], o[t, h] /= q[t, h] . z_h + 1e-10. q, k [T, H * F] and o [T, H * V] are
// views (offset, row stride); z is the [H, F] running key sum at z_offset, updated in place.
#if !defined(GL_core_profile) || defined(LINEAR_ATTN_KEY_SUM)
LA_PUSH(LinearAttnKeySumPush)
    LA_U32 T; LA_U32 H; LA_U32 F; LA_U32 V;
    LA_U32 q_offset; LA_U32 q_stride; LA_U32 k_offset; LA_U32 k_stride;
    LA_U32 o_offset; LA_U32 o_stride; LA_U32 z_offset; LA_U32 pad0;
LA_PUSH_END
#endif

#ifndef GL_core_profile
static_assert(sizeof(LinearAttnRowsPush) == 32, "LinearAttnRowsPush: 8 words");
static_assert(sizeof(LinearAttnKeySumPush) == 48, "LinearAttnKeySumPush: 12 words");
} // namespace statescope::gpu
#endif

#undef LA_U32
#undef LA_F32
#undef LA_PUSH
#undef LA_PUSH_END

#endif
