// The pieces RWKV-6 (models/rwkv6.cpp) and RWKV-7 (models/rwkv7.cpp) share: fla's LoRA, the
// token shift with its mixes (each with its GPU twin recording the same arithmetic), and the
// block stack of fla's RWKV6/RWKV7 models.
#pragma once
#include "models/block_model.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace statescope {

// fla's LoRA (fla/layers/rwkv6.py): lora.2(act(lora.0(x))), lora.2 with an optional bias.
struct LoRA {
    enum class Act { None, Tanh, Sigmoid } act = Act::None;
    cpu::Linear down, up;

    static LoRA load(Checkpoint& ck, const std::string& name, int in, int rank, int out, Act act, bool bias);
    cpu::Mat operator()(const cpu::Mat& x) const;
    gpu::Mat gpu(gpu::Ops& ops, const gpu::Mat& x) const;
};

// delta = x_{t-1} - x_t with x_{-1} taken from `last` ([D]), which then holds the call's last row
// (fla's token shift with its cache; zeros before the first token).
cpu::Mat token_shift(const cpu::Mat& x, Tensor& last);
// The same from row views of x, with x_{-1} read from the layer's resident [D] shift state,
// which then receives the call's last row.
gpu::Mat token_shift_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::DeviceTensor& last);

// x + delta * mix (torch.addcmul with a per-feature mix vector).
cpu::Mat add_mixed(const cpu::Mat& x, const cpu::Mat& delta, const cpu::Param& mix);
// The same on the device: (delta * mix) + x, rounded in the CPU's order.
gpu::Mat add_mixed_gpu(gpu::Ops& ops, const gpu::Mat& x, const gpu::Mat& delta, const cpu::Param& mix);

// In place: max(x, 0)^2 (fla's sqrelu, the channel mix's activation).
void apply_sqrelu(cpu::Mat& x);
// A token-shift state (the layer's aux tensor `aux`, [D]) as fla's cache holds it: `name`, [1, D]
// (L<layer>.conv_state for the time mix's "shift.attn", L<layer>.ffn_state for "shift.ffn").
void add_shift_state(const LayerState& st, const std::string& aux, const std::string& name, int hidden,
                     std::vector<NamedTensor>& out);

// fla's RWKV6Model / RWKV7Model: layer 0's pre_norm (norm_first), then per layer attn_norm, the
// time mix, ffn_norm and the channel mix, the final norm and the head. LayerNorms with the
// config's norm_eps and norm_bias.
class RwkvModel : public BlockModel {
protected:
    using BlockModel::BlockModel;
    // The channel mix's width: intermediate_size, else hidden * hidden_ratio (default
    // `default_ratio`) rounded up to a multiple of 32 (RWKV6FeedForward, RWKV7FeedForward).
    static int feed_forward_size(const Config& cfg, int hidden, double default_ratio);
    // Fills the blocks with time_mix(layer) and channel_mix(prefix "model.layers.N.ffn"), then the
    // norms and the head.
    void build(const std::function<std::unique_ptr<Mixer>(int layer)>& time_mix,
               const std::function<std::unique_ptr<Mixer>(const std::string& prefix)>& channel_mix);

    // Layer 0's pre_norm: its output is the residual stream from then on. hidden.0 (fla's
    // output_hidden_states[0]) is the raw embedding, taken before this.
    void before_layers(cpu::Mat& x) const override {
        if (pre_norm_) (*pre_norm_)(x);
    }
    void before_layers_gpu(gpu::Ops& ops, const gpu::Mat& x) const override {
        if (pre_norm_) pre_norm_->gpu(ops, x);
    }

private:
    std::optional<Norm> pre_norm_;
};

} // namespace statescope
