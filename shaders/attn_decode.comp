#version 450
// Causal softmax attention for a few queries (decoding): a workgroup takes up to 8 query rows
// of one kv head (for one new token, the query heads that share the kv head, so the cache is
// read once for all of them) and one split of the keys; the host cuts a long cache into many
// splits so that the whole device streams it, and attn_combine.comp merges the splits.
// Per chunk of KC = NT / 8 keys:
//     the keys are staged in shared memory (coalesced rows);
//     invocation (j, part) forms the partial scores of key j over one eighth of the features,
//     for every row; invocation (r, j) adds them up and masks (common/attn_push.h);
//     one invocation per row updates the running maximum and sum (online softmax);
//     the values are read straight from the cache, each once per workgroup: invocation
//     (group g, column c) accumulates columns c, c + CW, ... of every row over the chunk's keys
//     j = g, g + KH, ... (KH groups of CW = NT / KH invocations; the host picks KH so that the
//     columns of a head keep most invocations busy). The groups' sums meet at the end.
#define ATTN_FORWARD
#include "common/attn_push.h"

layout(local_size_x_id = ATTN_SPEC_WORKGROUP) in;
layout(constant_id = ATTN_SPEC_HEAD_DIM) const uint D = 64;
layout(constant_id = ATTN_SPEC_KEY_GROUPS) const uint KH = 1;

layout(std430, binding = 0) readonly buffer Qb { float q[]; };
layout(std430, binding = 1) readonly buffer Kb { float kc[]; };
layout(std430, binding = 2) readonly buffer Vb { float vc[]; };
layout(std430, binding = 3) writeonly buffer Ob { float o[]; };
layout(std430, binding = 4) writeonly buffer POb { float part_o[]; };
layout(std430, binding = 5) writeonly buffer PMLb { float part_ml[]; };

const uint NT = gl_WorkGroupSize.x;   // 64, 128 or 256
const uint RD = 8u;                   // query rows per workgroup
const uint KC = NT / RD;              // keys per chunk
const uint NP = NT / KC;              // feature parts of a score (8)
const uint DPART = (D + NP - 1u) / NP;
const uint KS = D + 1u;               // staged key row (odd stride: no bank conflicts)
const uint CW = NT / KH;              // invocations per key group
const uint DCN = (D + CW - 1u) / CW;  // output columns per invocation

shared float ks[KC * KS];
shared float qs[RD * D];
shared float partial[RD * NP * KC];   // [row][part][key]
shared float ps[RD * KC];             // scores, then probabilities: [row][key]
shared float red[NT * DCN];           // the key groups' sums of one row
shared float row_m[RD];
shared float row_l[RD];
shared float row_alpha[RD];
shared uint row_t[RD];
shared uint row_h[RD];
shared int row_slot[RD];   // cache slot of the row's own key; -1 for rows past the end

void main() {
    const float NEG_INF = uintBitsToFloat(0xFF800000u);
    const uint tid = gl_LocalInvocationID.x;
    const uint kvh = gl_WorkGroupID.y, split = gl_WorkGroupID.z;
    const uint r0 = gl_WorkGroupID.x * RD;
    const uint nrows = min(RD, pc.rows - r0);

    if (tid < RD) {
        const uint row = r0 + tid;
        const uint t = row / pc.groups;
        row_t[tid] = tid < nrows ? t : 0u;
        row_h[tid] = tid < nrows ? kvh * pc.groups + row % pc.groups : 0u;
        row_slot[tid] = tid < nrows ? int(pc.first_slot + t) : -1;
        row_m[tid] = NEG_INF;
        row_l[tid] = 0.0;
    }
    barrier();
    for (uint e = tid; e < RD * D; e += NT) {
        const uint r = e / D, d = e % D;
        qs[e] = row_slot[r] >= 0 ? q[pc.q_offset + row_t[r] * pc.q_stride + row_h[r] * D + d] : 0.0;
    }

    // Keys this workgroup looks at: its split, cut to what its rows can see.
    const int slot_lo = int(pc.first_slot + r0 / pc.groups);
    const int slot_hi = int(pc.first_slot + (r0 + nrows - 1u) / pc.groups);
    const int split_begin = int(split * pc.keys_per_split);
    const int split_end = min(int(pc.keys), split_begin + int(pc.keys_per_split));
    const int first_seen = pc.window == 0u ? 0 : slot_lo + 1 - int(pc.window);
    const int begin = max(split_begin, first_seen);
    const int end = min(split_end, slot_hi + 1);

    const uint group = tid / CW, col = tid % CW;
    float acc[RD][DCN];
    for (uint r = 0u; r < RD; ++r)
        for (uint i = 0u; i < DCN; ++i) acc[r][i] = 0.0;

    for (int j0 = begin; j0 < end; j0 += int(KC)) {
        const uint nk = uint(min(int(KC), end - j0));
        for (uint e = tid; e < KC * D; e += NT) {
            const uint j = e / D, d = e % D;
            ks[j * KS + d] = j < nk ? kc[pc.k_offset + (uint(j0) + j) * pc.kv_stride + kvh * D + d] : 0.0;
        }
        barrier();
        {
            const uint j = tid % KC, part = tid / KC;
            const uint d0 = part * DPART, d1 = min(D, d0 + DPART);
            for (uint r = 0u; r < nrows; ++r) {
                float s = 0.0;
                for (uint d = d0; d < d1; ++d) s += qs[r * D + d] * ks[j * KS + d];
                partial[(r * NP + part) * KC + j] = s;
            }
        }
        barrier();
        {
            const uint r = tid / KC, j = tid % KC;
            float s = 0.0;
            if (r < nrows)
                for (uint part = 0u; part < NP; ++part) s += partial[(r * NP + part) * KC + j];
            s *= pc.scale;
            const int slot = row_slot[r];
            const int key = j0 + int(j);
            const bool visible = j < nk && slot >= 0 && key <= slot && (pc.window == 0u || key > slot - int(pc.window));
            ps[r * KC + j] = visible ? s : NEG_INF;
        }
        barrier();
        if (tid < RD) {
            const float m_old = row_m[tid];
            float m_new = m_old;
            for (uint j = 0u; j < KC; ++j) m_new = max(m_new, ps[tid * KC + j]);
            float sum = 0.0;
            for (uint j = 0u; j < KC; ++j) {
                const float v = ps[tid * KC + j];
                const float p = v == NEG_INF ? 0.0 : exp(v - m_new);
                ps[tid * KC + j] = p;
                sum += p;
            }
            const float alpha = m_old == NEG_INF ? 0.0 : exp(m_old - m_new);
            row_alpha[tid] = alpha;
            row_l[tid] = row_l[tid] * alpha + sum;
            row_m[tid] = m_new;
        }
        barrier();
        for (uint r = 0u; r < RD; ++r) {
            const float alpha = row_alpha[r];
            for (uint i = 0u; i < DCN; ++i) acc[r][i] *= alpha;
        }
        for (uint j = group; j < nk; j += KH) {
            const uint base = pc.v_offset + (uint(j0) + j) * pc.kv_stride + kvh * D;
            for (uint i = 0u; i < DCN; ++i) {
                const uint c = col + CW * i;
                const float v = c < D ? vc[base + c] : 0.0;
                for (uint r = 0u; r < RD; ++r) acc[r][i] += ps[r * KC + j] * v;
            }
        }
        // The next chunk's staging barrier keeps ps and ks until every invocation is done here.
    }

    const uint TH = pc.T * pc.heads;
    for (uint r = 0u; r < RD; ++r) {   // a constant bound keeps acc in registers
        if (r >= nrows) break;
        // Sum the key groups' accumulators (group 0 ends with the row's whole sum).
        if (KH > 1u) {
            barrier();
            for (uint i = 0u; i < DCN; ++i) red[tid * DCN + i] = acc[r][i];
            barrier();
            if (group == 0u)
                for (uint g = 1u; g < KH; ++g)
                    for (uint i = 0u; i < DCN; ++i) acc[r][i] += red[(g * CW + col) * DCN + i];
        }
        if (group != 0u) continue;
        const uint t = row_t[r], h = row_h[r];
        if (pc.splits == 1u) {
            const float inv = 1.0 / row_l[r];
            for (uint i = 0u; i < DCN; ++i) {
                const uint c = col + CW * i;
                if (c < D) o[pc.o_offset + t * pc.o_stride + h * D + c] = acc[r][i] * inv;
            }
        } else {
            const uint prow = split * TH + t * pc.heads + h;
            for (uint i = 0u; i < DCN; ++i) {
                const uint c = col + CW * i;
                if (c < D) part_o[pc.part_o_offset + prow * D + c] = acc[r][i];
            }
            if (tid == 0u) {
                part_ml[pc.part_ml_offset + prow * 2u] = row_m[r];
                part_ml[pc.part_ml_offset + prow * 2u + 1u] = row_l[r];
            }
        }
    }
}
