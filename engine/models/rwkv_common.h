// The pieces RWKV-6 (models/rwkv6.cpp) and RWKV-7 (models/rwkv7.cpp) share: fla's LoRA and the
// token shift with its mixes, each with its GPU twin recording the same arithmetic.
#pragma once
#include "models/block_model.h"

#include <string>

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

} // namespace statescope
