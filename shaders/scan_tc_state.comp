#version 450
// Tensor-core chunked form, step 2 (after the chunk-local cumulative gates, scan_chunk_gates):
// the inter-chunk state pass with cooperative matrices, as fla's chunk_h. One workgroup owns a
// 64 x 64 block (key rows r0.., value columns c0..) of one head's state, kept in float32
// accumulators for the whole sequence, and walks the chunks in order:
//     sb[n] = S                                           (state at the start of chunk n)
//     S     = Gamma_last S + Kd^T V,   Kd[s][r] = beta_s exp(G_last - G_s) k_s[r]
// (Identity: no gates.) k and v are the float16 copies; Kd is float32, split into two fp16
// parts (scan_tc.glsl). Four subgroups; subgroup w owns state rows 16w..16w+15 (4 tiles).
// Workgroup (x: key block, y: value block, z: head). K and V are multiples of 16 (the host
// checks), so a 16 x 16 tile lies wholly inside or wholly outside the state.
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"
#include "common/scan_tc.glsl"

layout(local_size_x = 128) in;
layout(constant_id = SS_SC_KIND) const uint KIND = 0;

const uint C = TC_C, BK = TC_B, BV = TC_B;
const uint KDS = BK + 8u;   // fp16 row strides, padded by 16 bytes against bank conflicts
const uint VS = BV + 8u;

shared float16_t kd_hi[C * KDS];   // [position][key]: read transposed as the A operand
shared float16_t kd_lo[C * KDS];
shared float16_t vsh[C * VS];      // [position][value]
shared float gsh[C];               // per-position factor beta_s exp(G_last - G_s)

void main() {
    const uint r0 = gl_WorkGroupID.x * BK, c0 = gl_WorkGroupID.y * BV, h = gl_WorkGroupID.z;
    const uint tid = gl_LocalInvocationID.x, w = gl_SubgroupID;
    const uint H = pc.H, K = pc.K, V = pc.V;
    const bool gated = KIND == SS_KIND_SCALAR && (pc.flags & SS_FLAG_HAS_DECAY) != 0u;
    const bool has_beta = (pc.flags & SS_FLAG_HAS_BETA) != 0u;
    const bool split = gated || has_beta;   // otherwise Kd = k is exact in fp16: no lo part

    const uint row = r0 + 16u * w;          // this subgroup's state rows
    const bool row_live = row < K;
    TC_ACC acc[4];
    for (uint j = 0u; j < 4u; ++j) {
        acc[j] = TC_ACC(0.0);
        if (row_live && c0 + 16u * j < V) coopMatLoadNV(acc[j], s0_buf, (h * K + row) * V + c0 + 16u * j, V, false);
    }

    for (uint n = 0u; n < pc.num_chunks; ++n) {
        const uint p0 = n * C;
        const uint cl = min(C, pc.L - p0);
        for (uint j = 0u; j < 4u; ++j)
            if (row_live && c0 + 16u * j < V)
                coopMatStoreNV(acc[j], sb_buf, ((n * H + h) * K + row) * V + c0 + 16u * j, V, false);

        const float g_last = gated ? gcum_buf[(p0 + cl - 1u) * H + h] : 0.0;
        barrier(); // previous chunk's operands read -> overwritten
        if (tid < C) {
            float f = 0.0;
            if (tid < cl) {
                f = has_beta ? beta_buf[(p0 + tid) * H + h] : 1.0;
                if (gated) f *= exp(g_last - gcum_buf[(p0 + tid) * H + h]);
            }
            gsh[tid] = f;
        }
        barrier(); // factors written -> read
        for (uint e = tid; e < C * (BK / 4u); e += 128u) {
            const uint i = e / (BK / 4u), r = 4u * (e % (BK / 4u));
            vec4 x = vec4(0.0);
            if (i < cl && r0 + r < K) x = vec4(k16_buf[(((p0 + i) * H + h) * K + r0 + r) / 4u]) * gsh[i];
            f16vec4 hi, lo;
            split_f16(x, hi, lo);
            for (uint c = 0u; c < 4u; ++c) {
                kd_hi[i * KDS + r + c] = hi[c];
                kd_lo[i * KDS + r + c] = lo[c];
            }
        }
        for (uint e = tid; e < C * (BV / 4u); e += 128u) {
            const uint i = e / (BV / 4u), c = 4u * (e % (BV / 4u));
            f16vec4 x = f16vec4(0.0);
            if (i < cl && c0 + c < V) x = v16_buf[(((p0 + i) * H + h) * V + c0 + c) / 4u];
            for (uint b = 0u; b < 4u; ++b) vsh[i * VS + c + b] = x[b];
        }
        barrier(); // operands written -> read

        if (row_live) {
            if (gated) {
                const float gamma = exp(g_last);
                for (uint j = 0u; j < 4u; ++j) acc[j] = acc[j] * gamma;
            }
            for (uint kk = 0u; kk < C / 16u; ++kk) {
                if (16u * kk >= cl) break;
                TC_A a_hi, a_lo, b;
                coopMatLoadNV(a_hi, kd_hi, 16u * kk * KDS + 16u * w, KDS, true);   // Kd^T tile
                if (split) coopMatLoadNV(a_lo, kd_lo, 16u * kk * KDS + 16u * w, KDS, true);
                for (uint j = 0u; j < 4u; ++j) {
                    if (c0 + 16u * j >= V) break;
                    coopMatLoadNV(b, vsh, 16u * kk * VS + 16u * j, VS, false);
                    acc[j] = coopMatMulAddNV(a_hi, b, acc[j]);
                    if (split) acc[j] = coopMatMulAddNV(a_lo, b, acc[j]);
                }
            }
        }
    }

    for (uint j = 0u; j < 4u; ++j)
        if (row_live && c0 + 16u * j < V) coopMatStoreNV(acc[j], s_buf, (h * K + row) * V + c0 + 16u * j, V, false);
}
