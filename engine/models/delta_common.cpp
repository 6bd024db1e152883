#include "models/delta_common.h"

#include "statescope/error.h"
#include "gpu/layers.h"

#include <cmath>

namespace statescope {

void sum_norm(cpu::Mat& x, int group) {
    const int cols = int(x.cols());
    for (Eigen::Index r = 0; r < x.rows(); ++r) {
        float* row = x.row(r).data();
        for (int g0 = 0; g0 < cols; g0 += group) {
            float sum = 0;
            for (int i = 0; i < group; ++i) sum += row[g0 + i];
            for (int i = 0; i < group; ++i) row[g0 + i] /= sum;
        }
    }
}

void sum_norm_gpu(gpu::Ops& ops, const gpu::Mat& x, int group) {
    ops.norm(x, gpu::NormKind::Sum, nullptr, nullptr, 0.0f, uint32_t(group));
}

cpu::Mat delta_beta(const cpu::Linear& b_proj, const cpu::Mat& x, bool allow_neg_eigval) {
    cpu::Mat beta = b_proj(x);
    cpu::apply_sigmoid(beta);
    if (allow_neg_eigval) beta *= 2.0f;
    return beta;
}

gpu::Mat delta_beta_gpu(gpu::Ops& ops, const cpu::Linear& b_proj, const gpu::Mat& x, bool allow_neg_eigval) {
    gpu::Mat beta = gpu::linear(ops, b_proj, x);
    ops.apply(beta, gpu::Func::Sigmoid, allow_neg_eigval ? 2.0f : 1.0f);
    return beta;
}

DeltaForgetGate DeltaForgetGate::load(Checkpoint& ck, const std::string& prefix, int hidden, int heads) {
    DeltaForgetGate g;
    g.a_proj = cpu::Linear::load(ck, prefix + ".a_proj", heads, hidden);
    g.A_log = cpu::Param::load(ck, prefix + ".A_log", {heads});
    g.dt_bias = cpu::Param::load(ck, prefix + ".dt_bias", {heads});
    return g;
}

cpu::Mat DeltaForgetGate::operator()(const cpu::Mat& x) const {
    cpu::Mat g = a_proj(x);
    for (Eigen::Index t = 0; t < g.rows(); ++t)
        for (int h = 0; h < int(g.cols()); ++h)
            g(t, h) = -std::exp(A_log[h]) * cpu::softplus(g(t, h) + dt_bias[h]);
    return g;
}

gpu::Mat DeltaForgetGate::gpu(gpu::Ops& ops, const gpu::Mat& x) const {
    gpu::Mat g = gpu::linear(ops, a_proj, x);
    const gpu::Mat A = gpu::param(ops, A_log), dt = gpu::param(ops, dt_bias);
    // -exp(A_log) once per call ([1, heads]), then per element softplus(a + dt_bias) * that.
    const gpu::Mat rate = ops.alloc(1, A.cols, "forget gate -exp(A_log)");
    gpu::ElementwiseParams neg_exp;
    neg_exp.f = gpu::Func::Exp;
    neg_exp.alpha = -1.0f;
    ops.elementwise(rate, gpu::Operand::of(A), {}, neg_exp);
    gpu::ElementwiseParams softplus;
    softplus.op = gpu::Combine::Add;
    softplus.f = gpu::Func::Softplus;
    ops.elementwise(g, gpu::Operand::of(g), gpu::Operand::columns(dt), softplus);
    gpu::ElementwiseParams scale;
    scale.op = gpu::Combine::Mul;
    ops.elementwise(g, gpu::Operand::of(g), gpu::Operand::columns(rate), scale);
    return g;
}

ScanInputs delta_scan_inputs(const cpu::Mat& q_in, const cpu::Mat& k_in, const cpu::Mat& v, const cpu::Mat* beta,
                             const cpu::Mat* log_decay, int qk_heads, int H, int K, int V, int substeps,
                             bool l2_norm_qk) {
    const int T = int(q_in.rows());
    const int n = substeps;
    if (H % qk_heads)
        throw Error("delta rule: " + std::to_string(H) + " value heads are not a multiple of " +
                    std::to_string(qk_heads) + " query/key heads");
    cpu::Mat q = q_in, k = k_in;
    if (l2_norm_qk) { // fla's use_qk_l2norm_in_kernel, eps 1e-6 inside the square root
        cpu::l2_norm(q, K);
        cpu::l2_norm(k, K);
    }
    ScanInputs in;
    in.allocate(TransitionKind::DeltaRule, T, H, K, V, n, beta != nullptr);
    if (log_decay) in.log_decay = Tensor({T, H});
    const int groups = H / qk_heads;
    const float scale = 1.0f / std::sqrt(float(K));
    for (int t = 0; t < T; ++t)
        for (int h = 0; h < H; ++h) {
            const int qkh = h / groups;
            for (int i = 0; i < K; ++i) in.q_at(t, h)[i] = q(t, qkh * K + i) * scale;
            for (int j = 0; j < n; ++j) {
                for (int i = 0; i < K; ++i) in.k_at(t, j, h)[i] = k(t, (j * qk_heads + qkh) * K + i);
                for (int i = 0; i < V; ++i) in.v_at(t, j, h)[i] = v(t, (j * H + h) * V + i);
                if (beta) in.beta.data[(size_t(t) * n + j) * H + h] = (*beta)(t, j * H + h);
            }
            if (log_decay) in.log_decay.data[size_t(t) * H + h] = (*log_decay)(t, h);
        }
    in.check();
    return in;
}

namespace {

// A contiguous [T * n, C] matrix whose row t * n + j is micro-step j of token t, seen as
// [T, n * C]: the same memory, micro-step outermost within a row, which is fla's '(n h d)' order.
gpu::Mat tokens_view(const gpu::Mat& m, int n, const char* what) {
    require(m.contiguous() && m.rows % uint32_t(n) == 0,
            std::string("delta rule (GPU): packed ") + what + " is not a contiguous [T * substeps, C] matrix");
    const uint32_t cols = m.cols * uint32_t(n);
    return {m.buf, m.offset, m.rows / uint32_t(n), cols, cols};
}

void require_shape(const gpu::Mat& m, uint32_t rows, uint32_t cols, const char* what) {
    require(m.rows == rows && m.cols == cols, std::string("delta rule (GPU): ") + what + " is [" +
                                                  std::to_string(m.rows) + ", " + std::to_string(m.cols) +
                                                  "], expected [" + std::to_string(rows) + ", " +
                                                  std::to_string(cols) + "]");
}

} // namespace

gpu::ScanMats delta_scan_inputs_gpu(gpu::Ops& ops, const gpu::Mat& q, const gpu::Mat& k, const gpu::Mat& v,
                                    const gpu::Mat* beta, const gpu::Mat* log_decay, int qk_heads, int H, int K,
                                    int V, int substeps, bool l2_norm_qk) {
    const uint32_t T = q.rows, n = uint32_t(substeps);
    if (H % qk_heads)
        throw Error("delta rule: " + std::to_string(H) + " value heads are not a multiple of " +
                    std::to_string(qk_heads) + " query/key heads");
    require_shape(q, T, uint32_t(qk_heads * K), "q");
    require_shape(k, T, n * uint32_t(qk_heads * K), "k");
    require_shape(v, T, n * uint32_t(H * V), "v");
    if (beta) require_shape(*beta, T, n * uint32_t(H), "beta");
    if (log_decay) require_shape(*log_decay, T, uint32_t(H), "log decay");
    if (l2_norm_qk) { // fla's use_qk_l2norm_in_kernel, eps 1e-6 inside the square root
        ops.norm(q, gpu::NormKind::L2, nullptr, nullptr, 1e-6f, uint32_t(K));
        ops.norm(k, gpu::NormKind::L2, nullptr, nullptr, 1e-6f, uint32_t(K));
    }
    gpu::ScanMats in = ops.scan_inputs(TransitionKind::DeltaRule, int(T), H, K, V, substeps, beta != nullptr,
                                       log_decay != nullptr);
    const uint32_t groups = uint32_t(H / qk_heads);
    gpu::repeat_heads(ops, in.q, q, uint32_t(K), groups, 1.0f / std::sqrt(float(K)));
    // Seen per token, packed k is [T, n * H * K] with head j * H + h, and the source is
    // [T, n * qk_heads * K] with head j * qk_heads + h / groups = (j * H + h) / groups: one repeat of
    // heads covers every micro-step.
    gpu::repeat_heads(ops, tokens_view(in.k, substeps, "k"), k, uint32_t(K), groups);
    ops.copy(tokens_view(in.v, substeps, "v"), v);
    if (beta) ops.copy(tokens_view(in.beta, substeps, "beta"), *beta);
    if (log_decay) ops.copy(in.g, *log_decay);
    return in;
}

} // namespace statescope
