#version 450
// Chunked delta rule, step 2: the WY / UT representation of one chunk's Householder products.
// Within a chunk (local positions i, s; G the chunk-local cumulative log gate; Gamma = exp(G)):
//     A[i][s] = beta_i exp(G_i - G_s) (k_i . k_s)    for s < i, else 0
//     T = (I + A)^-1                                  (unit lower triangular)
//     W = T diag(beta Gamma) K        U = T diag(beta) V
// so that the values the chunk really writes are u~ = U - W S0 (S0: state at the chunk start;
// computed by scan_chunk_state) and the chunk's outputs and end state follow from u~ as for a
// plain decayed linear attention. One workgroup per (chunk, head).
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"

layout(local_size_x_id = SS_SC_WORKGROUP) in;
layout(constant_id = SS_SC_CHUNK) const uint C = 64;
layout(constant_id = SS_SC_KTILE) const uint KT = 32;

const uint NT = gl_WorkGroupSize.x;
const uint ROW = C + 1;           // padded row of the C x C matrix (fewer bank conflicts)
const uint TROW = KT + 1;         // padded row of a C x KT tile
const uint APT = (C * C + NT - 1) / NT;     // matrix entries per thread
const uint OPT = (C * KT + NT - 1) / NT;    // tile outputs per thread

shared float mat[C * ROW];        // A, then T in place, then T diag(beta)
shared float tile[C * TROW];      // a K (or V) column tile of the chunk
shared float gs[C];               // G (chunk-local cumulative log gate)
shared float bs[C];               // beta (0 on padding positions past L)
shared float row_tmp[C];

void main() {
    const uint chunk = gl_WorkGroupID.x, h = gl_WorkGroupID.y, tid = gl_LocalInvocationID.x;
    const uint H = pc.H, K = pc.K, V = pc.V;
    const uint p0 = chunk * C;
    const uint cl = min(C, pc.L - p0);     // valid positions in this chunk
    const bool has_decay = (pc.flags & SS_FLAG_HAS_DECAY) != 0u;

    // Padding positions (i >= cl) get the last valid G, so that exp(G_i - G_s) never exceeds 1.
    for (uint i = tid; i < C; i += NT) {
        const uint ic = min(i, cl - 1u);
        gs[i] = has_decay ? gcum_buf[(p0 + ic) * H + h] : 0.0;
        bs[i] = i < cl ? beta_at(p0 + i, h) : 0.0;
    }

    // Gram matrix of the chunk's keys, K tile by K tile.
    float acc[APT];
    for (uint m = 0u; m < APT; ++m) acc[m] = 0.0;
    for (uint k0 = 0u; k0 < K; k0 += KT) {
        for (uint e = tid; e < C * KT; e += NT) {
            const uint i = e / KT, rr = e % KT;
            tile[i * TROW + rr] = (i < cl && k0 + rr < K) ? k_buf[((p0 + i) * H + h) * K + k0 + rr] : 0.0;
        }
        barrier(); // tile written -> tile read
        for (uint m = 0u; m < APT; ++m) {
            const uint e = tid + m * NT;
            const uint i = e / C, s = e % C;
            if (e < C * C && s < i)
                for (uint rr = 0u; rr < KT; ++rr) acc[m] += tile[i * TROW + rr] * tile[s * TROW + rr];
        }
        barrier(); // tile read -> next tile written
    }
    for (uint m = 0u; m < APT; ++m) {
        const uint e = tid + m * NT;
        const uint i = e / C, s = e % C;
        if (e < C * C) mat[i * ROW + s] = s < i ? bs[i] * exp(gs[i] - gs[s]) * acc[m] : 0.0;
    }
    barrier(); // A complete -> inversion reads it

    // T = (I + A)^-1 by forward substitution, row by row, in place (T's unit diagonal implicit):
    //     T[i][s] = -(A[i][s] + sum_{m=s+1}^{i-1} A[i][m] T[m][s])      s < i
    for (uint i = 1u; i < C; ++i) {
        if (tid < i) {
            const uint s = tid;
            float v = mat[i * ROW + s];
            for (uint m = s + 1u; m < i; ++m) v += mat[i * ROW + m] * mat[m * ROW + s];
            row_tmp[s] = -v;
        }
        barrier(); // row i of A fully read -> overwritten by row i of T
        if (tid < i) mat[i * ROW + tid] = row_tmp[tid];
        barrier(); // row i of T written -> read by later rows
    }
    // Fold beta in: mat = T diag(beta), diagonal included.
    for (uint e = tid; e < C * C; e += NT) {
        const uint i = e / C, s = e % C;
        const float t = s < i ? mat[i * ROW + s] : (s == i ? 1.0 : 0.0);
        mat[i * ROW + s] = t * bs[s];
    }
    barrier(); // T diag(beta) complete -> products read it

    // W = (T diag(beta)) (diag(Gamma) K) and U = (T diag(beta)) V, one column tile at a time.
    for (uint which = 0u; which < 2u; ++which) {
        const uint width = which == 0u ? K : V;
        for (uint c0 = 0u; c0 < width; c0 += KT) {
            for (uint e = tid; e < C * KT; e += NT) {
                const uint s = e / KT, rr = e % KT;
                float x = 0.0;
                if (s < cl && c0 + rr < width) {
                    if (which == 0u) x = k_buf[((p0 + s) * H + h) * K + c0 + rr] * exp(gs[s]);
                    else x = v_buf[((p0 + s) * H + h) * V + c0 + rr];
                }
                tile[s * TROW + rr] = x;
            }
            barrier(); // tile written -> tile read
            for (uint m = 0u; m < OPT; ++m) {
                const uint e = tid + m * NT;
                const uint i = e / KT, rr = e % KT;
                if (e < C * KT && i < cl && c0 + rr < width) {
                    float out_v = 0.0;
                    for (uint s = 0u; s <= i; ++s) out_v += mat[i * ROW + s] * tile[s * TROW + rr];
                    if (which == 0u) w_buf[((p0 + i) * H + h) * K + c0 + rr] = out_v;
                    else u_buf[((p0 + i) * H + h) * V + c0 + rr] = out_v;
                }
            }
            barrier(); // tile read -> next tile written
        }
    }
}
