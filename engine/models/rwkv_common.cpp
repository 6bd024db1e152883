#include "models/rwkv_common.h"

#include "gpu/layers.h"
#include "statescope/error.h"

#include <algorithm>

namespace statescope {

LoRA LoRA::load(Checkpoint& ck, const std::string& name, int in, int rank, int out, Act act, bool bias) {
    LoRA l;
    l.act = act;
    l.down = cpu::Linear::load(ck, name + ".lora.0", rank, in);
    l.up = cpu::Linear::load(ck, name + ".lora.2", out, rank, bias);
    return l;
}

cpu::Mat LoRA::operator()(const cpu::Mat& x) const {
    cpu::Mat h = down(x);
    if (act == Act::Tanh)
        h = h.array().tanh().matrix();
    else if (act == Act::Sigmoid)
        cpu::apply_sigmoid(h);
    return up(h);
}

gpu::Mat LoRA::gpu(gpu::Ops& ops, const gpu::Mat& x) const {
    const gpu::Mat h = gpu::linear(ops, down, x);
    if (act == Act::Tanh)
        ops.apply(h, gpu::Func::Tanh);
    else if (act == Act::Sigmoid)
        ops.apply(h, gpu::Func::Sigmoid);
    return gpu::linear(ops, up, h);
}

cpu::Mat token_shift(const cpu::Mat& x, Tensor& last) {
    const int T = int(x.rows()), D = int(x.cols());
    cpu::Mat delta(T, D);
    delta.row(0) = Eigen::Map<const Eigen::RowVectorXf>(last.ptr(), D) - x.row(0);
    for (int t = 1; t < T; ++t) delta.row(t) = x.row(t - 1) - x.row(t);
    std::copy_n(x.row(T - 1).data(), D, last.ptr());
    return delta;
}

cpu::Mat add_mixed(const cpu::Mat& x, const cpu::Mat& delta, const cpu::Param& mix) {
    cpu::Mat out = x;
    const int D = int(x.cols());
    for (Eigen::Index t = 0; t < x.rows(); ++t)
        for (int i = 0; i < D; ++i) out(t, i) += delta(t, i) * mix[i];
    return out;
}

gpu::Mat token_shift_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::DeviceTensor& last) {
    const uint32_t T = x.rows, D = x.cols;
    require(Tensor::numel(last.shape) == int64_t(D), "RWKV GPU token shift: the shift state has " +
                                                         std::to_string(Tensor::numel(last.shape)) +
                                                         " values, rows have " + std::to_string(D));
    const gpu::Mat prev{last.buf.get(), 0, 1, D, D}; // the state as one row (DeviceTensor::mat() is [D, 1])
    const gpu::Mat delta = ops.alloc(T, D, "RWKV token shift");
    gpu::ElementwiseParams sub;
    sub.op = gpu::Combine::Sub;
    ops.elementwise(delta.row(0), gpu::Operand::of(prev), gpu::Operand::of(x.row(0)), sub);
    if (T > 1)
        ops.elementwise(delta.rows_range(1, T - 1), gpu::Operand::of(x.rows_range(0, T - 1)),
                        gpu::Operand::of(x.rows_range(1, T - 1)), sub);
    ops.copy(prev, x.row(T - 1)); // recorded after the reads above (every kernel ends in a barrier)
    return delta;
}

gpu::Mat add_mixed_gpu(gpu::Ops& ops, const gpu::Mat& x, const gpu::Mat& delta, const cpu::Param& mix) {
    const gpu::Mat out = ops.alloc(x.rows, x.cols, "RWKV token-shift mix");
    gpu::ElementwiseParams mul;
    mul.op = gpu::Combine::Mul;
    ops.elementwise(out, gpu::Operand::of(delta), gpu::Operand::columns(gpu::param(ops, mix)), mul);
    ops.add(out, out, x);
    return out;
}

void apply_sqrelu(cpu::Mat& x) {
    for (Eigen::Index i = 0; i < x.size(); ++i) {
        const float r = std::max(x.data()[i], 0.0f);
        x.data()[i] = r * r;
    }
}

void add_shift_state(const LayerState& st, const std::string& aux, const std::string& name, int hidden,
                     std::vector<NamedTensor>& out) {
    Tensor shift = *st.find(aux);
    shift.shape = {1, hidden};
    out.push_back({name, std::move(shift)});
}

int RwkvModel::feed_forward_size(const Config& cfg, int hidden, double default_ratio) {
    if (cfg.has("intermediate_size")) return int(cfg.int_in_range("intermediate_size", -1, 1, 1 << 22));
    const int inter = int(hidden * cfg.number_or("hidden_ratio", default_ratio));
    return 32 * ((inter + 31) / 32);
}

void RwkvModel::build(const std::function<std::unique_ptr<Mixer>(int)>& time_mix,
                      const std::function<std::unique_ptr<Mixer>(const std::string&)>& channel_mix) {
    Checkpoint& c = *ck_;
    const Config& cfg = c.config();
    const int D = info_.hidden_size;
    const float eps = float(cfg.number_or("norm_eps", 1e-5));
    const bool bias = cfg.bool_or("norm_bias", true);
    if (cfg.bool_or("norm_first", true)) pre_norm_ = Norm::layer(c, "model.layers.0.pre_norm", D, eps, bias);
    for (int l = 0; l < info_.num_layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l);
        Block b;
        b.norm1 = Norm::layer(c, p + ".attn_norm", D, eps, bias);
        b.mixer = time_mix(l);
        b.norm2 = Norm::layer(c, p + ".ffn_norm", D, eps, bias);
        b.ffn = channel_mix(p + ".ffn");
        blocks_.push_back(std::move(b));
    }
    norm_f_ = Norm::layer(c, "model.norm", D, eps, bias);
    finish_setup("model.embeddings.weight", "lm_head.weight", cfg.bool_or("tie_word_embeddings", false));
}

} // namespace statescope
