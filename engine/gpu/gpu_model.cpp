#include "gpu/gpu_model.h"

#include "statescope/error.h"
#include "vulkan/context.h"

namespace statescope::gpu {

namespace {

WeightType choose_weight_type(const Model& m, OpsOptions::Weights w) {
    switch (w) {
    case OpsOptions::Weights::F32: return WeightType::F32;
    case OpsOptions::Weights::F16: return WeightType::F16;
    case OpsOptions::Weights::BF16: return WeightType::BF16;
    case OpsOptions::Weights::Auto: break;
    }
    // The checkpoint's own storage type: converting its float32 copies back is exact.
    const std::string& d = m.info().weight_dtype;
    if (d == "BF16") return WeightType::BF16;
    if (d == "F16") return WeightType::F16;
    return WeightType::F32;
}

} // namespace

GpuModel::GpuModel(std::shared_ptr<const Model> cpu, vk::VulkanContext& ctx, GpuModelOptions options)
    : cpu_(std::move(cpu)), ctx_(ctx), options_(options) {
    require(cpu_ != nullptr, "GpuModel: no model");
    device_ = dynamic_cast<const DeviceForward*>(cpu_.get());
    if (!device_)
        throw Error(cpu_->info().family + " (" + cpu_->info().model_type +
                    ") cannot run on the GPU: it has no device forward");
    require(options_.piece >= 1, "GpuModel: piece must be at least one token");
    weights_ = std::make_unique<WeightCache>(ctx_, choose_weight_type(*cpu_, options_.ops.weights));
    ops_ = std::make_unique<Ops>(ctx_, *weights_);
}

GpuModel::~GpuModel() = default;

gpu::SequenceState GpuModel::upload(const statescope::SequenceState& host) const { return upload_sequence(ctx_, host); }

void GpuModel::download(const gpu::SequenceState& dev, statescope::SequenceState& host) const {
    download_sequence(ctx_, dev, host);
}

ForwardResult GpuModel::forward_resident(std::span<const int32_t> tokens, gpu::SequenceState& state,
                                         const ForwardOptions& options) const {
    return forward_in_pieces(tokens, size_t(options_.piece), options, [&](std::span<const int32_t> piece) {
        return device_->forward_gpu(*ops_, piece, state, options);
    });
}

ForwardResult GpuModel::forward(std::span<const int32_t> tokens, statescope::SequenceState& state,
                                const ForwardOptions& options) const {
    require(state.layers.size() == size_t(cpu_->info().num_layers),
            "sequence state has " + std::to_string(state.layers.size()) + " layers, the model has " +
                std::to_string(cpu_->info().num_layers));
    upload_sequence_into(ctx_, state, host_calls_);
    ForwardResult r = forward_resident(tokens, host_calls_, options);
    download(host_calls_, state);
    return r;
}

} // namespace statescope::gpu
