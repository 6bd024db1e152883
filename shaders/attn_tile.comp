#version 450
#extension GL_EXT_control_flow_attributes : require
// Causal softmax attention for many queries at once (prefill), flash-attention style: a
// workgroup takes BQ query rows of one kv head (the rows (t, h) of its query heads, see
// common/attn_push.h) and walks the visible keys of its split in tiles of 64, keeping each row's
// running maximum m, sum l and unnormalised output in registers (the online softmax), so the
// scores never reach device memory:
//     S = scale * Q K^T (masked)      m' = max(m, rowmax S)      P = exp(S - m')
//     l = l exp(m - m') + rowsum P    O = O exp(m - m') + P V
// Both products are 4 x 4 register tiles per thread over operands staged in shared memory
// (vec4 loads): thread (tr, tc) computes scores of rows 4tr.. x keys 4tc.. and output rows
// 4tr.. x vec4 columns tc, tc + 16, ... The score product steps through the head in slices of
// 16 features, the value product through the tile's keys in slices of 16, so shared memory
// stays within 32 KiB (lavapipe) for heads of up to 256 features with 128 invocations.
#define ATTN_FORWARD
#include "common/attn_push.h"

layout(local_size_x_id = ATTN_SPEC_WORKGROUP) in;
layout(constant_id = ATTN_SPEC_HEAD_DIM) const uint D = 64;

layout(std430, binding = 0) readonly buffer Qb { float q[]; };
layout(std430, binding = 1) readonly buffer Kb { float kc[]; };
layout(std430, binding = 2) readonly buffer Vb { float vc[]; };
layout(std430, binding = 3) writeonly buffer Ob { float o[]; };
layout(std430, binding = 4) writeonly buffer POb { float part_o[]; };
layout(std430, binding = 5) writeonly buffer PMLb { float part_ml[]; };

const uint NT = gl_WorkGroupSize.x;   // 64, 128 or 256
const uint BQ = NT / 4u;              // query rows per workgroup: (BQ / 4) x 16 threads
const uint BQ4 = BQ / 4u;
const uint BK = 64u;                  // keys per tile
const uint BK4 = 16u;
const uint DS = 16u;                  // head features per step of the score product
const uint VS = 16u;                  // keys per step of the value product
const uint D4 = (D + 3u) / 4u;        // vec4 columns of a head
const uint DC = (D4 + 15u) / 16u;     // vec4 output columns per thread
const uint DP4 = 16u * DC;            // vec4s per staged value row (padded)
// Shared staging, used in turn by the score product (q slice [DS][BQ4] then k slice [DS][BK4])
// and by the value product (v slice [VS][DP4]).
const uint QK_STAGE = DS * (BQ4 + BK4);
const uint V_STAGE = VS * DP4;
const uint STAGE = QK_STAGE > V_STAGE ? QK_STAGE : V_STAGE;
shared vec4 stage4[STAGE];
shared vec4 p4[BQ * BK4];   // the tile's scores, then probabilities: [BQ][BK4]
shared float red_max[NT];
shared float red_sum[NT];
shared float row_m[BQ];
shared float row_l[BQ];
shared float row_alpha[BQ];
shared uint row_t[BQ];
shared uint row_h[BQ];
shared int row_slot[BQ];   // cache slot of the row's own key; -1 for rows past the end

void main() {
    const float NEG_INF = uintBitsToFloat(0xFF800000u);
    const uint tid = gl_LocalInvocationID.x;
    const uint tr = tid / 16u, tc = tid % 16u;
    const uint kvh = gl_WorkGroupID.y, split = gl_WorkGroupID.z;
    const uint r0 = gl_WorkGroupID.x * BQ;
    const uint nrows = min(BQ, pc.rows - r0);

    if (tid < BQ) {
        const uint row = r0 + tid;
        const uint t = row / pc.groups;
        row_t[tid] = tid < nrows ? t : 0u;
        row_h[tid] = tid < nrows ? kvh * pc.groups + row % pc.groups : 0u;
        row_slot[tid] = tid < nrows ? int(pc.first_slot + t) : -1;
        row_m[tid] = NEG_INF;
        row_l[tid] = 0.0;
    }
    barrier();

    // Keys this workgroup looks at: its split, cut to what its rows can see.
    const int slot_lo = int(pc.first_slot + r0 / pc.groups);
    const int slot_hi = int(pc.first_slot + (r0 + nrows - 1u) / pc.groups);
    const int split_begin = int(split * pc.keys_per_split);
    const int split_end = min(int(pc.keys), split_begin + int(pc.keys_per_split));
    const int first_seen = pc.window == 0u ? 0 : slot_lo + 1 - int(pc.window);
    const int begin = max(split_begin, first_seen);
    const int end = min(split_end, slot_hi + 1);

    vec4 acc[4][DC];
    [[unroll]] for (uint i = 0u; i < 4u; ++i)
        for (uint x = 0u; x < DC; ++x) acc[i][x] = vec4(0.0);

    for (int j0 = begin; j0 < end; j0 += int(BK)) {
        const uint nk = uint(min(int(BK), end - j0));

        // Scores of rows 4tr..4tr+3 x keys 4tc..4tc+3.
        vec4 s[4] = vec4[4](vec4(0.0), vec4(0.0), vec4(0.0), vec4(0.0));
        for (uint d0 = 0u; d0 < D; d0 += DS) {
            for (uint e = tid; e < BQ * DS; e += NT) {
                const uint r = e / DS, d = d0 + e % DS;
                float val = 0.0;
                if (row_slot[r] >= 0 && d < D) val = q[pc.q_offset + row_t[r] * pc.q_stride + row_h[r] * D + d];
                stage4[(e % DS) * BQ4 + r / 4u][r % 4u] = val;
            }
            for (uint e = tid; e < BK * DS; e += NT) {
                const uint j = e / DS, d = d0 + e % DS;
                float val = 0.0;
                if (j < nk && d < D) val = kc[pc.k_offset + (uint(j0) + j) * pc.kv_stride + kvh * D + d];
                stage4[DS * BQ4 + (e % DS) * BK4 + j / 4u][j % 4u] = val;
            }
            barrier();
            [[unroll]] for (uint dd = 0u; dd < DS; ++dd) {
                const vec4 a = stage4[dd * BQ4 + tr];
                const vec4 b = stage4[DS * BQ4 + dd * BK4 + tc];
                s[0] += a.x * b;
                s[1] += a.y * b;
                s[2] += a.z * b;
                s[3] += a.w * b;
            }
            barrier();
        }
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            const int slot = row_slot[4u * tr + i];
            vec4 v = s[i] * pc.scale;
            [[unroll]] for (uint c = 0u; c < 4u; ++c) {
                const uint j = 4u * tc + c;
                const int key = j0 + int(j);
                const bool visible = j < nk && slot >= 0 && key <= slot && (pc.window == 0u || key > slot - int(pc.window));
                if (!visible) v[c] = NEG_INF;
            }
            p4[(4u * tr + i) * BK4 + tc] = v;
        }
        barrier();

        // Online softmax: four invocations per row, sixteen keys each.
        {
            const uint row = tid / 4u, part = tid % 4u;
            float mx = NEG_INF;
            [[unroll]] for (uint c = 0u; c < 4u; ++c) {
                const vec4 v = p4[row * BK4 + part * 4u + c];
                mx = max(mx, max(max(v.x, v.y), max(v.z, v.w)));
            }
            red_max[tid] = mx;
            barrier();
            const uint b = row * 4u;
            const float m_old = row_m[row];
            const float m_new = max(m_old, max(max(red_max[b], red_max[b + 1u]), max(red_max[b + 2u], red_max[b + 3u])));
            float sum = 0.0;
            [[unroll]] for (uint c = 0u; c < 4u; ++c) {
                const vec4 v = p4[row * BK4 + part * 4u + c];
                vec4 p;
                [[unroll]] for (uint k = 0u; k < 4u; ++k) p[k] = v[k] == NEG_INF ? 0.0 : exp(v[k] - m_new);
                p4[row * BK4 + part * 4u + c] = p;
                sum += (p.x + p.y) + (p.z + p.w);
            }
            red_sum[tid] = sum;
            barrier();
            if (part == 0u) {
                const float alpha = m_old == NEG_INF ? 0.0 : exp(m_old - m_new);
                row_alpha[row] = alpha;
                row_l[row] = row_l[row] * alpha + ((red_sum[b] + red_sum[b + 1u]) + (red_sum[b + 2u] + red_sum[b + 3u]));
                row_m[row] = m_new;
            }
            barrier();
        }

        // O = O * alpha + P V over the tile's keys, VS at a time.
        [[unroll]] for (uint i = 0u; i < 4u; ++i) {
            const float alpha = row_alpha[4u * tr + i];
            for (uint x = 0u; x < DC; ++x) acc[i][x] *= alpha;
        }
        for (uint j1 = 0u; j1 < nk; j1 += VS) {
            // Keys past nk are zeros (their probability is 0, and stale values could be NaN).
            for (uint e = tid; e < VS * D; e += NT) {
                const uint jj = e / D, c = e % D;
                float val = 0.0;
                if (j1 + jj < nk) val = vc[pc.v_offset + (uint(j0) + j1 + jj) * pc.kv_stride + kvh * D + c];
                stage4[jj * DP4 + c / 4u][c % 4u] = val;
            }
            barrier();
            [[unroll]] for (uint jq = 0u; jq < VS / 4u; ++jq) {
                vec4 pr[4];
                [[unroll]] for (uint i = 0u; i < 4u; ++i) pr[i] = p4[(4u * tr + i) * BK4 + j1 / 4u + jq];
                [[unroll]] for (uint c = 0u; c < 4u; ++c) {
                    const uint jj = jq * 4u + c;
                    for (uint x = 0u; x < DC; ++x) {
                        const vec4 v = stage4[jj * DP4 + tc + 16u * x];
                        acc[0][x] += pr[0][c] * v;
                        acc[1][x] += pr[1][c] * v;
                        acc[2][x] += pr[2][c] * v;
                        acc[3][x] += pr[3][c] * v;
                    }
                }
            }
            barrier();
        }
    }

    const uint TH = pc.T * pc.heads;
    [[unroll]] for (uint i = 0u; i < 4u; ++i) {
        const uint row = 4u * tr + i;
        if (row_slot[row] < 0) continue;
        const uint t = row_t[row], h = row_h[row];
        if (pc.splits == 1u) {
            const float inv = 1.0 / row_l[row];
            const uint base = pc.o_offset + t * pc.o_stride + h * D;
            for (uint x = 0u; x < DC; ++x)
                [[unroll]] for (uint k = 0u; k < 4u; ++k) {
                    const uint c = 4u * (tc + 16u * x) + k;
                    if (c < D) o[base + c] = acc[i][x][k] * inv;
                }
        } else {
            const uint prow = split * TH + t * pc.heads + h;
            for (uint x = 0u; x < DC; ++x)
                [[unroll]] for (uint k = 0u; k < 4u; ++k) {
                    const uint c = 4u * (tc + 16u * x) + k;
                    if (c < D) part_o[pc.part_o_offset + prow * D + c] = acc[i][x][k];
                }
            if (tc == 0u) {
                part_ml[pc.part_ml_offset + prow * 2u] = row_m[row];
                part_ml[pc.part_ml_offset + prow * 2u + 1u] = row_l[row];
            }
        }
    }
}
