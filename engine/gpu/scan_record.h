// Recording the scan forms of scan_kernels.h into a command batch: the kernels of each form
// (shaders/scan_*.comp) with the plan of scan_plan.h, and the scratch buffers they need. Used by
// ScanKernels; all calls from the thread that owns the context.
#pragma once
#include "gpu/scan_plan.h"

#include <cstddef>
#include <string>

namespace statescope::vk {
class CommandBatch;
class VulkanContext;
} // namespace statescope::vk

namespace statescope::gpu {

// A device buffer of `count` floats (halves), refusing sizes that the shaders' 32-bit indices
// cannot address.
vk::Buffer scan_float_buffer(vk::VulkanContext& ctx, size_t count, const std::string& name);
vk::Buffer scan_half_buffer(vk::VulkanContext& ctx, size_t count, const std::string& name);

// Allocates what the chunked forms keep beside the inputs for chunks of plan.chunk: cumulative
// gates, the delta rule's float32 W and U (delta_wu; the tensor-core form keeps its UT
// transform in t16 instead), DPLR's interleaved keys and, with chunk_states, the state at every
// chunk start.
void ensure_chunk_scratch(vk::VulkanContext& ctx, ScanBuffers& b, const ChunkPlan& plan, bool chunk_states,
                          bool delta_wu = true);

// Records one run of options.form on b (plans from the context's device). timestamps: one per
// stage; cast_f16 (ChunkedF16): convert q, k, v to float16 first.
void record_scan(vk::VulkanContext& ctx, vk::CommandBatch& batch, ScanBuffers& b, const ScanRunOptions& options,
                 bool timestamps, bool cast_f16);

} // namespace statescope::gpu
