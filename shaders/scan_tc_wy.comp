#version 450
// Tensor-core chunked delta rule, step 1 (before scan_tc_fused): the chunk's UT transform.
// Within a chunk of C = 32 positions (local i, s; G the chunk-local cumulative log gate, 0
// without decay; Gamma = exp(G)):
//     M[i][s] = beta_i exp(G_i - G_s) (k_i . k_s)    for s < i, else 0
//     T = (I + M)^-1                                  (unit lower triangular)
// and it writes two float16 32 x 32 matrices per (chunk, head):
//     TB = T diag(beta)    and    TG = -T diag(beta Gamma)
// The fused kernel turns them into the values the chunk really writes,
//     u~ = U - W S = TB V + TG (K S)      (U = T diag(beta) V, W = T diag(beta Gamma) K),
// so W and U (as large as k and v) are never stored: K S and TB V are products the fused
// kernel can form from what it stages anyway.
//
// Precision: the Gram matrix K K^T is a tensor-core product of the fp16 keys in float32; the
// inversion is float32; TB and TG are rounded to fp16 once.
//
// One subgroup of 32 per (chunk, head) (workgroup x: chunk, y: head). The keys are staged in
// shared memory (zeros past the end of the sequence); the three causal 16 x 16 tiles of the
// Gram matrix are tensor-core products; then lane s computes column s of T by forward
// substitution in registers, T[i][s] = -sum_{j<i} M[i][j] T[j][s], with T[s][s] = 1.
#extension GL_EXT_control_flow_attributes : require
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"
#include "common/scan_tc.glsl"

layout(std430, set = 0, binding = SS_BIND_K16) readonly buffer K16View { uvec4 k16x[]; };
layout(std430, set = 0, binding = SS_BIND_T16) writeonly buffer T16View { float16_t t16[]; };

layout(local_size_x = 32) in;
layout(constant_id = SS_SC_KDIM) const uint KD = 128;   // K: a multiple of 16, <= TC_KMAX

const uint C = TC_C;
const uint KT = KD / 16u;
const uint K8 = KD / 8u;
const uint KS = TC_KMAX + 8u;     // padded key row (halves), as in scan_tc_fused
const uint MS = C + 1u;           // padded row of M
shared uvec4 kh8[C * KS / 8u];
#define LDK(m, off, transpose) coopMatLoadNV(m, kh8, (off) / 8u, KS / 8u, transpose)
shared float msh[C * MS];         // the Gram matrix, then M in place
shared float gsh[C];
shared float bsh[C];

void main() {
    const uint n = gl_WorkGroupID.x, h = gl_WorkGroupID.y, lane = gl_LocalInvocationID.x;
    const uint H = pc.H, p0 = n * C, cl = min(C, pc.L - p0);
    const bool gated = (pc.flags & SS_FLAG_HAS_DECAY) != 0u;

    // Padding positions get the last valid G and beta 0 (their rows and columns of M are 0).
    gsh[lane] = gated ? gcum_buf[(p0 + min(lane, cl - 1u)) * H + h] : 0.0;
    bsh[lane] = lane < cl ? beta_at(p0 + lane, h) : 0.0;
    for (uint e = lane; e < C * K8; e += 32u) {
        const uint r = e / K8, c = e % K8;
        kh8[(r * KS + 8u * c) / 8u] = r < cl ? k16x[((p0 + r) * H + h) * K8 + c] : uvec4(0u);
    }
    barrier();

    // Gram tiles (0,0), (1,0), (1,1); tile (0,1) lies above the diagonal and is never read.
    [[unroll]] for (uint t = 0u; t < 3u; ++t) {
        const uint r = t == 0u ? 0u : 1u, c = t == 2u ? 1u : 0u;
        TC_ACC a = TC_ACC(0.0);
        [[unroll]] for (uint kk = 0u; kk < KT; ++kk) {
            TC_A x, y;
            LDK(x, 16u * r * KS + 16u * kk, false);
            LDK(y, 16u * c * KS + 16u * kk, true);   // K^T tile
            a = coopMatMulAddNV(x, y, a);
        }
        coopMatStoreNV(a, msh, 16u * r * MS + 16u * c, MS, false);
    }
    barrier();

    // M in place: lane s owns column s. A select, not a product, zeroes the masked entries.
    const uint s = lane;
    [[unroll]] for (uint i = 0u; i < C; ++i) {
        const float m = bsh[i] * exp(gsh[i] - gsh[s]) * msh[i * MS + s];
        msh[i * MS + s] = s < i ? m : 0.0;
    }
    barrier();

    // Column s of T: T[i][s] = [i == s] - sum_{j < i} M[i][j] T[j][s]. Entries above the
    // diagonal come out 0 on their own (every T[j][s] with j < s is 0), so the loops are
    // uniform and unroll into registers; M[i][j] is the same address for every lane.
    float tc[C];
    [[unroll]] for (uint i = 0u; i < C; ++i) {
        float acc = 0.0;
        [[unroll]] for (uint j = 0u; j < i; ++j) acc -= msh[i * MS + j] * tc[j];
        tc[i] = i == s ? 1.0 : acc;
    }

    // TB = T diag(beta), TG = -T diag(beta Gamma): row i of both, lanes writing columns.
    const uint base = (n * H + h) * 2u * C * C;
    const float fb = bsh[s], fg = -bsh[s] * exp(gsh[s]);
    [[unroll]] for (uint i = 0u; i < C; ++i) {
        t16[base + i * C + s] = float16_t(tc[i] * fb);
        t16[base + C * C + i * C + s] = float16_t(tc[i] * fg);
    }
}
