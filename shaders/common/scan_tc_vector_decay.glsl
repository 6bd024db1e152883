// Vector decay (GLA, HGRN2: one log decay per key channel) in the fused tensor-core scan
// (included by scan_tc_fused.comp after its shared memory, registers and put8_channels). With
// G the chunk-local cumulative log decay per channel k and Gamma = exp(G):
//     scores  A[i][s] = sum_k q_ik k_sk exp(G_ik - G_sk) beta_s       (s <= i)
//     outputs o_i     = (q_i * Gamma_i)^T S + sum_{s <= i} A[i][s] v_s
//     state   S'      = diag(Gamma_last) S + sum_s (k_s * beta_s Gamma_last / Gamma_s) v_s^T
// The gate inside the score's sum keeps A from being one product of two matrices. As in fla's
// chunk_gla, the chunk is split in two sub-chunks of 16 rows:
//   - the tile of rows 16-31 against columns 0-15 is a tensor-core product of
//     q_i exp(G_i - G_15) and k_s beta_s exp(G_15 - G_s), both factors at most 1 (G falls
//     along the chunk), so nothing overflows however strong the decay;
//   - the two diagonal tiles are summed pair by pair in float32 with exp(G_ik - G_sk) <= 1:
//     the invocation that fetched row i's 8-channel slice adds its part for every s, and a
//     butterfly of subgroup shuffles over the row's K/8 invocations completes the score.
// Shared memory is the limit (48 KiB): the raw keys, the per-channel G (float32) and the two
// scaled halves are staged first, read by the score phase, then overwritten by q * Gamma and
// the decayed keys for the products (phase 2), from registers. The state's per-row decay is a
// component-wise product with a matrix whose rows are exp(G_last) (a cooperative-matrix load
// of the same vector with stride 0), since accumulators have no row index.
//
// Requirements (host-checked): workgroups of 128 or 256 (value blocks of 64 or 128; with 128,
// four regions of q/k rows, v and the scores just fit in 48 KiB), K in {16, 32, 64, 128}
// so that an invocation's slice c = tid % (K/8) is the same for all its rows and a row's
// invocations are a power-of-two cluster of adjacent lanes.
#ifndef STATESCOPE_SCAN_TC_VECTOR_DECAY_GLSL
#define STATESCOPE_SCAN_TC_VECTOR_DECAY_GLSL
#extension GL_KHR_shader_subgroup_shuffle : require

layout(std430, set = 0, binding = SS_BIND_GCUM) readonly buffer Gcum4View { vec4 gcum4[]; };

const uint VD_GMAX = 4u;                       // rows per invocation (K <= 128, >= 128 invocations)
// Phase 1 (scores): raw k, the scaled halves (rows 0-15 keys, rows 16-31 queries), G as float
// bits (4 to an element). Phase 2 (products) reuses the start: q * Gamma, decayed keys.
const uint VD_RK_OFF = 0u, VD_QK_OFF = C * KS, VD_G_OFF = 2u * C * KS;   // in halves
const uint VD_QG_OFF = 0u, VD_KD_OFF = C * KS;
shared float vd_gamma_last[TC_KMAX];           // exp(G_last) per key channel

vec4 vd_g[VD_GMAX][2];    // G of the fetched rows' slices (padding rows repeat the last valid row)
vec4 vd_gref[2], vd_glast[2];   // G of row 15 (the sub-chunk reference) and of the last valid row

void vd_fetch(uint n, uint h, uint tid, uint cl) {
    const uint K4 = KD / 4u, c = tid % K8;
    const uint base = n * C * pc.H + h;   // row (n * C + r) of head h is base + r * H
    [[unroll]] for (uint i = 0u; i < VD_GMAX; ++i) {
        const uint e = tid + i * WG, r = min(e / K8, cl - 1u);
        vd_g[i][0] = vec4(0.0);
        vd_g[i][1] = vec4(0.0);
        if (i < QPT && e < C * K8 && cl > 0u) {
            vd_g[i][0] = gcum4[(base + r * pc.H) * K4 + 2u * c];
            vd_g[i][1] = gcum4[(base + r * pc.H) * K4 + 2u * c + 1u];
        }
    }
    vd_gref[0] = vd_gref[1] = vd_glast[0] = vd_glast[1] = vec4(0.0);
    if (cl > 0u) {
        const uint rref = min(15u, cl - 1u), rlast = cl - 1u;
        vd_gref[0] = gcum4[(base + rref * pc.H) * K4 + 2u * c];
        vd_gref[1] = gcum4[(base + rref * pc.H) * K4 + 2u * c + 1u];
        vd_glast[0] = gcum4[(base + rlast * pc.H) * K4 + 2u * c];
        vd_glast[1] = gcum4[(base + rlast * pc.H) * K4 + 2u * c + 1u];
    }
}

// Phase 1 staging: raw keys, G, the scaled halves for the off-diagonal tile, exp(G_last).
void vd_stage_scores(uint tid) {
    const uint c = tid % K8;
    [[unroll]] for (uint i = 0u; i < VD_GMAX; ++i) {
        const uint e = tid + i * WG, r = e / K8;
        if (i < QPT && e < C * K8) {
            const uint at = r * KS + 8u * c;
            hs8[(VD_RK_OFF + at) / 8u] = rk[i];
            const uint g = VD_G_OFF / 8u + r * (KD / 4u) + 2u * c;
            hs8[g] = floatBitsToUint(vd_g[i][0]);
            hs8[g + 1u] = floatBitsToUint(vd_g[i][1]);
            if (r < 16u)   // keys of sub-chunk 0: k_s beta_s exp(G_15 - G_s)
                put8_channels(VD_QK_OFF + at, rk[i], rb[i] * exp(vd_gref[0] - vd_g[i][0]), rb[i] * exp(vd_gref[1] - vd_g[i][1]));
            else           // queries of sub-chunk 1: q_i exp(G_i - G_15)
                put8_channels(VD_QK_OFF + at, rq[i], exp(vd_g[i][0] - vd_gref[0]), exp(vd_g[i][1] - vd_gref[1]));
        }
    }
    if (tid < K8) {
        const vec4 a = exp(vd_glast[0]), b = exp(vd_glast[1]);
        [[unroll]] for (uint t = 0u; t < 4u; ++t) {
            vd_gamma_last[8u * tid + t] = a[t];
            vd_gamma_last[8u * tid + 4u + t] = b[t];
        }
    }
}

// The masked, gated scores into the float16 score rows (A_OFF): the off-diagonal tile on
// tensor cores (subgroup 0), the two diagonal tiles pair by pair (every invocation).
void vd_scores(uint tid, uint j) {
    if (j == 0u) {
        TC_ACC a = TC_ACC(0.0);
        [[unroll]] for (uint kk = 0u; kk < KT; ++kk) {
            TC_A x, y;
            LDT(x, VD_QK_OFF + 16u * KS + 16u * kk, KS, false);   // queries, rows 16-31
            LDT(y, VD_QK_OFF + 16u * kk, KS, true);               // keys, rows 0-15, transposed
            a = coopMatMulAddNV(x, y, a);
        }
        coopMatStoreNV(TC_A(a), hs8, (A_OFF + 16u * AS) / 8u, AS / 8u, false);
    }
    const uint c = tid % K8;
    [[unroll]] for (uint i = 0u; i < VD_GMAX; ++i) {
        const uint e = tid + i * WG, r = e / K8, r0 = r & ~15u;
        if (i < QPT && e < C * K8) {   // uniform over each subgroup (and each row's cluster)
            vec4 q0, q1;
            q0.xy = vec2(unpackFloat2x16(rq[i].x));
            q0.zw = vec2(unpackFloat2x16(rq[i].y));
            q1.xy = vec2(unpackFloat2x16(rq[i].z));
            q1.zw = vec2(unpackFloat2x16(rq[i].w));
            float sums[16];
            [[unroll]] for (uint t = 0u; t < 16u; ++t) {
                const uint s = r0 + t;
                float p = 0.0;
                if (s <= r) {
                    const uvec4 ku = hs8[(VD_RK_OFF + s * KS + 8u * c) / 8u];
                    const uint g = VD_G_OFF / 8u + s * (KD / 4u) + 2u * c;
                    vec4 k0, k1;
                    k0.xy = vec2(unpackFloat2x16(ku.x));
                    k0.zw = vec2(unpackFloat2x16(ku.y));
                    k1.xy = vec2(unpackFloat2x16(ku.z));
                    k1.zw = vec2(unpackFloat2x16(ku.w));
                    p = dot(q0 * k0, exp(vd_g[i][0] - uintBitsToFloat(hs8[g]))) +
                        dot(q1 * k1, exp(vd_g[i][1] - uintBitsToFloat(hs8[g + 1u])));
                }
                [[unroll]] for (uint off = 1u; off < K8; off *= 2u) p += subgroupShuffleXor(p, off);
                sums[t] = p;   // the row's sum, on each of its K/8 lanes
            }
            if (c < 2u) {   // lanes 0 and 1 of the row write its 16 scores, 8 each
                float x[8];
                [[unroll]] for (uint b = 0u; b < 8u; ++b) x[b] = sums[8u * c + b] * bsh[r0 + 8u * c + b];
                hs8[(A_OFF + r * AS + r0 + 8u * c) / 8u] =
                    uvec4(packFloat2x16(f16vec2(x[0], x[1])), packFloat2x16(f16vec2(x[2], x[3])),
                          packFloat2x16(f16vec2(x[4], x[5])), packFloat2x16(f16vec2(x[6], x[7])));
            }
        }
    }
}

// Phase 2 staging, over phase 1's rows: q * Gamma_i and k * beta_s exp(G_last - G_s).
void vd_stage_products(uint tid) {
    const uint c = tid % K8;
    [[unroll]] for (uint i = 0u; i < VD_GMAX; ++i) {
        const uint e = tid + i * WG, r = e / K8;
        if (i < QPT && e < C * K8) {
            const uint at = r * KS + 8u * c;
            put8_channels(VD_QG_OFF + at, rq[i], exp(vd_g[i][0]), exp(vd_g[i][1]));
            put8_channels(VD_KD_OFF + at, rk[i], rb[i] * exp(vd_glast[0] - vd_g[i][0]), rb[i] * exp(vd_glast[1] - vd_g[i][1]));
        }
    }
}

// S <- diag(exp(G_last)) S for the accumulator tile of key rows 16 kk .. 16 kk + 15.
void vd_decay_state(inout TC_ACC s, uint kk) {
    TC_ACC d;
    coopMatLoadNV(d, vd_gamma_last, 16u * kk, 0u, true);   // d[r][c] = gamma_last[16 kk + r]
    for (int t = 0; t < s.length(); ++t) s[t] *= d[t];
}

#endif
