#version 450
// Chunked form, step 3: the inter-chunk state pass. One workgroup owns a KB x VB block of one
// head's state (in shared memory) and walks the chunks in order:
//     sb[n]   = S                                     (state at the start of chunk n: kept)
//     u~      = beta v                                (Identity, Scalar, Diagonal)
//     u~      = U - W S   (written back over U)       (DeltaRule; W, U from scan_chunk_wy)
//     S       = diag(Gamma_last) S + sum_s diag(exp(G_last - G_s)) k_s u~_s^T
// G is the chunk-local cumulative log gate (scan_chunk_gates), per key channel for Diagonal.
// Key rows are independent for every kind but the delta rule (whose u~ needs all of S), so the
// delta rule runs with KB = K and the others may split K across workgroups.
// Workgroup (x: value block, y: key block, z: head).
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"

layout(local_size_x_id = SS_SC_WORKGROUP) in;
layout(constant_id = SS_SC_KIND) const uint KIND = 0;
layout(constant_id = SS_SC_CHUNK) const uint C = 64;
layout(constant_id = SS_SC_KTILE) const uint KT = 32;
layout(constant_id = SS_SC_VBLOCK) const uint VB = 32;
layout(constant_id = SS_SC_KBLOCK) const uint KB = 128;

const uint NT = gl_WorkGroupSize.x;
const uint TROW = KT + 1;
const uint UROW = VB + 1;
const uint UPT = (C * VB + NT - 1) / NT;    // u~ entries per thread
const uint TPT = (KT * VB + NT - 1) / NT;   // state entries of one key tile per thread

shared float st[KB * VB];         // the state block, row-major [r][c]
shared float us[C * UROW];        // u~ of the chunk for this value block
shared float tile[C * TROW];      // W tile (delta) or decayed-key tile

float gate_cum(uint p, uint h, uint r) {
    if (KIND == SS_KIND_DIAGONAL) return gcum_buf[(p * pc.H + h) * pc.K + r];
    if ((pc.flags & SS_FLAG_HAS_DECAY) != 0u) return gcum_buf[p * pc.H + h];
    return 0.0;
}

void main() {
    const uint c0 = gl_WorkGroupID.x * VB, r0 = gl_WorkGroupID.y * KB, h = gl_WorkGroupID.z;
    const uint tid = gl_LocalInvocationID.x;
    const uint H = pc.H, K = pc.K, V = pc.V;
    const uint vb = min(VB, V - c0), kb = min(KB, K - r0);   // this block's real extent

    for (uint e = tid; e < KB * VB; e += NT) {
        const uint r = e / VB, c = e % VB;
        st[e] = (r < kb && c < vb) ? s0_buf[(h * K + r0 + r) * V + c0 + c] : 0.0;
    }
    barrier(); // initial state loaded

    for (uint n = 0u; n < pc.num_chunks; ++n) {
        const uint p0 = n * C;
        const uint cl = min(C, pc.L - p0);
        const uint plast = p0 + cl - 1u;

        // Keep the state at the start of chunk n (the output kernel reads it too).
        for (uint e = tid; e < KB * VB; e += NT) {
            const uint r = e / VB, c = e % VB;
            if (r < kb && c < vb) sb_buf[((n * H + h) * K + r0 + r) * V + c0 + c] = st[e];
        }

        // u~ for this chunk and value block.
        if (KIND == SS_KIND_DELTA) {
            float acc[UPT];
            for (uint m = 0u; m < UPT; ++m) acc[m] = 0.0;
            for (uint k0 = 0u; k0 < K; k0 += KT) {
                for (uint e = tid; e < C * KT; e += NT) {
                    const uint i = e / KT, rr = e % KT;
                    tile[i * TROW + rr] = (i < cl && k0 + rr < K) ? w_buf[((p0 + i) * H + h) * K + k0 + rr] : 0.0;
                }
                barrier(); // W tile written -> read
                for (uint m = 0u; m < UPT; ++m) {
                    const uint e = tid + m * NT;
                    const uint i = e / VB, c = e % VB;
                    if (e < C * VB)
                        for (uint rr = 0u; rr < KT && k0 + rr < K; ++rr)
                            acc[m] += tile[i * TROW + rr] * st[(k0 + rr) * VB + c];
                }
                barrier(); // W tile read -> next tile written
            }
            for (uint m = 0u; m < UPT; ++m) {
                const uint e = tid + m * NT;
                const uint i = e / VB, c = e % VB;
                if (e < C * VB) {
                    float u = 0.0;
                    if (i < cl && c < vb) {
                        const uint idx = ((p0 + i) * H + h) * V + c0 + c;
                        u = u_buf[idx] - acc[m];
                        u_buf[idx] = u; // each element is read and written by this thread only
                    }
                    us[i * UROW + c] = u;
                }
            }
        } else {
            for (uint e = tid; e < C * VB; e += NT) {
                const uint i = e / VB, c = e % VB;
                us[i * UROW + c] = (i < cl && c < vb) ? beta_at(p0 + i, h) * v_buf[((p0 + i) * H + h) * V + c0 + c] : 0.0;
            }
        }
        barrier(); // u~ written (and the old state read by the W S product) -> state update

        // S = diag(Gamma_last) S + K_dec^T u~, one key tile at a time.
        for (uint t0 = 0u; t0 < kb; t0 += KT) {
            for (uint e = tid; e < C * KT; e += NT) {
                const uint s = e / KT, rr = e % KT;
                const uint r = r0 + t0 + rr;
                float x = 0.0;
                if (s < cl && t0 + rr < kb) {
                    x = k_buf[((p0 + s) * H + h) * K + r];
                    if (KIND != SS_KIND_IDENTITY) x *= exp(gate_cum(plast, h, r) - gate_cum(p0 + s, h, r));
                }
                tile[s * TROW + rr] = x;
            }
            barrier(); // decayed-key tile written -> read
            for (uint m = 0u; m < TPT; ++m) {
                const uint e = tid + m * NT;
                const uint rr = e / VB, c = e % VB;
                if (e < KT * VB && t0 + rr < kb) {
                    const uint r = r0 + t0 + rr;
                    float x = st[(t0 + rr) * VB + c];
                    if (KIND != SS_KIND_IDENTITY) x *= exp(gate_cum(plast, h, r));
                    for (uint s = 0u; s < cl; ++s) x += tile[s * TROW + rr] * us[s * UROW + c];
                    st[(t0 + rr) * VB + c] = x;
                }
            }
            barrier(); // tile read and state rows updated -> next tile / next chunk
        }
    }

    for (uint e = tid; e < KB * VB; e += NT) {
        const uint r = e / VB, c = e % VB;
        if (r < kb && c < vb) s_buf[(h * K + r0 + r) * V + c0 + c] = st[e];
    }
}
