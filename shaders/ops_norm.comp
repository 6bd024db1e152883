#version 450
// Norms of engine/gpu/ops.h over groups of consecutive columns, in place: RMS, Layer (mean and
// variance), L2 (x / sqrt(sum x^2 + eps), fla's l2norm) and Sum (x / sum x). One workgroup per
// (group, row); the sums are reduced in shared memory.
#define OPS_NORM
#include "common/ops_push.h"

layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };

shared float s1[256];
shared float s2[256];

void main() {
    const uint g = gl_WorkGroupID.x;
    const uint r = gl_WorkGroupID.z * pc.rows_per_z + gl_WorkGroupID.y;
    if (r >= pc.rows) return;   // uniform per workgroup
    const uint tid = gl_LocalInvocationID.x;
    const uint base = pc.offset + r * pc.stride + g * pc.group;
    float sum = 0.0, sumsq = 0.0;
    for (uint i = tid; i < pc.group; i += 256u) {
        const float v = x[base + i];
        sum += v;
        sumsq += v * v;
    }
    s1[tid] = sum;
    s2[tid] = sumsq;
    barrier();
    for (uint s = 128u; s > 0u; s >>= 1) {
        if (tid < s) {
            s1[tid] += s1[tid + s];
            s2[tid] += s2[tid + s];
        }
        barrier();
    }
    const float n = float(pc.group);
    float mean = 0.0, scale = 1.0;
    if (pc.kind == OP_NORM_RMS) {
        scale = inversesqrt(s2[0] / n + pc.eps);
    } else if (pc.kind == OP_NORM_LAYER) {
        mean = s1[0] / n;
        // Two-pass variance over the group (the one-pass form loses digits when |mean| >> std).
        float dev = 0.0;
        for (uint i = tid; i < pc.group; i += 256u) {
            const float d = x[base + i] - mean;
            dev += d * d;
        }
        barrier();
        s2[tid] = dev;
        barrier();
        for (uint s = 128u; s > 0u; s >>= 1) {
            if (tid < s) s2[tid] += s2[tid + s];
            barrier();
        }
        scale = inversesqrt(s2[0] / n + pc.eps);
    } else if (pc.kind == OP_NORM_L2) {
        scale = inversesqrt(s2[0] + pc.eps);
    } else {
        scale = 1.0 / s1[0];
    }
    for (uint i = tid; i < pc.group; i += 256u) {
        const uint col = g * pc.group + i;
        float v = (x[base + i] - mean) * scale;
        if (pc.has_w != 0u) v *= w[pc.w_offset + col % pc.w_mod];
        if (pc.has_b != 0u) v += bias[pc.b_offset + col % pc.b_mod];
        x[base + i] = v;
    }
}
