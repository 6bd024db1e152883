#version 450
// Chunked form, step 4: the outputs of one chunk for one value block of one head,
//     o_i = (q_i * Gamma_i)^T S0 + sum_{s <= i} Att[i][s] u~_s
//     Att[i][s] = sum_r q_i[r] k_s[r] exp(G_i[r] - G_s[r])      (G per key channel: Diagonal)
//               = (q_i . k_s) exp(G_i - G_s)                   (Scalar, DeltaRule; no exp: Identity)
// where S0 = sb[n] is the state at the chunk start (scan_chunk_state), u~ = beta v, or for the
// delta rule the corrected values scan_chunk_state left in U. Only positions that end a token
// (micro-step substeps-1) have a query and an output. Exponents are only ever taken of
// G_i - G_s with s <= i (never positive), so no intermediate can overflow.
// Workgroup (x: chunk, y: value block, z: head).
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"

layout(local_size_x_id = SS_SC_WORKGROUP) in;
layout(constant_id = SS_SC_KIND) const uint KIND = 0;
layout(constant_id = SS_SC_CHUNK) const uint C = 64;
layout(constant_id = SS_SC_KTILE) const uint KT = 16;
layout(constant_id = SS_SC_VBLOCK) const uint VB = 32;

const uint NT = gl_WorkGroupSize.x;
const uint ROW = C + 1;
const uint TROW = KT + 1;
const uint UROW = VB + 1;
const uint APT = (C * C + NT - 1) / NT;     // attention entries per thread
const uint OPT = (C * VB + NT - 1) / NT;    // outputs per thread
// Phase 1 uses q, k, G and state tiles; phase 2 reuses the same space for the u~ tile.
const uint TILE = C * TROW;
const uint PHASE1 = 3u * TILE + KT * VB;
const uint PHASE2 = C * UROW;
const uint REGION = PHASE1 > PHASE2 ? PHASE1 : PHASE2;

shared float att[C * ROW];
shared float region[REGION];
shared float gs[C];   // scalar gates: G_i

void main() {
    const uint chunk = gl_WorkGroupID.x, c0 = gl_WorkGroupID.y * VB, h = gl_WorkGroupID.z;
    const uint tid = gl_LocalInvocationID.x;
    const uint H = pc.H, K = pc.K, V = pc.V, n = pc.substeps;
    const uint p0 = chunk * C;
    const uint cl = min(C, pc.L - p0);
    const uint vb = min(VB, V - c0);
    const bool scalar_gate = (KIND == SS_KIND_SCALAR || KIND == SS_KIND_DELTA) && (pc.flags & SS_FLAG_HAS_DECAY) != 0u;
    const uint QT = 0u, KTL = TILE, GT = 2u * TILE, ST = 3u * TILE;   // offsets into region

    // Padding positions repeat the last valid G (see scan_chunk_wy.comp).
    for (uint i = tid; i < C; i += NT) gs[i] = scalar_gate ? gcum_buf[(p0 + min(i, cl - 1u)) * H + h] : 0.0;

    float a[APT];
    float o[OPT];
    for (uint m = 0u; m < APT; ++m) a[m] = 0.0;
    for (uint m = 0u; m < OPT; ++m) o[m] = 0.0;

    for (uint k0 = 0u; k0 < K; k0 += KT) {
        for (uint e = tid; e < C * KT; e += NT) {
            const uint i = e / KT, rr = e % KT;
            const uint p = p0 + i, r = k0 + rr;
            const bool in_k = r < K;
            const bool query = i < cl && p % n == n - 1u;
            region[QT + i * TROW + rr] = (query && in_k) ? q_buf[((p / n) * H + h) * K + r] : 0.0;
            region[KTL + i * TROW + rr] = (i < cl && in_k) ? k_buf[(p * H + h) * K + r] : 0.0;
            if (KIND == SS_KIND_DIAGONAL)
                region[GT + i * TROW + rr] = in_k ? gcum_buf[((p0 + min(i, cl - 1u)) * H + h) * K + r] : 0.0;
        }
        for (uint e = tid; e < KT * VB; e += NT) {
            const uint rr = e / VB, c = e % VB;
            region[ST + e] = (k0 + rr < K && c < vb) ? sb_buf[((chunk * H + h) * K + k0 + rr) * V + c0 + c] : 0.0;
        }
        barrier(); // tiles written -> read

        for (uint m = 0u; m < APT; ++m) {
            const uint e = tid + m * NT;
            const uint i = e / C, s = e % C;
            if (e < C * C && s <= i) {
                float x = 0.0;
                if (KIND == SS_KIND_DIAGONAL) {
                    for (uint rr = 0u; rr < KT; ++rr)
                        x += region[QT + i * TROW + rr] * region[KTL + s * TROW + rr] *
                             exp(region[GT + i * TROW + rr] - region[GT + s * TROW + rr]);
                } else {
                    for (uint rr = 0u; rr < KT; ++rr) x += region[QT + i * TROW + rr] * region[KTL + s * TROW + rr];
                }
                a[m] += x;
            }
        }
        for (uint m = 0u; m < OPT; ++m) {
            const uint e = tid + m * NT;
            const uint i = e / VB, c = e % VB;
            if (e < C * VB) {
                float x = 0.0;
                if (KIND == SS_KIND_DIAGONAL) {
                    for (uint rr = 0u; rr < KT; ++rr)
                        x += region[QT + i * TROW + rr] * exp(region[GT + i * TROW + rr]) * region[ST + rr * VB + c];
                } else {
                    for (uint rr = 0u; rr < KT; ++rr) x += region[QT + i * TROW + rr] * region[ST + rr * VB + c];
                }
                o[m] += x;
            }
        }
        barrier(); // tiles read -> next tiles written
    }

    for (uint m = 0u; m < APT; ++m) {
        const uint e = tid + m * NT;
        const uint i = e / C, s = e % C;
        if (e < C * C) att[i * ROW + s] = s <= i ? a[m] * (scalar_gate ? exp(gs[i] - gs[s]) : 1.0) : 0.0;
    }
    for (uint e = tid; e < C * VB; e += NT) {
        const uint s = e / VB, c = e % VB;
        float u = 0.0;
        if (s < cl && c < vb) {
            const uint idx = ((p0 + s) * H + h) * V + c0 + c;
            u = KIND == SS_KIND_DELTA ? u_buf[idx] : beta_at(p0 + s, h) * v_buf[idx];
        }
        region[s * UROW + c] = u;
    }
    barrier(); // Att and u~ tile written -> read

    for (uint m = 0u; m < OPT; ++m) {
        const uint e = tid + m * NT;
        const uint i = e / VB, c = e % VB;
        if (e < C * VB && i < cl && c < vb) {
            const uint p = p0 + i;
            if (p % n != n - 1u) continue;
            float x = o[m] * (scalar_gate ? exp(gs[i]) : 1.0);
            for (uint s = 0u; s <= i; ++s) x += att[i * ROW + s] * region[s * UROW + c];
            o_buf[((p / n) * H + h) * V + c0 + c] = x;
        }
    }
}
