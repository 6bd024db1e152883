// Push block of shaders/retnet_rotary.comp, shared with engine/gpu/family_kernels.cpp (the same
// pattern as ops_push.h: GLSL when GL_core_profile is defined, a C++ struct otherwise).
#ifndef STATESCOPE_SHADERS_RETNET_PUSH_H
#define STATESCOPE_SHADERS_RETNET_PUSH_H

#ifdef GL_core_profile
#define RN_U32 uint
layout(push_constant) uniform RotaryBlock {
#else
#include <cstdint>
namespace statescope::gpu {
#define RN_U32 uint32_t
struct RotaryPush {
#endif
    // x [T, heads * K] at x_offset with row stride x_stride, rotated in place; the table is
    // [T, K] at table_offset: cos of the pair's angle in the first K/2 columns, sin in the rest.
    RN_U32 T; RN_U32 heads; RN_U32 K; RN_U32 x_offset;
    RN_U32 x_stride; RN_U32 table_offset; RN_U32 groups_x; RN_U32 pad0;
#ifdef GL_core_profile
} pc;
#else
};
static_assert(sizeof(RotaryPush) == 32, "RotaryPush: 8 words");
} // namespace statescope::gpu
#endif

#undef RN_U32

#endif
