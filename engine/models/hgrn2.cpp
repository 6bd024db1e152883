// HGRN2 (fla/layers/hgrn2.py, fla/models/hgrn2/modeling_hgrn2.py): GLA with the key tied to the
// forget gate. Per head (K = expand_ratio, V = hidden / heads):
//     g = logsigmoid(f_proj(x)), raised to the layer's lower bound lb (layers after the first):
//         g = log(lb + (1 - lb) exp(g))
//     k = 1 - exp(g),  q = swish(q_proj(x)),  v = i_proj(x),  A_t = diag(exp(g_t))
// The lower bounds are one model-level tensor [layers, hidden]: softmax over layers, cumsum, minus
// layer 0's share, so layer 0 has none and they grow with depth. The output goes through one
// RMSNorm over all heads together and o_proj. fla calls its GLA kernels with state_v_first=True,
// so the cache holds the state value-major ([H, V, K]).
#include "statescope/error.h"
#include "gpu/layers.h"
#include "models/fla_common.h"

#include <algorithm>
#include <cmath>

namespace statescope {
namespace {

// The model's mixer options, read once from config.json.
struct Hgrn2Options {
    int H = 0, K = 0, V = 0;
    bool short_conv = false;
    int conv_size = 4;
    int lower_bound_layers = 0; // rows of model.lower_bounds; 0 without use_lower_bound
    bool norm_affine = true;    // elementwise_affine of g_norm
};

Hgrn2Options read_hgrn2_options(const Config& c, int hidden) {
    Hgrn2Options o;
    o.norm_affine = c.bool_or("elementwise_affine", true);
    // HGRN2Attention derives the heads from expand_ratio whenever it is given, and only
    // otherwise from num_heads.
    if (c.has("expand_ratio") || !c.has("num_heads")) {
        o.K = int(c.int_in_range("expand_ratio", 128, 1, hidden));
        if (hidden % o.K) c.fail("expand_ratio", "must divide hidden_size");
        o.H = hidden / o.K;
    } else {
        o.H = int(c.int_in_range("num_heads", 1, 1, hidden));
        if (hidden % o.H) c.fail("num_heads", "must divide hidden_size");
        o.K = hidden / o.H;
    }
    o.V = hidden / o.H;
    o.short_conv = c.bool_or("use_short_conv", false);
    if (o.short_conv) o.conv_size = int(c.int_in_range("conv_size", 4, 1, 64));
    // Layer 0 has no lower bound, so a one-layer model never needs the table.
    if (c.bool_or("use_lower_bound", true)) {
        const int L = int(c.int_in_range("num_hidden_layers", -1, 1, 4096));
        if (L > 1 && o.H * o.K != hidden)
            c.fail("expand_ratio", "use_lower_bound needs num_heads * expand_ratio == hidden_size");
        o.lower_bound_layers = L;
    }
    return o;
}

class Hgrn2Mixer : public RecurrentMixer {
public:
    Hgrn2Mixer(Checkpoint& ck, const Hgrn2Options& o, int layer, int hidden) : H_(o.H), K_(o.K), V_(o.V) {
        const std::string p = "model.layers." + std::to_string(layer) + ".attn";
        const int forget_dim = H_ * K_;
        q_ = cpu::Linear::load(ck, p + ".q_proj", forget_dim, hidden);
        f_ = cpu::Linear::load(ck, p + ".f_proj", forget_dim, hidden);
        i_ = cpu::Linear::load(ck, p + ".i_proj", hidden, hidden);
        out_.out = cpu::Linear::load(ck, p + ".o_proj", hidden, hidden);
        if (o.short_conv) {
            // HGRN2Block passes no conv_bias, and HGRN2's convolutions have no activation.
            const int W = o.conv_size;
            convs_.add(cpu::ShortConv::load(ck, p + ".q_conv1d", forget_dim, W, false, false), "conv.q");
            convs_.add(cpu::ShortConv::load(ck, p + ".f_conv1d", forget_dim, W, false, false), "conv.f");
            convs_.add(cpu::ShortConv::load(ck, p + ".i_conv1d", hidden, W, false, false), "conv.i");
        }
        // rms_norm_linear is called without eps, so its default 1e-5 applies, not norm_eps. One norm
        // over all heads together, no gate.
        out_.norm = OutputNorm::load(ck, p + ".g_norm", hidden, 1e-5f, o.norm_affine);
        describe(TransitionKind::Diagonal, H_, K_, V_, "HGRN2");
        value_major_ = true;

        if (o.lower_bound_layers > 0 && layer > 0) {
            const int L = o.lower_bound_layers;
            const float* raw = ck.f32("model.lower_bounds", {L, hidden});
            // softmax over layers per channel; this layer's bound = sum of the shares of layers 1..layer.
            lower_bound_.assign(size_t(hidden), 0.0f);
            for (int ch = 0; ch < hidden; ++ch) {
                double mx = -INFINITY;
                for (int l = 0; l < L; ++l) mx = std::max(mx, double(raw[size_t(l) * hidden + ch]));
                double total = 0, upto = 0;
                for (int l = 0; l < L; ++l) {
                    const double e = std::exp(double(raw[size_t(l) * hidden + ch]) - mx);
                    total += e;
                    if (l >= 1 && l <= layer) upto += e;
                }
                lower_bound_[size_t(ch)] = float(upto / total);
            }
            upper_share_.resize(lower_bound_.size());
            for (size_t ch = 0; ch < lower_bound_.size(); ++ch) upper_share_[ch] = 1.0f - lower_bound_[ch];
        }
    }

    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext& ctx) const override {
        const int T = int(x.rows());
        cpu::Mat q = q_(x), f = f_(x), v = i_(x);
        convs_.apply(st, {&q, &f, &v});
        cpu::apply_silu(q);

        ScanInputs in;
        in.allocate(TransitionKind::Diagonal, T, H_, K_, V_);
        in.log_decay = Tensor({T, H_, K_});
        const float scale = 1.0f / std::sqrt(float(K_));
        for (int t = 0; t < T; ++t)
            for (int h = 0; h < H_; ++h) {
                for (int i = 0; i < K_; ++i) {
                    const int ch = h * K_ + i;
                    float g = cpu::log_sigmoid(f(t, ch));
                    if (!lower_bound_.empty()) {
                        // logaddexp(log(lb), log1p(-lb) + g)
                        const float lb = lower_bound_[size_t(ch)];
                        const float a = std::log(lb), b = std::log1p(-lb) + g;
                        const float hi = std::max(a, b), lo = std::min(a, b);
                        g = hi == -INFINITY ? hi : hi + std::log1p(std::exp(lo - hi));
                    }
                    in.q_at(t, h)[i] = q(t, ch) * scale;
                    in.k_at(t, 0, h)[i] = 1.0f - std::exp(g);
                    in.log_decay.data[(size_t(t) * H_ + h) * K_ + i] = g;
                }
                for (int i = 0; i < V_; ++i) in.v_at(t, 0, h)[i] = v(t, h * V_ + i);
            }
        cpu::Mat o = run_scan(in, st, ctx);
        return out_(o, x);
    }

    // forward() on the device, step by step. The lower bound is applied in its exponential form,
    // exp(g) = lb + (1 - lb) sigmoid(f), which is the same number as forward()'s logaddexp and
    // needs only element-wise steps.
    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext& ctx) const override {
        const uint32_t T = x.rows;
        gpu::Mat q = gpu::linear(ops, q_, x), f = gpu::linear(ops, f_, x), v = gpu::linear(ops, i_, x);
        convs_.apply_gpu(ops, st, {&q, &f, &v});
        gpu::ScanMats in = ops.scan_inputs(TransitionKind::Diagonal, int(T), H_, K_, V_, 1, false, true);
        gpu::ElementwiseParams query;
        query.f = gpu::Func::Silu;
        query.alpha = 1.0f / std::sqrt(float(K_));
        ops.elementwise(in.q, gpu::Operand::of(q), {}, query);
        if (lower_bound_.empty()) {
            gpu::ElementwiseParams gate;
            gate.f = gpu::Func::LogSigmoid;
            ops.elementwise(in.g, gpu::Operand::of(f), {}, gate);
        } else {
            const gpu::Mat lb = gpu::param(ops, lower_bound_.data(), uint32_t(lower_bound_.size()));
            const gpu::Mat share = gpu::param(ops, upper_share_.data(), uint32_t(upper_share_.size()));
            gpu::ElementwiseParams scaled_sigmoid; // (1 - lb) * sigmoid(f)
            scaled_sigmoid.op = gpu::Combine::Mul;
            gpu::ElementwiseParams sigmoid;
            sigmoid.f = gpu::Func::Sigmoid;
            ops.elementwise(in.g, gpu::Operand::of(f), {}, sigmoid);
            ops.elementwise(in.g, gpu::Operand::of(in.g), gpu::Operand::columns(share), scaled_sigmoid);
            gpu::ElementwiseParams log_sum; // log(lb + (1 - lb) sigmoid(f))
            log_sum.op = gpu::Combine::Add;
            log_sum.f = gpu::Func::Log;
            ops.elementwise(in.g, gpu::Operand::of(in.g), gpu::Operand::columns(lb), log_sum);
        }
        gpu::ElementwiseParams key; // k = 1 - exp(g), as forward() computes it
        key.f = gpu::Func::Exp;
        key.alpha = -1.0f;
        key.beta = 1.0f;
        ops.elementwise(in.k, gpu::Operand::of(in.g), {}, key);
        ops.copy(in.v, v);
        const gpu::Mat o = run_scan_gpu(ops, in, st, ctx);
        return out_.gpu(ops, o, x);
    }

private:
    int H_ = 0, K_ = 0, V_ = 0;
    std::vector<float> lower_bound_; // [hidden]; empty for layer 0 or without use_lower_bound
    std::vector<float> upper_share_; // 1 - lower_bound_ (the GPU path's form of the bound)
    cpu::Linear q_, f_, i_;
    OutputHead out_; // no gate, one norm over all heads
};

} // namespace

std::unique_ptr<Model> make_hgrn2(std::unique_ptr<Checkpoint> ck) {
    return make_fla_block_model(std::move(ck), "HGRN2", mixer_factory<Hgrn2Mixer>(read_hgrn2_options));
}

} // namespace statescope
