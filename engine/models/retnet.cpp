// RetNet's multi-scale retention (fla/layers/multiscale_retention.py): a fixed scalar decay per
// head, gamma_h = 1 - 2^(-5 - h) (fla/ops/retention), rotary position embeddings on q and k
// (fla/modules/rotary.py: GPT-NeoX halves, base 10000, over the whole head key dim), q scaled by
// K^-1/2, and the output through a per-head RMSNorm gated by swish(g_proj(x)). fla's retention
// kernels keep the state key-major ([H, K, V]), the engine's own orientation.
#include "statescope/error.h"
#include "gpu/family_kernels.h"
#include "gpu/layers.h"
#include "models/fla_common.h"

#include <algorithm>
#include <cmath>

namespace statescope {
namespace {

class RetentionMixer : public RecurrentMixer {
public:
    RetentionMixer(Checkpoint& ck, const Config& c, int layer, int hidden) {
        const std::string p = "model.layers." + std::to_string(layer) + ".attn";
        const FlaHeads heads = FlaHeads::read(c, hidden, {8, 1.0, 2.0});
        H_ = heads.H, kv_heads_ = heads.kv_heads, K_ = heads.K, V_ = heads.V;
        const int value_dim = H_ * V_;
        // fla's rotary kernel rotates pairs (i, i + K/2) and asserts K <= 256.
        if (K_ % 2 || K_ > 256) c.fail("expand_k", "the head key dim must be even and at most 256 for the rotary embedding");
        heads.load_qkv(ck, p, hidden, q_, k_, v_);
        out_.out = cpu::Linear::load(ck, p + ".o_proj", hidden, value_dim);
        out_.heads = H_;
        out_.gated = c.bool_or("use_output_gate", true);
        if (out_.gated) out_.gate = cpu::Linear::load(ck, p + ".g_proj", value_dim, hidden);
        // RetNetBlock passes neither use_short_conv nor conv_size to MultiScaleRetention, so fla
        // builds no short convolutions for retnet whatever the config says; neither do we.

        // The feature map is transformers' ACT2FN[feature_map]; the ones the engine has are these.
        feature_map_ = c.string_or("feature_map", "");
        if (!feature_map_.empty() && feature_map_ != "relu" && feature_map_ != "silu" && feature_map_ != "swish")
            c.fail("feature_map", "'" + feature_map_ + "' is not supported for retnet (relu, silu, swish or null)");

        const std::string gate_fn = c.string_or("hidden_act", "swish");
        const bool fused = gate_fn == "swish" && c.bool_or("fuse_norm", true) && out_.gated;
        if (out_.gated && !fused && gate_fn != "swish" && gate_fn != "silu")
            c.fail("hidden_act", "output gate activation '" + gate_fn + "' is not supported for retnet (swish or silu)");
        const float eps = float(c.number_or("norm_eps", 1e-6));
        out_.norm = OutputNorm::load(ck, p + (fused ? ".g_norm_swish_gate" : ".g_norm"), V_, eps, c.bool_or("elementwise_affine", true));

        // Decay and rotary tables in float32, computed the way fla computes them.
        log_gamma_.resize(size_t(H_));
        for (int h = 0; h < H_; ++h) log_gamma_[size_t(h)] = std::log(1.0f - std::pow(2.0f, -5.0f - float(h)));
        inv_freq_.resize(size_t(K_ / 2));
        for (int i = 0; i < K_ / 2; ++i)
            inv_freq_[size_t(i)] = 1.0f / std::pow(10000.0f, float(2 * i) / float(K_));
        describe(TransitionKind::Scalar, H_, K_, V_, "Retention");
    }

    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext& ctx) const override {
        const int T = int(x.rows());
        cpu::Mat q = q_(x), k = k_(x), v = v_(x);
        apply_feature_map(feature_map_, q);
        apply_feature_map(feature_map_, k);
        // fla offsets the rotary positions by the tokens this layer has already seen.
        rotate(q, H_, ctx.position);
        rotate(k, kv_heads_, ctx.position);

        ScanInputs in;
        in.allocate(TransitionKind::Scalar, T, H_, K_, V_);
        fill_gqa_scan_inputs(in, q, k, v, kv_heads_);
        in.log_decay = Tensor({T, H_});
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < H_; ++h) in.log_decay.data[size_t(t) * H_ + h] = log_gamma_[size_t(h)];
        cpu::Mat o = run_scan(in, st, ctx);
        return out_(o, x);
    }

    // forward() on the device, step by step.
    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext& ctx) const override {
        const uint32_t T = x.rows;
        const gpu::Mat q = gpu::linear(ops, q_, x), k = gpu::linear(ops, k_, x), v = gpu::linear(ops, v_, x);
        apply_feature_map_gpu(ops, feature_map_, q);
        apply_feature_map_gpu(ops, feature_map_, k);
        const gpu::Mat table = rotary_table(ops, T, ctx.position);
        rotate_gpu(ops, q, uint32_t(H_), table);
        rotate_gpu(ops, k, uint32_t(kv_heads_), table);

        gpu::ScanMats in = ops.scan_inputs(TransitionKind::Scalar, int(T), H_, K_, V_, 1, false, true);
        const uint32_t groups = uint32_t(H_ / kv_heads_);
        gpu::repeat_heads(ops, in.q, q, uint32_t(K_), 1, 1.0f / std::sqrt(float(K_)));
        gpu::repeat_heads(ops, in.k, k, uint32_t(K_), groups);
        gpu::repeat_heads(ops, in.v, v, uint32_t(V_), groups);
        ops.elementwise(in.g, gpu::Operand::columns(gpu::param(ops, log_gamma_.data(), uint32_t(H_))), {}, {});
        const gpu::Mat o = run_scan_gpu(ops, in, st, ctx);
        return out_.gpu(ops, o, x);
    }

private:
    // Rotary embedding, non-interleaved: (x_i, x_{i+K/2}) is rotated by angle pos * inv_freq_i.
    void rotate(cpu::Mat& x, int heads, int64_t first_position) const {
        const int half = K_ / 2;
        for (Eigen::Index t = 0; t < x.rows(); ++t) {
            const float pos = float(first_position + t);
            for (int i = 0; i < half; ++i) {
                const float angle = pos * inv_freq_[size_t(i)];
                const float c = std::cos(angle), s = std::sin(angle);
                for (int h = 0; h < heads; ++h) {
                    float* row = x.row(t).data() + size_t(h) * K_;
                    const float x0 = row[i], x1 = row[i + half];
                    row[i] = x0 * c - x1 * s;
                    row[i + half] = x0 * s + x1 * c;
                }
            }
        }
    }

    // The rotation's cos and sin for this call's tokens as [T, K] (cos in the first K/2 columns),
    // computed by the same float arithmetic as rotate().
    gpu::Mat rotary_table(gpu::Ops& ops, uint32_t T, int64_t first_position) const {
        const int half = K_ / 2;
        std::vector<float> table(size_t(T) * K_);
        for (uint32_t t = 0; t < T; ++t) {
            const float pos = float(first_position + t);
            float* row = table.data() + size_t(t) * K_;
            for (int i = 0; i < half; ++i) {
                const float angle = pos * inv_freq_[size_t(i)];
                row[i] = std::cos(angle);
                row[half + i] = std::sin(angle);
            }
        }
        return ops.upload(table.data(), T, uint32_t(K_), "RetNet rotary table");
    }

    // rotate() on the device, in place on x [T, heads * K] (shaders/retnet_rotary.comp).
    void rotate_gpu(gpu::Ops& ops, const gpu::Mat& x, uint32_t heads, const gpu::Mat& table) const {
        gpu::retnet_rotate(ops, x, heads, uint32_t(K_), table);
    }

    int H_ = 0, kv_heads_ = 0, K_ = 0, V_ = 0;
    std::string feature_map_;
    std::vector<float> log_gamma_, inv_freq_;
    cpu::Linear q_, k_, v_;
    OutputHead out_;
};

} // namespace

std::unique_ptr<Model> make_retnet(std::unique_ptr<Checkpoint> ck) {
    return make_fla_block_model(std::move(ck), "RetNet", mixer_factory<RetentionMixer>());
}

} // namespace statescope
