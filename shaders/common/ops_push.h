// What the host (engine/gpu/ops.cpp) and the tensor-operation shaders (shaders/ops_*.comp) agree
// on: one push block per kernel, in 32-bit words only (std430 packs them like C structs).
// Included by GLSL (GL_core_profile defined) and by C++. A shader may declare one push block,
// so it defines the macro of its own (OPS_ELEMENTWISE, OPS_NORM, ...) before the include.
#ifndef STATESCOPE_SHADERS_OPS_PUSH_H
#define STATESCOPE_SHADERS_OPS_PUSH_H

#ifdef GL_core_profile
#define OP_U32 uint
#define OP_F32 float
#define OP_PUSH(name) layout(push_constant) uniform name##Block {
#define OP_PUSH_END } pc;
#else
#include <cstdint>
namespace statescope::gpu {
#define OP_U32 uint32_t
#define OP_F32 float
#define OP_PUSH(name) struct name {
#define OP_PUSH_END };
#endif

// Weight storage types (spec constant of the matrix kernels).
#define OP_WEIGHT_F32 0
#define OP_WEIGHT_F16 1
#define OP_WEIGHT_BF16 2

// Element-wise combine ops and functions (gpu::Combine, gpu::Func).
#define OP_COMBINE_A 0
#define OP_COMBINE_ADD 1
#define OP_COMBINE_SUB 2
#define OP_COMBINE_MUL 3
#define OP_COMBINE_MUL_SILU_B 4
#define OP_COMBINE_DIV 5

#define OP_FUNC_IDENTITY 0
#define OP_FUNC_SILU 1
#define OP_FUNC_SIGMOID 2
#define OP_FUNC_SOFTPLUS 3
#define OP_FUNC_EXP 4
#define OP_FUNC_RELU 5
#define OP_FUNC_ELU_PLUS_ONE 6
#define OP_FUNC_LOG_SIGMOID 7
#define OP_FUNC_TANH 8
#define OP_FUNC_RELU_SQUARED 9
#define OP_FUNC_SQUARE 10
#define OP_FUNC_LOG 11
#define OP_FUNC_SQRT 12
#define OP_FUNC_RSQRT 13
#define OP_FUNC_ZERO 14   // ignores its input (fill)

#define OP_NORM_RMS 0
#define OP_NORM_LAYER 1
#define OP_NORM_L2 2
#define OP_NORM_SUM 3

// dst[r, c] = clamp(alpha * f(a(r, c) op b(r, c)) + beta, lo, hi); an operand at (r, c) reads
// buf[offset + r * rs + (c / div) * mul + (c % mod)] (mod 0: no term). Flattened index over
// rows * cols, dispatched as (x, y) groups of 256.
#if !defined(GL_core_profile) || defined(OPS_ELEMENTWISE)
OP_PUSH(ElementwisePush)
    OP_U32 rows; OP_U32 cols; OP_U32 dst_offset; OP_U32 dst_stride;
    OP_U32 a_offset; OP_U32 a_rs; OP_U32 a_div; OP_U32 a_mul; OP_U32 a_mod;
    OP_U32 b_offset; OP_U32 b_rs; OP_U32 b_div; OP_U32 b_mul; OP_U32 b_mod;
    OP_U32 op; OP_U32 func; OP_U32 groups_x; OP_U32 pad0;
    OP_F32 alpha; OP_F32 beta; OP_F32 lo; OP_F32 hi;
OP_PUSH_END
#endif

// One workgroup per (group, row): x[r, g*group .. (g+1)*group) normalised in place.
#if !defined(GL_core_profile) || defined(OPS_NORM)
OP_PUSH(NormPush)
    OP_U32 rows; OP_U32 group; OP_U32 offset; OP_U32 stride;
    OP_U32 kind; OP_U32 has_w; OP_U32 w_offset; OP_U32 w_mod;
    OP_U32 has_b; OP_U32 b_offset; OP_U32 b_mod; OP_U32 rows_per_z;
    OP_F32 eps; OP_U32 pad0; OP_U32 pad1; OP_U32 pad2;
OP_PUSH_END
#endif

// y = x W^T + bias: x [M, Kd] (offset, stride), W [N, Kd] in the weight type, y [M, N].
#if !defined(GL_core_profile) || defined(OPS_MATMUL)
OP_PUSH(MatmulPush)
    OP_U32 M; OP_U32 N; OP_U32 Kd; OP_U32 x_offset;
    OP_U32 x_stride; OP_U32 w_offset; OP_U32 y_offset; OP_U32 y_stride;
    OP_U32 has_bias; OP_U32 bias_offset; OP_U32 pad0; OP_U32 pad1;
OP_PUSH_END
#endif

// Embedding gather from one block of table rows [row0, row0 + rows): y[t, c] = block[ids[t] - row0, c]
// for the tokens whose id falls in the block (a table may span several buffers).
#if !defined(GL_core_profile) || defined(OPS_EMBED)
OP_PUSH(EmbedPush)
    OP_U32 T; OP_U32 C; OP_U32 ids_offset; OP_U32 y_offset;
    OP_U32 y_stride; OP_U32 row0; OP_U32 rows; OP_U32 pad0;
OP_PUSH_END
#endif

// Short causal convolution (mode 0: outputs; mode 1: window update, one thread per channel).
#if !defined(GL_core_profile) || defined(OPS_CONV)
OP_PUSH(ConvPush)
    OP_U32 T; OP_U32 C; OP_U32 W; OP_U32 x_offset;
    OP_U32 x_stride; OP_U32 y_offset; OP_U32 y_stride; OP_U32 w_offset;
    OP_U32 has_bias; OP_U32 bias_offset; OP_U32 state_offset; OP_U32 silu;
    OP_U32 mode; OP_U32 groups_x; OP_U32 pad0; OP_U32 pad1;
OP_PUSH_END
#endif

#ifndef GL_core_profile
static_assert(sizeof(ElementwisePush) == 88, "ElementwisePush: 22 words");
static_assert(sizeof(NormPush) == 64, "NormPush: 16 words");
static_assert(sizeof(MatmulPush) == 48, "MatmulPush: 12 words");
static_assert(sizeof(EmbedPush) == 32, "EmbedPush: 8 words");
static_assert(sizeof(ConvPush) == 64, "ConvPush: 16 words");
} // namespace statescope::gpu
#endif

#undef OP_U32
#undef OP_F32
#undef OP_PUSH
#undef OP_PUSH_END

#endif
