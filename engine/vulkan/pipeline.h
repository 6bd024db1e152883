// Compute pipelines built from the kernel table (kernel_table.h). A PipelineDesc names the kernel
// and its specialization constants; the interface (the storage buffers of set 0, the push-constant
// size) is the one the kernel's SPIR-V declares. The dispatcher (commands.h) checks every dispatch
// against that interface, so a shader/host mismatch fails with a message instead of reading
// garbage.
#pragma once
#include "vulkan/kernel_table.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>
#include <vulkan/vulkan.h>

namespace statescope::vk {

class VulkanContext;

struct PipelineDesc {
    Kernel kernel{};
    std::vector<std::pair<uint32_t, uint32_t>> spec;   // (constant_id, 32-bit value)
    // Nonzero: the pipeline must run with exactly this subgroup size and full subgroups (needs
    // subgroup size control); kernels that shuffle within a workgroup rely on it.
    uint32_t required_subgroup_size = 0;
    // The cache key: everything above.
    std::string key() const;
};

class ComputePipeline {
public:
    ComputePipeline(VulkanContext& ctx, const PipelineDesc& desc);
    ~ComputePipeline();
    ComputePipeline(const ComputePipeline&) = delete;
    ComputePipeline& operator=(const ComputePipeline&) = delete;

    VkPipeline handle() const { return pipeline_; }
    VkPipelineLayout layout() const { return layout_; }
    VkDescriptorSetLayout set_layout() const { return set_layout_; }
    const PipelineDesc& desc() const { return desc_; }
    const KernelInterface& interface() const { return kernel_interface(desc_.kernel); }
    const char* name() const { return kernel_name(desc_.kernel); }
    // The driver's compile statistics ("Register Count 128, ..."), when the context captures them.
    const std::string& statistics() const { return statistics_; }

private:
    VulkanContext& ctx_;
    PipelineDesc desc_;
    std::string statistics_;
    VkShaderModule module_ = VK_NULL_HANDLE;
    VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
    VkPipelineLayout layout_ = VK_NULL_HANDLE;
    VkPipeline pipeline_ = VK_NULL_HANDLE;
};

} // namespace statescope::vk
