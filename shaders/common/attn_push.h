// What the host (engine/gpu/attention_ops.cpp) and the softmax-attention shaders
// (shaders/attn_*.comp) agree on: one push block per kernel, in 32-bit words only. Included by
// GLSL (GL_core_profile defined) and by C++; a shader defines the macro of its block (ATTN_ROPE,
// ATTN_FORWARD, ATTN_COMBINE) before the include, since a shader may declare only one.
#ifndef STATESCOPE_SHADERS_ATTN_PUSH_H
#define STATESCOPE_SHADERS_ATTN_PUSH_H

#ifdef GL_core_profile
#define AT_U32 uint
#define AT_F32 float
#define AT_PUSH(name) layout(push_constant) uniform name##Block {
#define AT_PUSH_END } pc;
#else
#include <cstdint>
namespace statescope::gpu {
#define AT_U32 uint32_t
#define AT_F32 float
#define AT_PUSH(name) struct name {
#define AT_PUSH_END };
#endif

// Specialization constants of attn_tile.comp and attn_decode.comp.
#define ATTN_SPEC_WORKGROUP 0   // invocations per workgroup
#define ATTN_SPEC_HEAD_DIM 1    // features per head
#define ATTN_SPEC_KEY_GROUPS 2  // attn_decode: invocations that share an output column

// Rotary embedding (GPT-NeoX halves): in each of `heads` heads of head_dim columns, the pair
// (x_i, x_{i + head_dim/2}) of row t rotates by float(first_position + t) * inv_freq[i].
// dst may be src. One invocation per (row, head, pair), dispatched as (x, y) groups of 256.
#if !defined(GL_core_profile) || defined(ATTN_ROPE)
AT_PUSH(RopePush)
    AT_U32 T; AT_U32 heads; AT_U32 head_dim; AT_U32 first_position;
    AT_U32 src_offset; AT_U32 src_stride; AT_U32 dst_offset; AT_U32 dst_stride;
    AT_U32 freq_offset; AT_U32 groups_x; AT_U32 pad0; AT_U32 pad1;
AT_PUSH_END
#endif

// Causal softmax attention over a token-major KV cache (attn_tile.comp, attn_decode.comp).
// The queries of kv head g are the rows (t, h) with h / groups == g, numbered t * groups + h %
// groups ("rows" of them per kv head); cache row j is visible to the query of token t when
//     j <= first_slot + t   and   (window == 0 or j + window > first_slot + t).
// Workgroup (x: block of rows, y: kv head, z: split of the keys into keys_per_split). With one
// split the kernel writes o normalised; with several it writes each split's unnormalised output
// and its row maximum and sum (part_o [splits, T * heads, head_dim], part_ml [splits, T * heads, 2])
// for attn_combine.comp.
#if !defined(GL_core_profile) || defined(ATTN_FORWARD)
AT_PUSH(AttentionPush)
    AT_U32 T; AT_U32 heads; AT_U32 groups; AT_U32 rows;
    AT_U32 q_offset; AT_U32 q_stride; AT_U32 o_offset; AT_U32 o_stride;
    AT_U32 k_offset; AT_U32 v_offset; AT_U32 kv_stride; AT_U32 keys;
    AT_U32 first_slot; AT_U32 window; AT_U32 keys_per_split; AT_U32 splits;
    AT_U32 part_o_offset; AT_U32 part_ml_offset; AT_F32 scale; AT_U32 pad0;
AT_PUSH_END
#endif

// Merges the splits' partial results: o[t, h * head_dim + c] for every row t * heads + h.
// One invocation per (row, c), dispatched as (x, y) groups of 256.
#if !defined(GL_core_profile) || defined(ATTN_COMBINE)
AT_PUSH(AttentionCombinePush)
    AT_U32 T; AT_U32 heads; AT_U32 head_dim; AT_U32 splits;
    AT_U32 o_offset; AT_U32 o_stride; AT_U32 part_o_offset; AT_U32 part_ml_offset;
    AT_U32 groups_x; AT_U32 pad0; AT_U32 pad1; AT_U32 pad2;
AT_PUSH_END
#endif

#ifndef GL_core_profile
static_assert(sizeof(RopePush) == 48, "RopePush: 12 words");
static_assert(sizeof(AttentionPush) == 80, "AttentionPush: 20 words");
static_assert(sizeof(AttentionCombinePush) == 48, "AttentionCombinePush: 12 words");
} // namespace statescope::gpu
#endif

#undef AT_U32
#undef AT_F32
#undef AT_PUSH
#undef AT_PUSH_END

#endif
