// Gated Linear Attention (fla/layers/gla.py): vector decay A_t = diag(exp(gk_t)),
// gk = logsigmoid(gk_proj(x)) / gate_logit_normalizer, q scaled by K^-1/2, output through a
// per-head RMSNorm gated by swish(g_proj(x)). fla keeps the state value-major ([H, V, K]).
#include "statescope/error.h"
#include "gpu/layers.h"
#include "models/fla_common.h"

#include <cmath>

namespace statescope {
namespace {

// The model's mixer options, read once from config.json.
struct GlaOptions {
    FlaHeads heads;
    bool output_gate = true;
    int gate_rank = 16;                 // gate_low_rank_dim
    float normalizer = 16, clamp_min = NAN;
    std::string feature_map;
    bool short_conv = false, conv_bias = false;
    int conv_size = 4;
    float norm_eps = 1e-6f;
    bool norm_affine = true; // elementwise_affine of the output norm
    bool fused_norm = false;            // FusedRMSNormGated, saved as g_norm_swish_gate
};

GlaOptions read_gla_options(const Config& c, int hidden) {
    GlaOptions o;
    o.heads = FlaHeads::read(c, hidden, {4, 0.5, 1.0, "key and value dims must be positive multiples of num_heads"});
    o.output_gate = c.bool_or("use_output_gate", true);
    o.gate_rank = int(c.int_in_range("gate_low_rank_dim", 16, 1, 1 << 16));
    o.normalizer = float(c.number_or("gate_logit_normalizer", 16));
    o.clamp_min = c.has("clamp_min") ? float(c.number_or("clamp_min", 0)) : NAN;
    o.feature_map = c.string_or("feature_map", "");
    if (!o.feature_map.empty() && o.feature_map != "relu" && o.feature_map != "silu" && o.feature_map != "swish" &&
        o.feature_map != "elu")
        c.fail("feature_map", "'" + o.feature_map + "' is not supported for gla");
    o.short_conv = c.bool_or("use_short_conv", false);
    if (o.short_conv) {
        o.conv_size = int(c.int_in_range("conv_size", 4, 1, 64));
        o.conv_bias = c.bool_or("conv_bias", false);
    }
    o.norm_eps = float(c.number_or("norm_eps", 1e-6));
    o.norm_affine = c.bool_or("elementwise_affine", true);
    o.fused_norm = o.output_gate && c.string_or("hidden_act", "swish") == "swish" && c.bool_or("fuse_norm", true);
    return o;
}

class GlaMixer : public RecurrentMixer {
public:
    GlaMixer(Checkpoint& ck, const GlaOptions& o, int layer, int hidden)
        : H_(o.heads.H), kv_heads_(o.heads.kv_heads), K_(o.heads.K), V_(o.heads.V), normalizer_(o.normalizer),
          clamp_min_(o.clamp_min), feature_map_(o.feature_map) {
        const std::string p = "model.layers." + std::to_string(layer) + ".attn";
        const int key_dim = H_ * K_, value_dim = H_ * V_, kd_g = kv_heads_ * K_, vd_g = kv_heads_ * V_;
        o.heads.load_qkv(ck, p, hidden, q_, k_, v_);
        out_.heads = H_;
        out_.gated = o.output_gate;
        if (out_.gated) out_.gate = cpu::Linear::load(ck, p + ".g_proj", value_dim, hidden);
        gk0_ = cpu::Linear::load(ck, p + ".gk_proj.0", o.gate_rank, hidden);
        gk1_ = cpu::Linear::load(ck, p + ".gk_proj.1", kd_g, o.gate_rank, true);
        out_.out = cpu::Linear::load(ck, p + ".o_proj", hidden, value_dim);
        if (o.short_conv) {
            const int W = o.conv_size;
            convs_.add(cpu::ShortConv::load(ck, p + ".q_conv1d", key_dim, W, o.conv_bias, true), "conv.q");
            convs_.add(cpu::ShortConv::load(ck, p + ".k_conv1d", kd_g, W, o.conv_bias, true), "conv.k");
            convs_.add(cpu::ShortConv::load(ck, p + ".v_conv1d", vd_g, W, o.conv_bias, true), "conv.v");
        }
        out_.norm = OutputNorm::load(ck, p + (o.fused_norm ? ".g_norm_swish_gate" : ".g_norm"), V_, o.norm_eps, o.norm_affine);
        describe(TransitionKind::Diagonal, H_, K_, V_, "GLA");
        if (!o.feature_map.empty()) layer_.qk_inputs = "feature map " + o.feature_map;
        value_major_ = true;
    }

    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext& ctx) const override {
        const int T = int(x.rows());
        cpu::Mat q = q_(x), k = k_(x), v = v_(x);
        convs_.apply(st, {&q, &k, &v});
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
        fill_gqa_scan_inputs(in, q, k, v, kv_heads_);
        in.log_decay = Tensor({T, H_, K_});
        const int groups = H_ / kv_heads_;
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < H_; ++h)
                for (int i = 0; i < K_; ++i) // the decay repeats across heads as k does
                    in.log_decay.data[(size_t(t) * H_ + h) * K_ + i] = gk(t, h / groups * K_ + i);
        cpu::Mat o = run_scan(in, st, ctx);
        return out_(o, x);
    }

    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext& ctx) const override {
        const uint32_t T = x.rows;
        gpu::Mat q = gpu::linear(ops, q_, x), k = gpu::linear(ops, k_, x), v = gpu::linear(ops, v_, x);
        convs_.apply_gpu(ops, st, {&q, &k, &v});
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
        return out_.gpu(ops, o, x);
    }

private:
    int H_ = 0, kv_heads_ = 0, K_ = 0, V_ = 0;
    float normalizer_ = 16, clamp_min_ = NAN;
    std::string feature_map_;
    cpu::Linear q_, k_, v_, gk0_, gk1_;
    OutputHead out_;
};

} // namespace

std::unique_ptr<Model> make_gla(std::unique_ptr<Checkpoint> ck) {
    return make_fla_block_model(std::move(ck), "GLA", mixer_factory<GlaMixer>(read_gla_options));
}

} // namespace statescope
