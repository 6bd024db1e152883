#version 450
// y = x W^T (+ bias): x [M, Kd] float32, W [N, Kd] (torch.nn.Linear layout) in float32, float16 or
// bfloat16, y [M, N] float32 with float32 accumulation. Tiles of 64 x 64 outputs per workgroup,
// each of the 256 invocations computing a 4 x 4 block; Kd advances in steps of 16 through shared
// memory. Edges are guarded, so any M, N and Kd work.
#define OPS_MATMUL
#include "common/ops_push.h"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint WEIGHT_TYPE = OP_WEIGHT_F32;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wt { uint wt[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) writeonly buffer Y { float y[]; };

#include "common/weights.glsl"

const uint BM = 64, BN = 64, BK = 16;
shared float xs[BK][BM + 1];
shared float ws[BK][BN + 1];

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint m0 = gl_WorkGroupID.y * BM, n0 = gl_WorkGroupID.x * BN;
    const uint tm = (tid / 16u) * 4u, tn = (tid % 16u) * 4u;
    float acc[4][4];
    for (uint i = 0; i < 4u; ++i)
        for (uint j = 0; j < 4u; ++j) acc[i][j] = 0.0;

    for (uint k0 = 0; k0 < pc.Kd; k0 += BK) {
        // 64 x 16 values of each operand: 4 per invocation, consecutive k for coalescing.
        for (uint e = tid; e < BM * BK; e += 256u) {
            const uint row = e / BK, kk = e % BK;
            const uint k = k0 + kk;
            const uint m = m0 + row, n = n0 + row;
            xs[kk][row] = (m < pc.M && k < pc.Kd) ? x[pc.x_offset + m * pc.x_stride + k] : 0.0;
            ws[kk][row] = (n < pc.N && k < pc.Kd) ? load_weight(pc.w_offset + n * pc.Kd + k) : 0.0;
        }
        barrier();
        for (uint kk = 0; kk < BK; ++kk) {
            float xa[4], wb[4];
            for (uint i = 0; i < 4u; ++i) xa[i] = xs[kk][tm + i];
            for (uint j = 0; j < 4u; ++j) wb[j] = ws[kk][tn + j];
            for (uint i = 0; i < 4u; ++i)
                for (uint j = 0; j < 4u; ++j) acc[i][j] += xa[i] * wb[j];
        }
        barrier();
    }
    for (uint i = 0; i < 4u; ++i) {
        const uint m = m0 + tm + i;
        if (m >= pc.M) break;
        for (uint j = 0; j < 4u; ++j) {
            const uint n = n0 + tn + j;
            if (n >= pc.N) break;
            float v = acc[i][j];
            if (pc.has_bias != 0u) v += bias[pc.bias_offset + n];
            y[pc.y_offset + m * pc.y_stride + n] = v;
        }
    }
}
