#version 450
// The recurrent (token-by-token) form of the common per-head scan, all five transition kinds:
//     S_t = A_t S_{t-1} + beta k v^T,  o_t = S_t^T q_t      (S: K x V, key-major)
// with the micro-step rules of engine/core/scan.h (gate on micro-step 0 only; DeltaRule applies
// its Householder factor every micro-step; DiagPlusRankOne's factor only on micro-step 0).
//
// Every transition acts on S from the left, so the V columns of S evolve independently: one
// column is owned by LANES neighbouring threads, each holding ROWS = ceil(K / LANES) of its
// entries in registers (rows lane, lane + LANES, ...). Dot products over K (the delta rule's
// k^T S, the rank-one b^T S, the read q^T S) are a register sum plus a butterfly over the LANES
// threads (subgroup shuffles, compiled in only for the SS_SUBGROUP variant; LANES = 1 otherwise).
// Workgroup (x: block of columns, y: head); no shared memory, no barriers.
#ifdef SS_SUBGROUP
#extension GL_KHR_shader_subgroup_shuffle : require
#endif
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"

layout(local_size_x_id = SS_SC_WORKGROUP) in;
layout(constant_id = SS_SC_KIND) const uint KIND = 0;
layout(constant_id = SS_SC_LANES) const uint LANES = 1;
layout(constant_id = SS_SC_ROWS) const uint ROWS = 1;

float lanes_sum(float x) {
#ifdef SS_SUBGROUP
    // Butterfly over the LANES threads of one column; they are consecutive invocations of one
    // subgroup (the host checks LANES <= subgroup size and that the workgroup is a multiple of it).
    for (uint m = 1u; m < LANES; m <<= 1u) x += subgroupShuffleXor(x, m);
#endif
    return x;
}

void main() {
    const uint lane = gl_LocalInvocationID.x % LANES;
    const uint columns_per_group = gl_WorkGroupSize.x / LANES;
    const uint c_raw = gl_WorkGroupID.x * columns_per_group + gl_LocalInvocationID.x / LANES;
    const uint h = gl_WorkGroupID.y;
    const uint K = pc.K, V = pc.V, H = pc.H, n = pc.substeps;
    // Threads of columns past V run the loop too (on column V-1's data), so that every lane of a
    // subgroup reaches every shuffle; they store nothing.
    const bool column_valid = c_raw < V;
    const uint c = min(c_raw, V - 1u);
    const bool has_decay = (pc.flags & SS_FLAG_HAS_DECAY) != 0u;

    float s[ROWS];
    for (uint i = 0u; i < ROWS; ++i) {
        const uint r = lane + i * LANES;
        s[i] = r < K ? s0_buf[(h * K + r) * V + c] : 0.0;
    }

    for (uint t = 0u; t < pc.T; ++t) {
        const uint th = t * H + h;
        for (uint j = 0u; j < n; ++j) {
            const uint p = t * n + j;          // position (micro-step) index
            const uint kbase = (p * H + h) * K;
            const float beta = beta_at(p, h);
            const float vv = v_buf[(p * H + h) * V + c];

            if (KIND == SS_KIND_SCALAR && j == 0u) {
                const float d = exp(g_buf[th]);
                for (uint i = 0u; i < ROWS; ++i) s[i] *= d;
            } else if (KIND == SS_KIND_DIAGONAL && j == 0u) {
                for (uint i = 0u; i < ROWS; ++i) {
                    const uint r = lane + i * LANES;
                    if (r < K) s[i] *= exp(g_buf[th * K + r]);
                }
            } else if (KIND == SS_KIND_DELTA) {
                // S <- gamma (I - beta k k^T) S
                if (j == 0u && has_decay) {
                    const float d = exp(g_buf[th]);
                    for (uint i = 0u; i < ROWS; ++i) s[i] *= d;
                }
                float dot = 0.0;
                for (uint i = 0u; i < ROWS; ++i) {
                    const uint r = lane + i * LANES;
                    if (r < K) dot += k_buf[kbase + r] * s[i];
                }
                dot = lanes_sum(dot);
                for (uint i = 0u; i < ROWS; ++i) {
                    const uint r = lane + i * LANES;
                    if (r < K) s[i] -= (beta * k_buf[kbase + r]) * dot;
                }
            } else if (KIND == SS_KIND_DPLR && j == 0u) {
                // S <- diag(exp(g)) S + a (b^T S)
                float dot = 0.0;
                for (uint i = 0u; i < ROWS; ++i) {
                    const uint r = lane + i * LANES;
                    if (r < K) dot += b_buf[th * K + r] * s[i];
                }
                dot = lanes_sum(dot);
                for (uint i = 0u; i < ROWS; ++i) {
                    const uint r = lane + i * LANES;
                    if (r < K) s[i] = exp(g_buf[th * K + r]) * s[i] + a_buf[th * K + r] * dot;
                }
            }

            // The write beta k v^T, in the reference's order: (beta k_r) v_c.
            for (uint i = 0u; i < ROWS; ++i) {
                const uint r = lane + i * LANES;
                if (r < K) s[i] += (beta * k_buf[kbase + r]) * vv;
            }
        }

        float out_c = 0.0;
        for (uint i = 0u; i < ROWS; ++i) {
            const uint r = lane + i * LANES;
            if (r < K) out_c += q_buf[th * K + r] * s[i];
        }
        out_c = lanes_sum(out_c);
        if (column_valid && lane == 0u) o_buf[th * V + c] = out_c;
    }

    if (column_valid) {
        for (uint i = 0u; i < ROWS; ++i) {
            const uint r = lane + i * LANES;
            if (r < K) s_buf[(h * K + r) * V + c] = s[i];
        }
    }
}
