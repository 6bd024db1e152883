// RWKV-6 "Finch" (fla/layers/rwkv6.py, fla/models/rwkv6/modeling_rwkv6.py).
//
// Block (as RWKV-7's): residual = pre_norm(x) on layer 0 (norm_first), x = residual +
// time_mix(attn_norm(residual)), x = x + channel_mix(ffn_norm(x)); all norms LayerNorms (with bias
// when norm_bias).
//
// Time mix. Token shift delta = x_{t-1} - x_t (x_{-1} from the state, "conv_state" in fla's cache),
// then the data-dependent lerp (ddlerp): one LoRA over x + delta * mu gives five mixes,
//     m = tanh(x_proj.0(x + delta * x_proj.0.mu)) split into 5 blocks of rank R,
//     m_n = block_n x_proj.2[:, n R : (n+1) R]^T + x_bias[n]            n = r, w, k, v, g
// and each projection reads its own mix: r = r_proj(x + delta * m_r), likewise k, v, g, and
// w = w_proj LoRA (tanh, with bias) of x + delta * m_w. The log decay is -exp(w) (vector decay).
// fla's kernel (fused_recurrent_rwkv6_fwd_kernel, state h [K, V] key-major, scale 1):
//     o_t = (h + diag(u) k_t v_t^T)^T r_t;    h <- diag(exp(-exp(w_t))) h + k_t v_t^T
// which is the common form's vector decay with the bonus read of core/scan.h (u = the layer's
// `bonus` [H, K]): the token reads the state before its own update and its own write through
// diag(u). Output: GroupNorm per head (eps norm_eps), times swish(g), then o_proj.
//
// Channel mix: its own token shift ("ffn_state"), sigmoid(receptance(x + delta * mu_r)) *
// value(relu(key(x + delta * mu_k))^2).
#include "gpu/layers.h"
#include "models/registry.h"
#include "models/rwkv_common.h"
#include "statescope/error.h"

#include <cmath>
#include <optional>

namespace statescope {
namespace {

// x + delta * mix with a mix per token and feature (the ddlerp's mixes).
cpu::Mat add_mixed_rows(const cpu::Mat& x, const cpu::Mat& delta, const cpu::Mat& mix) {
    return x + delta.cwiseProduct(mix);
}
gpu::Mat add_mixed_rows_gpu(gpu::Ops& ops, const gpu::Mat& x, const gpu::Mat& delta, const gpu::Mat& mix) {
    const gpu::Mat out = ops.alloc(x.rows, x.cols, "RWKV-6 ddlerp mix");
    ops.mul(out, delta, mix);
    ops.add(out, x, out);
    return out;
}

class Rwkv6TimeMix : public Mixer {
public:
    Rwkv6TimeMix(Checkpoint& ck, const Config& c, int layer, int hidden) : D_(hidden) {
        const std::string p = "model.layers." + std::to_string(layer) + ".attn";
        H_ = int(c.int_in_range("num_heads", 4, 1, 4096));
        const int key_dim = int(hidden * c.number_or("expand_k", 0.5));
        const int value_dim = int(hidden * c.number_or("expand_v", 1.0));
        if (key_dim <= 0 || key_dim % H_) c.fail("expand_k", "the key dim must be a positive multiple of num_heads");
        if (value_dim <= 0 || value_dim % H_)
            c.fail("expand_v", "the value dim must be a positive multiple of num_heads");
        K_ = key_dim / H_;
        V_ = value_dim / H_;
        R_ = int(c.int_in_range("proj_low_rank_dim", 32, 1, 1 << 16));
        const int gate_rank = int(c.int_in_range("gate_low_rank_dim", 64, 1, 1 << 16));

        mu_ = cpu::Param::load(ck, p + ".x_proj.0.mu", {hidden});
        x_down_ = cpu::Linear::load(ck, p + ".x_proj.0.linear", 5 * R_, hidden);
        x_up_ = cpu::Linear::load(ck, p + ".x_proj.2", hidden, 5 * R_);
        x_bias_ = cpu::Param::load(ck, p + ".x_bias", {5, hidden});
        // x_proj.2 [hidden, 5 R] as five [hidden, R] blocks (column ranges): mix n = block_n(tanh part n).
        for (int n = 0; n < 5; ++n) {
            block_w_[n].resize(size_t(hidden) * R_);
            for (int i = 0; i < hidden; ++i)
                for (int r = 0; r < R_; ++r) block_w_[n][size_t(i) * R_ + r] = x_up_.w[size_t(i) * 5 * R_ + n * R_ + r];
            blocks_[n].w = block_w_[n].data();
            blocks_[n].b = x_bias_.p + size_t(n) * hidden; // torch adds x_bias after the product
            blocks_[n].out = hidden;
            blocks_[n].in = R_;
        }
        r_ = cpu::Linear::load(ck, p + ".r_proj.linear", key_dim, hidden);
        w_ = LoRA::load(ck, p + ".w_proj.linear", hidden, gate_rank, key_dim, LoRA::Act::Tanh, true);
        k_ = cpu::Linear::load(ck, p + ".k_proj.linear", key_dim, hidden);
        v_ = cpu::Linear::load(ck, p + ".v_proj.linear", value_dim, hidden);
        g_ = cpu::Linear::load(ck, p + ".g_proj.linear", value_dim, hidden);
        bonus_ = cpu::Param::load(ck, p + ".bonus", {H_, K_});
        // RWKV6Block passes no elementwise_affine, so the layer's default (affine, with bias) holds.
        g_norm_w_ = cpu::Param::load(ck, p + ".g_norm.weight", {value_dim});
        g_norm_b_ = cpu::Param::load(ck, p + ".g_norm.bias", {value_dim});
        g_norm_eps_ = float(c.number_or("norm_eps", 1e-5));
        o_ = cpu::Linear::load(ck, p + ".o_proj", hidden, value_dim);
    }

    LayerInfo info() const override {
        LayerInfo li;
        li.transition = TransitionKind::Diagonal;
        li.heads = H_;
        li.key_dim = K_;
        li.value_dim = V_;
        li.mixer_name = "RWKV-6 (bonus read)"; // o_t reads S_{t-1} plus diag(u): core/scan.h
        return li;
    }

    void init_state(LayerState& st) const override {
        st.recurrent = Tensor({H_, K_, V_});
        st.aux.push_back({"shift.attn", Tensor({D_})});
    }

    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext& ctx) const override {
        const int T = int(x.rows());
        const cpu::Mat delta = token_shift(x, st.get("shift.attn"));
        cpu::Mat low = x_down_(add_mixed(x, delta, mu_));
        low = low.array().tanh().matrix();
        cpu::Mat mix[5];
        for (int n = 0; n < 5; ++n) mix[n] = blocks_[n](low.middleCols(n * R_, R_));
        const cpu::Mat r = r_(add_mixed_rows(x, delta, mix[0]));
        const cpu::Mat w = w_(add_mixed_rows(x, delta, mix[1]));
        const cpu::Mat k = k_(add_mixed_rows(x, delta, mix[2]));
        const cpu::Mat v = v_(add_mixed_rows(x, delta, mix[3]));
        const cpu::Mat g = g_(add_mixed_rows(x, delta, mix[4]));

        ScanInputs in;
        in.allocate(TransitionKind::Diagonal, T, H_, K_, V_);
        in.log_decay = Tensor({T, H_, K_});
        in.bonus = Tensor({H_, K_}, std::vector<float>(bonus_.p, bonus_.p + size_t(H_) * K_));
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < H_; ++h) {
                for (int i = 0; i < K_; ++i) {
                    const int c = h * K_ + i;
                    in.q_at(t, h)[i] = r(t, c); // scale 1
                    in.k_at(t, 0, h)[i] = k(t, c);
                    in.log_decay.data[(size_t(t) * H_ + h) * K_ + i] = -std::exp(w(t, c));
                }
                for (int i = 0; i < V_; ++i) in.v_at(t, 0, h)[i] = v(t, h * V_ + i);
            }
        cpu::Mat o = run_scan(in, st, ctx);
        cpu::layer_norm(o, g_norm_w_, g_norm_b_, g_norm_eps_, V_);
        for (Eigen::Index i = 0; i < o.size(); ++i) o.data()[i] *= cpu::silu(g.data()[i]);
        return o_(o);
    }

    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext& ctx) const override {
        const uint32_t T = x.rows;
        const gpu::Mat delta = token_shift_gpu(ops, x, st.get("shift.attn"));
        const gpu::Mat low = gpu::linear(ops, x_down_, add_mixed_gpu(ops, x, delta, mu_));
        ops.apply(low, gpu::Func::Tanh);
        gpu::Mat mix[5];
        for (uint32_t n = 0; n < 5; ++n)
            mix[n] = gpu::linear(ops, blocks_[n], low.cols_range(n * uint32_t(R_), uint32_t(R_)));
        const gpu::Mat r = gpu::linear(ops, r_, add_mixed_rows_gpu(ops, x, delta, mix[0]));
        const gpu::Mat w = w_.gpu(ops, add_mixed_rows_gpu(ops, x, delta, mix[1]));
        const gpu::Mat k = gpu::linear(ops, k_, add_mixed_rows_gpu(ops, x, delta, mix[2]));
        const gpu::Mat v = gpu::linear(ops, v_, add_mixed_rows_gpu(ops, x, delta, mix[3]));
        const gpu::Mat g = gpu::linear(ops, g_, add_mixed_rows_gpu(ops, x, delta, mix[4]));

        gpu::ScanMats in =
            ops.scan_inputs(TransitionKind::Diagonal, int(T), H_, K_, V_, 1, false, true, /*bonus=*/true);
        ops.copy(in.q, r); // scale 1
        ops.copy(in.k, k);
        ops.copy(in.v, v);
        gpu::ElementwiseParams decay; // -exp(w)
        decay.f = gpu::Func::Exp;
        decay.alpha = -1.0f;
        ops.elementwise(in.g, gpu::Operand::of(w), {}, decay);
        ops.copy(in.bonus, gpu::param(ops, bonus_));
        const gpu::Mat o = run_scan_gpu(ops, in, st, ctx);
        gpu::layer_norm(ops, o, g_norm_w_, g_norm_b_, g_norm_eps_, uint32_t(V_));
        gpu::ElementwiseParams gate;
        gate.op = gpu::Combine::MulSiluB;
        ops.elementwise(o, gpu::Operand::of(o), gpu::Operand::of(g), gate);
        return gpu::linear(ops, o_, o);
    }

    void library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const override {
        const std::string L = "L" + std::to_string(layer);
        // fused_recurrent_rwkv6's final state is [N, H, K, V]: key-major.
        out.push_back({L + ".recurrent_state", export_state(st.recurrent, H_, K_, V_, /*value_major=*/false)});
        add_shift_state(st, "shift.attn", L + ".conv_state", D_, out);
    }

private:
    int D_ = 0, H_ = 0, K_ = 0, V_ = 0, R_ = 0;
    cpu::Param mu_, x_bias_, bonus_, g_norm_w_, g_norm_b_;
    cpu::Linear x_down_, x_up_, r_, k_, v_, g_, o_;
    cpu::Linear blocks_[5]; // views into block_w_ with x_bias rows as biases
    std::vector<float> block_w_[5];
    LoRA w_;
    float g_norm_eps_ = 1e-5f;
};

class Rwkv6ChannelMix : public Mixer {
public:
    Rwkv6ChannelMix(Checkpoint& ck, const std::string& p, int hidden, int intermediate) : D_(hidden) {
        key_mu_ = cpu::Param::load(ck, p + ".key.mu", {hidden});
        key_ = cpu::Linear::load(ck, p + ".key.linear", intermediate, hidden);
        value_ = cpu::Linear::load(ck, p + ".value", hidden, intermediate);
        receptance_mu_ = cpu::Param::load(ck, p + ".receptance.mu", {hidden});
        receptance_ = cpu::Linear::load(ck, p + ".receptance.linear", hidden, hidden);
    }

    void init_state(LayerState& st) const override { st.aux.push_back({"shift.ffn", Tensor({D_})}); }

    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext&) const override {
        const cpu::Mat delta = token_shift(x, st.get("shift.ffn"));
        cpu::Mat h = key_(add_mixed(x, delta, key_mu_));
        apply_sqrelu(h);
        cpu::Mat out = value_(h);
        cpu::Mat r = receptance_(add_mixed(x, delta, receptance_mu_));
        cpu::apply_sigmoid(r);
        return r.cwiseProduct(out);
    }

    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext&) const override {
        const gpu::Mat delta = token_shift_gpu(ops, x, st.get("shift.ffn"));
        const gpu::Mat h = gpu::linear(ops, key_, add_mixed_gpu(ops, x, delta, key_mu_));
        ops.apply(h, gpu::Func::ReluSquared);
        const gpu::Mat out = gpu::linear(ops, value_, h);
        const gpu::Mat r = gpu::linear(ops, receptance_, add_mixed_gpu(ops, x, delta, receptance_mu_));
        ops.apply(r, gpu::Func::Sigmoid);
        ops.mul(out, r, out);
        return out;
    }

    void library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const override {
        add_shift_state(st, "shift.ffn", "L" + std::to_string(layer) + ".ffn_state", D_, out);
    }

private:
    int D_ = 0;
    cpu::Param key_mu_, receptance_mu_;
    cpu::Linear key_, value_, receptance_;
};

class Rwkv6Model : public RwkvModel {
public:
    explicit Rwkv6Model(std::unique_ptr<Checkpoint> ck) : RwkvModel(std::move(ck), "RWKV-6") {
        Checkpoint& c = *ck_;
        const Config& cfg = c.config();
        read_common_config(c, info_);
        const int D = info_.hidden_size;
        if (cfg.has("attn")) cfg.fail("attn", "hybrid attention layers are not supported for rwkv6");
        const std::string act = cfg.string_or("hidden_act", "sqrelu");
        if (act != "sqrelu") cfg.fail("hidden_act", "'" + act + "' is not supported (sqrelu is)");
        const std::string gate = cfg.string_or("gate_fn", "swish");
        if (gate != "swish" && gate != "silu") cfg.fail("gate_fn", "'" + gate + "' is not supported (swish is)");
        const int inter = feed_forward_size(cfg, D, 3.5);
        build([&](int l) { return std::make_unique<Rwkv6TimeMix>(c, cfg, l, D); },
              [&](const std::string& p) { return std::make_unique<Rwkv6ChannelMix>(c, p, D, inter); });
    }
};

} // namespace

std::unique_ptr<Model> make_rwkv6(std::unique_ptr<Checkpoint> ck) {
    return std::make_unique<Rwkv6Model>(std::move(ck));
}

} // namespace statescope
