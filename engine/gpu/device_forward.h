// What gpu::GpuModel needs of a model to run it on a Vulkan device: its forward pass recorded
// through gpu::Ops, with the sequence's state resident on the device. A model that has one
// implements this interface beside its CPU forward (BlockModel, engine/models); engine/gpu knows
// no model family.
#pragma once
#include "gpu/ops.h"
#include "gpu/sequence.h"
#include "statescope/model.h"

#include <cstdint>
#include <span>

namespace statescope::gpu {

class DeviceForward {
public:
    virtual ~DeviceForward() = default;
    // Model::forward recorded on the device: logits and the requested hidden states come back
    // to the host; observers get what forward() gives them.
    virtual ForwardResult forward_gpu(Ops& ops, std::span<const int32_t> tokens, SequenceState& state,
                                      const ForwardOptions& options) const = 0;
};

} // namespace statescope::gpu
