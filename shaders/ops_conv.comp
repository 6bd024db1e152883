#version 450
// Depthwise causal convolution with a window state, exactly cpu::ShortConv: the state [C, W]
// holds the last W inputs (newest last) before this call;
//   mode 0: y[t, c] = act(bias[c] + sum_j w[c, j] * in(t - W + 1 + j)), in(s < 0) = state[c, W + s]
//   mode 1: state[c, j] = in(T - W + j)   (one invocation per channel, after mode 0 has run)
#define OPS_CONV
#include "common/ops_push.h"

layout(local_size_x = 256) in;
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wc { float wc[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) buffer State { float state[]; };
layout(std430, binding = 4) writeonly buffer Y { float y[]; };

float input_at(int s, uint c) {
    if (s >= 0) return x[pc.x_offset + uint(s) * pc.x_stride + c];
    return state[pc.state_offset + c * pc.W + uint(int(pc.W) + s)];
}

void main() {
    const uint idx = (gl_WorkGroupID.y * pc.groups_x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (pc.mode == 0u) {
        if (idx >= pc.T * pc.C) return;
        const uint t = idx / pc.C, c = idx % pc.C;
        float acc = pc.has_bias != 0u ? bias[pc.bias_offset + c] : 0.0;
        for (uint j = 0; j < pc.W; ++j)
            acc += wc[pc.w_offset + c * pc.W + j] * input_at(int(t) - int(pc.W) + 1 + int(j), c);
        if (pc.silu != 0u) acc = acc / (1.0 + exp(-acc));
        y[pc.y_offset + t * pc.y_stride + c] = acc;
    } else {
        if (idx >= pc.C) return;
        const uint c = idx;
        float win[64];
        for (uint j = 0; j < pc.W; ++j) win[j] = input_at(int(pc.T) - int(pc.W) + int(j), c);
        for (uint j = 0; j < pc.W; ++j) state[pc.state_offset + c * pc.W + j] = win[j];
    }
}
