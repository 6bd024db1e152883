// Mamba-1 (transformers' MambaMixer.slow_forward): in_proj splits into x and the gate z; x goes
// through a depthwise causal conv1d + silu; x_proj gives the time step's low-rank input and the
// selective B_t, C_t; dt = softplus(dt_proj(.)). Per inner channel d the state h_d (d_state) runs
//     h_d <- exp(dt_d A_d) * h_d + dt_d x_d B_t        y_d = h_d . C_t + D_d x_d
// and the output is out_proj(y * silu(z)). In the common form each inner channel is a head with
// K = d_state, V = 1: Diagonal decay log_decay = dt_d A_d, k = B_t, v = x_d, beta = dt_d, q = C_t.
#include "statescope/error.h"
#include "gpu/layers.h"
#include "models/fla_common.h"
#include "models/mamba_common.h"

#include <cmath>

namespace statescope {
namespace {

// The model's mixer options, read once from config.json.
struct MambaOptions {
    int N = 0, I = 0, R = 0;   // d_state, intermediate size, time-step rank
    int W = 4;                 // conv kernel
    bool use_bias = true, use_conv_bias = true;
};

MambaOptions read_mamba_options(const Config& c, int hidden) {
    MambaOptions o;
    o.N = int(c.int_in_range("state_size", 16, 1, 4096));
    // MambaConfig derives intermediate_size = int(expand * hidden) and saves it; older configs
    // have only expand.
    if (c.has("intermediate_size")) {
        o.I = int(c.int_in_range("intermediate_size", 0, 1, 1 << 20));
    } else {
        const double expand = c.number_or("expand", 2);
        if (!(expand > 0) || expand * hidden > (1 << 20)) c.fail("expand", "out of range");
        o.I = int(expand * hidden);
        if (o.I < 1) c.fail("expand", "gives an intermediate size below 1");
    }
    o.R = read_time_step_rank(c, hidden);
    o.W = int(c.int_in_range("conv_kernel", 4, 1, 64));
    o.use_bias = c.bool_or("use_bias", true); // MambaConfig's default
    o.use_conv_bias = c.bool_or("use_conv_bias", true);
    return o;
}

class MambaMixer : public RecurrentMixer {
public:
    MambaMixer(Checkpoint& ck, const MambaOptions& o, int layer, int hidden) : N_(o.N), I_(o.I), R_(o.R) {
        const std::string p = mamba_mixer_prefix(layer);
        const bool use_bias = o.use_bias;
        in_ = cpu::Linear::load(ck, p + ".in_proj", 2 * I_, hidden, use_bias);
        convs_.add(cpu::ShortConv::load(ck, p + ".conv1d", I_, o.W, o.use_conv_bias, /*silu=*/true), "conv.x");
        x_proj_ = cpu::Linear::load(ck, p + ".x_proj", R_ + 2 * N_, I_);
        dt_proj_ = cpu::Linear::load(ck, p + ".dt_proj", I_, R_, /*bias=*/true);
        const cpu::Param a_log = cpu::Param::load(ck, p + ".A_log", {I_, N_});
        A_.resize(size_t(I_) * N_);
        for (size_t i = 0; i < A_.size(); ++i) A_[i] = -std::exp(a_log.p[i]);
        D_ = cpu::Param::load(ck, p + ".D", {I_});
        out_ = cpu::Linear::load(ck, p + ".out_proj", hidden, I_, use_bias);
        describe(TransitionKind::Diagonal, I_, N_, 1, "Mamba selective scan");
    }

    cpu::Mat forward(const cpu::Mat& hidden, LayerState& st, ForwardContext& ctx) const override {
        const int T = int(hidden.rows());
        const cpu::Mat xz = in_(hidden);
        const cpu::Mat x = convs_(0, xz.leftCols(I_), st);
        const cpu::Mat sel = x_proj_(x); // [T, R + 2N]: time step input, B, C
        cpu::Mat dt = dt_proj_(sel.leftCols(R_));
        for (Eigen::Index i = 0; i < dt.size(); ++i) dt.data()[i] = cpu::softplus(dt.data()[i]);

        ScanInputs in;
        in.allocate(TransitionKind::Diagonal, T, I_, N_, 1, 1, /*with_beta=*/true);
        in.log_decay = Tensor({T, I_, N_});
        for (int t = 0; t < T; ++t) {
            const float* B = &sel(t, R_);
            const float* C = &sel(t, R_ + N_);
            for (int d = 0; d < I_; ++d) {
                const float dtd = dt(t, d);
                float* g = in.log_decay.ptr() + (size_t(t) * I_ + d) * N_;
                float* q = in.q_at(t, d);
                float* k = in.k_at(t, 0, d);
                for (int n = 0; n < N_; ++n) {
                    g[n] = dtd * A_[size_t(d) * N_ + n];
                    k[n] = B[n];
                    q[n] = C[n];
                }
                in.v_at(t, 0, d)[0] = x(t, d);
                in.beta.data[size_t(t) * I_ + d] = dtd;
            }
        }
        cpu::Mat y = run_scan(in, st, ctx); // [T, I]
        for (int t = 0; t < T; ++t)
            for (int d = 0; d < I_; ++d) y(t, d) = (y(t, d) + D_[d] * x(t, d)) * cpu::silu(xz(t, I_ + d));
        return out_(y);
    }

    // forward() on the device, step by step. B_t and C_t are read straight out of x_proj's output
    // by the scan packing: every inner channel (head) reads the same N columns of its row.
    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& hidden, gpu::LayerState& st, ForwardContext& ctx) const override {
        const uint32_t T = hidden.rows, I = uint32_t(I_), N = uint32_t(N_), R = uint32_t(R_);
        const gpu::Mat xz = gpu::linear(ops, in_, hidden);
        const gpu::Mat x = convs_.gpu(ops, 0, xz.cols_range(0, I), st);
        const gpu::Mat z = xz.cols_range(I, I);
        const gpu::Mat sel = gpu::linear(ops, x_proj_, x); // [T, R + 2N]: time step input, B, C
        const gpu::Mat dt = gpu::linear(ops, dt_proj_, sel.cols_range(0, R));
        ops.apply(dt, gpu::Func::Softplus);

        gpu::ScanMats in = ops.scan_inputs(TransitionKind::Diagonal, int(T), I_, N_, 1, 1, /*has_beta=*/true,
                                           /*has_decay=*/true);
        // Column c = d * N + n of q / k reads sel(t, R + N + n) / sel(t, R + n): mul 0, mod N.
        const gpu::Operand B{sel.buf, sel.offset + R, sel.stride, 1, 0, N};
        const gpu::Operand C{sel.buf, sel.offset + R + N, sel.stride, 1, 0, N};
        ops.elementwise(in.k, B, {}, {});
        ops.elementwise(in.q, C, {}, {});
        ops.copy(in.v, x);
        ops.copy(in.beta, dt);
        // log decay (d, n) = dt_d * A[d, n]: dt per group of N columns times A as a row [I * N].
        const gpu::Mat A = gpu::param(ops, A_.data(), I * N);
        gpu::ElementwiseParams mul;
        mul.op = gpu::Combine::Mul;
        ops.elementwise(in.g, gpu::Operand::per_group(dt, N), gpu::Operand::columns(A), mul);
        const gpu::Mat y = run_scan_gpu(ops, in, st, ctx); // [T, I]

        // y = (y + D * x) * silu(z); x is free once the scan inputs hold their copy of it.
        ops.elementwise(x, gpu::Operand::of(x), gpu::Operand::columns(gpu::param(ops, D_)), mul);
        ops.add(y, y, x);
        gpu::ElementwiseParams gate;
        gate.op = gpu::Combine::MulSiluB;
        ops.elementwise(y, gpu::Operand::of(y), gpu::Operand::of(z), gate);
        return gpu::linear(ops, out_, y);
    }

    void library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const override {
        // transformers keeps the SSM state as [batch, intermediate, state]: our [H = I, K = N, V = 1].
        out.push_back({mamba_cache_name(layer, "conv_states"), export_conv_state(*st.find("conv.x"))});
        out.push_back({mamba_cache_name(layer, "recurrent_states"), Tensor({1, I_, N_}, st.recurrent.data)});
    }

private:
    int N_ = 0, I_ = 0, R_ = 0;
    cpu::Linear in_, x_proj_, dt_proj_, out_;
    std::vector<float> A_; // -exp(A_log), [I, N]
    cpu::Param D_;
};

} // namespace

std::unique_ptr<Model> make_mamba(std::unique_ptr<Checkpoint> ck) {
    return make_mamba_backbone_model(std::move(ck), "Mamba", /*tie_default=*/true,
                                     mixer_factory<MambaMixer>(read_mamba_options));
}

} // namespace statescope
