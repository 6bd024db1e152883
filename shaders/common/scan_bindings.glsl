// Storage buffers of the scan kernels (binding numbers from push_constants.h). Every kernel sees
// the same declarations; the compiler drops the ones a kernel does not touch.
#ifndef STATESCOPE_SCAN_BINDINGS_GLSL
#define STATESCOPE_SCAN_BINDINGS_GLSL

layout(std430, set = 0, binding = SS_BIND_Q) readonly buffer QBuf { float q_buf[]; };
layout(std430, set = 0, binding = SS_BIND_K) readonly buffer KBuf { float k_buf[]; };
layout(std430, set = 0, binding = SS_BIND_V) readonly buffer VBuf { float v_buf[]; };
layout(std430, set = 0, binding = SS_BIND_BETA) readonly buffer BetaBuf { float beta_buf[]; };
layout(std430, set = 0, binding = SS_BIND_G) readonly buffer GBuf { float g_buf[]; };
layout(std430, set = 0, binding = SS_BIND_A) readonly buffer ABuf { float a_buf[]; };
layout(std430, set = 0, binding = SS_BIND_B) readonly buffer BBuf { float b_buf[]; };
layout(std430, set = 0, binding = SS_BIND_S0) readonly buffer S0Buf { float s0_buf[]; };
layout(std430, set = 0, binding = SS_BIND_S) buffer SBuf { float s_buf[]; };
layout(std430, set = 0, binding = SS_BIND_O) buffer OBuf { float o_buf[]; };
layout(std430, set = 0, binding = SS_BIND_GCUM) buffer GcumBuf { float gcum_buf[]; };
layout(std430, set = 0, binding = SS_BIND_W) buffer WBuf { float w_buf[]; };
layout(std430, set = 0, binding = SS_BIND_U) buffer UBuf { float u_buf[]; };
layout(std430, set = 0, binding = SS_BIND_SB) buffer SbBuf { float sb_buf[]; };
layout(std430, set = 0, binding = SS_BIND_BONUS) readonly buffer BonusBuf { float bonus_buf[]; };

float beta_at(uint p, uint h) {
    return (pc.flags & SS_FLAG_HAS_BETA) != 0u ? beta_buf[p * pc.H + h] : 1.0;
}

#endif
