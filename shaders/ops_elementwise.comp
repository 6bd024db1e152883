#version 450
// Element-wise kernel of engine/gpu/ops.h: dst = clamp(alpha * f(a op b) + beta, lo, hi) with
// affine operand addressing (broadcasts, head repetition, column ranges). One invocation per
// element of dst.
#define OPS_ELEMENTWISE
#include "common/ops_push.h"

layout(local_size_x = 256) in;
layout(std430, binding = 0) buffer Dst { float dst[]; };
layout(std430, binding = 1) readonly buffer A { float a[]; };
layout(std430, binding = 2) readonly buffer B { float b[]; };

// log(1 + y) without losing y's digits when y is small (Kahan): the CPU reference uses log1p.
float log1p_accurate(float y) {
    const float u = 1.0 + y;
    return u == 1.0 ? y : log(u) * (y / (u - 1.0));
}
float softplus(float x) { return x > 20.0 ? x : log1p_accurate(exp(x)); }
float sigmoid(float x) { return 1.0 / (1.0 + exp(-x)); }

float apply_func(uint f, float x) {
    switch (f) {
    case OP_FUNC_SILU: return x * sigmoid(x);
    case OP_FUNC_SIGMOID: return sigmoid(x);
    case OP_FUNC_SOFTPLUS: return softplus(x);
    case OP_FUNC_EXP: return exp(x);
    case OP_FUNC_RELU: return max(x, 0.0);
    case OP_FUNC_ELU_PLUS_ONE: return x > 0.0 ? x + 1.0 : exp(x);
    // log(sigmoid(x)) without overflow: x - log(1 + e^x) for x < 0, -log(1 + e^-x) otherwise.
    case OP_FUNC_LOG_SIGMOID: return x < 0.0 ? x - log1p_accurate(exp(x)) : -log1p_accurate(exp(-x));
    case OP_FUNC_TANH: return tanh(x);
    case OP_FUNC_RELU_SQUARED: { float r = max(x, 0.0); return r * r; }
    case OP_FUNC_SQUARE: return x * x;
    case OP_FUNC_LOG: return log(x);
    case OP_FUNC_SQRT: return sqrt(x);
    case OP_FUNC_RSQRT: return inversesqrt(x);
    case OP_FUNC_ZERO: return 0.0;
    default: return x;
    }
}

uint operand_index(uint r, uint c, uint offset, uint rs, uint div, uint mul, uint mod) {
    uint i = offset + r * rs + (c / div) * mul;
    if (mod != 0u) i += c % mod;
    return i;
}

void main() {
    const uint idx = (gl_WorkGroupID.y * pc.groups_x + gl_WorkGroupID.x) * 256u + gl_LocalInvocationID.x;
    if (idx >= pc.rows * pc.cols) return;
    const uint r = idx / pc.cols, c = idx % pc.cols;
    float x = a[operand_index(r, c, pc.a_offset, pc.a_rs, pc.a_div, pc.a_mul, pc.a_mod)];
    if (pc.op != OP_COMBINE_A) {
        const float y = b[operand_index(r, c, pc.b_offset, pc.b_rs, pc.b_div, pc.b_mul, pc.b_mod)];
        switch (pc.op) {
        case OP_COMBINE_ADD: x = x + y; break;
        case OP_COMBINE_SUB: x = x - y; break;
        case OP_COMBINE_MUL: x = x * y; break;
        case OP_COMBINE_MUL_SILU_B: x = x * (y * sigmoid(y)); break;
        case OP_COMBINE_DIV: x = x / y; break;
        }
    }
    float v = pc.alpha * apply_func(pc.func, x) + pc.beta;
    v = min(max(v, pc.lo), pc.hi);
    dst[pc.dst_offset + r * pc.dst_stride + c] = v;
}
