// RWKV-7 "Goose" (fla/layers/rwkv7.py, fla/models/rwkv7/modeling_rwkv7.py).
//
// Block: residual = pre_norm(x) on layer 0 (norm_first), x = residual + time_mix(attn_norm(residual)),
// x = x + channel_mix(ffn_norm(x)); all norms are LayerNorms (with bias when norm_bias).
//
// Time mix. Token shift: delta = x_{t-1} - x_t (x_{-1} from the state, "conv_state" in fla's cache),
// x_c = x + delta * x_c for c in r, w, k, v, a, g. Then
//     r = r_proj(x_r)   w = -exp(-1/2) * sigmoid(w_lora(x_w))   (log decay, in (-0.61, 0))
//     k = k_proj(x_k)   v = v_proj(x_v), on layers > 0 lerped towards layer 0's v by sigmoid(v_lora(x_v))
//     a = sigmoid(a_lora(x_a))   g = g_lora(x_g)
//     kk = l2norm_per_head(k * k_k)   k <- k * (1 + (a - 1) * k_a)
// and per head fla's kernel (fused_recurrent_rwkv7_fwd_kernel, state h [K, V] key-major) runs
//     h <- diag(exp(w)) h + (kk * a) ((-kk)^T h) + k v^T        o = h^T r
// which is the common form's DiagPlusRankOne with a = kk * a_t, b = -kk (fla calls them b and a).
// Output: GroupNorm per head (eps = head_dim * norm_eps), plus the "bonus" (sum(r * k * r_k)) v,
// times g, then o_proj.
//
// Channel mix: its own token shift ("ffn_state"), value(relu(key(x + delta * x_k))^2).
#include "statescope/error.h"
#include "gpu/family_kernels.h"
#include "gpu/layers.h"
#include "models/registry.h"
#include "models/rwkv_common.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <regex>

namespace statescope {
namespace {

class Rwkv7TimeMix : public Mixer {
public:
    Rwkv7TimeMix(Checkpoint& ck, const Config& c, int layer, int hidden, int head_dim, int value_dim)
        : layer_(layer), D_(hidden) {
        const std::string p = "model.layers." + std::to_string(layer) + ".attn";
        K_ = head_dim;
        H_ = hidden / head_dim;
        if (value_dim % H_) c.fail("value_dim", "layer " + std::to_string(layer) + ": must be a multiple of the head count");
        V_ = value_dim / H_;
        static const char* mix_names[] = {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g"};
        for (int i = 0; i < 6; ++i) mix_[i] = cpu::Param::load(ck, p + "." + mix_names[i], {1, 1, hidden});
        k_k_ = cpu::Param::load(ck, p + ".k_k", {hidden});
        k_a_ = cpu::Param::load(ck, p + ".k_a", {hidden});
        r_k_ = cpu::Param::load(ck, p + ".r_k", {H_, K_});
        r_ = cpu::Linear::load(ck, p + ".r_proj", hidden, hidden);
        k_ = cpu::Linear::load(ck, p + ".k_proj", hidden, hidden);
        v_ = cpu::Linear::load(ck, p + ".v_proj", value_dim, hidden);
        o_ = cpu::Linear::load(ck, p + ".o_proj", hidden, value_dim);
        // fla derives unset LoRA ranks from the sizes; checkpoints always record them, so we require them.
        const int w_rank = int(c.int_in_range("decay_low_rank_dim", -1, 1, 1 << 16));
        const int a_rank = int(c.int_in_range("a_low_rank_dim", -1, 1, 1 << 16));
        const int v_rank = int(c.int_in_range("v_low_rank_dim", -1, 1, 1 << 16));
        const int g_rank = int(c.int_in_range("gate_low_rank_dim", -1, 1, 1 << 16));
        w_lora_ = LoRA::load(ck, p + ".w_lora", hidden, w_rank, hidden, LoRA::Act::Tanh, true);
        a_lora_ = LoRA::load(ck, p + ".a_lora", hidden, a_rank, hidden, LoRA::Act::None, true);
        if (layer != 0) v_lora_ = LoRA::load(ck, p + ".v_lora", hidden, v_rank, value_dim, LoRA::Act::None, true);
        g_lora_ = LoRA::load(ck, p + ".g_lora", hidden, g_rank, value_dim, LoRA::Act::Sigmoid, false);
        // fuse_norm picks fla's l2_norm (eps 1e-6 inside the sqrt) and GroupNorm; otherwise
        // F.normalize (norm clamped at 1e-12) and nn.GroupNorm. Both GroupNorms have weight and bias.
        fused_ = c.bool_or("fuse_norm", true);
        // RWKV7Model passes no elementwise_affine, so the layer's default (affine, with bias) holds:
        // both are required.
        g_norm_w_ = cpu::Param::load(ck, p + ".g_norm.weight", {value_dim});
        g_norm_b_ = cpu::Param::load(ck, p + ".g_norm.bias", {value_dim});
        g_norm_eps_ = float(K_ * c.number_or("norm_eps", 1e-5));
    }

    LayerInfo info() const override {
        LayerInfo li;
        li.transition = TransitionKind::DiagPlusRankOne;
        li.heads = H_;
        li.key_dim = K_;
        li.value_dim = V_;
        li.mixer_name = "RWKV-7";
        return li;
    }

    void init_state(LayerState& st) const override {
        st.recurrent = Tensor({H_, K_, V_});
        st.aux.push_back({"shift.attn", Tensor({D_})});
    }

    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext& ctx) const override {
        const int T = int(x.rows());
        const cpu::Mat delta = token_shift(x, st.get("shift.attn"));
        const cpu::Mat xr = add_mixed(x, delta, mix_[0]), xw = add_mixed(x, delta, mix_[1]),
                       xk = add_mixed(x, delta, mix_[2]), xv = add_mixed(x, delta, mix_[3]),
                       xa = add_mixed(x, delta, mix_[4]), xg = add_mixed(x, delta, mix_[5]);

        const cpu::Mat r = r_(xr);
        cpu::Mat w = w_lora_(xw);
        for (Eigen::Index i = 0; i < w.size(); ++i) w.data()[i] = -0.6065306597126334f * cpu::sigmoid(w.data()[i]);
        cpu::Mat k = k_(xk);
        cpu::Mat v = v_(xv);
        if (layer_ == 0) {
            ctx.v_first = v;
        } else {
            if (ctx.v_first.rows() != v.rows() || ctx.v_first.cols() != v.cols())
                throw Error("rwkv7 layer " + std::to_string(layer_) + ": layer 0's values (v_first) have " +
                            std::to_string(ctx.v_first.cols()) + " features, this layer has " + std::to_string(v.cols()));
            cpu::Mat mix = v_lora_(xv);
            cpu::apply_sigmoid(mix);
            v += (ctx.v_first - v).cwiseProduct(mix); // torch.lerp(v, v_first, mix)
        }
        cpu::Mat a = a_lora_(xa);
        cpu::apply_sigmoid(a);
        const cpu::Mat g = g_lora_(xg);

        // kk = per-head unit vector along k * k_k; then k <- k * (1 + (a - 1) * k_a).
        cpu::Mat kk(T, D_);
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < D_; ++i) kk(t, i) = k(t, i) * k_k_[i];
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < H_; ++h) {
                float* e = kk.row(t).data() + size_t(h) * K_;
                double ss = 0;
                for (int i = 0; i < K_; ++i) ss += double(e[i]) * e[i];
                const float inv = fused_ ? float(1.0 / std::sqrt(ss + 1e-6)) : float(1.0 / std::max(std::sqrt(ss), 1e-12));
                for (int i = 0; i < K_; ++i) e[i] *= inv;
            }
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < D_; ++i) k(t, i) = k(t, i) * (1.0f + (a(t, i) - 1.0f) * k_a_[i]);

        ScanInputs in;
        in.allocate(TransitionKind::DiagPlusRankOne, T, H_, K_, V_);
        in.log_decay = Tensor({T, H_, K_});
        in.a = Tensor({T, H_, K_});
        in.b = Tensor({T, H_, K_});
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < H_; ++h) {
                const size_t th = size_t(t) * H_ + h;
                for (int i = 0; i < K_; ++i) {
                    const int c = h * K_ + i;
                    in.q_at(t, h)[i] = r(t, c); // scale 1
                    in.k_at(t, 0, h)[i] = k(t, c);
                    in.log_decay.data[th * K_ + i] = w(t, c);
                    in.a.data[th * K_ + i] = kk(t, c) * a(t, c); // fla's b
                    in.b.data[th * K_ + i] = -kk(t, c);          // fla's a
                }
                for (int i = 0; i < V_; ++i) in.v_at(t, 0, h)[i] = v(t, h * V_ + i);
            }
        cpu::Mat o = run_scan(in, st, ctx);

        cpu::layer_norm(o, g_norm_w_, g_norm_b_, g_norm_eps_, V_);
        // gate_output_correction: (o + sum(r * k * r_k) v) * g, per head.
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < H_; ++h) {
                float bonus = 0;
                for (int i = 0; i < K_; ++i) bonus += r(t, h * K_ + i) * k(t, h * K_ + i) * r_k_[h * K_ + i];
                for (int i = 0; i < V_; ++i) {
                    const int c = h * V_ + i;
                    o(t, c) = (o(t, c) + bonus * v(t, c)) * g(t, c);
                }
            }
        return o_(o);
    }

    // forward() step by step on the device.
    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext& ctx) const override {
        const uint32_t T = x.rows;
        const gpu::Mat delta = token_shift_gpu(ops, x, st.get("shift.attn"));
        const gpu::Mat xr = add_mixed_gpu(ops, x, delta, mix_[0]), xw = add_mixed_gpu(ops, x, delta, mix_[1]),
                       xk = add_mixed_gpu(ops, x, delta, mix_[2]), xv = add_mixed_gpu(ops, x, delta, mix_[3]),
                       xa = add_mixed_gpu(ops, x, delta, mix_[4]), xg = add_mixed_gpu(ops, x, delta, mix_[5]);

        const gpu::Mat r = gpu::linear(ops, r_, xr);
        const gpu::Mat w = w_lora_.gpu(ops, xw);
        const gpu::Mat k = gpu::linear(ops, k_, xk);
        const gpu::Mat v = gpu::linear(ops, v_, xv);
        if (layer_ == 0) {
            ctx.gpu_v_first = v;   // forward scratch: alive until the next forward begins
        } else {
            const gpu::Mat& first = ctx.gpu_v_first;
            if (first.rows != v.rows || first.cols != v.cols)
                throw Error("rwkv7 layer " + std::to_string(layer_) + ": layer 0's values (v_first) have " +
                            std::to_string(first.cols) + " features, this layer has " + std::to_string(v.cols));
            const gpu::Mat mix = v_lora_.gpu(ops, xv);
            ops.apply(mix, gpu::Func::Sigmoid);
            // torch.lerp(v, v_first, mix), rounded as the CPU does: v + (v_first - v) * mix.
            const gpu::Mat diff = ops.alloc(T, v.cols, "rwkv7 v_first - v");
            gpu::ElementwiseParams sub, mul;
            sub.op = gpu::Combine::Sub;
            mul.op = gpu::Combine::Mul;
            ops.elementwise(diff, gpu::Operand::of(first), gpu::Operand::of(v), sub);
            ops.elementwise(diff, gpu::Operand::of(diff), gpu::Operand::of(mix), mul);
            ops.add(v, v, diff);
        }
        const gpu::Mat a = a_lora_.gpu(ops, xa);
        ops.apply(a, gpu::Func::Sigmoid);
        const gpu::Mat g = g_lora_.gpu(ops, xg);

        // kk = per-head unit vector along k * k_k. F.normalize's clamp of the norm at 1e-12 becomes
        // 1e-24 inside the square root: the same for any norm above ~1e-10.
        const gpu::Mat kk = ops.alloc(T, uint32_t(D_), "rwkv7 kk");
        gpu::ElementwiseParams mul;
        mul.op = gpu::Combine::Mul;
        ops.elementwise(kk, gpu::Operand::of(k), gpu::Operand::columns(gpu::param(ops, k_k_)), mul);
        ops.norm(kk, gpu::NormKind::L2, nullptr, nullptr, fused_ ? 1e-6f : 1e-24f, uint32_t(K_));
        // k <- k * (1 + (a - 1) * k_a), one rounding per step as on the CPU.
        const gpu::Mat scale = ops.alloc(T, uint32_t(D_), "rwkv7 key scale");
        gpu::ElementwiseParams minus_one;
        minus_one.beta = -1.0f;
        ops.elementwise(scale, gpu::Operand::of(a), {}, minus_one);
        gpu::ElementwiseParams times_ka_plus_one = mul;
        times_ka_plus_one.beta = 1.0f;
        ops.elementwise(scale, gpu::Operand::of(scale), gpu::Operand::columns(gpu::param(ops, k_a_)), times_ka_plus_one);
        ops.mul(k, k, scale);

        gpu::ScanMats in = ops.scan_inputs(TransitionKind::DiagPlusRankOne, int(T), H_, K_, V_, 1, false, true);
        ops.copy(in.q, r);   // scale 1
        ops.copy(in.k, k);
        ops.copy(in.v, v);
        gpu::ElementwiseParams decay;   // w = -exp(-1/2) * sigmoid(w_lora(x_w))
        decay.f = gpu::Func::Sigmoid;
        decay.alpha = -0.6065306597126334f;
        ops.elementwise(in.g, gpu::Operand::of(w), {}, decay);
        ops.elementwise(in.a, gpu::Operand::of(kk), gpu::Operand::of(a), mul);   // fla's b
        gpu::ElementwiseParams negate;
        negate.alpha = -1.0f;
        ops.elementwise(in.b, gpu::Operand::of(kk), {}, negate);                 // fla's a
        const gpu::Mat o = run_scan_gpu(ops, in, st, ctx);

        gpu::layer_norm(ops, o, g_norm_w_, g_norm_b_, g_norm_eps_, uint32_t(V_));
        // gate_output_correction: (o + sum(r * k * r_k) v) * g, per head (a per-head reduction).
        const gpu::Mat rk = gpu::param(ops, r_k_);
        gpu::rwkv7_bonus(ops, o, r, k, rk, v, g, uint32_t(H_), uint32_t(K_), uint32_t(V_));
        return gpu::linear(ops, o_, o);
    }

    void library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const override {
        const std::string L = "L" + std::to_string(layer);
        // fused_recurrent_rwkv7's final state is [N, H, K, V] (p_ht = o_k[:, None] * V + o_v): key-major.
        out.push_back({L + ".recurrent_state", export_state(st.recurrent, H_, K_, V_, /*value_major=*/false)});
        add_shift_state(st, "shift.attn", L + ".conv_state", D_, out);
    }

private:
    int layer_ = 0, D_ = 0, H_ = 0, K_ = 0, V_ = 0;
    cpu::Param mix_[6], k_k_, k_a_, r_k_, g_norm_w_, g_norm_b_;
    cpu::Linear r_, k_, v_, o_;
    LoRA w_lora_, a_lora_, v_lora_, g_lora_;
    bool fused_ = true;
    float g_norm_eps_ = 1e-5f;
};

class Rwkv7ChannelMix : public Mixer {
public:
    Rwkv7ChannelMix(Checkpoint& ck, const std::string& p, int hidden, int intermediate) : D_(hidden) {
        x_k_ = cpu::Param::load(ck, p + ".x_k", {hidden});
        key_ = cpu::Linear::load(ck, p + ".key", intermediate, hidden);
        value_ = cpu::Linear::load(ck, p + ".value", hidden, intermediate);
    }

    void init_state(LayerState& st) const override { st.aux.push_back({"shift.ffn", Tensor({D_})}); }

    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext&) const override {
        const cpu::Mat delta = token_shift(x, st.get("shift.ffn"));
        cpu::Mat h = key_(add_mixed(x, delta, x_k_));
        apply_sqrelu(h);
        return value_(h);
    }

    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext&) const override {
        const gpu::Mat delta = token_shift_gpu(ops, x, st.get("shift.ffn"));
        const gpu::Mat h = gpu::linear(ops, key_, add_mixed_gpu(ops, x, delta, x_k_));
        ops.apply(h, gpu::Func::ReluSquared);
        return gpu::linear(ops, value_, h);
    }

    void library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const override {
        add_shift_state(st, "shift.ffn", "L" + std::to_string(layer) + ".ffn_state", D_, out);
    }

private:
    int D_ = 0;
    cpu::Param x_k_;
    cpu::Linear key_, value_;
};

class Rwkv7Model : public RwkvModel {
public:
    explicit Rwkv7Model(std::unique_ptr<Checkpoint> ck) : RwkvModel(std::move(ck), "RWKV-7") {
        Checkpoint& c = *ck_;
        const Config& cfg = c.config();
        read_common_config(c, info_);
        const int D = info_.hidden_size, L = info_.num_layers;
        if (cfg.has("attn"))
            cfg.fail("attn", "hybrid attention layers are not supported for rwkv7 (fla's RWKV7Block cannot run them either)");
        const std::string act = cfg.string_or("hidden_act", "sqrelu");
        if (act != "sqrelu") cfg.fail("hidden_act", "'" + act + "' is not supported (sqrelu is)");

        // head_dim wins over num_heads when both are given (RWKV7Attention).
        int head_dim = 0;
        if (cfg.has("head_dim")) head_dim = int(cfg.int_in_range("head_dim", 64, 1, D));
        else head_dim = D / int(cfg.int_in_range("num_heads", -1, 1, D));
        if (D % head_dim) cfg.fail("head_dim", "must divide hidden_size");

        std::vector<int> value_dims(size_t(L), D);
        if (const Json* vd = cfg.root().find("value_dim"); vd && !vd->is_null()) {
            if (vd->is_number()) {
                for (int& v : value_dims) v = int(vd->as_number());
            } else if (vd->is_array() && int(vd->size()) == L) {
                for (int l = 0; l < L; ++l) value_dims[size_t(l)] = int(vd->items()[size_t(l)].as_number());
            } else {
                cfg.fail("value_dim", "expected a number or a list with one entry per layer");
            }
            for (int v : value_dims)
                if (v < D || v % D) cfg.fail("value_dim", "each entry must be a positive multiple of hidden_size");
        }

        const int inter = feed_forward_size(cfg, D, 4);
        build([&](int l) { return std::make_unique<Rwkv7TimeMix>(c, cfg, l, D, head_dim, value_dims[size_t(l)]); },
              [&](const std::string& p) { return std::make_unique<Rwkv7ChannelMix>(c, p, D, inter); });
    }

    // fla's token_shift kernel never writes its cache for a one-token forward without a cache, so
    // a reference may hold uninitialised memory there. The token-shift caches hold the outputs of
    // attn_norm (conv_state) and ffn_norm (ffn_state); values no LayerNorm can produce are invalid.
    std::string implausible_reference(const std::string& name, const Tensor& ref) const override {
        static const std::regex shift(R"(^L(\d+)\.(conv_state|ffn_state)$)");
        std::smatch m;
        if (!std::regex_match(name, m, shift)) return {};
        const size_t l = std::stoul(m[1]);
        if (l >= blocks_.size() || ref.numel() != info_.hidden_size) return {};
        const Norm& norm = m[2] == "conv_state" ? blocks_[l].norm1 : blocks_[l].norm2;
        return norm.implausible_output(ref.ptr(), info_.hidden_size);
    }
};

} // namespace

std::unique_ptr<Model> make_rwkv7(std::unique_ptr<Checkpoint> ck) {
    return std::make_unique<Rwkv7Model>(std::move(ck));
}

} // namespace statescope
