// The skeleton most families share: token embeddings, then per layer
//     x = x + mixer(norm1(x));  x = x + ffn(norm2(x))   (ffn optional, Mamba has none)
// then a final norm and the LM head (tied to the embeddings when the config says so).
// Families supply the mixers (and ffns) and the tensor names; RWKV-7 hooks in through
// ForwardContext for its cross-layer v_first.
#pragma once
#include "core/checkpoint.h"
#include "cpu/ops.h"
#include "gpu/device_forward.h"
#include "gpu/sequence.h"
#include "statescope/model.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace statescope {

struct ForwardContext {
    int layer = 0;
    int64_t position = 0;          // position of the first token of this call
    const ForwardOptions* options = nullptr;
    cpu::Mat v_first;              // RWKV-7: layer 0's values, shared with later layers in one call
    gpu::Mat gpu_v_first;          // the same on the GPU path
};

// A token mixer or channel mixer of one layer.
class Mixer {
public:
    virtual ~Mixer() = default;
    // Describes the mixer (only token mixers are asked).
    virtual LayerInfo info() const { return {}; }
    // Adds this mixer's state to the layer's state (recurrent and/or aux tensors).
    virtual void init_state(LayerState& st) const = 0;
    // x: [T, hidden] (already normalized) -> [T, hidden].
    virtual cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext& ctx) const = 0;
    // Appends this mixer's part of the library's cache for layer `layer` (see Model::library_state).
    virtual void library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const = 0;

    // The same computation recorded on a Vulkan device (engine/gpu): x [T, hidden] -> [T, hidden],
    // with the layer's state resident there.
    virtual gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext& ctx) const = 0;
};

struct Norm {
    enum Kind { RMS, Layer } kind = RMS;
    cpu::Param weight, bias;
    float eps = 1e-6f;
    void operator()(cpu::Mat& x) const {
        if (kind == RMS) cpu::rms_norm(x, weight, eps);
        else cpu::layer_norm(x, weight, bias, eps);
    }
    void gpu(gpu::Ops& ops, const gpu::Mat& x) const;   // the same, in place on the device
    // Why y (n values) cannot be an output of this norm, or empty: undoing the affine part must
    // give values with mean 0 (LayerNorm) and a sum of squares of at most n.
    std::string implausible_output(const float* y, int n) const;
    static Norm rms(Checkpoint& ck, const std::string& name, int n, float eps);
    static Norm layer(Checkpoint& ck, const std::string& name, int n, float eps, bool bias);
};

struct Block {
    Norm norm1;
    std::unique_ptr<Mixer> mixer;
    Norm norm2;
    std::unique_ptr<Mixer> ffn; // may be null
};

class BlockModel : public Model, public gpu::DeviceForward {
public:
    BlockModel(std::unique_ptr<Checkpoint> ck, std::string family) : ck_(std::move(ck)) {
        info_.family = std::move(family);
    }

    const ModelInfo& info() const override { return info_; }
    SequenceState initial_state() const override;
    ForwardResult forward(std::span<const int32_t> tokens, SequenceState& state,
                          const ForwardOptions& options) const override;
    std::vector<NamedTensor> library_state(const SequenceState& state) const override;
    const Checkpoint* checkpoint() const override { return ck_.get(); }

    // forward() recorded on the device with the state resident there (engine/models/
    // block_model_gpu.cpp, driven by gpu::GpuModel); logits and the requested hidden states come
    // back to the host. Observers get what forward() gives them.
    ForwardResult forward_gpu(gpu::Ops& ops, std::span<const int32_t> tokens, gpu::SequenceState& state,
                              const ForwardOptions& options) const override;

protected:
    ForwardResult forward_piece(std::span<const int32_t> tokens, SequenceState& state,
                                const ForwardOptions& options) const;
    // Families call this after filling blocks_, norm_f_ and the tensor names.
    void finish_setup(const std::string& embed_name, const std::string& lm_head_name, bool tie_embeddings);
    // Hook for RWKV-7's extra norm on the embeddings before layer 0 (and its GPU twin).
    virtual void before_layers(cpu::Mat& /*x*/) const {}
    virtual void before_layers_gpu(gpu::Ops& /*ops*/, const gpu::Mat& /*x*/) const {}

    Checkpoint& ck() { return *ck_; }
    std::unique_ptr<Checkpoint> ck_;
    ModelInfo info_;
    std::vector<Block> blocks_;
    Norm norm_f_;
    const float* embed_ = nullptr;   // [vocab, hidden]
    const float* lm_head_ = nullptr; // [vocab, hidden]
    // transformers' Mamba / Mamba-2 report hidden[i] = output of layer i (no embeddings entry), the
    // last one still after the final norm; those families set this.
    bool hidden_after_each_layer_ = false;
};

// Runs a recurrent layer's common-form scan over this call's tokens with the layer's state,
// reporting to the observer. Returns o as [T, H * V].
cpu::Mat run_scan(const ScanInputs& in, LayerState& st, const ForwardContext& ctx);

// run_scan on the device: records the scan of packed inputs from the layer's resident state.
// A watching observer gets the same calls as from run_scan (the inputs and the state before them
// are read back; per-token states come from the CPU recurrence on those exact inputs).
gpu::Mat run_scan_gpu(gpu::Ops& ops, const gpu::ScanMats& in, gpu::LayerState& st, const ForwardContext& ctx);

// Reads the fla/transformers config fields every family has: hidden_size, num_hidden_layers,
// vocab_size, and fills info (parameters, dtype).
void read_common_config(Checkpoint& ck, ModelInfo& info);

// Copies a [H, K, V] common-form state into the library's layout [1, H, K, V] (key_major) or
// [1, H, V, K] (value-major, as fla's GLA-style kernels store it).
Tensor export_state(const Tensor& hkv, int H, int K, int V, bool value_major);

} // namespace statescope
