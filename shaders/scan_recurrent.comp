#version 450
// The recurrent (token-by-token) form of the common per-head scan, all five transition kinds:
//     S_t = A_t S_{t-1} + beta k v^T,  o_t = S_t^T q_t      (S: K x V, key-major)
// with the micro-step rules of engine/core/scan.h (gate on micro-step 0 only; DeltaRule applies
// its Householder factor every micro-step; DiagPlusRankOne's factor only on micro-step 0), and
// its bonus read (SS_FLAG_BONUS, RWKV-6): o_t = S_{t-1}^T q_t + beta (q_t . u k_t) v_t, read
// before the token's update.
//
// Every transition acts on S from the left, so the V columns of S evolve independently: one
// column is owned by LANES neighbouring threads, each holding ROWS = ceil(K / LANES) of its
// entries in registers (rows lane, lane + LANES, ...). Dot products over K (the delta rule's
// k^T S, the rank-one b^T S, the read q^T S) are a register sum plus a butterfly over the LANES
// threads (subgroup shuffles, compiled in only for the SS_SUBGROUP variant; LANES = 1 otherwise).
//
// The step itself is a short dependent chain, so what limits speed is the latency of fetching
// each token's vectors. The workgroup therefore stages TB tokens at a time in shared memory
// (coalesced loads, shared by all its columns), then runs those TB steps from shared memory.
// Workgroup (x: block of columns, y: head).
#ifdef SS_SUBGROUP
#extension GL_KHR_shader_subgroup_shuffle : require
#endif
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"

layout(local_size_x_id = SS_SC_WORKGROUP) in;
layout(constant_id = SS_SC_KIND) const uint KIND = 0;
layout(constant_id = SS_SC_LANES) const uint LANES = 1;
#ifdef SS_ROWS
// Fixed row counts are compiled as variants: glslc then unrolls every loop over the rows and
// keeps s[] in registers, instead of leaving a dynamically indexed array to the driver.
const uint ROWS = SS_ROWS;
#else
layout(constant_id = SS_SC_ROWS) const uint ROWS = 1;
#endif
layout(constant_id = SS_SC_KDIM) const uint KD = 1;      // K (sizes the staging arrays)
layout(constant_id = SS_SC_TOKENS) const uint TB = 1;    // tokens staged per block
layout(constant_id = SS_SC_SUBSTEPS) const uint SUB = 1; // micro-steps per token

const uint NT = gl_WorkGroupSize.x;
const uint COLS = NT / LANES;                             // columns per workgroup
const bool KEY_GATE = KIND == SS_KIND_DIAGONAL || KIND == SS_KIND_DPLR;
const uint GW = KEY_GATE ? KD : (KIND == SS_KIND_IDENTITY ? 0u : 1u);   // gate values per token
const uint AB = KIND == SS_KIND_DPLR ? KD : 0u;
// Shared layout (floats): k [TB*SUB][KD], q [TB][KD], g [TB][GW], a/b [TB][AB], beta [TB*SUB],
// v [TB*SUB][COLS].
const uint OFF_Q = TB * SUB * KD;
const uint OFF_G = OFF_Q + TB * KD;
const uint OFF_A = OFF_G + TB * GW;
const uint OFF_B = OFF_A + TB * AB;
const uint OFF_BETA = OFF_B + TB * AB;
const uint OFF_V = OFF_BETA + TB * SUB;
const uint SMEM = OFF_V + TB * SUB * COLS;
shared float sm[SMEM];

float lanes_sum(float x) {
#ifdef SS_SUBGROUP
    // Butterfly over the LANES threads of one column; they are consecutive invocations of one
    // subgroup (the host checks LANES <= subgroup size and that the workgroup is a multiple of it).
    for (uint m = 1u; m < LANES; m <<= 1u) x += subgroupShuffleXor(x, m);
#endif
    return x;
}

void main() {
    const uint tid = gl_LocalInvocationID.x;
    const uint lane = tid % LANES;
    const uint col = tid / LANES;
    const uint c0 = gl_WorkGroupID.x * COLS;
    const uint h = gl_WorkGroupID.y;
    const uint K = pc.K, V = pc.V, H = pc.H, T = pc.T;
    // Threads of columns past V run the loop too (on column V-1's data), so that every lane of a
    // subgroup reaches every shuffle and barrier; they store nothing.
    const bool column_valid = c0 + col < V;
    const uint c = min(c0 + col, V - 1u);
    const bool has_decay = (pc.flags & SS_FLAG_HAS_DECAY) != 0u;
    const bool has_beta = (pc.flags & SS_FLAG_HAS_BETA) != 0u;
    const bool bonus = (pc.flags & SS_FLAG_BONUS) != 0u;   // uniform: every lane takes the same branches

    float s[ROWS];
    float u[ROWS];   // the head's bonus rows (zero without one)
    for (uint i = 0u; i < ROWS; ++i) {
        const uint r = lane + i * LANES;
        const uint idx = (h * K + r) * V + c;
        s[i] = r < K ? (pc.seg_first != 0u ? s0_buf[idx] : s_buf[idx]) : 0.0;
        u[i] = bonus && r < K ? bonus_buf[h * K + r] : 0.0;
    }

    const uint t_end = min(pc.seg_end, T);
    for (uint t0 = pc.seg_begin; t0 < t_end; t0 += TB) {
        const uint tb = min(TB, t_end - t0);
        // Stage tokens t0 .. t0+tb-1 (consecutive threads read consecutive addresses).
        for (uint e = tid; e < tb * SUB * KD; e += NT) {
            const uint pl = e / KD, r = e % KD;            // local position, key index
            sm[e] = k_buf[((t0 * SUB + pl) * H + h) * K + r];
        }
        for (uint e = tid; e < tb * KD; e += NT) {
            const uint tl = e / KD, r = e % KD;
            const uint th = (t0 + tl) * H + h;
            sm[OFF_Q + e] = q_buf[th * K + r];
            if (KEY_GATE) sm[OFF_G + e] = g_buf[th * K + r];
            if (KIND == SS_KIND_DPLR) {
                sm[OFF_A + e] = a_buf[th * K + r];
                sm[OFF_B + e] = b_buf[th * K + r];
            }
        }
        if (GW == 1u)
            for (uint e = tid; e < tb; e += NT) sm[OFF_G + e] = has_decay ? g_buf[(t0 + e) * H + h] : 0.0;
        for (uint e = tid; e < tb * SUB; e += NT) sm[OFF_BETA + e] = has_beta ? beta_buf[(t0 * SUB + e) * H + h] : 1.0;
        for (uint e = tid; e < tb * SUB * COLS; e += NT) {
            const uint pl = e / COLS, cc = min(c0 + e % COLS, V - 1u);
            sm[OFF_V + e] = v_buf[((t0 * SUB + pl) * H + h) * V + cc];
        }
        barrier(); // staged inputs written -> read by the steps below

        for (uint tl = 0u; tl < tb; ++tl) {
            for (uint j = 0u; j < SUB; ++j) {
                const uint pl = tl * SUB + j;
                const uint kb = pl * KD;
                const float beta = sm[OFF_BETA + pl];
                const float vv = sm[OFF_V + pl * COLS + col];

                if (bonus && j == 0u) {
                    // Read S_{t-1} before the update, plus token t's own write through diag(u),
                    // in the reference's order: (q . S), (sum q k u) * beta, then times v.
                    float out_c = 0.0, w = 0.0;
                    for (uint i = 0u; i < ROWS; ++i) {
                        const uint r = lane + i * LANES;
                        if (r < K) {
                            out_c += sm[OFF_Q + tl * KD + r] * s[i];
                            w += sm[OFF_Q + tl * KD + r] * sm[kb + r] * u[i];
                        }
                    }
                    out_c = lanes_sum(out_c);
                    w = lanes_sum(w) * beta;
                    if (column_valid && lane == 0u) o_buf[((t0 + tl) * H + h) * V + c] = out_c + w * vv;
                }

                if (KIND == SS_KIND_SCALAR && j == 0u) {
                    const float d = exp(sm[OFF_G + tl]);
                    for (uint i = 0u; i < ROWS; ++i) s[i] *= d;
                } else if (KIND == SS_KIND_DIAGONAL && j == 0u) {
                    for (uint i = 0u; i < ROWS; ++i) {
                        const uint r = lane + i * LANES;
                        if (r < K) s[i] *= exp(sm[OFF_G + tl * KD + r]);
                    }
                } else if (KIND == SS_KIND_DELTA) {
                    // S <- gamma (I - beta k k^T) S
                    if (j == 0u && has_decay) {
                        const float d = exp(sm[OFF_G + tl]);
                        for (uint i = 0u; i < ROWS; ++i) s[i] *= d;
                    }
                    float dot = 0.0;
                    for (uint i = 0u; i < ROWS; ++i) {
                        const uint r = lane + i * LANES;
                        if (r < K) dot += sm[kb + r] * s[i];
                    }
                    dot = lanes_sum(dot);
                    for (uint i = 0u; i < ROWS; ++i) {
                        const uint r = lane + i * LANES;
                        if (r < K) s[i] -= (beta * sm[kb + r]) * dot;
                    }
                } else if (KIND == SS_KIND_DPLR && j == 0u) {
                    // S <- diag(exp(g)) S + a (b^T S)
                    float dot = 0.0;
                    for (uint i = 0u; i < ROWS; ++i) {
                        const uint r = lane + i * LANES;
                        if (r < K) dot += sm[OFF_B + tl * KD + r] * s[i];
                    }
                    dot = lanes_sum(dot);
                    for (uint i = 0u; i < ROWS; ++i) {
                        const uint r = lane + i * LANES;
                        if (r < K) s[i] = exp(sm[OFF_G + tl * KD + r]) * s[i] + sm[OFF_A + tl * KD + r] * dot;
                    }
                }

                // The write beta k v^T, in the reference's order: (beta k_r) v_c.
                for (uint i = 0u; i < ROWS; ++i) {
                    const uint r = lane + i * LANES;
                    if (r < K) s[i] += (beta * sm[kb + r]) * vv;
                }
            }

            if (!bonus) {
                float out_c = 0.0;
                for (uint i = 0u; i < ROWS; ++i) {
                    const uint r = lane + i * LANES;
                    if (r < K) out_c += sm[OFF_Q + tl * KD + r] * s[i];
                }
                out_c = lanes_sum(out_c);
                if (column_valid && lane == 0u) o_buf[((t0 + tl) * H + h) * V + c] = out_c;
            }
        }
        barrier(); // staged inputs read -> next block written
    }

    if (column_valid) {
        for (uint i = 0u; i < ROWS; ++i) {
            const uint r = lane + i * LANES;
            if (r < K) s_buf[(h * K + r) * V + c] = s[i];
        }
    }
}
