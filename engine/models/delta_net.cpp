// DeltaNet (fla/layers/delta_net.py): the delta rule S <- (I - beta k k^T) S + beta k v^T with
// beta = sigmoid(b_proj(x)) (times 2 with allow_neg_eigval, or 1 without use_beta), q/k through
// qk_activation and qk_norm ('l2' inside the kernel, or 'sum'), q scaled by K^-1/2, output through a
// per-head RMSNorm (gated by swish(g_proj(x)) with use_gate). fla's fused_recurrent_delta_rule keeps
// the state key-major ([H, K, V]).
#include "core/error.h"
#include "gpu/layers.h"
#include "models/delta_common.h"
#include "models/registry.h"

namespace statescope {
namespace {

class DeltaNetMixer : public Mixer {
public:
    DeltaNetMixer(Checkpoint& ck, const Config& c, int layer, int hidden) {
        const std::string p = "model.layers." + std::to_string(layer) + ".attn";
        H_ = int(c.int_in_range("num_heads", 16, 1, 4096));
        const int kd = int(hidden * c.number_or("expand_k", 1.0));
        const int vd = int(hidden * c.number_or("expand_v", 1.0));
        if (kd <= 0 || kd % H_) c.fail("expand_k", "key dim " + std::to_string(kd) + " is not a positive multiple of num_heads");
        if (vd <= 0 || vd % H_) c.fail("expand_v", "value dim " + std::to_string(vd) + " is not a positive multiple of num_heads");
        K_ = kd / H_;
        V_ = vd / H_;
        qk_activation_ = c.string_or("qk_activation", "silu");
        if (qk_activation_ != "silu" && qk_activation_ != "relu" && qk_activation_ != "elu" && qk_activation_ != "identity")
            c.fail("qk_activation", "'" + qk_activation_ + "' is not one of silu, relu, elu, identity");
        const std::string norm = c.string_or("qk_norm", "l2");
        if (norm != "l2" && norm != "sum") c.fail("qk_norm", "'" + norm + "' is not one of l2, sum");
        l2_norm_qk_ = norm == "l2";
        // With silu, q and k get it from the conv (or right after the projections); other
        // activations come after the conv, which then has none.
        proj_ = DeltaProjections::load(ck, c, p, hidden, kd, kd, vd, qk_activation_ == "silu");
        use_beta_ = c.bool_or("use_beta", true);
        allow_neg_eigval_ = c.bool_or("allow_neg_eigval", false);
        if (use_beta_) b_ = cpu::Linear::load(ck, p + ".b_proj", H_, hidden);
        use_gate_ = c.bool_or("use_gate", false);
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
        li.mixer_name = "DeltaNet";
        return li;
    }

    void init_state(LayerState& st) const override {
        st.recurrent = Tensor({H_, K_, V_});
        proj_.init_state(st);
    }

    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext& ctx) const override {
        DeltaProjections::Output p = proj_(x, st);
        if (qk_activation_ != "silu") { // silu already happened in the conv (or right after q_proj/k_proj)
            apply_feature_map(qk_activation_, p.q);
            apply_feature_map(qk_activation_, p.k);
        }
        if (!l2_norm_qk_) {
            sum_norm(p.q, K_);
            sum_norm(p.k, K_);
        }
        cpu::Mat beta;
        if (use_beta_) beta = delta_beta(b_, x, allow_neg_eigval_);
        else if (allow_neg_eigval_) beta = cpu::Mat::Constant(x.rows(), H_, 2.0f); // ones * 2
        const bool has_beta = beta.size() > 0;
        ScanInputs in = delta_scan_inputs(p.q, p.k, p.v, has_beta ? &beta : nullptr, nullptr, H_, H_, K_, V_, 1,
                                          l2_norm_qk_);
        cpu::Mat o = run_scan(in, st, ctx);
        cpu::Mat g;
        if (use_gate_) g = g_(x);
        out_norm_.apply(o, use_gate_ ? &g : nullptr, H_);
        return o_(o);
    }


    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext& ctx) const override {
        DeltaProjections::GpuOutput p = proj_.gpu(ops, x, st);
        if (qk_activation_ != "silu") {
            apply_feature_map_gpu(ops, qk_activation_, p.q);
            apply_feature_map_gpu(ops, qk_activation_, p.k);
        }
        if (!l2_norm_qk_) {
            sum_norm_gpu(ops, p.q, K_);
            sum_norm_gpu(ops, p.k, K_);
        }
        gpu::Mat beta;
        if (use_beta_) beta = delta_beta_gpu(ops, b_, x, allow_neg_eigval_);
        else if (allow_neg_eigval_) {
            beta = ops.alloc(x.rows, uint32_t(H_), "DeltaNet beta (ones * 2)");
            ops.fill(beta, 2.0f);
        }
        const bool has_beta = !beta.empty();
        gpu::ScanMats in = delta_scan_inputs_gpu(ops, p.q, p.k, p.v, has_beta ? &beta : nullptr, nullptr, H_, H_, K_,
                                                 V_, 1, l2_norm_qk_);
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
    int H_ = 0, K_ = 0, V_ = 0;
    std::string qk_activation_;
    bool l2_norm_qk_ = true, use_beta_ = true, allow_neg_eigval_ = false, use_gate_ = false;
    DeltaProjections proj_;
    cpu::Linear b_, g_, o_;
    OutputNorm out_norm_;
};

} // namespace

std::unique_ptr<Model> make_delta_net(std::unique_ptr<Checkpoint> ck) {
    return make_fla_block_model(std::move(ck), "DeltaNet", [](Checkpoint& ck, const Config& c, int layer, int hidden) {
        return std::unique_ptr<Mixer>(new DeltaNetMixer(ck, c, layer, hidden));
    });
}

} // namespace statescope
