#version 450
// Rotary position embedding of fla's RetNet (GPT-NeoX halves): in each head of K columns the
// pair (x_i, x_{i+K/2}) is rotated by the angle of (token, i). The angles' cos and sin come from
// the host (computed there exactly as the CPU forward computes them), so the GPU's own
// trigonometry, whose accuracy for large angles no Vulkan driver promises, never enters.
// One invocation per (token, head, pair).
#include "common/retnet_push.h"

layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Table { float table[]; };

void main() {
    const uint idx = (gl_WorkGroupID.y * pc.groups_x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    const uint half_k = pc.K / 2u;
    const uint pairs = pc.heads * half_k;
    if (idx >= pc.T * pairs) return;
    const uint t = idx / pairs, h = (idx % pairs) / half_k, i = idx % half_k;
    const float c = table[pc.table_offset + t * pc.K + i];
    const float s = table[pc.table_offset + t * pc.K + half_k + i];
    const uint base = pc.x_offset + t * pc.x_stride + h * pc.K;
    const float x0 = x[base + i], x1 = x[base + i + half_k];
    x[base + i] = x0 * c - x1 * s;
    x[base + i + half_k] = x0 * s + x1 * c;
}
