#version 450
// Tensor-core chunked form, step 3: the outputs of one chunk for one 64-column value block of
// one head, with cooperative matrices, as fla's chunk_o:
//     o_i = Gamma_i (q_i^T S_n) + sum_{s <= i} A[i][s] beta_s exp(G_i - G_s) v_s,  A = Q K^T
// where S_n = sb[n] is the state at the chunk start (scan_tc_state). Phase 1 walks the keys 32 at
// a time: A += Q K^T (exact fp16 operands) and O += Q S_n (S_n split into two fp16 parts).
// Phase 2 scales O's rows by Gamma_i = exp(G_i) through shared memory (a row scale is not a
// cooperative-matrix operation), masks, gates and splits A, and adds A V. Exponents are only of
// G_i - G_s with s <= i (never positive) and of G_i (<= 0), so nothing overflows.
// Four subgroups; subgroup w owns output rows (positions) 16w..16w+15.
// Workgroup (x: value block, y: chunk, z: head). K and V are multiples of 16 (host-checked).
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"
#include "common/scan_tc.glsl"

layout(local_size_x = 128) in;
layout(constant_id = SS_SC_KIND) const uint KIND = 0;

const uint C = TC_C, BV = TC_B, KT = 32u;
const uint KTS = KT + 8u;   // fp16 row strides padded by 16 bytes
const uint VS = BV + 8u;
const uint AS = C + 8u;
const uint FS = BV + 4u;    // fp32 row stride
// One fp16 region used twice. Phase 1: q [C][KTS], k [C][KTS], S hi/lo [KT][VS].
// Phase 2: A hi/lo [C][AS], v [C][VS].
const uint Q_OFF = 0u, K_OFF = C * KTS, SHI_OFF = 2u * C * KTS, SLO_OFF = SHI_OFF + KT * VS;
const uint PHASE1 = SLO_OFF + KT * VS;
const uint AHI_OFF = 0u, ALO_OFF = C * AS, V_OFF = 2u * C * AS;
const uint PHASE2 = V_OFF + C * VS;
shared float16_t hreg[PHASE1 > PHASE2 ? PHASE1 : PHASE2];
shared float freg[C * FS];   // A (float32), then the output block
shared float gsh[C];         // G_i (padding rows repeat the last valid G)
shared float bsh[C];         // beta_s (0 for padding rows)

void main() {
    const uint c0 = gl_WorkGroupID.x * BV, n = gl_WorkGroupID.y, h = gl_WorkGroupID.z;
    const uint tid = gl_LocalInvocationID.x, w = gl_SubgroupID;
    const uint H = pc.H, K = pc.K, V = pc.V;
    const uint p0 = n * C;
    const uint cl = min(C, pc.L - p0);
    const bool gated = KIND == SS_KIND_SCALAR && (pc.flags & SS_FLAG_HAS_DECAY) != 0u;
    const bool has_beta = (pc.flags & SS_FLAG_HAS_BETA) != 0u;

    if (tid < C) {
        gsh[tid] = gated ? gcum_buf[(p0 + min(tid, cl - 1u)) * H + h] : 0.0;
        bsh[tid] = tid < cl ? (has_beta ? beta_buf[(p0 + tid) * H + h] : 1.0) : 0.0;
    }

    TC_ACC acc_o[4], acc_a[4];
    for (uint j = 0u; j < 4u; ++j) {
        acc_o[j] = TC_ACC(0.0);
        acc_a[j] = TC_ACC(0.0);
    }

    for (uint k0 = 0u; k0 < K; k0 += KT) {
        for (uint e = tid; e < C * (KT / 4u); e += 128u) {
            const uint i = e / (KT / 4u), r = 4u * (e % (KT / 4u));
            f16vec4 qv = f16vec4(0.0), kv = f16vec4(0.0);
            if (i < cl && k0 + r < K) {
                const uint idx = (((p0 + i) * H + h) * K + k0 + r) / 4u;
                qv = q16_buf[idx];
                kv = k16_buf[idx];
            }
            for (uint c = 0u; c < 4u; ++c) {
                hreg[Q_OFF + i * KTS + r + c] = qv[c];
                hreg[K_OFF + i * KTS + r + c] = kv[c];
            }
        }
        for (uint e = tid; e < KT * (BV / 4u); e += 128u) {
            const uint rr = e / (BV / 4u), c = 4u * (e % (BV / 4u));
            vec4 s = vec4(0.0);
            if (k0 + rr < K && c0 + c < V) {
                const uint idx = ((n * H + h) * K + k0 + rr) * V + c0 + c;
                s = vec4(sb_buf[idx], sb_buf[idx + 1u], sb_buf[idx + 2u], sb_buf[idx + 3u]);
            }
            f16vec4 hi, lo;
            split_f16(s, hi, lo);
            for (uint b = 0u; b < 4u; ++b) {
                hreg[SHI_OFF + rr * VS + c + b] = hi[b];
                hreg[SLO_OFF + rr * VS + c + b] = lo[b];
            }
        }
        barrier(); // tiles written -> read

        for (uint kk = 0u; kk < KT / 16u; ++kk) {
            if (k0 + 16u * kk >= K) break;
            TC_A a, b;
            coopMatLoadNV(a, hreg, Q_OFF + 16u * w * KTS + 16u * kk, KTS, false);
            for (uint j = 0u; j < 4u; ++j) {
                if (c0 + 16u * j >= V) break;
                coopMatLoadNV(b, hreg, SHI_OFF + 16u * kk * VS + 16u * j, VS, false);
                acc_o[j] = coopMatMulAddNV(a, b, acc_o[j]);
                coopMatLoadNV(b, hreg, SLO_OFF + 16u * kk * VS + 16u * j, VS, false);
                acc_o[j] = coopMatMulAddNV(a, b, acc_o[j]);
            }
            for (uint j = 0u; j <= w; ++j) {   // causal: key tiles j <= query tile w
                coopMatLoadNV(b, hreg, K_OFF + 16u * j * KTS + 16u * kk, KTS, true);   // K^T tile
                acc_a[j] = coopMatMulAddNV(a, b, acc_a[j]);
            }
        }
        barrier(); // tiles read -> next tiles written
    }

    // Phase 2. A (float32) -> shared; masked, gated, beta-scaled and split into fp16 parts.
    for (uint j = 0u; j <= w; ++j) coopMatStoreNV(acc_a[j], freg, 16u * w * FS + 16u * j, FS, false);
    barrier(); // A written -> read
    for (uint e = tid; e < C * (C / 4u); e += 128u) {
        const uint i = e / (C / 4u), s = 4u * (e % (C / 4u));
        vec4 x = vec4(0.0);
        for (uint b = 0u; b < 4u; ++b)
            if (s + b <= i) {   // tiles above the diagonal tile were not stored: never read them
                float f = bsh[s + b];
                if (gated) f *= exp(gsh[i] - gsh[s + b]);
                x[b] = freg[i * FS + s + b] * f;
            }
        f16vec4 hi, lo;
        split_f16(x, hi, lo);
        for (uint b = 0u; b < 4u; ++b) {
            hreg[AHI_OFF + i * AS + s + b] = hi[b];
            hreg[ALO_OFF + i * AS + s + b] = lo[b];
        }
    }
    for (uint e = tid; e < C * (BV / 4u); e += 128u) {
        const uint i = e / (BV / 4u), c = 4u * (e % (BV / 4u));
        f16vec4 x = f16vec4(0.0);
        if (i < cl && c0 + c < V) x = v16_buf[(((p0 + i) * H + h) * V + c0 + c) / 4u];
        for (uint b = 0u; b < 4u; ++b) hreg[V_OFF + i * VS + c + b] = x[b];
    }
    barrier(); // A parts, v written; A (float32) read -> O stored over it

    // O rows times Gamma_i = exp(G_i), through shared memory.
    if (gated) {
        for (uint j = 0u; j < 4u; ++j) coopMatStoreNV(acc_o[j], freg, 16u * w * FS + 16u * j, FS, false);
        barrier(); // O written -> scaled
        for (uint e = tid; e < C * BV; e += 128u) {
            const uint i = e / BV, c = e % BV;
            freg[i * FS + c] *= exp(gsh[i]);
        }
        barrier(); // scaled -> loaded back
        for (uint j = 0u; j < 4u; ++j) coopMatLoadNV(acc_o[j], freg, 16u * w * FS + 16u * j, FS, false);
    }
    for (uint kk = 0u; kk <= w; ++kk) {
        TC_A a_hi, a_lo, b;
        coopMatLoadNV(a_hi, hreg, AHI_OFF + 16u * w * AS + 16u * kk, AS, false);
        coopMatLoadNV(a_lo, hreg, ALO_OFF + 16u * w * AS + 16u * kk, AS, false);
        for (uint j = 0u; j < 4u; ++j) {
            if (c0 + 16u * j >= V) break;
            coopMatLoadNV(b, hreg, V_OFF + 16u * kk * VS + 16u * j, VS, false);
            acc_o[j] = coopMatMulAddNV(a_hi, b, acc_o[j]);
            acc_o[j] = coopMatMulAddNV(a_lo, b, acc_o[j]);
        }
    }
    barrier(); // O rows loaded back by every subgroup -> overwritten with the result
    for (uint j = 0u; j < 4u; ++j) coopMatStoreNV(acc_o[j], freg, 16u * w * FS + 16u * j, FS, false);
    barrier(); // output block written -> copied out
    for (uint e = tid; e < C * (BV / 4u); e += 128u) {
        const uint i = e / (BV / 4u), c = 4u * (e % (BV / 4u));
        if (i >= cl || c0 + c >= V) continue;
        const uint idx = ((p0 + i) * H + h) * V + c0 + c;
        for (uint b = 0u; b < 4u; ++b) o_buf[idx + b] = freg[i * FS + c + b];
    }
}
