// The common per-head form that every recurrent family is expressed in (see docs/architecture.md):
//
//     S_t = A_t S_{t-1} + beta_t k_t v_t^T        o_t = S_t^T q_t          S_t is K x V (key-major)
//
// A token may consist of several micro-steps (DeltaProduct's Householder steps); each micro-step j
// applies its own transition factor F_j and write beta_j k_j v_j^T, so A_t = F_{n-1} ... F_0.
// The factor of a micro-step, by kind (g = log_decay, applied on micro-step 0 only):
//   Identity        F = I
//   Scalar          F = exp(g_t) I                              g: [T,H]
//   Diagonal        F = diag(exp(g_t))                          g: [T,H,K]
//   DeltaRule       F = gamma (I - beta_j k_j k_j^T)            g: [T,H] optional (gamma = exp(g) on step 0, else 1)
//   DiagPlusRankOne F = diag(exp(g_t)) + a_t b_t^T             g, a, b: [T,H,K]
//
// The read has one optional extension, RWKV-6's bonus u (one micro-step only): with a bonus the
// token reads the state before its own update and sees its own write through diag(u) instead,
//     o_t = S_{t-1}^T q_t + beta_t (q_t^T diag(u_h) k_t) v_t                 bonus: [H, K]
// so the attention map's diagonal is beta_t q_t^T diag(u) k_t and A[t,s] = beta_s q_t^T A_{t-1}
// ... A_{s+1} k_s below it (the transition A_t of token t is not yet applied to what t reads).
//
// Families compute these inputs from a layer's activations; the CPU reference scan below, the
// exact attention form and the GPU kernels all consume the same struct.
#pragma once
#include "statescope/tensor.h"

#include <functional>

namespace statescope {

enum class TransitionKind { Identity, Scalar, Diagonal, DeltaRule, DiagPlusRankOne };
const char* transition_name(TransitionKind k);

struct ScanInputs {
    TransitionKind kind = TransitionKind::Identity;
    int T = 0, H = 0, K = 0, V = 0;
    int substeps = 1;        // micro-steps per token
    Tensor q;                // [T, H, K]  read vector (any query scale already folded in)
    Tensor k;                // [T, substeps, H, K]
    Tensor v;                // [T, substeps, H, V]
    Tensor beta;             // [T, substeps, H] write scale; empty means 1
    Tensor log_decay;        // see the table above; empty means no decay
    Tensor a, b;             // [T, H, K] for DiagPlusRankOne
    Tensor bonus;            // [H, K] RWKV-6's u (see above); empty means the plain read o_t = S_t^T q_t

    // Allocates q, k, v (and beta if with_beta) with zeroes for the given sizes.
    void allocate(TransitionKind kind, int T, int H, int K, int V, int substeps = 1, bool with_beta = false);
    void check() const; // throws Error if tensor sizes disagree with the dimensions

    float* q_at(int t, int h) { return q.ptr() + (size_t(t) * H + h) * K; }
    float* k_at(int t, int j, int h) { return k.ptr() + ((size_t(t) * substeps + j) * H + h) * K; }
    float* v_at(int t, int j, int h) { return v.ptr() + ((size_t(t) * substeps + j) * H + h) * V; }
    const float* q_at(int t, int h) const { return q.ptr() + (size_t(t) * H + h) * K; }
    const float* k_at(int t, int j, int h) const { return k.ptr() + ((size_t(t) * substeps + j) * H + h) * K; }
    const float* v_at(int t, int j, int h) const { return v.ptr() + ((size_t(t) * substeps + j) * H + h) * V; }
    float beta_at(int t, int j, int h) const { return beta.data.empty() ? 1.0f : beta.data[(size_t(t) * substeps + j) * H + h]; }
};

// Runs the recurrence token by token. S: [H, K, V], updated in place (the state before token 0 on
// entry, after token T-1 on return). o: [T, H, V] output. after_token(t, S) is called after each
// token's update when given (for traces and dumps).
void scan_recurrent(const ScanInputs& in, float* S, float* o,
                    const std::function<void(int t, const float* S)>& after_token = {});

// The same outputs computed through the exact attention form, in double precision:
//   o_t = sum_{s<=t, j} A[t,(s,j)] v_{s,j} + (A_t ... A_0)^T... applied to S0,
//   A[t,(s,j)] = beta_{s,j} q_t^T F(t) ... F(s,j+1) k_{s,j}.
// attn, when non-null, receives A for every head: [H, T, T * substeps] (zero above the diagonal).
// Cost O(H T^2 K): for tests and for the attention view's windows, not for long prefills.
void scan_attention_form(const ScanInputs& in, const float* S0, float* o, float* attn = nullptr);

// Dense K x K transition A_t of token t, head h (product of its micro-step factors), row-major.
void transition_matrix(const ScanInputs& in, int t, int h, double* A);

} // namespace statescope
