#version 450
// RWKV-7's output correction after the GroupNorm (fla's gate_output_correction), per token t and
// head h:   o <- (o + bonus v) * g,   bonus = sum_i r_i k_i r_k[i] over the head's K features.
// The per-head sum is a reduction the element-wise kernels cannot express. One workgroup per
// (head, token); the sum is reduced in shared memory.
#include "common/rwkv7_push.h"

layout(local_size_x = 64) in;
layout(std430, binding = 0) buffer Out { float o[]; };
layout(std430, binding = 1) readonly buffer Receptance { float r[]; };
layout(std430, binding = 2) readonly buffer Keys { float k[]; };
layout(std430, binding = 3) readonly buffer BonusWeight { float r_k[]; };
layout(std430, binding = 4) readonly buffer Values { float v[]; };
layout(std430, binding = 5) readonly buffer Gate { float g[]; };

shared float partial[64];

void main() {
    const uint h = gl_WorkGroupID.x;
    const uint t = gl_WorkGroupID.z * pc.rows_per_z + gl_WorkGroupID.y;
    if (t >= pc.rows) return;   // uniform per workgroup
    const uint tid = gl_LocalInvocationID.x;
    float s = 0.0;
    for (uint i = tid; i < pc.K; i += 64u) {
        const uint c = h * pc.K + i;
        // (r * k) * r_k, in the CPU's order.
        s += r[pc.r_offset + t * pc.r_stride + c] * k[pc.k_offset + t * pc.k_stride + c] * r_k[pc.rk_offset + c];
    }
    partial[tid] = s;
    barrier();
    for (uint w = 32u; w > 0u; w >>= 1) {
        if (tid < w) partial[tid] += partial[tid + w];
        barrier();
    }
    const float bonus = partial[0];
    for (uint i = tid; i < pc.V; i += 64u) {
        const uint c = h * pc.V + i;
        const uint oi = pc.o_offset + t * pc.o_stride + c;
        o[oi] = (o[oi] + bonus * v[pc.v_offset + t * pc.v_stride + c]) * g[pc.g_offset + t * pc.g_stride + c];
    }
}
