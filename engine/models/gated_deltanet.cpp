// Gated DeltaNet (fla/layers/gated_deltanet.py): the delta rule with a Mamba-2 style forget gate,
//     S <- exp(g) (I - beta k k^T) S + beta k v^T,    g = -exp(A_log) * softplus(a_proj(x) + dt_bias)
// beta = sigmoid(b_proj(x)) (times 2 with allow_neg_eigval), q and k silu'd (conv or not) and
// l2-normalised in the kernel, q scaled by head_dim^-1/2, output through a per-head RMSNorm gated by
// swish(g_proj(x)) with use_gate. With num_v_heads > num_heads (GVA) each q/k head serves
// num_v_heads / num_heads consecutive value heads. The layer calls the kernel with
// state_v_first=True, so fla keeps the state value-major ([H, V, K]).
#include "core/error.h"
#include "gpu/layers.h"
#include "models/delta_common.h"
#include "models/registry.h"

#include <cmath>

namespace statescope {
namespace {

class GatedDeltaNetMixer : public Mixer {
public:
    GatedDeltaNetMixer(Checkpoint& ck, const Config& c, int layer, int hidden) {
        const std::string p = "model.layers." + std::to_string(layer) + ".attn";
        qk_heads_ = int(c.int_in_range("num_heads", 6, 1, 4096));
        H_ = int(c.int_in_range("num_v_heads", qk_heads_, 1, 1 << 16));
        if (H_ % qk_heads_) c.fail("num_v_heads", "must be a multiple of num_heads (" + std::to_string(qk_heads_) + ")");
        K_ = int(c.int_in_range("head_dim", 256, 1, 1 << 16));
        const double expand_v = c.number_or("expand_v", 2.0);
        V_ = int(K_ * expand_v);
        if (V_ <= 0 || std::abs(K_ * expand_v - V_) > 1e-5 * K_ * expand_v)
            c.fail("expand_v", "head_dim * expand_v must be a positive whole number");
        const int kd = qk_heads_ * K_, vd = H_ * V_;
        proj_ = DeltaProjections::load(ck, c, p, hidden, kd, kd, vd, /*qk_silu=*/true);
        b_ = cpu::Linear::load(ck, p + ".b_proj", H_, hidden);
        gate_ = DeltaForgetGate::load(ck, p, hidden, H_);
        allow_neg_eigval_ = c.bool_or("allow_neg_eigval", false);
        use_gate_ = c.bool_or("use_gate", true);
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
        li.mixer_name = "Gated DeltaNet";
        return li;
    }

    void init_state(LayerState& st) const override {
        st.recurrent = Tensor({H_, K_, V_});
        proj_.init_state(st);
    }

    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext& ctx) const override {
        DeltaProjections::Output p = proj_(x, st);
        const cpu::Mat beta = delta_beta(b_, x, allow_neg_eigval_);
        const cpu::Mat log_decay = gate_(x);
        ScanInputs in = delta_scan_inputs(p.q, p.k, p.v, &beta, &log_decay, qk_heads_, H_, K_, V_, 1,
                                          /*l2_norm_qk=*/true);
        cpu::Mat o = run_scan(in, st, ctx);
        cpu::Mat g;
        if (use_gate_) g = g_(x);
        out_norm_.apply(o, use_gate_ ? &g : nullptr, H_);
        return o_(o);
    }


    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext& ctx) const override {
        DeltaProjections::GpuOutput p = proj_.gpu(ops, x, st);
        const gpu::Mat beta = delta_beta_gpu(ops, b_, x, allow_neg_eigval_);
        const gpu::Mat log_decay = gate_.gpu(ops, x);
        gpu::ScanMats in = delta_scan_inputs_gpu(ops, p.q, p.k, p.v, &beta, &log_decay, qk_heads_, H_, K_, V_, 1,
                                                 /*l2_norm_qk=*/true);
        gpu::Mat o = run_scan_gpu(ops, in, st, ctx);
        gpu::Mat g;
        if (use_gate_) g = gpu::linear(ops, g_, x);
        out_norm_.apply_gpu(ops, o, use_gate_ ? &g : nullptr, H_);
        return gpu::linear(ops, o_, o);
    }

    void library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const override {
        out.push_back({library_state_name(layer, "recurrent_state"),
                       export_state(st.recurrent, H_, K_, V_, /*value_major=*/true)});
        proj_.library_state(st, layer, out);
    }

private:
    int qk_heads_ = 0, H_ = 0, K_ = 0, V_ = 0;
    bool allow_neg_eigval_ = false, use_gate_ = true;
    DeltaProjections proj_;
    DeltaForgetGate gate_;
    cpu::Linear b_, g_, o_;
    OutputNorm out_norm_;
};

} // namespace

std::unique_ptr<Model> make_gated_deltanet(std::unique_ptr<Checkpoint> ck) {
    return make_fla_block_model(std::move(ck), "Gated DeltaNet", [](Checkpoint& ck, const Config& c, int layer,
                                                                    int hidden) {
        return std::unique_ptr<Mixer>(new GatedDeltaNetMixer(ck, c, layer, hidden));
    });
}

} // namespace statescope
