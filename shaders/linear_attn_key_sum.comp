#version 450
// norm_feature_map's normalisation (fla's normalize_with_z_state), after the scan: per head h,
// token by token,
//     z_h <- z_h + k[t, h]        o[t, h] <- o[t, h] / (q[t, h] . z_h + 1e-10)
// with z the layer's running key sum ([H, F], kept in the sequence state). The running sum over
// time and the dot product per token are what no element-wise kernel can do. One workgroup per
// head; each invocation owns features i = tid, tid + 256, ... of z (read and written only by it).
#define LINEAR_ATTN_KEY_SUM
#include "common/linear_attn_push.h"

layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer Kb { float k[]; };
layout(std430, binding = 2) buffer O { float o[]; };
layout(std430, binding = 3) buffer Z { float z[]; };

shared float red[256];

void main() {
    const uint h = gl_WorkGroupID.x;
    const uint tid = gl_LocalInvocationID.x;
    const uint zb = pc.z_offset + h * pc.F;
    for (uint t = 0u; t < pc.T; ++t) {
        const uint qb = pc.q_offset + t * pc.q_stride + h * pc.F;
        const uint kb = pc.k_offset + t * pc.k_stride + h * pc.F;
        float part = 0.0;
        for (uint i = tid; i < pc.F; i += 256u) {
            const float zi = z[zb + i] + k[kb + i];
            z[zb + i] = zi;
            part += q[qb + i] * zi;
        }
        red[tid] = part;
        barrier();
        for (uint s = 128u; s > 0u; s >>= 1) {
            if (tid < s) red[tid] += red[tid + s];
            barrier();
        }
        const float denom = red[0] + 1e-10;
        const uint ob = pc.o_offset + t * pc.o_stride + h * pc.V;
        for (uint i = tid; i < pc.V; i += 256u) o[ob + i] = o[ob + i] / denom;
        barrier();   // everyone has read red[0] before the next token reuses it
    }
}
