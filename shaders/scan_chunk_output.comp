#version 450
// Chunked form, step 4: the outputs of one chunk for one value block of one head,
//     o_i = (q_i * Gamma_i)^T S0 + sum_{s <= i} Att[i][s] u~_s
//     Att[i][s] = sum_r q_i[r] k_s[r] exp(G_i[r] - G_s[r])      (G per key channel: Diagonal)
//               = (q_i . k_s) exp(G_i - G_s)                   (Scalar, DeltaRule; no exp: Identity)
// where S0 = sb[n] is the state at the chunk start (scan_chunk_state), u~ = beta v, or for the
// delta rule (and DPLR's virtual scan, scan_chunk_dplr; gates per channel) the corrected values
// scan_chunk_state left in U. Only positions that end a token
// (micro-step substeps-1) have a query and an output. Exponents are only ever taken of
// G_i - G_s with s <= i (never positive), so no intermediate can overflow.
//
// Both products run as 4x4 register tiles per thread over operands staged transposed in shared
// memory (one vec4 load per operand gives 16 multiply-adds): thread (ti, tj) computes Att rows
// 4ti..4ti+3 x columns 4tj..4tj+3 (tj <= ti) and output rows 4ti.. x value columns 4tj...
// Workgroup (x: chunk, y: value block, z: head).
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"

layout(local_size_x_id = SS_SC_WORKGROUP) in;
layout(constant_id = SS_SC_KIND) const uint KIND = 0;
layout(constant_id = SS_SC_CHUNK) const uint C = 64;
layout(constant_id = SS_SC_KTILE) const uint KT = 16;
layout(constant_id = SS_SC_VBLOCK) const uint VB = 32;   // a multiple of 4

const uint NT = gl_WorkGroupSize.x;
const uint C4 = (C + 3u) / 4u;      // row tiles (the host keeps C4 * C4 and C4 * VB4 <= NT)
const uint CP = 4u * C4;            // rows padded to whole tiles
const uint C4S = C4 + 1u;           // vec4s per staged row (one of padding)
const uint VB4 = VB / 4u;
const bool DIAG = KIND == SS_KIND_DIAGONAL || KIND == SS_KIND_DPLR;   // gates per key channel
// Shared layout in vec4s: attT [CP][C4S] (attT[s][i/4] holds Att[i][s]), then a region that
// phase 1 uses for qT, kT, gT [KT][C4S] and S0 [KT][VB4], and phase 2 for u~ [CP][VB4].
const uint ATT = CP * C4S;
const uint QT = 0u;
const uint KTO = KT * C4S;
const uint GTO = 2u * KT * C4S;
const uint STO = (DIAG ? 3u : 2u) * KT * C4S;
const uint PHASE1 = STO + KT * VB4;
const uint PHASE2 = CP * VB4;
const uint REGION = PHASE1 > PHASE2 ? PHASE1 : PHASE2;

shared vec4 att4[ATT];
shared vec4 reg4[REGION];
shared float gs[CP];   // scalar gates: G_i (padding rows repeat the last valid G)

void main() {
    const uint chunk = gl_WorkGroupID.x, c0 = gl_WorkGroupID.y * VB, h = gl_WorkGroupID.z;
    const uint tid = gl_LocalInvocationID.x;
    const uint H = pc.H, K = pc.K, V = pc.V, n = pc.substeps;
    const uint p0 = chunk * C;
    const uint cl = min(C, pc.L - p0);
    const uint vb = min(VB, V - c0);
    const bool scalar_gate = (KIND == SS_KIND_SCALAR || KIND == SS_KIND_DELTA) && (pc.flags & SS_FLAG_HAS_DECAY) != 0u;

    for (uint i = tid; i < CP; i += NT) gs[i] = scalar_gate ? gcum_buf[(p0 + min(i, cl - 1u)) * H + h] : 0.0;

    // Roles: attention tile (ti, tj) and output tile (oi, oj).
    const bool att_role = tid < C4 * C4;
    const uint ti = tid / C4, tj = tid % C4;
    const bool out_role = tid < C4 * VB4;
    const uint oi = tid / VB4, oj = tid % VB4;
    const bool att_live = att_role && tj <= ti;
    mat4 acc = mat4(0.0);   // acc[b][a] = Att[4ti+a][4tj+b]
    mat4 o = mat4(0.0);     // o[b][a] = out[4oi+a][4oj+b]

    for (uint k0 = 0u; k0 < K; k0 += KT) {
        for (uint e = tid; e < CP * KT; e += NT) {
            const uint i = e / KT, rr = e % KT;
            const uint p = p0 + i, r = k0 + rr;
            const bool in_k = r < K, valid = i < cl;
            const bool query = valid && p % n == n - 1u;
            const uint slot = rr * C4S + i / 4u, comp = i % 4u;
            reg4[QT + slot][comp] = (query && in_k) ? q_buf[((p / n) * H + h) * K + r] : 0.0;
            reg4[KTO + slot][comp] = (valid && in_k) ? k_buf[(p * H + h) * K + r] : 0.0;
            if (DIAG) reg4[GTO + slot][comp] = in_k ? gcum_buf[((p0 + min(i, cl - 1u)) * H + h) * K + r] : 0.0;
        }
        for (uint e = tid; e < KT * VB; e += NT) {
            const uint rr = e / VB, c = e % VB;
            reg4[STO + rr * VB4 + c / 4u][c % 4u] =
                (k0 + rr < K && c < vb) ? sb_buf[((chunk * H + h) * K + k0 + rr) * V + c0 + c] : 0.0;
        }
        barrier(); // tiles written -> read

        if (att_live) {
            for (uint rr = 0u; rr < KT; ++rr) {
                const vec4 qv = reg4[QT + rr * C4S + ti];
                const vec4 kv = reg4[KTO + rr * C4S + tj];
                if (DIAG) {
                    const vec4 gq = reg4[GTO + rr * C4S + ti];
                    const vec4 gk = reg4[GTO + rr * C4S + tj];
                    for (uint b = 0u; b < 4u; ++b)
                        for (uint a = 0u; a < 4u; ++a)
                            if (tj < ti || b <= a) acc[b][a] += qv[a] * kv[b] * exp(gq[a] - gk[b]);
                } else {
                    for (uint b = 0u; b < 4u; ++b) acc[b] += qv * kv[b];
                }
            }
        }
        if (out_role) {
            for (uint rr = 0u; rr < KT; ++rr) {
                vec4 qv = reg4[QT + rr * C4S + oi];
                if (DIAG) qv *= exp(reg4[GTO + rr * C4S + oi]);
                const vec4 sv = reg4[STO + rr * VB4 + oj];
                for (uint b = 0u; b < 4u; ++b) o[b] += qv * sv[b];
            }
        }
        barrier(); // tiles read -> next tiles written
    }

    // Att, causal and gated, stored transposed; tiles above the diagonal are zeros.
    if (att_role) {
        for (uint b = 0u; b < 4u; ++b) {
            const uint s = 4u * tj + b;
            vec4 col = vec4(0.0);
            if (att_live)
                for (uint a = 0u; a < 4u; ++a) {
                    const uint i = 4u * ti + a;
                    if (s <= i) col[a] = acc[b][a] * (scalar_gate ? exp(gs[i] - gs[s]) : 1.0);
                }
            att4[s * C4S + ti] = col;
        }
    }
    for (uint e = tid; e < CP * VB; e += NT) {
        const uint s = e / VB, c = e % VB;
        float u = 0.0;
        if (s < cl && c < vb) {
            const uint idx = ((p0 + s) * H + h) * V + c0 + c;
            u = (KIND == SS_KIND_DELTA || KIND == SS_KIND_DPLR) ? u_buf[idx] : beta_at(p0 + s, h) * v_buf[idx];
        }
        reg4[s * VB4 + c / 4u][c % 4u] = u;
    }
    barrier(); // Att and u~ written -> read

    if (out_role) {
        if (scalar_gate) {
            vec4 gamma;
            for (uint a = 0u; a < 4u; ++a) gamma[a] = exp(gs[4u * oi + a]);
            for (uint b = 0u; b < 4u; ++b) o[b] *= gamma;
        }
        const uint s_end = 4u * oi + 4u;   // Att[i][s] = 0 for s > i
        for (uint s = 0u; s < s_end; ++s) {
            const vec4 av = att4[s * C4S + oi];
            const vec4 uv = reg4[s * VB4 + oj];
            for (uint b = 0u; b < 4u; ++b) o[b] += av * uv[b];
        }
        for (uint a = 0u; a < 4u; ++a) {
            const uint i = 4u * oi + a, p = p0 + i;
            if (i >= cl || p % n != n - 1u) continue;
            for (uint b = 0u; b < 4u; ++b) {
                const uint c = 4u * oj + b;
                if (c < vb) o_buf[((p / n) * H + h) * V + c0 + c] = o[b][a];
            }
        }
    }
}
