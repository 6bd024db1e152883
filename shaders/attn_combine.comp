#version 450
// Merges the partial results of attention over splits of the keys (attn_tile.comp and
// attn_decode.comp with several splits): split s left its row maximum m_s, sum l_s and
// unnormalised output O_s, so with M = max_s m_s
//     o = sum_s O_s exp(m_s - M) / sum_s l_s exp(m_s - M)
// (a split that saw no key of the row has m_s = -inf and counts for nothing). One invocation
// per (row t * heads + h, feature c).
#define ATTN_COMBINE
#include "common/attn_push.h"

layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer POb { float part_o[]; };
layout(std430, binding = 1) readonly buffer PMLb { float part_ml[]; };
layout(std430, binding = 2) writeonly buffer Ob { float o[]; };

void main() {
    const float NEG_INF = uintBitsToFloat(0xFF800000u);
    const uint idx = (gl_WorkGroupID.y * pc.groups_x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    const uint TH = pc.T * pc.heads;
    if (idx >= TH * pc.head_dim) return;
    const uint row = idx / pc.head_dim, c = idx % pc.head_dim;
    float M = NEG_INF;
    for (uint s = 0u; s < pc.splits; ++s) M = max(M, part_ml[pc.part_ml_offset + (s * TH + row) * 2u]);
    float L = 0.0, acc = 0.0;
    for (uint s = 0u; s < pc.splits; ++s) {
        const uint prow = s * TH + row;
        const float m = part_ml[pc.part_ml_offset + prow * 2u];
        if (m == NEG_INF) continue;
        const float w = exp(m - M);
        L += part_ml[pc.part_ml_offset + prow * 2u + 1u] * w;
        acc += part_o[pc.part_o_offset + prow * pc.head_dim + c] * w;
    }
    const uint t = row / pc.heads, h = row % pc.heads;
    o[pc.o_offset + t * pc.o_stride + h * pc.head_dim + c] = acc / L;
}
