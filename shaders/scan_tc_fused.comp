#version 450
// Tensor-core chunked form (ScanForm::ChunkedF16) for no decay, scalar decay, the (gated) delta
// rule and vector decay (common/scan_tc_vector_decay.glsl), in one kernel (as fla's
// fused_chunk): a workgroup owns one head's state columns
// c0..c0+BV-1 for all K rows, keeps them in float32 cooperative-matrix accumulators for the
// whole sequence, and walks the chunks of C = 32 positions in order. For chunk n with state
// S = S_n at its start:
//     o_i     = Gamma_i q_i^T S + sum_{s <= i} (q_i . k_s) beta_s exp(G_i - G_s) v_s
//     S_{n+1} = Gamma_last S + sum_s beta_s exp(G_last - G_s) k_s v_s^T
// where G is the chunk-local cumulative log decay (scan_chunk_gates; 0 without decay) and
// Gamma = exp(G) (per key channel for vector decay, whose scores need the gates inside their
// sums). The delta rule writes u~_s in place of beta_s v_s, the values that remain
// after its erasures: u~ = TB V + TG (K S), with TB, TG from scan_tc_wy (see there).
// The per-row factors of the scalar kinds act on the products' results, not on copies of
// their operands: o = diag(Gamma) (Q S) + A V scales the float32 rows of Q S, and
// S_{n+1} = Gamma_last S + K^T (diag(d) V) with d_s = beta_s exp(G_last - G_s) scales the
// values, 16 columns per subgroup instead of K. So only the raw q, k and v are staged.
// Nothing but the outputs (and, unless SS_FLAG_NO_CHUNK_STATES, the state at every chunk
// start) goes back to memory, so the kernel reads q, k, v once per value block.
//
// Precision: q, k, v arrive as float16 copies (scan_tc_cast). The products take float16
// operands and accumulate in float32: the scores A = Q K^T are exact products of the inputs;
// the masked, gated scores, the decayed keys and queries and the state enter the products
// rounded to float16 once. The state itself is carried in float32, so those roundings do not
// accumulate along the sequence.
//
// Subgroups: NS = BV / 16 of 32 invocations; subgroup j owns value columns 16j..16j+15 of the
// block: its K/16 state tiles, both 16-row output tiles. Value blocks of 128 (8 subgroups)
// give each head a single workgroup, which loads its q and k once; blocks of 32 or 64 give
// more workgroups where there are few heads. The three causal 16x16 score tiles are
// shared out among the subgroups. Each chunk's q, k, v are staged in shared memory at its start.
// Workgroup (x: value block, y: head). K and V are multiples of 16, K <= TC_KMAX (host-checked).
#extension GL_EXT_control_flow_attributes : require
#include "common/push_constants.h"
#include "common/scan_bindings.glsl"
#include "common/scan_tc.glsl"

layout(std430, set = 0, binding = SS_BIND_Q16) readonly buffer Q16View { uvec4 q16x[]; };
layout(std430, set = 0, binding = SS_BIND_K16) readonly buffer K16View { uvec4 k16x[]; };
layout(std430, set = 0, binding = SS_BIND_V16) readonly buffer V16View { uvec4 v16x[]; };
layout(std430, set = 0, binding = SS_BIND_T16) readonly buffer T16View { float16_t t16[]; };
// The gates as this kernel reads them: read-only, which the shared declaration (written by
// scan_chunk_gates) cannot say.
layout(std430, set = 0, binding = SS_BIND_GCUM) readonly buffer GcumView { float gcum_ro[]; };
// A sequence split into segments over workgroups (z; push constant seg_chunks): the segment
// pass (SS_FLAG_SEGMENT_STATES) writes each segment's end state from a zero start and its total
// log decay; the output pass then starts segment p from S0 carried through segments 0..p-1.
layout(std430, set = 0, binding = SS_BIND_SEG_STATE) buffer SegStateBuf { float segstate_buf[]; };
layout(std430, set = 0, binding = SS_BIND_SEG_DECAY) buffer SegDecayBuf { float segdecay_buf[]; };

#ifdef TC_PROFILE
// The profiling variant (ScanRunOptions::tc_profile): subgroup 0 reads the SM clock between
// the phases of every chunk and adds up each phase's cycles; lane 0 writes the sums, one row
// of SS_PROFILE_ROW per workgroup, at the end (ScanKernels::tensor_core_profile names them).
// The clock reads may keep the compiler from moving work across phase boundaries, so its time
// differs from the plain kernel's, either way (docs/benchmarks.md, "Why the scan planner's
// defaults are what they are").
#extension GL_ARB_shader_clock : require
layout(std430, set = 0, binding = SS_BIND_PROFILE) buffer ProfileBuf { uint prof_buf[]; };
uint prof_sum[SS_PROFILE_PHASES];
uint prof_last;
void prof(uint phase) {
    const uint now = clock2x32ARB().x;
    prof_sum[phase] += now - prof_last;   // unsigned: a wrap of the low word still subtracts right
    prof_last = now;
}
#define PROF(phase) prof(phase)
#else
#define PROF(phase)
#endif

layout(local_size_x_id = SS_SC_WORKGROUP) in;   // 32 * NS (the host sets it)
layout(constant_id = SS_SC_KIND) const uint KIND = 0;
layout(constant_id = SS_SC_KDIM) const uint KD = 128;   // K
layout(constant_id = SS_SC_VBLOCK) const uint BV = 64;  // value columns per workgroup: 32, 64, 128 (vector decay: 64)
// 0: each chunk's loads at its start. 1: chunk n+1's loads issued after chunk n is staged, all
// at once; 2 or 3: spread over that many of chunk n's phases (after barriers 1, 2 and 3), so
// that fewer are in flight at a time (vector decay: all at once, after its phase-2 staging).
layout(constant_id = SS_SC_PREFETCH) const uint PREFETCH = 0;

const uint C = TC_C;
const uint NS = BV / 16u;
const uint WG = 32u * NS;
const uint KT = KD / 16u;   // key tiles
const uint K8 = KD / 8u;    // uvec4 (8 halves) per key row
const uint V8 = BV / 8u;
// Shared float16 rows, padded by 16 bytes so that the 8 rows a tile load touches fall in
// different banks.
const uint KS = TC_KMAX + 8u, VS = BV + 8u, AS = C + 8u, AFS = C + 4u;
// Regions of C rows of K: q and k (vector decay: four, see scan_tc_vector_decay.glsl).
const uint KREGIONS = KIND == SS_KIND_DIAGONAL ? 4u : 2u;
const uint Q_OFF = 0u, K_OFF = C * KS;
const uint V_OFF = KREGIONS * C * KS, A_OFF = V_OFF + C * VS, H_TOTAL = A_OFF + C * AS;
// q, k, v, masked scores; float16, 8 to an element. The sizes are specialization constants,
// so that each kind and value block asks for no more than it uses: 48 KiB in all is what
// Vulkan devices commonly offer (the H100's driver too), and less lets the driver keep more
// workgroups on a multiprocessor. The delta rule's TB and TG tiles are read from global
// memory, where scan_tc_wy left them, instead.
// Cooperative-matrix loads from it count offsets and strides in elements (16 bytes).
shared uvec4 hs8[H_TOTAL / 8u];
#define LDT(m, off, stride, cm) coopMatLoadNV(m, hs8, (off) / 8u, (stride) / 8u, cm)
shared float af[KIND == SS_KIND_DIAGONAL ? 1u : C * AFS];   // scores in float32 (vector decay: none)
shared float gsh[C];            // G_i (padding rows repeat the last valid G)
shared float bsh[C];            // beta_s (0 for padding rows)
shared float fout[C];           // Gamma_i = exp(G_i): the rows of Q S
shared float fval[C];           // d_s = beta_s exp(G_last - G_s): the values' rows in the state update

// u (8 halves) times per-channel factors f0 (channels 0-3) and f1 (4-7), stored at `at`.
void put8_channels(uint at, uvec4 u, vec4 f0, vec4 f1) {
    const vec2 a = vec2(unpackFloat2x16(u.x)) * f0.xy, b = vec2(unpackFloat2x16(u.y)) * f0.zw,
               c = vec2(unpackFloat2x16(u.z)) * f1.xy, d = vec2(unpackFloat2x16(u.w)) * f1.zw;
    hs8[at / 8u] = uvec4(packFloat2x16(f16vec2(a)), packFloat2x16(f16vec2(b)), packFloat2x16(f16vec2(c)),
                         packFloat2x16(f16vec2(d)));
}

// Loads per invocation of one chunk's q/k rows and v rows (8 halves each): at most 8 and 2
// (K <= 128, at least 64 invocations; C * V8 = 2 * WG always).
const uint QPT = (C * K8 + WG - 1u) / WG;
const uint VPT = (C * V8 + WG - 1u) / WG;
const uint QMAX = 8u, VMAX = 2u;

// One chunk's loads, held in registers between fetch_chunk and stage_chunk. The arrays have
// fixed sizes and every loop over them a constant bound, so that they unroll into registers:
// arrays sized by specialization constants were not, and ran slower (docs/benchmarks.md, "Why
// the scan planner's defaults are what they are").
uvec4 rq[QMAX], rk[QMAX], rv[VMAX];
float rb[QMAX];   // (vector decay's; the other kinds' factors come from the per-chunk scalars)
float r_glast, r_gsh, r_bsh;

#include "common/scan_tc_vector_decay.glsl"

// Issues the global loads of chunk n, or with parts > 1 the share `part` of them: the loads
// are items (q rows with their gates and betas, k rows, v rows, the per-chunk scalars) and
// part p takes the p-th of `parts` runs of them, so that PREFETCH can spread the next chunk's
// loads over this chunk's phases. Every condition is constant after specialization.
uint fetch_part_of(uint item, uint parts) { return item * parts / (2u * QPT + VPT + 1u); }

void fetch_chunk(uint n, uint h, uint c0, uint tid, bool gated, bool has_beta, uint part, uint parts) {
    const uint H = pc.H, p0 = n * C, cl = n < pc.num_chunks ? min(C, pc.L - p0) : 0u;
    const bool with_q = (pc.flags & SS_FLAG_SEGMENT_STATES) == 0u;   // the segment pass reads no q
    [[unroll]] for (uint i = 0u; i < QMAX; ++i) {
        const uint e = tid + i * WG, r = e / K8, c = e % K8;
        const uint row = (p0 + r) * H + h;
        const bool valid = i < QPT && e < C * K8 && r < cl;
        if (fetch_part_of(i, parts) == part) {
            rq[i] = uvec4(0u);
            rb[i] = 0.0;
            if (valid) {
                if (with_q) rq[i] = q16x[row * K8 + c];
                rb[i] = has_beta ? beta_buf[row] : 1.0;
            }
        }
        if (fetch_part_of(QPT + i, parts) == part) rk[i] = valid ? k16x[row * K8 + c] : uvec4(0u);
    }
    [[unroll]] for (uint i = 0u; i < VMAX; ++i) {
        const uint e = tid + i * WG, r = e / V8, c = e % V8;
        if (fetch_part_of(2u * QPT + i, parts) == part) {
            rv[i] = uvec4(0u);
            if (i < VPT && e < C * V8 && r < cl && c0 + 8u * c < pc.V)
                rv[i] = v16x[(((p0 + r) * H + h) * pc.V + c0) / 8u + c];
        }
    }
    if (part + 1u == parts) {
        r_glast = 0.0;
        r_gsh = 0.0;
        r_bsh = 0.0;
        if (cl > 0u) {
            if (gated) r_glast = gcum_ro[(p0 + cl - 1u) * H + h];
            if (tid < C) {
                if (gated) r_gsh = gcum_ro[(p0 + min(tid, cl - 1u)) * H + h];
                r_bsh = tid < cl ? (has_beta ? beta_buf[(p0 + tid) * H + h] : 1.0) : 0.0;
            }
        }
        if (KIND == SS_KIND_DIAGONAL) vd_fetch(n, h, tid, cl);
    }
}
void fetch_chunk(uint n, uint h, uint c0, uint tid, bool gated, bool has_beta) {
    fetch_chunk(n, h, c0, tid, gated, has_beta, 0u, 1u);
}

// The fetched chunk into shared memory: q, k, v and the per-row gate factors. Returns G_last.
float stage_chunk(uint tid, bool gated) {
    const float g_last = r_glast;
    if (tid < C) {
        gsh[tid] = r_gsh;
        bsh[tid] = r_bsh;
        fout[tid] = gated ? exp(r_gsh) : 1.0;
        fval[tid] = gated ? r_bsh * exp(g_last - r_gsh) : r_bsh;
    }
    if (KIND == SS_KIND_DIAGONAL) vd_stage_scores(tid);
    else [[unroll]] for (uint i = 0u; i < QMAX; ++i) {
        const uint e = tid + i * WG;
        if (i < QPT && e < C * K8) {
            const uint at = (e / K8) * KS + 8u * (e % K8);
            hs8[(Q_OFF + at) / 8u] = rq[i];
            hs8[(K_OFF + at) / 8u] = rk[i];
        }
    }
    [[unroll]] for (uint i = 0u; i < VMAX; ++i) {
        const uint e = tid + i * WG;
        if (i < VPT && e < C * V8) hs8[(V_OFF + (e / V8) * VS + 8u * (e % V8)) / 8u] = rv[i];
    }
    return g_last;
}

void main() {
    const uint c0 = gl_WorkGroupID.x * BV, h = gl_WorkGroupID.y;
    const uint tid = gl_LocalInvocationID.x, j = gl_SubgroupID, lane = gl_SubgroupInvocationID;
    const uint H = pc.H, V = pc.V;
    const bool delta = KIND == SS_KIND_DELTA, diag = KIND == SS_KIND_DIAGONAL;
    // gated: one decay per token (scalar, gated delta rule); diag: one per key channel.
    const bool gated = (KIND == SS_KIND_SCALAR || delta) && (pc.flags & SS_FLAG_HAS_DECAY) != 0u;
    // The delta rule's beta is inside TB and TG: its scores and decayed keys take none.
    const bool has_beta = !delta && (pc.flags & SS_FLAG_HAS_BETA) != 0u;
    // scaled: the values enter the state update times d_s (the delta rule: its gates only).
    const bool scaled = !diag && (gated || has_beta);
    const bool keep = (pc.flags & SS_FLAG_NO_CHUNK_STATES) == 0u;
    const uint qg_off = diag ? VD_QG_OFF : Q_OFF;
    const uint kd_off = diag ? VD_KD_OFF : K_OFF;
    const uint col = c0 + 16u * j;
    const bool live = col < V;   // a partial last block leaves some subgroups without columns
    // This workgroup's chunks [n0, n1): its segment's, or all of them.
    const bool seg_pass = (pc.flags & SS_FLAG_SEGMENT_STATES) != 0u;
    const uint seg = gl_WorkGroupID.z, n0 = seg * pc.seg_chunks;
    const uint n1 = pc.seg_chunks == 0u ? pc.num_chunks : min(n0 + pc.seg_chunks, pc.num_chunks);

    TC_ACC sacc[TC_KMAX / 16u];
    [[unroll]] for (uint kk = 0u; kk < KT; ++kk) {
        sacc[kk] = TC_ACC(0.0);
        if (live && !seg_pass) coopMatLoadNV(sacc[kk], s0_buf, (h * KD + 16u * kk) * V + col, V, false);
    }
    // The state at a later segment's start: S <- Gamma_q S + E_q over the segments before it.
    if (live && !seg_pass)
        for (uint q = 0u; q < seg; ++q) {
            const float gamma_q = gated ? exp(segdecay_buf[q * H + h]) : 1.0;
            [[unroll]] for (uint kk = 0u; kk < KT; ++kk) {
                TC_ACC e;
                coopMatLoadNV(e, segstate_buf, ((q * H + h) * KD + 16u * kk) * V + col, V, false);
                sacc[kk] = sacc[kk] * gamma_q;   // (+ of two matrices crashes Debian's glslc -O)
                for (int t = 0; t < e.length(); ++t) sacc[kk][t] += e[t];
            }
        }
    float seg_log_decay = 0.0;

#ifdef TC_PROFILE
    [[unroll]] for (uint i = 0u; i < SS_PROFILE_PHASES; ++i) prof_sum[i] = 0u;
    prof_last = clock2x32ARB().x;
    const uint prof_start = prof_last;
#endif
    if (PREFETCH != 0u) fetch_chunk(n0, h, c0, tid, gated, has_beta);
    for (uint n = n0; n < n1; ++n) {
        const uint p0 = n * C, cl = min(C, pc.L - p0);
        barrier();   // (0) the previous chunk's shared operands read -> overwritten
        PROF(0u);
        if (PREFETCH == 0u) fetch_chunk(n, h, c0, tid, gated, has_beta);
        PROF(1u);
        const float g_last = stage_chunk(tid, gated);
        seg_log_decay += g_last;
        PROF(2u);
        barrier();   // (1) operands staged -> read
        PROF(3u);
        // The load registers are free again (for vector decay, once its phase-2 staging has
        // read them): with PREFETCH, the next chunk's loads go out now and land while this
        // chunk's products run.
        if (PREFETCH != 0u && !diag) fetch_chunk(n + 1u, h, c0, tid, gated, has_beta, 0u, PREFETCH);

        if (seg_pass) {   // the segment pass: the state update only (no vector decay, no delta rule)
        } else if (diag) {
            vd_scores(tid, j);
            PROF(4u);
            barrier();   // (2) phase-1 operands read -> overwritten by phase 2
            PROF(5u);
            vd_stage_products(tid);
            if (PREFETCH != 0u) fetch_chunk(n + 1u, h, c0, tid, gated, has_beta);
        } else {
            // Scores A = Q K^T, causal tiles (0,0), (1,0), (1,1); float32 into af.
            for (uint t = j; t < 3u; t += NS) {
                const uint r = t == 0u ? 0u : 1u, c = t == 2u ? 1u : 0u;
                TC_ACC a = TC_ACC(0.0);
                [[unroll]] for (uint kk = 0u; kk < KT; ++kk) {
                    TC_A x, y;
                    LDT(x, Q_OFF + 16u * r * KS + 16u * kk, KS, false);
                    LDT(y, K_OFF + 16u * c * KS + 16u * kk, KS, true);   // K^T tile
                    a = coopMatMulAddNV(x, y, a);
                }
                coopMatStoreNV(a, af, 16u * r * AFS + 16u * c, AFS, false);
            }
            PROF(4u);
            barrier();   // (2) scores written -> masked
            if (PREFETCH >= 2u) fetch_chunk(n + 1u, h, c0, tid, gated, has_beta, 1u, PREFETCH);
            PROF(5u);
            // Four scores an item, so that every invocation of a 256-wide workgroup has one.
            // The tile above the diagonal was never written: its values are selected away,
            // never multiplied (they may be anything).
            for (uint e = tid; e < C * C / 4u; e += WG) {
                const uint i = e / (C / 4u), s0 = 4u * (e % (C / 4u));
                vec4 x = vec4(af[i * AFS + s0], af[i * AFS + s0 + 1u], af[i * AFS + s0 + 2u], af[i * AFS + s0 + 3u]) *
                         vec4(bsh[s0], bsh[s0 + 1u], bsh[s0 + 2u], bsh[s0 + 3u]);
                if (gated) x *= exp(vec4(gsh[i]) - vec4(gsh[s0], gsh[s0 + 1u], gsh[s0 + 2u], gsh[s0 + 3u]));
                x = mix(vec4(0.0), x, lessThanEqual(uvec4(s0) + uvec4(0u, 1u, 2u, 3u), uvec4(i)));
                const uvec2 w = uvec2(packFloat2x16(f16vec2(x.xy)), packFloat2x16(f16vec2(x.zw)));
                const uint at = (A_OFF + i * AS + s0) / 8u;
                if ((s0 & 4u) == 0u) hs8[at].xy = w;
                else hs8[at].zw = w;
            }
        }
        PROF(6u);
        if (!seg_pass) barrier();   // (3) masked scores (and the products' operands) written -> read
        if (PREFETCH >= 3u && !diag) fetch_chunk(n + 1u, h, c0, tid, gated, has_beta, 2u, PREFETCH);
        PROF(7u);

        TC_ACC o[2];
        if (live) {
            // The values the chunk writes, rows 0-15 and 16-31 of this subgroup's columns: v,
            // or for the delta rule u~ (below).
            TC_A v0, v1, a;
            TC_ACC u0 = TC_ACC(0.0), u1 = TC_ACC(0.0);
            LDT(v0, V_OFF + 16u * j, VS, false);
            LDT(v1, V_OFF + 16u * VS + 16u * j, VS, false);
            if (!seg_pass) {
                if (keep)
                    [[unroll]] for (uint kk = 0u; kk < KT; ++kk)
                        coopMatStoreNV(sacc[kk], sb_buf, ((n * H + h) * KD + 16u * kk) * V + col, V, false);
                // Outputs from the chunk-start state: o = diag(Gamma) Q S (vector decay: the staged
                // q * Gamma). The delta rule also needs K S for the values it writes,
                // u~ = TB V + TG (K S) (scan_tc_wy).
                TC_ACC ks[2];
                o[0] = TC_ACC(0.0);
                o[1] = TC_ACC(0.0);
                ks[0] = TC_ACC(0.0);
                ks[1] = TC_ACC(0.0);
                [[unroll]] for (uint kk = 0u; kk < KT; ++kk) {
                    const TC_A s16 = TC_A(sacc[kk]);
                    TC_A x;
                    LDT(x, qg_off + 16u * kk, KS, false);
                    o[0] = coopMatMulAddNV(x, s16, o[0]);
                    LDT(x, qg_off + 16u * KS + 16u * kk, KS, false);
                    o[1] = coopMatMulAddNV(x, s16, o[1]);
                    if (delta) {
                        LDT(x, K_OFF + 16u * kk, KS, false);
                        ks[0] = coopMatMulAddNV(x, s16, ks[0]);
                        LDT(x, K_OFF + 16u * KS + 16u * kk, KS, false);
                        ks[1] = coopMatMulAddNV(x, s16, ks[1]);
                    }
                }
                if (gated) {   // rows times Gamma_i: a matrix whose row r is fout[16 r0 + r] (stride 0)
                    TC_ACC f;
                    coopMatLoadNV(f, fout, 0u, 0u, true);
                    for (int t = 0; t < o[0].length(); ++t) o[0][t] *= f[t];
                    coopMatLoadNV(f, fout, 16u, 0u, true);
                    for (int t = 0; t < o[1].length(); ++t) o[1][t] *= f[t];
                }
                if (delta) {   // u~ = TB V + TG (K S); TB and TG are lower triangular: tile (0,1) is zero
                    const TC_A ks0 = TC_A(ks[0]), ks1 = TC_A(ks[1]);
                    const uint tb = (n * H + h) * 2u * C * C, tg = tb + C * C;
                    coopMatLoadNV(a, t16, tb, C, false);
                    u0 = coopMatMulAddNV(a, v0, u0);
                    coopMatLoadNV(a, t16, tg, C, false);
                    u0 = coopMatMulAddNV(a, ks0, u0);
                    coopMatLoadNV(a, t16, tb + 16u * C, C, false);
                    u1 = coopMatMulAddNV(a, v0, u1);
                    coopMatLoadNV(a, t16, tb + 16u * C + 16u, C, false);
                    u1 = coopMatMulAddNV(a, v1, u1);
                    coopMatLoadNV(a, t16, tg + 16u * C, C, false);
                    u1 = coopMatMulAddNV(a, ks0, u1);
                    coopMatLoadNV(a, t16, tg + 16u * C + 16u, C, false);
                    u1 = coopMatMulAddNV(a, ks1, u1);
                    v0 = TC_A(u0);
                    v1 = TC_A(u1);
                }
                LDT(a, A_OFF, AS, false);
                o[0] = coopMatMulAddNV(a, v0, o[0]);
                LDT(a, A_OFF + 16u * AS, AS, false);
                o[1] = coopMatMulAddNV(a, v0, o[1]);
                LDT(a, A_OFF + 16u * AS + 16u, AS, false);
                o[1] = coopMatMulAddNV(a, v1, o[1]);

                [[unroll]] for (uint r = 0u; r < 2u; ++r)   // (the loop must unroll, o[] stays in registers)
                    if (16u * r + 16u <= cl) coopMatStoreNV(o[r], o_buf, ((p0 + 16u * r) * H + h) * V + col, H * V, false);
            }

            PROF(8u);
            // S = Gamma_last S + K^T (diag(d) V), K^T tiles read transposed from the staged keys
            // (vector decay: its decayed keys, and V as it is).
            if (scaled) {
                if (!delta) {
                    u0 = TC_ACC(v0);
                    u1 = TC_ACC(v1);
                }
                TC_ACC f;
                coopMatLoadNV(f, fval, 0u, 0u, true);
                for (int t = 0; t < u0.length(); ++t) u0[t] *= f[t];
                coopMatLoadNV(f, fval, 16u, 0u, true);
                for (int t = 0; t < u1.length(); ++t) u1[t] *= f[t];
                v0 = TC_A(u0);
                v1 = TC_A(u1);
            }
            const float gamma = exp(g_last);
            [[unroll]] for (uint kk = 0u; kk < KT; ++kk) {
                if (gated) sacc[kk] = sacc[kk] * gamma;
                if (diag) vd_decay_state(sacc[kk], kk);
                TC_A x;
                LDT(x, kd_off + 16u * kk, KS, true);
                sacc[kk] = coopMatMulAddNV(x, v0, sacc[kk]);
                LDT(x, kd_off + 16u * KS + 16u * kk, KS, true);
                sacc[kk] = coopMatMulAddNV(x, v1, sacc[kk]);
            }
            PROF(9u);
        }
        if (cl % 16u != 0u && !seg_pass) {   // (uniform) the sequence ends inside a tile: only its first rows are outputs
            barrier();   // every subgroup's products done: the staged operands' memory is free
            const uint r = cl / 16u, at = 64u * j;   // 256 floats per subgroup, as uvec4
            if (live) {
                if (r == 0u) coopMatStoreNV(o[0], hs8, at, 4u, false);
                else coopMatStoreNV(o[1], hs8, at, 4u, false);
                subgroupMemoryBarrierShared();
                subgroupBarrier();
                for (uint e = lane; e < 256u; e += 32u)
                    if (16u * r + e / 16u < cl)
                        o_buf[((p0 + 16u * r + e / 16u) * H + h) * V + col + e % 16u] = uintBitsToFloat(hs8[at + e / 4u][e % 4u]);
            }
        }
    }
#ifdef TC_PROFILE
    if (j == 0u && lane == 0u) {
        const uint row = (gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x) * SS_PROFILE_ROW;
        [[unroll]] for (uint i = 0u; i < SS_PROFILE_PHASES; ++i) prof_buf[row + i] = prof_sum[i];
        prof_buf[row + SS_PROFILE_ROW - 1u] = clock2x32ARB().x - prof_start;
    }
#endif

    if (seg_pass) {
        if (live)
            [[unroll]] for (uint kk = 0u; kk < KT; ++kk)
                coopMatStoreNV(sacc[kk], segstate_buf, ((seg * H + h) * KD + 16u * kk) * V + col, V, false);
        if (tid == 0u && gl_WorkGroupID.x == 0u) segdecay_buf[seg * H + h] = seg_log_decay;
    } else if (live && n1 == pc.num_chunks) {   // the last segment's workgroups hold the final state
        [[unroll]] for (uint kk = 0u; kk < KT; ++kk)
            coopMatStoreNV(sacc[kk], s_buf, (h * KD + 16u * kk) * V + col, V, false);
    }
}
