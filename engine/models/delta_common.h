// The steps of fla's delta-rule layers (models/delta_rule.cpp): the q/k sum norm, the write
// strength beta, the Mamba-2 style forget gate and the assembly of the common-form scan inputs.
//
// The layers run fla's delta rule per value head (S key-major, one micro-step):
//     S <- gamma (I - beta k k^T) S + beta k v^T,    o = S^T (q * K^-1/2)
// with q and k l2-normalised inside the kernel (use_qk_l2norm_in_kernel), which is exactly
// TransitionKind::DeltaRule of core/scan.h.
//
// Every step has a GPU twin (suffix _gpu / member gpu()) recording the same arithmetic through
// gpu::Ops, in the same order, so that the mixer's forward_gpu mirrors its forward line by line.
#pragma once
#include "models/fla_common.h"

#include <string>
#include <vector>

namespace statescope {

// fla's qk_norm 'sum': x / sum(x) over groups of `group` features (one head each).
void sum_norm(cpu::Mat& x, int group);
void sum_norm_gpu(gpu::Ops& ops, const gpu::Mat& x, int group);   // in place

// beta = sigmoid(b_proj(x)), times 2 when allow_neg_eigval (eigenvalues of I - beta k k^T in [-1, 1]).
cpu::Mat delta_beta(const cpu::Linear& b_proj, const cpu::Mat& x, bool allow_neg_eigval);
gpu::Mat delta_beta_gpu(gpu::Ops& ops, const cpu::Linear& b_proj, const gpu::Mat& x, bool allow_neg_eigval);

// The forget gate of the gated variants (Mamba-2 style):
//     g = -exp(A_log) * softplus(a_proj(x) + dt_bias)       log-decay per token and value head
struct DeltaForgetGate {
    cpu::Linear a_proj;
    cpu::Param A_log, dt_bias;
    static DeltaForgetGate load(Checkpoint& ck, const std::string& prefix, int hidden, int heads);
    cpu::Mat operator()(const cpu::Mat& x) const; // [T, heads]
    gpu::Mat gpu(gpu::Ops& ops, const gpu::Mat& x) const;
};

// Assembles the DeltaRule scan inputs from fla's flat activations:
//   q    [T, qk_heads * K]
//   k    [T, substeps * qk_heads * K]   micro-step outermost, as fla's '(n h d)'
//   v    [T, substeps * H * V]
//   beta [T, substeps * H] (micro-step outermost) or null for beta = 1
//   log_decay [T, H] or null for no forget gate (applied on micro-step 0)
// H are the value heads; value head h reads q/k head h / (H / qk_heads) (fla repeats each q/k head
// H / qk_heads times in a row). q and k are l2-normalised per head when l2_norm_qk, then q is
// scaled by K^-1/2. With several micro-steps only the last one is read out, which is what fla's
// fused recurrent DeltaProduct does by feeding zero queries to the earlier ones.
ScanInputs delta_scan_inputs(const cpu::Mat& q, const cpu::Mat& k, const cpu::Mat& v, const cpu::Mat* beta,
                             const cpu::Mat* log_decay, int qk_heads, int H, int K, int V, int substeps,
                             bool l2_norm_qk);

// delta_scan_inputs on the device: the same arguments (device matrices; q and k are normalised in
// place when l2_norm_qk), written into the Ops' packed scan inputs.
gpu::ScanMats delta_scan_inputs_gpu(gpu::Ops& ops, const gpu::Mat& q, const gpu::Mat& k, const gpu::Mat& v,
                                    const gpu::Mat* beta, const gpu::Mat* log_decay, int qk_heads, int H, int K,
                                    int V, int substeps, bool l2_norm_qk);

} // namespace statescope
