#version 450
// Per-group row reductions of linear attention's feature maps, in place (engine/models/
// linear_attn.cpp): hedgehog's softmax (exp(x - max) / sum) and norm_q / norm_k's division by the
// feature sum plus eps. The element-wise kernels cannot express either (each needs a reduction
// over the group). One workgroup per (group, row); reductions in shared memory.
#define LINEAR_ATTN_ROWS
#include "common/linear_attn_push.h"

layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer X { float x[]; };

shared float red[256];

void main() {
    const uint g = gl_WorkGroupID.x;
    const uint r = gl_WorkGroupID.z * pc.rows_per_z + gl_WorkGroupID.y;
    if (r >= pc.rows) return;   // uniform per workgroup
    const uint tid = gl_LocalInvocationID.x;
    const uint base = pc.offset + r * pc.stride + g * pc.group;

    float shift = 0.0;
    if (pc.mode == LA_ROWS_SOFTMAX) {
        float m = uintBitsToFloat(0xff800000u);   // -infinity
        for (uint i = tid; i < pc.group; i += 256u) m = max(m, x[base + i]);
        red[tid] = m;
        barrier();
        for (uint s = 128u; s > 0u; s >>= 1) {
            if (tid < s) red[tid] = max(red[tid], red[tid + s]);
            barrier();
        }
        shift = red[0];
        barrier();   // everyone has read the max before red is reused
    }
    float sum = 0.0;
    for (uint i = tid; i < pc.group; i += 256u) {
        const float v = x[base + i];
        sum += pc.mode == LA_ROWS_SOFTMAX ? exp(v - shift) : v;
    }
    red[tid] = sum;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1) {
        if (tid < s) red[tid] += red[tid + s];
        barrier();
    }
    const float total = red[0];
    if (pc.mode == LA_ROWS_SOFTMAX) {
        const float inv = 1.0 / total;   // the CPU scales by the reciprocal too
        for (uint i = tid; i < pc.group; i += 256u) x[base + i] = exp(x[base + i] - shift) * inv;
    } else {
        for (uint i = tid; i < pc.group; i += 256u) x[base + i] = x[base + i] / (total + pc.eps);
    }
}
