// Gated Linear Attention (fla/layers/gla.py): vector decay A_t = diag(exp(gk_t)),
// gk = logsigmoid(gk_proj(x)) / gate_logit_normalizer, q scaled by K^-1/2, output through a
// per-head RMSNorm gated by swish(g_proj(x)). fla keeps the state value-major ([H, V, K]).
#include "core/error.h"
#include "gpu/layers.h"
#include "models/block_model.h"
#include "models/fla_common.h"
#include "models/registry.h"

#include <cmath>

namespace statescope {
namespace {

class GlaMixer : public Mixer {
public:
    GlaMixer(Checkpoint& ck, const Config& c, int layer, int hidden) {
        const std::string p = "model.layers." + std::to_string(layer) + ".attn";
        H_ = int(c.int_in_range("num_heads", 4, 1, 4096));
        kv_heads_ = int(c.int_in_range("num_kv_heads", H_, 1, H_));
        if (H_ % kv_heads_) c.fail("num_kv_heads", "must divide num_heads");
        const int key_dim = int(hidden * c.number_or("expand_k", 0.5));
        const int value_dim = int(hidden * c.number_or("expand_v", 1.0));
        if (key_dim % H_ || value_dim % H_ || key_dim <= 0 || value_dim <= 0)
            c.fail("expand_k", "key and value dims must be positive multiples of num_heads");
        K_ = key_dim / H_;
        V_ = value_dim / H_;
        const int groups = H_ / kv_heads_;
        const int kd_g = key_dim / groups, vd_g = value_dim / groups;
        q_ = cpu::Linear::load(ck, p + ".q_proj", key_dim, hidden);
        k_ = cpu::Linear::load(ck, p + ".k_proj", kd_g, hidden);
        v_ = cpu::Linear::load(ck, p + ".v_proj", vd_g, hidden);
        use_gate_ = c.bool_or("use_output_gate", true);
        if (use_gate_) g_ = cpu::Linear::load(ck, p + ".g_proj", value_dim, hidden);
        const int rank = int(c.int_in_range("gate_low_rank_dim", 16, 1, 1 << 16));
        gk0_ = cpu::Linear::load(ck, p + ".gk_proj.0", rank, hidden);
        gk1_ = cpu::Linear::load(ck, p + ".gk_proj.1", kd_g, rank, true);
        o_ = cpu::Linear::load(ck, p + ".o_proj", hidden, value_dim);
        normalizer_ = float(c.number_or("gate_logit_normalizer", 16));
        clamp_min_ = c.has("clamp_min") ? float(c.number_or("clamp_min", 0)) : NAN;
        feature_map_ = c.string_or("feature_map", "");
        if (!feature_map_.empty() && feature_map_ != "relu" && feature_map_ != "silu" && feature_map_ != "swish" &&
            feature_map_ != "elu")
            c.fail("feature_map", "'" + feature_map_ + "' is not supported for gla");
        if (c.bool_or("use_short_conv", false)) {
            const int W = int(c.int_in_range("conv_size", 4, 1, 64));
            const bool bias = c.bool_or("conv_bias", false);
            conv_.emplace_back(cpu::ShortConv::load(ck, p + ".q_conv1d", key_dim, W, bias, true));
            conv_.emplace_back(cpu::ShortConv::load(ck, p + ".k_conv1d", kd_g, W, bias, true));
            conv_.emplace_back(cpu::ShortConv::load(ck, p + ".v_conv1d", vd_g, W, bias, true));
        }
        const float eps = float(c.number_or("norm_eps", 1e-6));
        const bool fused = use_gate_ && c.string_or("hidden_act", "swish") == "swish" && c.bool_or("fuse_norm", true);
        out_norm_ = OutputNorm::load(ck, p + (fused ? ".g_norm_swish_gate" : ".g_norm"), V_, eps);
    }

    LayerInfo info() const override {
        LayerInfo li;
        li.transition = TransitionKind::Diagonal;
        li.heads = H_;
        li.key_dim = K_;
        li.value_dim = V_;
        li.mixer_name = "GLA";
        return li;
    }

    void init_state(LayerState& st) const override {
        st.recurrent = Tensor({H_, K_, V_});
        static const char* names[] = {"conv.q", "conv.k", "conv.v"};
        for (size_t i = 0; i < conv_.size(); ++i) st.aux.push_back({names[i], conv_[i].initial_state()});
    }

    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext& ctx) const override {
        const int T = int(x.rows());
        cpu::Mat q = q_(x), k = k_(x), v = v_(x);
        if (!conv_.empty()) {
            q = conv_[0](q, st.get("conv.q"));
            k = conv_[1](k, st.get("conv.k"));
            v = conv_[2](v, st.get("conv.v"));
        }
        cpu::Mat gk = gk1_(gk0_(x));
        for (Eigen::Index i = 0; i < gk.size(); ++i) {
            float g = cpu::log_sigmoid(gk.data()[i]) / normalizer_;
            if (!std::isnan(clamp_min_)) g = std::max(g, clamp_min_);
            gk.data()[i] = g;
        }
        apply_feature_map(feature_map_, q);
        apply_feature_map(feature_map_, k);

        ScanInputs in;
        in.allocate(TransitionKind::Diagonal, T, H_, K_, V_);
        in.log_decay = Tensor({T, H_, K_});
        const int groups = H_ / kv_heads_;
        const float scale = 1.0f / std::sqrt(float(K_));
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < H_; ++h) {
                const int kvh = h / groups; // fla repeats each kv head `groups` times in a row
                for (int i = 0; i < K_; ++i) {
                    in.q_at(t, h)[i] = q(t, h * K_ + i) * scale;
                    in.k_at(t, 0, h)[i] = k(t, kvh * K_ + i);
                    in.log_decay.data[(size_t(t) * H_ + h) * K_ + i] = gk(t, kvh * K_ + i);
                }
                for (int i = 0; i < V_; ++i) in.v_at(t, 0, h)[i] = v(t, kvh * V_ + i);
            }
        cpu::Mat o = run_scan(in, st, ctx);
        cpu::Mat g;
        if (use_gate_) g = g_(x);
        out_norm_.apply(o, use_gate_ ? &g : nullptr, H_);
        return o_(o);
    }


    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext& ctx) const override {
        const uint32_t T = x.rows;
        gpu::Mat q = gpu::linear(ops, q_, x), k = gpu::linear(ops, k_, x), v = gpu::linear(ops, v_, x);
        if (!conv_.empty()) {
            q = gpu::short_conv(ops, conv_[0], q, st.get("conv.q"));
            k = gpu::short_conv(ops, conv_[1], k, st.get("conv.k"));
            v = gpu::short_conv(ops, conv_[2], v, st.get("conv.v"));
        }
        gpu::Mat gk = gpu::linear(ops, gk1_, gpu::linear(ops, gk0_, x));
        gpu::ElementwiseParams gate;
        gate.f = gpu::Func::LogSigmoid;
        gate.alpha = 1.0f / normalizer_;
        if (!std::isnan(clamp_min_)) gate.lo = clamp_min_;
        ops.elementwise(gk, gpu::Operand::of(gk), {}, gate);
        apply_feature_map_gpu(ops, feature_map_, q);
        apply_feature_map_gpu(ops, feature_map_, k);

        gpu::ScanMats in = ops.scan_inputs(TransitionKind::Diagonal, int(T), H_, K_, V_, 1, false, true);
        const uint32_t groups = uint32_t(H_ / kv_heads_);
        gpu::repeat_heads(ops, in.q, q, uint32_t(K_), 1, 1.0f / std::sqrt(float(K_)));
        gpu::repeat_heads(ops, in.k, k, uint32_t(K_), groups);
        gpu::repeat_heads(ops, in.g, gk, uint32_t(K_), groups);
        gpu::repeat_heads(ops, in.v, v, uint32_t(V_), groups);
        gpu::Mat o = run_scan_gpu(ops, in, st, ctx);
        gpu::Mat g;
        if (use_gate_) g = gpu::linear(ops, g_, x);
        out_norm_.apply_gpu(ops, o, use_gate_ ? &g : nullptr, H_);
        return gpu::linear(ops, o_, o);
    }

    void library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const override {
        const std::string L = "L" + std::to_string(layer);
        out.push_back({L + ".recurrent_state", export_state(st.recurrent, H_, K_, V_, /*value_major=*/true)});
        for (size_t i = 0; i < conv_.size(); ++i)
            out.push_back({L + ".conv_state." + std::to_string(i), export_conv_state(st.aux[i].tensor)});
    }

private:
    int H_ = 0, kv_heads_ = 0, K_ = 0, V_ = 0;
    bool use_gate_ = true;
    float normalizer_ = 16, clamp_min_ = NAN;
    std::string feature_map_;
    cpu::Linear q_, k_, v_, g_, gk0_, gk1_, o_;
    std::vector<cpu::ShortConv> conv_;
    OutputNorm out_norm_;
};

} // namespace

std::unique_ptr<Model> make_gla(std::unique_ptr<Checkpoint> ck) {
    return make_fla_block_model(std::move(ck), "GLA", [](Checkpoint& ck, const Config& c, int layer, int hidden) {
        return std::unique_ptr<Mixer>(new GlaMixer(ck, c, layer, hidden));
    });
}

} // namespace statescope
