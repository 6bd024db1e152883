#version 450
// y = x W^T (+ bias) for few rows (M <= MV_ROWS, a decoding step): memory-bound, so every weight
// is read once. Each workgroup computes 4 outputs; a quarter of its invocations (64) walks Kd
// for one output and all M rows, then the 64 partial sums are reduced in shared memory.
#define OPS_MATMUL
#include "common/ops_push.h"

#define MV_ROWS 8
layout(local_size_x = 256) in;
layout(constant_id = 0) const uint WEIGHT_TYPE = OP_WEIGHT_F32;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wt { uint wt[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };

#include "common/weights.glsl"

#ifdef MV_SUBGROUP
// Variant for devices with subgroup arithmetic: one subgroup per output, no shared memory and
// no barrier (the tree below costs 6 barriers, which dominated a decoding step on lavapipe:
// docs/benchmarks.md). The host dispatches ceil(N / (256 / subgroup size)) workgroups.
#extension GL_KHR_shader_subgroup_arithmetic : require

void main() {
    const uint lane = gl_SubgroupInvocationID, S = gl_SubgroupSize;
    const uint n = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID;
    if (n >= pc.N) return;   // the whole subgroup leaves together
    float acc[MV_ROWS];
    for (uint m = 0; m < MV_ROWS; ++m) acc[m] = 0.0;
    for (uint k = lane; k < pc.Kd; k += S) {
        const float wv = load_weight(pc.w_offset + n * pc.Kd + k);
        for (uint m = 0; m < MV_ROWS; ++m)
            if (m < pc.M) acc[m] += wv * x[pc.x_offset + m * pc.x_stride + k];
    }
    for (uint m = 0; m < MV_ROWS; ++m) {
        if (m >= pc.M) break;   // uniform
        float v = subgroupAdd(acc[m]);
        if (lane == 0u) {
            if (pc.has_bias != 0u) v += bias[pc.bias_offset + n];
            y[pc.y_offset + m * pc.y_stride + n] = v;
        }
    }
}
#else
shared float part[MV_ROWS][256];

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint q = tid / 64u, lane = tid % 64u;
    const uint n = gl_WorkGroupID.x * 4u + q;
    float acc[MV_ROWS];
    for (uint m = 0; m < MV_ROWS; ++m) acc[m] = 0.0;
    if (n < pc.N) {
        for (uint k = lane; k < pc.Kd; k += 64u) {
            const float wv = load_weight(pc.w_offset + n * pc.Kd + k);
            for (uint m = 0; m < MV_ROWS; ++m)
                if (m < pc.M) acc[m] += wv * x[pc.x_offset + m * pc.x_stride + k];
        }
    }
    for (uint m = 0; m < MV_ROWS; ++m) part[m][tid] = acc[m];
    barrier();
    for (uint s = 32u; s > 0u; s >>= 1) {
        if (lane < s)
            for (uint m = 0; m < MV_ROWS; ++m) part[m][tid] += part[m][tid + s];
        barrier();
    }
    if (lane == 0u && n < pc.N)
        for (uint m = 0; m < MV_ROWS; ++m)
            if (m < pc.M) {
                float v = part[m][tid];
                if (pc.has_bias != 0u) v += bias[pc.bias_offset + n];
                y[pc.y_offset + m * pc.y_stride + n] = v;
            }
}
#endif
