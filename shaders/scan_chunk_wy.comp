#version 450
// Chunked delta rule, step 2: the WY / UT representation of one chunk's Householder products.
// Within a chunk (local positions i, s; G the chunk-local cumulative log gate; Gamma = exp(G)):
//     A[i][s] = beta_i exp(G_i - G_s) (k_i . k_s)    for s < i, else 0
//     T = (I + A)^-1                                  (unit lower triangular)
//     W = T diag(beta Gamma) K        U = T diag(beta) V
// so that the values the chunk really writes are u~ = U - W S0 (S0: state at the chunk start;
// computed by scan_chunk_state) and the chunk's outputs and end state follow from u~ as for a
// plain decayed linear attention. One workgroup per (chunk, head).
// The Gram matrix and the products with T run as 4x4 register tiles per thread; the inversion
// is a forward substitution, one row per step.
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"

layout(local_size_x_id = SS_SC_WORKGROUP) in;
layout(constant_id = SS_SC_CHUNK) const uint C = 64;
layout(constant_id = SS_SC_KTILE) const uint KT = 32;    // multiple of 4

const uint NT = gl_WorkGroupSize.x;
const uint C4 = (C + 3u) / 4u;
const uint CP = 4u * C4;
const uint C4S = C4 + 1u;
const uint KT4 = KT / 4u;
const uint ROW = CP + 1u;          // padded row of the CP x CP matrix
// Scratch (vec4s): the Gram phase stages a key tile transposed, kT [KT][C4S]; the product
// phase stages a column tile of (Gamma K) or V, x [CP][KT4].
const uint KTT = KT * C4S;
const uint XT = CP * KT4;
const uint SCR = KTT > XT ? KTT : XT;

shared float mat[CP * ROW];        // A, then T in place, then T diag(beta)
shared vec4 scr4[SCR];
shared float gs[CP];               // G (chunk-local cumulative log gate)
shared float bs[CP];               // beta (0 on padding positions past L)
shared float row_tmp[CP];

void main() {
    const uint chunk = gl_WorkGroupID.x, h = gl_WorkGroupID.y, tid = gl_LocalInvocationID.x;
    const uint H = pc.H, K = pc.K, V = pc.V;
    const uint p0 = chunk * C;
    const uint cl = min(C, pc.L - p0);     // valid positions in this chunk
    const bool has_decay = (pc.flags & SS_FLAG_HAS_DECAY) != 0u;

    // Padding positions (i >= cl) get the last valid G, so that exp(G_i - G_s) never exceeds 1.
    for (uint i = tid; i < CP; i += NT) {
        const uint ic = min(i, cl - 1u);
        gs[i] = has_decay ? gcum_buf[(p0 + ic) * H + h] : 0.0;
        bs[i] = i < cl ? beta_at(p0 + i, h) : 0.0;
    }

    // Gram matrix of the chunk's keys, K tile by K tile; thread (ti, tj) owns rows 4ti.. and
    // columns 4tj.. (only tiles on or below the diagonal are needed).
    const bool g_role = tid < C4 * C4;
    const uint ti = tid / C4, tj = tid % C4;
    const bool g_live = g_role && tj <= ti;
    mat4 acc = mat4(0.0);   // acc[b][a] = k_{4ti+a} . k_{4tj+b}
    for (uint k0 = 0u; k0 < K; k0 += KT) {
        for (uint e = tid; e < CP * KT; e += NT) {
            const uint i = e / KT, rr = e % KT;
            scr4[rr * C4S + i / 4u][i % 4u] = (i < cl && k0 + rr < K) ? k_buf[((p0 + i) * H + h) * K + k0 + rr] : 0.0;
        }
        barrier(); // key tile written -> read
        if (g_live)
            for (uint rr = 0u; rr < KT; ++rr) {
                const vec4 ka = scr4[rr * C4S + ti];
                const vec4 kb = scr4[rr * C4S + tj];
                for (uint b = 0u; b < 4u; ++b) acc[b] += ka * kb[b];
            }
        barrier(); // key tile read -> next tile written
    }
    if (g_role)
        for (uint b = 0u; b < 4u; ++b)
            for (uint a = 0u; a < 4u; ++a) {
                const uint i = 4u * ti + a, s = 4u * tj + b;
                mat[i * ROW + s] = (g_live && s < i) ? bs[i] * exp(gs[i] - gs[s]) * acc[b][a] : 0.0;
            }
    barrier(); // A complete -> inversion reads it

    // T = (I + A)^-1 by forward substitution, row by row, in place (T's unit diagonal implicit):
    //     T[i][s] = -(A[i][s] + sum_{m=s+1}^{i-1} A[i][m] T[m][s])      s < i
    for (uint i = 1u; i < cl; ++i) {
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
    for (uint e = tid; e < CP * CP; e += NT) {
        const uint i = e / CP, s = e % CP;
        const float t = s < i ? mat[i * ROW + s] : (s == i ? 1.0 : 0.0);
        mat[i * ROW + s] = t * bs[s];
    }
    barrier(); // T diag(beta) complete -> products read it

    // W = (T diag(beta)) (diag(Gamma) K) and U = (T diag(beta)) V, one column tile at a time;
    // thread (wi, wj) owns rows 4wi.. and tile columns 4wj...
    const bool w_role = tid < C4 * KT4;
    const uint wi = tid / KT4, wj = tid % KT4;
    for (uint which = 0u; which < 2u; ++which) {
        const uint width = which == 0u ? K : V;
        for (uint c0 = 0u; c0 < width; c0 += KT) {
            for (uint e = tid; e < CP * KT; e += NT) {
                const uint s = e / KT, cc = e % KT;
                float x = 0.0;
                if (s < cl && c0 + cc < width) {
                    if (which == 0u) x = k_buf[((p0 + s) * H + h) * K + c0 + cc] * exp(gs[s]);
                    else x = v_buf[((p0 + s) * H + h) * V + c0 + cc];
                }
                scr4[s * KT4 + cc / 4u][cc % 4u] = x;
            }
            barrier(); // column tile written -> read
            if (w_role) {
                mat4 w = mat4(0.0);   // w[b][a] = out[4wi + a][c0 + 4wj + b]
                const uint s_end = min(4u * wi + 4u, cl);
                for (uint s = 0u; s < s_end; ++s) {
                    vec4 tcol;
                    for (uint a = 0u; a < 4u; ++a) tcol[a] = mat[(4u * wi + a) * ROW + s];
                    const vec4 xv = scr4[s * KT4 + wj];
                    for (uint b = 0u; b < 4u; ++b) w[b] += tcol * xv[b];
                }
                for (uint a = 0u; a < 4u; ++a) {
                    const uint i = 4u * wi + a;
                    if (i >= cl) continue;
                    for (uint b = 0u; b < 4u; ++b) {
                        const uint c = c0 + 4u * wj + b;
                        if (c >= width) continue;
                        if (which == 0u) w_buf[((p0 + i) * H + h) * K + c] = w[b][a];
                        else u_buf[((p0 + i) * H + h) * V + c] = w[b][a];
                    }
                }
            }
            barrier(); // column tile read -> next tile written
        }
    }
}
