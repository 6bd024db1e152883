// Mamba-2 / SSD (transformers' Mamba2Mixer.torch_forward): in_proj gives the gate z [I], xBC
// [I + 2 G N] and dt [H]; xBC goes through a depthwise causal conv1d + silu and splits into x
// (H heads of head_dim P), B and C (G groups of d_state N, heads split evenly among the groups);
// dt = clamp(softplus(dt + dt_bias), time_step_limit). Per head h the state (P x N) runs
//     S_h <- exp(dt_h A_h) S_h + dt_h x_h B_g^T        y_h = S_h C_g + D_h x_h
// then MambaRMSNormGated: y * silu(z), RMS-normalised over the whole intermediate size (the
// gate comes before the norm, and transformers uses one group even when n_groups > 1, unlike
// mamba_ssm's group_size = I / G), and out_proj. Common form: Scalar decay log_decay = dt_h A_h,
// k = B_g, v = x_h, beta = dt_h, q = C_g, with K = N and V = P. transformers' cache holds the
// state value-major, [heads, head_dim, d_state].
#include "statescope/error.h"
#include "gpu/layers.h"
#include "models/fla_common.h"
#include "models/mamba_common.h"

#include <algorithm>
#include <cmath>
#include <tuple>

namespace statescope {
namespace {

// The model's mixer options, read once from config.json.
struct Mamba2Options {
    int I = 0, H = 0, P = 0, N = 0, G = 1; // intermediate size, heads, head_dim, d_state, groups
    int W = 4;                             // conv kernel
    bool use_bias = false, use_conv_bias = true;
    float dt_min = 0, dt_max = INFINITY, eps = 1e-5f;
};

Mamba2Options read_mamba2_options(const Config& c, int hidden) {
    Mamba2Options o;
    // The mixer derives the intermediate size from expand, whatever else the config says.
    const double expand = c.number_or("expand", 2);
    if (!(expand > 0) || expand * hidden > (1 << 20)) c.fail("expand", "out of range");
    o.I = int(expand * hidden);
    o.H = int(c.int_in_range("num_heads", 128, 1, 1 << 16));
    o.P = int(c.int_in_range("head_dim", 64, 1, 1 << 16));
    if (int64_t(o.H) * o.P != o.I)
        c.fail("num_heads", "num_heads * head_dim = " + std::to_string(o.H) + " * " + std::to_string(o.P) +
                                " must equal the intermediate size expand * hidden_size = " + std::to_string(o.I));
    o.N = int(c.int_in_range("state_size", 128, 1, 4096));
    o.G = int(c.int_in_range("n_groups", 8, 1, o.H));
    if (o.H % o.G) c.fail("n_groups", "must divide num_heads (" + std::to_string(o.H) + ")");
    o.W = int(c.int_in_range("conv_kernel", 4, 1, 64));
    o.use_bias = c.bool_or("use_bias", false); // Mamba2Config's default
    o.use_conv_bias = c.bool_or("use_conv_bias", true);
    std::tie(o.dt_min, o.dt_max) = read_time_step_limit(c);
    o.eps = float(c.number_or("layer_norm_epsilon", 1e-5));
    return o;
}

class Mamba2Mixer : public RecurrentMixer {
public:
    Mamba2Mixer(Checkpoint& ck, const Mamba2Options& o, int layer, int hidden)
        : I_(o.I), H_(o.H), P_(o.P), N_(o.N), G_(o.G), dt_min_(o.dt_min), dt_max_(o.dt_max), eps_(o.eps) {
        const std::string p = mamba_mixer_prefix(layer);
        const bool use_bias = o.use_bias;
        conv_dim_ = I_ + 2 * G_ * N_;
        in_ = cpu::Linear::load(ck, p + ".in_proj", I_ + conv_dim_ + H_, hidden, use_bias);
        convs_.add(cpu::ShortConv::load(ck, p + ".conv1d", conv_dim_, o.W, o.use_conv_bias, /*silu=*/true), "conv.xBC");
        dt_bias_ = cpu::Param::load(ck, p + ".dt_bias", {H_});
        const cpu::Param a_log = cpu::Param::load(ck, p + ".A_log", {H_});
        A_.resize(size_t(H_));
        for (int h = 0; h < H_; ++h) A_[size_t(h)] = -std::exp(a_log[h]);
        D_ = cpu::Param::load(ck, p + ".D", {H_});
        norm_ = cpu::Param::load(ck, p + ".norm.weight", {I_});
        out_ = cpu::Linear::load(ck, p + ".out_proj", hidden, I_, use_bias);
        describe(TransitionKind::Scalar, H_, N_, P_, "Mamba-2 SSD");
    }

    cpu::Mat forward(const cpu::Mat& hidden, LayerState& st, ForwardContext& ctx) const override {
        const int T = int(hidden.rows());
        const cpu::Mat proj = in_(hidden); // [T, I + conv_dim + H]: z, xBC, dt
        const cpu::Mat xbc = convs_(0, proj.middleCols(I_, conv_dim_), st);
        const int heads_per_group = H_ / G_;

        ScanInputs in;
        in.allocate(TransitionKind::Scalar, T, H_, N_, P_, 1, /*with_beta=*/true);
        in.log_decay = Tensor({T, H_});
        for (int t = 0; t < T; ++t) {
            for (int h = 0; h < H_; ++h) {
                const int g = h / heads_per_group; // repeat_interleave: consecutive heads share a group
                const float* B = &xbc(t, I_ + g * N_);
                const float* C = &xbc(t, I_ + G_ * N_ + g * N_);
                float dt = cpu::softplus(proj(t, I_ + conv_dim_ + h) + dt_bias_[h]);
                dt = std::clamp(dt, dt_min_, dt_max_);
                std::copy(B, B + N_, in.k_at(t, 0, h));
                std::copy(C, C + N_, in.q_at(t, h));
                std::copy(&xbc(t, h * P_), &xbc(t, h * P_) + P_, in.v_at(t, 0, h));
                in.beta.data[size_t(t) * H_ + h] = dt;
                in.log_decay.data[size_t(t) * H_ + h] = dt * A_[size_t(h)];
            }
        }
        cpu::Mat y = run_scan(in, st, ctx); // [T, H * P]
        for (int t = 0; t < T; ++t)
            for (int i = 0; i < I_; ++i) {
                const float with_skip = y(t, i) + D_[i / P_] * xbc(t, i);
                y(t, i) = with_skip * cpu::silu(proj(t, i));
            }
        cpu::rms_norm(y, norm_, eps_);
        return out_(y);
    }

    // forward() on the device, step by step.
    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& hidden, gpu::LayerState& st, ForwardContext& ctx) const override {
        const uint32_t T = hidden.rows, I = uint32_t(I_), H = uint32_t(H_), P = uint32_t(P_), N = uint32_t(N_),
                       G = uint32_t(G_), conv_dim = uint32_t(conv_dim_);
        const gpu::Mat proj = gpu::linear(ops, in_, hidden); // [T, I + conv_dim + H]: z, xBC, dt
        const gpu::Mat xbc = convs_.gpu(ops, 0, proj.cols_range(I, conv_dim), st);
        const gpu::Mat z = proj.cols_range(0, I), x = xbc.cols_range(0, I);
        const uint32_t heads_per_group = H / G;

        gpu::ScanMats in = ops.scan_inputs(TransitionKind::Scalar, int(T), H_, N_, P_, 1, /*has_beta=*/true,
                                           /*has_decay=*/true);
        // beta = dt = clamp(softplus(dt + dt_bias), time_step_limit); log decay = dt * A_h.
        gpu::ElementwiseParams time_step;
        time_step.op = gpu::Combine::Add;
        time_step.f = gpu::Func::Softplus;
        time_step.lo = dt_min_;
        time_step.hi = dt_max_;
        ops.elementwise(in.beta, gpu::Operand::of(proj.cols_range(I + conv_dim, H)),
                        gpu::Operand::columns(gpu::param(ops, dt_bias_)), time_step);
        gpu::ElementwiseParams mul;
        mul.op = gpu::Combine::Mul;
        ops.elementwise(in.g, gpu::Operand::of(in.beta), gpu::Operand::columns(gpu::param(ops, A_.data(), H)), mul);
        // Consecutive heads share a group (repeat_interleave): k = B_g, q = C_g, v = x_h.
        gpu::repeat_heads(ops, in.k, xbc.cols_range(I, G * N), N, heads_per_group);
        gpu::repeat_heads(ops, in.q, xbc.cols_range(I + G * N, G * N), N, heads_per_group);
        ops.copy(in.v, x);
        const gpu::Mat y = run_scan_gpu(ops, in, st, ctx); // [T, H * P]

        // y = (y + D_h x) * silu(z), then the RMS norm over the whole intermediate size. x is free
        // once the scan inputs hold their copy of it.
        const gpu::Mat D = gpu::param(ops, D_);
        ops.elementwise(x, gpu::Operand::of(x), gpu::Operand{D.buf, D.offset, 0, P, 1, 0}, mul); // D[i / P]
        ops.add(y, y, x);
        gpu::ElementwiseParams gate;
        gate.op = gpu::Combine::MulSiluB;
        ops.elementwise(y, gpu::Operand::of(y), gpu::Operand::of(z), gate);
        gpu::rms_norm(ops, y, norm_, eps_);
        return gpu::linear(ops, out_, y);
    }

    void library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const override {
        out.push_back({mamba_cache_name(layer, "conv_states"), export_conv_state(*st.find("conv.xBC"))});
        out.push_back({mamba_cache_name(layer, "recurrent_states"),
                       export_state(st.recurrent, H_, N_, P_, /*value_major=*/true)});
    }

private:
    int I_ = 0, H_ = 0, P_ = 0, N_ = 0, G_ = 1, conv_dim_ = 0;
    float dt_min_ = 0, dt_max_ = INFINITY, eps_ = 1e-5f;
    cpu::Linear in_, out_;
    cpu::Param dt_bias_, D_, norm_;
    std::vector<float> A_; // -exp(A_log), [H]
};

} // namespace

std::unique_ptr<Model> make_mamba2(std::unique_ptr<Checkpoint> ck) {
    return make_mamba_backbone_model(std::move(ck), "Mamba-2", /*tie_default=*/false,
                                     mixer_factory<Mamba2Mixer>(read_mamba2_options));
}

} // namespace statescope
