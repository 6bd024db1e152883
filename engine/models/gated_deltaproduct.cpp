// Gated DeltaProduct (fla/layers/gated_deltaproduct.py): num_householder delta-rule micro-steps per
// token, each with its own k, v and beta,
//     S <- exp(g) S;  for j in 0..n-1: S <- (I - beta_j k_j k_j^T) S + beta_j k_j v_j^T;  o = S^T q
// k_proj, v_proj and b_proj produce all n steps at once, split as '(n h d)' / '(n h)': micro-step
// outermost. The forget gate g = -exp(A_log) * softplus(a_proj(x) + dt_bias) (use_forget_gate)
// applies once per token before the first step (fla's fused recurrent path puts g on step 0 and zero
// on the others, and reads out only after the last step), which is core/scan.h's DeltaRule with
// substeps. beta = sigmoid(b_proj(x)), times 2 with allow_neg_eigval. q and k are silu'd and
// l2-normalised, q scaled by head_dim^-1/2; output per-head RMSNorm gated by swish(g_proj(x)) with
// use_output_gate. fla's modeling code does not pass num_v_heads to this layer, so value heads equal
// num_heads. The state is key-major ([H, K, V]).
#include "core/error.h"
#include "gpu/layers.h"
#include "models/delta_common.h"
#include "models/registry.h"

#include <cmath>

namespace statescope {
namespace {

class GatedDeltaProductMixer : public Mixer {
public:
    GatedDeltaProductMixer(Checkpoint& ck, const Config& c, int layer, int hidden) {
        const std::string p = "model.layers." + std::to_string(layer) + ".attn";
        H_ = int(c.int_in_range("num_heads", 6, 1, 4096));
        K_ = int(c.int_in_range("head_dim", 256, 1, 1 << 16));
        const double expand_v = c.number_or("expand_v", 2.0);
        V_ = int(K_ * expand_v);
        if (V_ <= 0 || std::abs(K_ * expand_v - V_) > 1e-5 * K_ * expand_v)
            c.fail("expand_v", "head_dim * expand_v must be a positive whole number");
        n_ = int(c.int_in_range("num_householder", 1, 1, 64));
        const int kd = H_ * K_, vd = H_ * V_;
        proj_ = DeltaProjections::load(ck, c, p, hidden, kd, n_ * kd, n_ * vd, /*qk_silu=*/true);
        b_ = cpu::Linear::load(ck, p + ".b_proj", n_ * H_, hidden);
        allow_neg_eigval_ = c.bool_or("allow_neg_eigval", false);
        use_forget_gate_ = c.bool_or("use_forget_gate", false);
        if (use_forget_gate_) gate_ = DeltaForgetGate::load(ck, p, hidden, H_);
        use_gate_ = c.bool_or("use_output_gate", true);
        if (use_gate_) g_ = cpu::Linear::load(ck, p + ".g_proj", vd, hidden);
        out_norm_ = OutputNorm::load(ck, p + ".o_norm", V_, float(c.number_or("norm_eps", 1e-6)));
        o_ = cpu::Linear::load(ck, p + ".o_proj", hidden, vd);
    }

    LayerInfo info() const override {
        LayerInfo li;
        li.transition = TransitionKind::DeltaRule;
        li.heads = H_;
        li.key_dim = K_;
        li.value_dim = V_;
        li.substeps = n_;
        li.mixer_name = "Gated DeltaProduct";
        return li;
    }

    void init_state(LayerState& st) const override {
        st.recurrent = Tensor({H_, K_, V_});
        proj_.init_state(st);
    }

    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext& ctx) const override {
        DeltaProjections::Output p = proj_(x, st);
        const cpu::Mat beta = delta_beta(b_, x, allow_neg_eigval_);
        cpu::Mat log_decay;
        if (use_forget_gate_) log_decay = gate_(x);
        ScanInputs in = delta_scan_inputs(p.q, p.k, p.v, &beta, use_forget_gate_ ? &log_decay : nullptr, H_, H_, K_,
                                          V_, n_, /*l2_norm_qk=*/true);
        cpu::Mat o = run_scan(in, st, ctx);
        cpu::Mat g;
        if (use_gate_) g = g_(x);
        out_norm_.apply(o, use_gate_ ? &g : nullptr, H_);
        return o_(o);
    }


    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext& ctx) const override {
        DeltaProjections::GpuOutput p = proj_.gpu(ops, x, st);
        const gpu::Mat beta = delta_beta_gpu(ops, b_, x, allow_neg_eigval_);
        gpu::Mat log_decay;
        if (use_forget_gate_) log_decay = gate_.gpu(ops, x);
        gpu::ScanMats in = delta_scan_inputs_gpu(ops, p.q, p.k, p.v, &beta, use_forget_gate_ ? &log_decay : nullptr,
                                                 H_, H_, K_, V_, n_, /*l2_norm_qk=*/true);
        gpu::Mat o = run_scan_gpu(ops, in, st, ctx);
        gpu::Mat g;
        if (use_gate_) g = gpu::linear(ops, g_, x);
        out_norm_.apply_gpu(ops, o, use_gate_ ? &g : nullptr, H_);
        return gpu::linear(ops, o_, o);
    }

    void library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const override {
        out.push_back({library_state_name(layer, "recurrent_state"),
                       export_state(st.recurrent, H_, K_, V_, /*value_major=*/false)});
        proj_.library_state(st, layer, out);
    }

private:
    int H_ = 0, K_ = 0, V_ = 0, n_ = 1;
    bool allow_neg_eigval_ = false, use_forget_gate_ = false, use_gate_ = true;
    DeltaProjections proj_;
    DeltaForgetGate gate_;
    cpu::Linear b_, g_, o_;
    OutputNorm out_norm_;
};

} // namespace

std::unique_ptr<Model> make_gated_deltaproduct(std::unique_ptr<Checkpoint> ck) {
    return make_fla_block_model(std::move(ck), "Gated DeltaProduct", [](Checkpoint& ck, const Config& c, int layer,
                                                                        int hidden) {
        return std::unique_ptr<Mixer>(new GatedDeltaProductMixer(ck, c, layer, hidden));
    });
}

} // namespace statescope
