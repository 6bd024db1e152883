#version 450
// Chunked form, step 3: the inter-chunk state pass. One workgroup owns a KB x VB block of one
// head's state and walks the chunks in order:
//     sb[n]   = S                                     (state at the start of chunk n: kept)
//     u~      = beta v                                (Identity, Scalar, Diagonal)
//     u~      = U - W S   (written back over U)       (DeltaRule; W, U from scan_chunk_wy;
//                                                      DPLR's virtual scan, scan_chunk_dplr)
//     S       = diag(Gamma_last) S + sum_s diag(exp(G_last - G_s)) k_s u~_s^T
// G is the chunk-local cumulative log gate (scan_chunk_gates), per key channel for Diagonal and
// DPLR.
// Key rows are independent for every kind but the delta rule (whose u~ needs all of S), so the
// delta rule runs with KB = K and the others may split K across workgroups.
//
// The state block lives in registers as 4x4 tiles (thread (ti, tj): rows 4ti.., columns 4tj..);
// products read vec4 operands staged in shared memory (16 multiply-adds per pair of loads).
// Workgroup (x: value block, y: key block, z: head).
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"

layout(local_size_x_id = SS_SC_WORKGROUP) in;
layout(constant_id = SS_SC_KIND) const uint KIND = 0;
layout(constant_id = SS_SC_CHUNK) const uint C = 64;
layout(constant_id = SS_SC_KTILE) const uint KT = 16;    // W tile width and key-tile slice (delta), positions per slice
layout(constant_id = SS_SC_VBLOCK) const uint VB = 32;   // multiple of 4
layout(constant_id = SS_SC_KBLOCK) const uint KB = 128;

const uint NT = gl_WorkGroupSize.x;
const bool DELTA = KIND == SS_KIND_DELTA || KIND == SS_KIND_DPLR;   // values U - W S
const uint C4 = (C + 3u) / 4u;
const uint CP = 4u * C4;
const uint C4S = C4 + 1u;
const uint VB4 = VB / 4u;
const uint KB4 = (KB + 3u) / 4u;
const uint KBP = 4u * KB4;
// Shared layout in vec4s: S copy [KBP][VB4] (delta only), scratch for the W tile [KT][C4S]
// (delta) or the decayed-key slice [KT][KB4], and u~ [CP][VB4].
const uint ST4 = DELTA ? KBP * VB4 : 1u;
const uint WT4 = DELTA ? KT * C4S : 0u;
const uint KD4 = KT * KB4;
const uint SCR = WT4 > KD4 ? WT4 : KD4;
const uint U4 = CP * VB4;

shared vec4 st4[ST4];
shared vec4 scr4[SCR];
shared vec4 u4[U4];

float gate_cum(uint p, uint h, uint r) {
    if (KIND == SS_KIND_DIAGONAL || KIND == SS_KIND_DPLR) return gcum_buf[(p * pc.H + h) * pc.K + r];
    if ((pc.flags & SS_FLAG_HAS_DECAY) != 0u) return gcum_buf[p * pc.H + h];
    return 0.0;
}

void main() {
    const uint c0 = gl_WorkGroupID.x * VB, r0 = gl_WorkGroupID.y * KB, h = gl_WorkGroupID.z;
    const uint tid = gl_LocalInvocationID.x;
    const uint H = pc.H, K = pc.K, V = pc.V;
    const uint vb = min(VB, V - c0), kb = min(KB, K - r0);   // this block's real extent

    const bool state_role = tid < KB4 * VB4;
    const uint ti = tid / VB4, tj = tid % VB4;
    mat4 s = mat4(0.0);   // s[b][a] = S[r0 + 4ti + a][c0 + 4tj + b]
    if (state_role)
        for (uint b = 0u; b < 4u; ++b)
            for (uint a = 0u; a < 4u; ++a) {
                const uint r = 4u * ti + a, c = 4u * tj + b;
                const uint idx = (h * K + r0 + r) * V + c0 + c;
                if (r < kb && c < vb) s[b][a] = pc.seg_first != 0u ? s0_buf[idx] : s_buf[idx];
            }
    const bool u_role = DELTA && tid < C4 * VB4;
    const uint ui = tid / VB4, uj = tid % VB4;

    for (uint n = pc.seg_begin; n < min(pc.seg_end, pc.num_chunks); ++n) {
        const uint p0 = n * C;
        const uint cl = min(C, pc.L - p0);
        const uint plast = p0 + cl - 1u;

        // Keep the state at the start of chunk n (the output kernel reads it too).
        if (state_role)
            for (uint b = 0u; b < 4u; ++b)
                for (uint a = 0u; a < 4u; ++a) {
                    const uint r = 4u * ti + a, c = 4u * tj + b;
                    if (r < kb && c < vb) sb_buf[((n * H + h) * K + r0 + r) * V + c0 + c] = s[b][a];
                }

        // u~ for this chunk and value block.
        if (DELTA) {
            if (state_role)
                for (uint a = 0u; a < 4u; ++a) {
                    vec4 row;
                    for (uint b = 0u; b < 4u; ++b) row[b] = s[b][a];
                    st4[(4u * ti + a) * VB4 + tj] = row;
                }
            mat4 acc = mat4(0.0);   // acc[b][a] = (W S)[4ui + a][4uj + b]
            for (uint k0 = 0u; k0 < K; k0 += KT) {
                for (uint e = tid; e < CP * KT; e += NT) {
                    const uint i = e / KT, rr = e % KT;
                    scr4[rr * C4S + i / 4u][i % 4u] = (i < cl && k0 + rr < K) ? w_buf[((p0 + i) * H + h) * K + k0 + rr] : 0.0;
                }
                barrier(); // W tile (and, on the first tile, the state copy) written -> read
                if (u_role)
                    for (uint rr = 0u; rr < KT && k0 + rr < K; ++rr) {
                        const vec4 wv = scr4[rr * C4S + ui];
                        const vec4 sv = st4[(k0 + rr) * VB4 + uj];
                        for (uint b = 0u; b < 4u; ++b) acc[b] += wv * sv[b];
                    }
                barrier(); // W tile read -> next tile written
            }
            if (u_role)
                for (uint a = 0u; a < 4u; ++a) {
                    const uint i = 4u * ui + a;
                    vec4 row = vec4(0.0);
                    for (uint b = 0u; b < 4u; ++b) {
                        const uint c = 4u * uj + b;
                        if (i < cl && c < vb) {
                            const uint idx = ((p0 + i) * H + h) * V + c0 + c;
                            row[b] = u_buf[idx] - acc[b][a];
                            u_buf[idx] = row[b]; // read and written by this thread only
                        }
                    }
                    u4[i * VB4 + uj] = row;
                }
        } else {
            for (uint e = tid; e < CP * VB; e += NT) {
                const uint i = e / VB, c = e % VB;
                u4[i * VB4 + c / 4u][c % 4u] =
                    (i < cl && c < vb) ? beta_at(p0 + i, h) * v_buf[((p0 + i) * H + h) * V + c0 + c] : 0.0;
            }
        }

        // S = diag(Gamma_last) S + K_dec^T u~, KT positions at a time.
        if (state_role && KIND != SS_KIND_IDENTITY)
            for (uint a = 0u; a < 4u; ++a) {
                const uint r = 4u * ti + a;
                const float d = r < kb ? exp(gate_cum(plast, h, r0 + r)) : 0.0;
                for (uint b = 0u; b < 4u; ++b) s[b][a] *= d;
            }
        for (uint s0 = 0u; s0 < cl; s0 += KT) {
            barrier(); // u~ written / previous slice read -> slice written
            for (uint e = tid; e < KT * KBP; e += NT) {
                const uint sl = e / KBP, r = e % KBP;
                const uint sp = s0 + sl;
                float x = 0.0;
                if (sp < cl && r < kb) {
                    x = k_buf[((p0 + sp) * H + h) * K + r0 + r];
                    if (KIND != SS_KIND_IDENTITY) x *= exp(gate_cum(plast, h, r0 + r) - gate_cum(p0 + sp, h, r0 + r));
                }
                scr4[sl * KB4 + r / 4u][r % 4u] = x;
            }
            barrier(); // decayed-key slice written -> read
            if (state_role)
                for (uint sl = 0u; sl < KT && s0 + sl < cl; ++sl) {
                    const vec4 kv = scr4[sl * KB4 + ti];
                    const vec4 uv = u4[(s0 + sl) * VB4 + tj];
                    for (uint b = 0u; b < 4u; ++b) s[b] += kv * uv[b];
                }
        }
        barrier(); // slice and u~ read -> next chunk's writes
    }

    if (state_role)
        for (uint b = 0u; b < 4u; ++b)
            for (uint a = 0u; a < 4u; ++a) {
                const uint r = 4u * ti + a, c = 4u * tj + b;
                if (r < kb && c < vb) s_buf[(h * K + r0 + r) * V + c0 + c] = s[b][a];
            }
}
