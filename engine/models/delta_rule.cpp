// The delta-rule layers of fla as one mixer with options: DeltaNet (fla/layers/delta_net.py), Gated
// DeltaNet (fla/layers/gated_deltanet.py) and Gated DeltaProduct (fla/layers/gated_deltaproduct.py).
// Per value head, with n Householder micro-steps per token (n = 1 but for DeltaProduct):
//     S <- gamma S;  for j in 0..n-1: S <- (I - beta_j k_j k_j^T) S + beta_j k_j v_j^T;  o = S^T q
// - gamma = exp(g), g = -exp(A_log) * softplus(a_proj(x) + dt_bias), with a forget gate (the gated
//   variants; DeltaProduct's use_forget_gate), else 1. fla's fused recurrent DeltaProduct puts g on
//   micro-step 0 and zero on the others, and reads out only after the last step.
// - beta = sigmoid(b_proj(x)), times 2 with allow_neg_eigval; DeltaNet without use_beta has 1 (or 2).
// - q and k through qk_activation (silu in the short conv or right after the projections, else the
//   feature map after it) and qk_norm ('l2' inside the kernel, or 'sum'), q scaled by K^-1/2.
// - k_proj, v_proj and b_proj produce all n micro-steps at once, split as '(n h d)' / '(n h)'.
// - GVA (Gated DeltaNet's num_v_heads > num_heads): each q/k head serves num_v_heads / num_heads
//   consecutive value heads.
// - Output: per-head RMSNorm, gated by swish(g_proj(x)) with the output gate, then o_proj.
// The state is key-major ([H, K, V]) in fla's cache, except Gated DeltaNet's, whose layer calls the
// kernel with state_v_first=True (value-major, [H, V, K]).
#include "statescope/error.h"
#include "models/delta_common.h"
#include "gpu/layers.h"

#include <cmath>

namespace statescope {
namespace {

// What tells the delta-rule layers apart, read once from config.json by the model_type's reader.
struct DeltaOptions {
    std::string name;                 // the mixer's name: "DeltaNet", ...
    int qk_heads = 0, H = 0;          // query/key heads and value heads (H a multiple of qk_heads)
    int K = 0, V = 0;                 // head dims
    int substeps = 1;                 // Householder micro-steps per token (num_householder)
    bool forget_gate = false;         // the Mamba-2 style log decay
    bool use_beta = true;             // beta from b_proj; without it 1 (2 with allow_neg_eigval)
    bool allow_neg_eigval = false;    // beta times 2: eigenvalues of I - beta k k^T in [-1, 1]
    std::string qk_activation = "silu";
    bool l2_norm_qk = true;           // qk_norm 'l2' (in the kernel); false: 'sum'
    bool short_conv = true;
    int conv_size = 4;
    bool output_gate = true;
    float norm_eps = 1e-6f;
    bool value_major = false;         // the library's state layout
};

// The common tail of the readers: short convolutions and the output norm's eps.
void read_conv_and_norm(const Config& c, DeltaOptions& o) {
    o.short_conv = c.bool_or("use_short_conv", true);
    if (o.short_conv) o.conv_size = int(c.int_in_range("conv_size", 4, 1, 64));
    o.norm_eps = float(c.number_or("norm_eps", 1e-6));
}

// head_dim and expand_v of the gated variants: V = head_dim * expand_v, a whole number.
void read_head_dims(const Config& c, DeltaOptions& o) {
    o.K = int(c.int_in_range("head_dim", 256, 1, 1 << 16));
    const double expand_v = c.number_or("expand_v", 2.0);
    o.V = int(o.K * expand_v);
    if (o.V <= 0 || std::abs(o.K * expand_v - o.V) > 1e-5 * o.K * expand_v)
        c.fail("expand_v", "head_dim * expand_v must be a positive whole number");
}

DeltaOptions read_delta_net(const Config& c, int hidden) {
    DeltaOptions o;
    o.name = "DeltaNet";
    o.H = o.qk_heads = int(c.int_in_range("num_heads", 16, 1, 4096));
    const int kd = int(hidden * c.number_or("expand_k", 1.0));
    const int vd = int(hidden * c.number_or("expand_v", 1.0));
    if (kd <= 0 || kd % o.H)
        c.fail("expand_k", "key dim " + std::to_string(kd) + " is not a positive multiple of num_heads");
    if (vd <= 0 || vd % o.H)
        c.fail("expand_v", "value dim " + std::to_string(vd) + " is not a positive multiple of num_heads");
    o.K = kd / o.H;
    o.V = vd / o.H;
    o.qk_activation = c.string_or("qk_activation", "silu");
    if (o.qk_activation != "silu" && o.qk_activation != "relu" && o.qk_activation != "elu" &&
        o.qk_activation != "identity")
        c.fail("qk_activation", "'" + o.qk_activation + "' is not one of silu, relu, elu, identity");
    const std::string norm = c.string_or("qk_norm", "l2");
    if (norm != "l2" && norm != "sum") c.fail("qk_norm", "'" + norm + "' is not one of l2, sum");
    o.l2_norm_qk = norm == "l2";
    o.use_beta = c.bool_or("use_beta", true);
    o.allow_neg_eigval = c.bool_or("allow_neg_eigval", false);
    o.output_gate = c.bool_or("use_gate", false);
    read_conv_and_norm(c, o);
    return o;
}

DeltaOptions read_gated_deltanet(const Config& c, int) {
    DeltaOptions o;
    o.name = "Gated DeltaNet";
    o.qk_heads = int(c.int_in_range("num_heads", 6, 1, 4096));
    o.H = int(c.int_in_range("num_v_heads", o.qk_heads, 1, 1 << 16));
    if (o.H % o.qk_heads) c.fail("num_v_heads", "must be a multiple of num_heads (" + std::to_string(o.qk_heads) + ")");
    read_head_dims(c, o);
    o.forget_gate = true;
    o.allow_neg_eigval = c.bool_or("allow_neg_eigval", false);
    o.output_gate = c.bool_or("use_gate", true);
    o.value_major = true;
    read_conv_and_norm(c, o);
    return o;
}

DeltaOptions read_gated_deltaproduct(const Config& c, int) {
    DeltaOptions o;
    o.name = "Gated DeltaProduct";
    // fla's modeling code does not pass num_v_heads to this layer, so value heads equal num_heads.
    o.H = o.qk_heads = int(c.int_in_range("num_heads", 6, 1, 4096));
    read_head_dims(c, o);
    o.substeps = int(c.int_in_range("num_householder", 1, 1, 64));
    o.allow_neg_eigval = c.bool_or("allow_neg_eigval", false);
    o.forget_gate = c.bool_or("use_forget_gate", false);
    o.output_gate = c.bool_or("use_output_gate", true);
    read_conv_and_norm(c, o);
    return o;
}

class DeltaRuleMixer : public RecurrentMixer {
public:
    DeltaRuleMixer(Checkpoint& ck, const DeltaOptions& o, int layer, int hidden) : o_(o) {
        const std::string p = "model.layers." + std::to_string(layer) + ".attn";
        const int n = o.substeps, kd = o.qk_heads * o.K, vd = o.H * o.V;
        q_ = cpu::Linear::load(ck, p + ".q_proj", kd, hidden);
        k_ = cpu::Linear::load(ck, p + ".k_proj", n * kd, hidden);
        v_ = cpu::Linear::load(ck, p + ".v_proj", n * vd, hidden);
        // With silu, q and k get it from the conv (or right after the projections); other
        // activations come after the conv, which then has none. v always gets silu. fla's modeling
        // code never passes conv_bias to these layers, so the convolutions have no bias.
        if (o.short_conv) {
            const int W = o.conv_size;
            convs_.add(cpu::ShortConv::load(ck, p + ".q_conv1d", kd, W, false, qk_silu()), "conv.q");
            convs_.add(cpu::ShortConv::load(ck, p + ".k_conv1d", n * kd, W, false, qk_silu()), "conv.k");
            convs_.add(cpu::ShortConv::load(ck, p + ".v_conv1d", n * vd, W, false, true), "conv.v");
        }
        if (o.use_beta) b_ = cpu::Linear::load(ck, p + ".b_proj", n * o.H, hidden);
        if (o.forget_gate) gate_ = DeltaForgetGate::load(ck, p, hidden, o.H);
        out_.heads = o.H;
        out_.gated = o.output_gate;
        if (o.output_gate) out_.gate = cpu::Linear::load(ck, p + ".g_proj", vd, hidden);
        out_.norm = OutputNorm::load(ck, p + ".o_norm", o.V, o.norm_eps, true);
        out_.out = cpu::Linear::load(ck, p + ".o_proj", hidden, vd);
        describe(TransitionKind::DeltaRule, o.H, o.K, o.V, o.name, n);
        layer_.qk_inputs = (o.qk_activation == "identity" ? std::string("no activation") : o.qk_activation) +
                           (o.l2_norm_qk ? ", L2-normalised" : ", sum-normalised");
        value_major_ = o.value_major;
    }

    // forward() and forward_gpu() record the same steps in the same order.
    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext& ctx) const override {
        cpu::Mat q = q_(x), k = k_(x), v = v_(x);
        if (!convs_.empty()) {
            convs_.apply(st, {&q, &k, &v});
        } else {
            if (qk_silu()) {
                cpu::apply_silu(q);
                cpu::apply_silu(k);
            }
            cpu::apply_silu(v);
        }
        if (!qk_silu()) {
            apply_feature_map(o_.qk_activation, q);
            apply_feature_map(o_.qk_activation, k);
        }
        if (!o_.l2_norm_qk) {
            sum_norm(q, o_.K);
            sum_norm(k, o_.K);
        }
        cpu::Mat beta, log_decay;
        if (o_.use_beta) beta = delta_beta(b_, x, o_.allow_neg_eigval);
        else if (o_.allow_neg_eigval) beta = cpu::Mat::Constant(x.rows(), o_.H, 2.0f); // ones * 2
        if (o_.forget_gate) log_decay = gate_(x);
        const ScanInputs in = delta_scan_inputs(q, k, v, beta.size() > 0 ? &beta : nullptr,
                                                o_.forget_gate ? &log_decay : nullptr, o_.qk_heads, o_.H, o_.K,
                                                o_.V, o_.substeps, o_.l2_norm_qk);
        cpu::Mat o = run_scan(in, st, ctx);
        return out_(o, x);
    }

    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext& ctx) const override {
        gpu::Mat q = gpu::linear(ops, q_, x), k = gpu::linear(ops, k_, x), v = gpu::linear(ops, v_, x);
        if (!convs_.empty()) {
            convs_.apply_gpu(ops, st, {&q, &k, &v});
        } else {
            if (qk_silu()) {
                ops.apply(q, gpu::Func::Silu);
                ops.apply(k, gpu::Func::Silu);
            }
            ops.apply(v, gpu::Func::Silu);
        }
        if (!qk_silu()) {
            apply_feature_map_gpu(ops, o_.qk_activation, q);
            apply_feature_map_gpu(ops, o_.qk_activation, k);
        }
        if (!o_.l2_norm_qk) {
            sum_norm_gpu(ops, q, o_.K);
            sum_norm_gpu(ops, k, o_.K);
        }
        gpu::Mat beta, log_decay;
        if (o_.use_beta) beta = delta_beta_gpu(ops, b_, x, o_.allow_neg_eigval);
        else if (o_.allow_neg_eigval) {
            beta = ops.alloc(x.rows, uint32_t(o_.H), "DeltaNet beta (ones * 2)");
            ops.fill(beta, 2.0f);
        }
        if (o_.forget_gate) log_decay = gate_.gpu(ops, x);
        const gpu::ScanMats in = delta_scan_inputs_gpu(ops, q, k, v, beta.empty() ? nullptr : &beta,
                                                       o_.forget_gate ? &log_decay : nullptr, o_.qk_heads, o_.H,
                                                       o_.K, o_.V, o_.substeps, o_.l2_norm_qk);
        gpu::Mat o = run_scan_gpu(ops, in, st, ctx);
        return out_.gpu(ops, o, x);
    }

private:
    bool qk_silu() const { return o_.qk_activation == "silu"; }

    DeltaOptions o_;
    cpu::Linear q_, k_, v_, b_;
    DeltaForgetGate gate_;
    OutputHead out_;
};

} // namespace

// The model_types of models/families.inc that this mixer serves.
std::unique_ptr<Model> make_delta_net(std::unique_ptr<Checkpoint> ck) {
    return make_fla_block_model(std::move(ck), "DeltaNet", mixer_factory<DeltaRuleMixer>(read_delta_net));
}
std::unique_ptr<Model> make_gated_deltanet(std::unique_ptr<Checkpoint> ck) {
    return make_fla_block_model(std::move(ck), "Gated DeltaNet", mixer_factory<DeltaRuleMixer>(read_gated_deltanet));
}
std::unique_ptr<Model> make_gated_deltaproduct(std::unique_ptr<Checkpoint> ck) {
    return make_fla_block_model(std::move(ck), "Gated DeltaProduct",
                                mixer_factory<DeltaRuleMixer>(read_gated_deltaproduct));
}

} // namespace statescope
