// A model whose forward pass runs on a Vulkan device: wraps a loaded CPU model (its weights and
// structure) and implements the same Model interface, so verify, the timeline, generation and
// the benchmarks use it unchanged. The CPU model stays the judge: tests compare the two.
//
// Two ways to run:
//   forward(tokens, SequenceState&)  - host state in and out (uploaded, run, downloaded); what
//                                      verify and the timeline use.
//   forward_resident(tokens, gpu::SequenceState&) - the state stays on the device between calls
//                                      (decoding, prefill benchmarks).
// Not thread-safe: all calls come from the thread that owns the VulkanContext.
#pragma once
#include "gpu/device_forward.h"
#include "gpu/ops.h"
#include "gpu/sequence.h"
#include "statescope/model.h"

#include <memory>
#include <string>

namespace statescope::gpu {

struct GpuModelOptions {
    OpsOptions ops;
    // Tokens per recorded piece of a long unobserved call (bounds the scratch memory; the state
    // carries over between pieces exactly as between calls).
    int piece = 2048;
};

class GpuModel : public Model {
public:
    // Throws Error when the model has no forward pass on the device (is no gpu::DeviceForward).
    GpuModel(std::shared_ptr<const Model> cpu, vk::VulkanContext& ctx, GpuModelOptions options = {});
    ~GpuModel() override;

    const ModelInfo& info() const override { return cpu_->info(); }
    statescope::SequenceState initial_state() const override { return cpu_->initial_state(); }
    ForwardResult forward(std::span<const int32_t> tokens, statescope::SequenceState& state,
                          const ForwardOptions& options = {}) const override;
    std::vector<NamedTensor> library_state(const statescope::SequenceState& state) const override {
        return cpu_->library_state(state);
    }
    std::string implausible_reference(const std::string& name, const Tensor& reference) const override {
        return cpu_->implausible_reference(name, reference);
    }
    const Checkpoint* checkpoint() const override { return cpu_->checkpoint(); }

    gpu::SequenceState upload(const statescope::SequenceState& host) const;
    void download(const gpu::SequenceState& dev, statescope::SequenceState& host) const;
    ForwardResult forward_resident(std::span<const int32_t> tokens, gpu::SequenceState& state,
                                   const ForwardOptions& options = {}) const;

    WeightType weight_type() const { return weights_->type(); }
    size_t weight_bytes() const { return weights_->bytes(); }
    vk::VulkanContext& context() const { return ctx_; }
    // Per-kernel GPU time of the forwards since profiling was switched on (Ops::profile).
    void set_profiling(bool on) const { ops_->set_profiling(on); }
    const std::map<std::string, Ops::KernelTime>& profile() const { return ops_->profile(); }
    void clear_profile() const { ops_->clear_profile(); }

private:
    std::shared_ptr<const Model> cpu_;
    const DeviceForward* device_ = nullptr;   // cpu_ itself
    vk::VulkanContext& ctx_;
    GpuModelOptions options_;
    std::unique_ptr<WeightCache> weights_;
    std::unique_ptr<Ops> ops_;
    mutable gpu::SequenceState host_calls_;   // device buffers reused by forward() with a host state
};

} // namespace statescope::gpu
