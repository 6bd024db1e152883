// Kimi Delta Attention (fla/layers/kda.py, fla/models/kda/modeling_kda.py): the gated delta rule
// with a forget gate per key channel instead of one per head.
//
// fla's kernel (fla/ops/kda/fused_recurrent.py, per value head, state h):
//     h <- diag(exp(g_t)) h;   v' = beta (v - h^T k);   h <- h + k v'^T;   o = h^T (q K^-1/2)
// with q and k l2-normalised inside the kernel (eps 1e-6 inside the square root). Written out,
//     S_t = (I - beta k k^T) diag(exp g) S_{t-1} + beta k v^T
//         = (diag(exp g) + a b^T) S_{t-1} + beta k v^T,      a = -beta k,  b = k * exp(g),
// because (I - beta k k^T) D = D - beta k (D k)^T and D = diag(exp g) is symmetric. That is the
// common form's DiagPlusRankOne (core/scan.h) with beta kept as the write's scale, exactly and
// without approximation, so RWKV-7's CPU scan, exact attention map (A[t,s] = beta_s q_t^T A_t ...
// A_{s+1} k_s), spectrum and Vulkan DPLR kernels serve KDA unchanged. (The DeltaRule kind cannot:
// its decay gamma is a scalar per head.)
//
// The rest of the layer:
// - q, k, v: projections through short convolutions with silu (or silu alone without them).
// - Gate, per value head hv and key channel i, from the low-rank f_proj (hidden -> V -> HV * K):
//       g = -exp(A_log[hv]) * softplus(f + dt_bias[hv, i])                      (default)
//       g = lower_bound * sigmoid(exp(A_log[hv]) * (f + dt_bias[hv, i]))         (lower_bound set)
// - beta = sigmoid(b_proj(x)), times 2 with allow_neg_eigval.
// - GVA: num_v_heads value heads, each q/k head serving num_v_heads / num_heads consecutive ones.
// - Output: per-head RMSNorm times sigmoid(g_proj(x)) (FusedRMSNormGated, activation 'sigmoid'),
//   g_proj low rank (hidden -> V -> HV * V, the second with a bias), then o_proj.
// The cache is value-major ([B, HV, V, K]: the layer calls the kernel with state_v_first=True).
#include "gpu/layers.h"
#include "models/delta_common.h"
#include "statescope/error.h"

#include <cmath>

namespace statescope {
namespace {

struct KdaOptions {
    int qk_heads = 0, H = 0; // num_heads, num_v_heads (a multiple of it)
    int K = 0, V = 0;        // head_dim, head_dim * expand_v
    bool short_conv = true;
    int conv_size = 4;
    bool allow_neg_eigval = false;
    bool lower_bound = false; // the bounded gate
    float lower_bound_value = 0;
    float norm_eps = 1e-6f;
};

KdaOptions read_kda(const Config& c, int) {
    KdaOptions o;
    o.qk_heads = int(c.int_in_range("num_heads", 16, 1, 4096));
    o.H = int(c.int_in_range("num_v_heads", o.qk_heads, 1, 1 << 16));
    // fla's kernel reads q/k head hv / (HV / H): fewer value heads than q/k heads divide by zero.
    if (o.H % o.qk_heads) c.fail("num_v_heads", "must be a multiple of num_heads (" + std::to_string(o.qk_heads) + ")");
    o.K = int(c.int_in_range("head_dim", 128, 1, 1 << 16));
    const double expand_v = c.number_or("expand_v", 1.0);
    o.V = int(o.K * expand_v);
    if (o.V <= 0 || std::abs(o.K * expand_v - o.V) > 1e-5 * o.K * expand_v)
        c.fail("expand_v", "head_dim * expand_v must be a positive whole number");
    o.short_conv = c.bool_or("use_short_conv", true);
    if (o.short_conv) o.conv_size = int(c.int_in_range("conv_size", 4, 1, 64));
    o.allow_neg_eigval = c.bool_or("allow_neg_eigval", false);
    if (c.has("lower_bound")) {
        o.lower_bound = true;
        o.lower_bound_value = float(c.number_or("lower_bound", 0));
        if (!(o.lower_bound_value < 0)) c.fail("lower_bound", "must be negative (a log decay)");
    }
    // safe_gate only picks fla's chunked kernel variant (it needs lower_bound); the math is the same.
    if (c.bool_or("safe_gate", false) && !o.lower_bound)
        c.fail("safe_gate", "needs lower_bound (as in fla's KDAConfig)");
    const std::string act = c.string_or("hidden_act", "swish");
    if (act != "swish" && act != "silu") c.fail("hidden_act", "'" + act + "' is not supported (swish is)");
    o.norm_eps = float(c.number_or("norm_eps", 1e-6));
    return o;
}

class KdaMixer : public RecurrentMixer {
public:
    KdaMixer(Checkpoint& ck, const KdaOptions& o, int layer, int hidden) : o_(o) {
        const std::string p = "model.layers." + std::to_string(layer) + ".attn";
        const int kd = o.qk_heads * o.K, vd = o.H * o.V, gate_dim = o.H * o.K;
        q_ = cpu::Linear::load(ck, p + ".q_proj", kd, hidden);
        k_ = cpu::Linear::load(ck, p + ".k_proj", kd, hidden);
        v_ = cpu::Linear::load(ck, p + ".v_proj", vd, hidden);
        // fla's KDABlock never passes conv_bias, so the convolutions have none.
        if (o.short_conv) {
            convs_.add(cpu::ShortConv::load(ck, p + ".q_conv1d", kd, o.conv_size, false, true), "conv.q");
            convs_.add(cpu::ShortConv::load(ck, p + ".k_conv1d", kd, o.conv_size, false, true), "conv.k");
            convs_.add(cpu::ShortConv::load(ck, p + ".v_conv1d", vd, o.conv_size, false, true), "conv.v");
        }
        f0_ = cpu::Linear::load(ck, p + ".f_proj.0", o.V, hidden);
        f1_ = cpu::Linear::load(ck, p + ".f_proj.1", gate_dim, o.V);
        b_ = cpu::Linear::load(ck, p + ".b_proj", o.H, hidden);
        A_log_ = cpu::Param::load(ck, p + ".A_log", {o.H});
        dt_bias_ = cpu::Param::load(ck, p + ".dt_bias", {gate_dim});
        g0_ = cpu::Linear::load(ck, p + ".g_proj.0", o.V, hidden);
        g1_ = cpu::Linear::load(ck, p + ".g_proj.1", vd, o.V, true);
        norm_ = OutputNorm::load(ck, p + ".o_norm", o.V, o.norm_eps, true);
        norm_.sigmoid_gate = true;
        o_proj_ = cpu::Linear::load(ck, p + ".o_proj", hidden, vd);
        // The gate's per-head factor, spread over the head's K channels: -exp(A_log) (default gate)
        // or exp(A_log) (bounded gate). Computed once here, so both forwards use the same values.
        rate_.resize(size_t(gate_dim));
        for (int c = 0; c < gate_dim; ++c) {
            const float e = std::exp(A_log_[c / o.K]);
            rate_[size_t(c)] = o.lower_bound ? e : -e;
        }
        describe(TransitionKind::DiagPlusRankOne, o.H, o.K, o.V, "KDA");
        value_major_ = true;
    }

    // forward() and forward_gpu() record the same steps in the same order.
    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext& ctx) const override {
        const int T = int(x.rows()), H = o_.H, K = o_.K, V = o_.V;
        cpu::Mat q = q_(x), k = k_(x), v = v_(x);
        if (!convs_.empty()) {
            convs_.apply(st, {&q, &k, &v});
        } else {
            cpu::apply_silu(q);
            cpu::apply_silu(k);
            cpu::apply_silu(v);
        }
        cpu::Mat g = f1_(f0_(x));
        for (int t = 0; t < T; ++t)
            for (int c = 0; c < H * K; ++c) {
                const float z = g(t, c) + dt_bias_[c];
                g(t, c) = o_.lower_bound ? o_.lower_bound_value * cpu::sigmoid(rate_[size_t(c)] * z)
                                         : rate_[size_t(c)] * cpu::softplus(z);
            }
        const cpu::Mat beta = delta_beta(b_, x, o_.allow_neg_eigval);
        cpu::l2_norm(q, K); // use_qk_l2norm_in_kernel
        cpu::l2_norm(k, K);

        ScanInputs in;
        in.allocate(TransitionKind::DiagPlusRankOne, T, H, K, V, 1, true);
        in.log_decay = Tensor({T, H, K});
        in.a = Tensor({T, H, K});
        in.b = Tensor({T, H, K});
        const int groups = H / o_.qk_heads;
        const float scale = 1.0f / std::sqrt(float(K));
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < H; ++h) {
                const int qkh = h / groups;
                const size_t th = size_t(t) * H + h;
                const float bt = beta(t, h);
                in.beta.data[th] = bt;
                for (int i = 0; i < K; ++i) {
                    const float ki = k(t, qkh * K + i), gi = g(t, h * K + i);
                    in.q_at(t, h)[i] = q(t, qkh * K + i) * scale;
                    in.k_at(t, 0, h)[i] = ki;
                    in.log_decay.data[th * K + i] = gi;
                    in.a.data[th * K + i] = -(ki * bt);
                    in.b.data[th * K + i] = ki * std::exp(gi);
                }
                for (int i = 0; i < V; ++i) in.v_at(t, 0, h)[i] = v(t, h * V + i);
            }
        cpu::Mat o = run_scan(in, st, ctx);
        const cpu::Mat gate = g1_(g0_(x));
        norm_.apply(o, &gate, H);
        return o_proj_(o);
    }

    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext& ctx) const override {
        const uint32_t T = x.rows, H = uint32_t(o_.H), K = uint32_t(o_.K), V = uint32_t(o_.V);
        gpu::Mat q = gpu::linear(ops, q_, x), k = gpu::linear(ops, k_, x), v = gpu::linear(ops, v_, x);
        if (!convs_.empty()) {
            convs_.apply_gpu(ops, st, {&q, &k, &v});
        } else {
            ops.apply(q, gpu::Func::Silu);
            ops.apply(k, gpu::Func::Silu);
            ops.apply(v, gpu::Func::Silu);
        }
        const gpu::Mat g = gpu::linear(ops, f1_, gpu::linear(ops, f0_, x));
        const gpu::Mat dt = gpu::param(ops, dt_bias_), rate = gpu::param(ops, rate_.data(), H * K);
        gpu::ElementwiseParams add, scale_by_rate;
        add.op = gpu::Combine::Add;
        scale_by_rate.op = gpu::Combine::Mul;
        if (o_.lower_bound) { // lower_bound * sigmoid(exp(A_log) * (f + dt_bias))
            ops.elementwise(g, gpu::Operand::of(g), gpu::Operand::columns(dt), add);
            scale_by_rate.f = gpu::Func::Sigmoid;
            scale_by_rate.alpha = o_.lower_bound_value;
            ops.elementwise(g, gpu::Operand::of(g), gpu::Operand::columns(rate), scale_by_rate);
        } else { // -exp(A_log) * softplus(f + dt_bias)
            add.f = gpu::Func::Softplus;
            ops.elementwise(g, gpu::Operand::of(g), gpu::Operand::columns(dt), add);
            ops.elementwise(g, gpu::Operand::of(g), gpu::Operand::columns(rate), scale_by_rate);
        }
        const gpu::Mat beta = delta_beta_gpu(ops, b_, x, o_.allow_neg_eigval);
        ops.norm(q, gpu::NormKind::L2, nullptr, nullptr, 1e-6f, K);
        ops.norm(k, gpu::NormKind::L2, nullptr, nullptr, 1e-6f, K);

        gpu::ScanMats in =
            ops.scan_inputs(TransitionKind::DiagPlusRankOne, int(T), int(H), int(K), int(V), 1, true, true);
        const uint32_t groups = H / uint32_t(o_.qk_heads);
        gpu::repeat_heads(ops, in.q, q, K, groups, 1.0f / std::sqrt(float(K)));
        gpu::repeat_heads(ops, in.k, k, K, groups);
        ops.copy(in.v, v);
        ops.copy(in.beta, beta);
        ops.copy(in.g, g);
        gpu::ElementwiseParams minus_product; // a = -(k * beta), beta one value per head's K columns
        minus_product.op = gpu::Combine::Mul;
        minus_product.alpha = -1.0f;
        ops.elementwise(in.a, gpu::Operand::of(in.k), gpu::Operand::per_group(in.beta, K), minus_product);
        gpu::ElementwiseParams exp_g; // b = k * exp(g)
        exp_g.f = gpu::Func::Exp;
        ops.elementwise(in.b, gpu::Operand::of(in.g), {}, exp_g);
        ops.mul(in.b, in.k, in.b);
        const gpu::Mat o = run_scan_gpu(ops, in, st, ctx);
        const gpu::Mat gate = gpu::linear(ops, g1_, gpu::linear(ops, g0_, x));
        norm_.apply_gpu(ops, o, &gate, int(H));
        return gpu::linear(ops, o_proj_, o);
    }

private:
    KdaOptions o_;
    cpu::Linear q_, k_, v_, f0_, f1_, b_, g0_, g1_, o_proj_;
    cpu::Param A_log_, dt_bias_;
    std::vector<float> rate_; // [H * K], see the constructor
    OutputNorm norm_;
};

} // namespace

std::unique_ptr<Model> make_kda(std::unique_ptr<Checkpoint> ck) {
    return make_fla_block_model(std::move(ck), "KDA", mixer_factory<KdaMixer>(read_kda));
}

} // namespace statescope
