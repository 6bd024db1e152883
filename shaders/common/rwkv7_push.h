// What engine/gpu/family_kernels.cpp and shaders/rwkv7_*.comp agree on (32-bit words only, so std430
// packs the push block like the C struct). Included by GLSL (GL_core_profile defined) and C++.
#ifndef STATESCOPE_SHADERS_RWKV7_PUSH_H
#define STATESCOPE_SHADERS_RWKV7_PUSH_H

#ifdef GL_core_profile
#define RW_U32 uint
#define RW_PUSH(name) layout(push_constant) uniform name##Block {
#define RW_PUSH_END } pc;
#else
#include <cstdint>
namespace statescope::gpu {
#define RW_U32 uint32_t
#define RW_PUSH(name) struct name {
#define RW_PUSH_END };
#endif

// rwkv7_bonus.comp: per token t and head h, o[t, h] <- (o + (sum_i r k r_k) v) * g over the head's
// K key and V value columns. Matrices are row-major views (offset, row stride) in floats; r_k is a
// [heads * K] vector. One workgroup per (head, token); tokens split over y and z.
RW_PUSH(Rwkv7BonusPush)
    RW_U32 rows; RW_U32 heads; RW_U32 K; RW_U32 V;
    RW_U32 o_offset; RW_U32 o_stride; RW_U32 r_offset; RW_U32 r_stride;
    RW_U32 k_offset; RW_U32 k_stride; RW_U32 rk_offset; RW_U32 v_offset;
    RW_U32 v_stride; RW_U32 g_offset; RW_U32 g_stride; RW_U32 rows_per_z;
RW_PUSH_END

#ifndef GL_core_profile
static_assert(sizeof(Rwkv7BonusPush) == 64, "Rwkv7BonusPush: 16 words");
} // namespace statescope::gpu
#endif

#undef RW_U32
#undef RW_PUSH
#undef RW_PUSH_END

#endif
