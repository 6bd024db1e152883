// The ONE definition of what the host and the scan shaders agree on: push-constant layout,
// descriptor binding numbers, specialization-constant ids, transition-kind codes and flags.
// Included by the GLSL compute shaders (glslc defines GL_core_profile) and by the C++ runtime
// (engine/gpu/scan_record.cpp), so a field added here appears on both sides at once.
//
// Layout rules that keep the two sides identical: only 32-bit scalars in the push block (std430
// packs them like a C struct), no vec3, no bool.
#ifndef STATESCOPE_SHADERS_PUSH_CONSTANTS_H
#define STATESCOPE_SHADERS_PUSH_CONSTANTS_H

#ifdef GL_core_profile
#define SS_U32 uint
#define SS_PUSH_BLOCK_BEGIN layout(push_constant) uniform ScanPushBlock {
#define SS_PUSH_BLOCK_END } pc;
#else
#include <cstdint>
namespace statescope::gpu {
#define SS_U32 uint32_t
#define SS_PUSH_BLOCK_BEGIN struct ScanPush {
#define SS_PUSH_BLOCK_END };
#endif

// Transition kinds, in the order of statescope::TransitionKind (the host asserts the match).
#define SS_KIND_IDENTITY 0
#define SS_KIND_SCALAR 1
#define SS_KIND_DIAGONAL 2
#define SS_KIND_DELTA 3
#define SS_KIND_DPLR 4

// Bits of ScanPush.flags.
#define SS_FLAG_HAS_BETA 1u   // beta buffer holds [L, H] write scales; otherwise beta = 1
#define SS_FLAG_HAS_DECAY 2u  // log_decay buffer is meaningful (always set for Scalar/Diagonal/DPLR)
#define SS_FLAG_NO_CHUNK_STATES 4u  // tensor-core form: do not keep the state at every chunk start
#define SS_FLAG_SEGMENT_STATES 8u   // tensor-core form, split sequence: the pass that computes each
                                    // segment's own end state (SS_BIND_SEG_STATE), no outputs
#define SS_FLAG_BONUS 16u           // recurrent form: RWKV-6's bonus read (core/scan.h) with u from
                                    // SS_BIND_BONUS: o_t = S_{t-1}^T q + beta (q . u k) v

// Descriptor bindings of set 0: every scan pipeline uses this one layout, each kernel reads the
// subset it needs and the host binds a small placeholder buffer to the rest.
#define SS_BIND_Q 0          // [T, H, K]
#define SS_BIND_K 1          // [L, H, K]   L = T * substeps positions (micro-steps)
#define SS_BIND_V 2          // [L, H, V]
#define SS_BIND_BETA 3       // [L, H]
#define SS_BIND_G 4          // [T, H] or [T, H, K] log decay
#define SS_BIND_A 5          // [T, H, K]   DiagPlusRankOne
#define SS_BIND_B 6          // [T, H, K]   DiagPlusRankOne
#define SS_BIND_S0 7         // [H, K, V]   state before the first token (read only)
#define SS_BIND_S 8          // [H, K, V]   state after the last token
#define SS_BIND_O 9          // [T, H, V]   outputs
#define SS_BIND_GCUM 10      // [L, H] or [L, H, K] chunk-local inclusive cumulative log decay
#define SS_BIND_W 11         // [L, H, K]   delta rule: W = T diag(beta Gamma) K per chunk
#define SS_BIND_U 12         // [L, H, V]   delta rule: U = T diag(beta) V, overwritten by the
                             //             written values u~ = U - W S_chunk_start
#define SS_BIND_SB 13        // [N, H, K, V] state at the start of each chunk
#define SS_BIND_Q16 14       // [T, H, K] float16 copy of q  (tensor-core chunked form)
#define SS_BIND_K16 15       // [L, H, K] float16 copy of k
#define SS_BIND_V16 16       // [L, H, V] float16 copy of v
#define SS_BIND_T16 17       // [N, H, 2, 32, 32] float16 TB, TG of each chunk (tensor-core delta
                             //             rule; scan_tc_wy.comp)
#define SS_BIND_DPLR_KEYS 18 // [2T, H, K] chunked DiagPlusRankOne: keys a_t, k_t of micro-steps 2t, 2t+1
                             //             (scan_chunk_dplr.comp)
#define SS_BIND_PROFILE 19   // [workgroups, SS_PROFILE_ROW] uint: ScanRunOptions::tc_profile's phase cycles
#define SS_BIND_SEG_STATE 20 // [segments - 1, H, K, V] tensor-core form, split sequence: each segment's
                             //             end state from a zero start state
#define SS_BIND_SEG_DECAY 21 // [segments - 1, H] its total log decay (scalar decay)
#define SS_BIND_BONUS 22     // [H, K] the bonus u (SS_FLAG_BONUS)
#define SS_BINDING_COUNT 23

// Specialization-constant ids.
#define SS_SC_WORKGROUP 0    // local_size_x
#define SS_SC_KIND 1         // SS_KIND_*
#define SS_SC_LANES 2        // recurrent: threads that share one state column (power of two)
#define SS_SC_ROWS 3         // recurrent: state rows per thread, ceil(K / LANES)
#define SS_SC_CHUNK 4        // chunked: positions per chunk
#define SS_SC_KTILE 5        // chunked: key-dimension tile staged in shared memory
#define SS_SC_VBLOCK 6       // chunked: value columns per workgroup
#define SS_SC_KBLOCK 7       // chunked state pass: key rows per workgroup (K for the delta rule)
#define SS_SC_KDIM 8         // recurrent: K, sizing the shared staging arrays
#define SS_SC_TOKENS 9       // recurrent: tokens staged in shared memory per block
#define SS_SC_SUBSTEPS 10    // recurrent: micro-steps per token
#define SS_SC_WHICH 11       // float16 cast: 0 = q, 1 = k, 2 = v
#define SS_SC_PREFETCH 12    // tensor-core scan: 0-3, ScanRunOptions::tc_prefetch

// The profiled tensor-core scan (SS_BIND_PROFILE): per workgroup a row of SS_PROFILE_ROW uints,
// the cycles of its SS_PROFILE_PHASES chunk-loop phases first, its total cycles last.
#define SS_PROFILE_PHASES 10
#define SS_PROFILE_ROW 16

SS_PUSH_BLOCK_BEGIN
    SS_U32 T;            // tokens
    SS_U32 H;            // heads
    SS_U32 K;            // key size per head
    SS_U32 V;            // value size per head
    SS_U32 substeps;     // micro-steps per token
    SS_U32 L;            // T * substeps
    SS_U32 num_chunks;   // ceil(L / chunk) for the chunked kernels
    SS_U32 flags;        // SS_FLAG_*
    SS_U32 gate_width;   // 1 for scalar gates, K for per-key gates (chunked kernels)
    // Long sequential loops may be split over several dispatches (CPU drivers stop a shader's
    // loops after 65535 iterations in all): the recurrent kernel runs tokens [seg_begin, seg_end),
    // the state pass chunks [seg_begin, seg_end). The first segment starts from S0, later ones
    // from the S that the previous segment left.
    SS_U32 seg_begin;
    SS_U32 seg_end;
    SS_U32 seg_first;
    // Tensor-core form: chunks per segment when the sequence is split over workgroups (z), 0
    // when each workgroup walks the whole sequence.
    SS_U32 seg_chunks;
SS_PUSH_BLOCK_END

#ifndef GL_core_profile
static_assert(sizeof(ScanPush) == 52, "ScanPush must stay 13 32-bit words (std430 push block)");
} // namespace statescope::gpu
#endif

#undef SS_U32
#undef SS_PUSH_BLOCK_BEGIN
#undef SS_PUSH_BLOCK_END

#endif
