#version 450
// Chunked diagonal-plus-rank-one (RWKV-7), step 2 (in place of the delta rule's scan_chunk_wy).
// A token's transition D_t + a_t b_t^T (D_t = diag(exp(g_t))) and write k_t (beta_t v_t)^T give
//     S_t = D_t S_{t-1} + a_t u_t^T + k_t (beta_t v_t)^T,      u_t^T = b_t^T S_{t-1},
// which is a scan of two micro-steps per token with the delta rule's kind of state-dependent
// value: micro-step 2t (factor D_t, key a_t, value u_t), micro-step 2t+1 (no factor, key k_t,
// value beta_t v_t). The state pass and the output kernel run that virtual scan (their DPLR
// kind: per-channel gates like Diagonal, values from U minus W S like the delta rule) over
// keys interleaved by this kernel.
//
// Within a chunk (local tokens t, s; G the chunk-local cumulative log gate per channel over the
// micro-steps, G(t) = G at micro-step 2t, Gp(t) = G at 2t-1, 0 for the chunk's first token):
//     u_t = (b_t * exp(Gp(t)))^T S0 + sum_{s<t} Lba[t][s] u_s + Lbk[t][s] beta_s v_s
//     Lba[t][s] = sum_r b_t[r] a_s[r] exp(Gp(t)[r] - G(s)[r])      (Lbk: k_s in place of a_s)
// so with T = (I - Lba)^-1:  u = U0 - W S0,  U0 = T Lbk diag(beta) V,  W = -T diag(exp(Gp)) B.
// It writes, at micro-steps 2t and 2t+1: keys a_t, k_t; W_t and 0; U0_t and beta_t v_t.
// Exponents are of Gp(t) - G(s) with s < t (never positive): nothing overflows.
//
// One workgroup per (chunk, head); plain float32 loops (the reference-exact chunked form).
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"

layout(std430, set = 0, binding = SS_BIND_DPLR_KEYS) writeonly buffer KxBuf { float kx_buf[]; };

layout(local_size_x_id = SS_SC_WORKGROUP) in;
layout(constant_id = SS_SC_CHUNK) const uint C = 64;   // micro-steps: 2 per token

const uint NT = gl_WorkGroupSize.x;
const uint CT = C / 2u;   // tokens per chunk
shared float lba[CT * CT];   // then T (strictly lower part; unit diagonal implicit)
shared float lbk[CT * CT];   // Lbk diag(beta), then Z = T Lbk diag(beta)
shared float row_tmp[CT];

void main() {
    const uint chunk = gl_WorkGroupID.x, h = gl_WorkGroupID.y, tid = gl_LocalInvocationID.x;
    const uint H = pc.H, K = pc.K, V = pc.V;
    const uint p0 = chunk * C, t0 = chunk * CT;
    const uint ct = min(CT, pc.T - t0);   // valid tokens in this chunk
    // Gate at micro-step p of this chunk, channel r.
#define GC(p, r) gcum_buf[((p0 + (p)) * H + h) * K + (r)]

    // Lba and Lbk diag(beta), s < t.
    for (uint e = tid; e < CT * CT; e += NT) {
        const uint t = e / CT, s = e % CT;
        float xa = 0.0, xk = 0.0;
        if (s < t && t < ct) {
            const uint bt = ((t0 + t) * H + h) * K, as = ((t0 + s) * H + h) * K;
            for (uint r = 0u; r < K; ++r) {
                const float f = b_buf[bt + r] * exp(GC(2u * t - 1u, r) - GC(2u * s, r));
                xa += f * a_buf[as + r];
                xk += f * k_buf[as + r];
            }
            xk *= beta_at(t0 + s, h);
        }
        lba[e] = xa;
        lbk[e] = xk;
    }
    barrier(); // Lba, Lbk written -> read

    // T = (I - Lba)^-1 by forward substitution, row by row, in place:
    //     T[i][s] = Lba[i][s] + sum_{m=s+1}^{i-1} Lba[i][m] T[m][s]      s < i
    for (uint i = 1u; i < ct; ++i) {
        if (tid < i) {
            const uint s = tid;
            float v = lba[i * CT + s];
            for (uint m = s + 1u; m < i; ++m) v += lba[i * CT + m] * lba[m * CT + s];
            row_tmp[s] = v;
        }
        barrier(); // row i of Lba fully read -> overwritten by row i of T
        if (tid < i) lba[i * CT + tid] = row_tmp[tid];
        barrier(); // row i of T written -> read by later rows
    }

    // Z = T Lbk diag(beta) (strictly lower): Z[i][s] = Lbk[i][s] + sum_{m=s+1}^{i-1} T[i][m] Lbk[m][s],
    // one row per step, in place (row i of Z needs rows < i of Lbk, which later rows still read).
    for (uint i = ct; i-- > 1u;) {
        if (tid < i) {
            const uint s = tid;
            float z = lbk[i * CT + s];
            for (uint m = s + 1u; m < i; ++m) z += lba[i * CT + m] * lbk[m * CT + s];
            row_tmp[s] = z;
        }
        barrier(); // row i's inputs read -> row i overwritten (rows < i are still Lbk)
        if (tid < i) lbk[i * CT + tid] = row_tmp[tid];
        barrier();
    }

    // Keys and W at micro-steps 2i (a_i, W_i) and 2i+1 (k_i, 0):
    //     W_i = -(b_i exp(Gp(i)) + sum_{m<i} T[i][m] b_m exp(Gp(m)))
    for (uint e = tid; e < ct * K; e += NT) {
        const uint i = e / K, r = e % K;
        const uint pa = (((p0 + 2u * i) * H + h) * K) + r, pk = (((p0 + 2u * i + 1u) * H + h) * K) + r;
        float w = b_buf[((t0 + i) * H + h) * K + r] * (i > 0u ? exp(GC(2u * i - 1u, r)) : 1.0);
        for (uint m = 0u; m < i; ++m)
            w += lba[i * CT + m] * b_buf[((t0 + m) * H + h) * K + r] * (m > 0u ? exp(GC(2u * m - 1u, r)) : 1.0);
        w_buf[pa] = -w;
        w_buf[pk] = 0.0;
        kx_buf[pa] = a_buf[((t0 + i) * H + h) * K + r];
        kx_buf[pk] = k_buf[((t0 + i) * H + h) * K + r];
    }
    // Values: U0_i = sum_{s<i} Z[i][s] v_s at 2i, beta_i v_i at 2i+1.
    for (uint e = tid; e < ct * V; e += NT) {
        const uint i = e / V, c = e % V;
        float u = 0.0;
        for (uint s = 0u; s < i; ++s) u += lbk[i * CT + s] * v_buf[((t0 + s) * H + h) * V + c];
        u_buf[((p0 + 2u * i) * H + h) * V + c] = u;
        u_buf[((p0 + 2u * i + 1u) * H + h) * V + c] = beta_at(t0 + i, h) * v_buf[((t0 + i) * H + h) * V + c];
    }
#undef GC
}
