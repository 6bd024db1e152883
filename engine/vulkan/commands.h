// CommandBatch: one command buffer with its fence, a descriptor pool for the dispatches recorded
// into it and a timestamp query pool. Record with begin() ... dispatch()/barrier()/timestamp(),
// then submit_and_wait(); the batch can be reused after that (begin() resets everything).
//
// dispatch() is the one generic entry point for kernels: it checks the call's buffers and
// push-constant size against what the kernel's SPIR-V declares (the kernel table,
// kernel_table.h) and refuses a mismatch with an Error naming the kernel, writes a fresh
// descriptor set and records the dispatch. Barriers are explicit: kernels of one batch run in
// order only where barrier() says so.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>
#include <vulkan/vulkan.h>

namespace statescope::vk {

class Buffer;
class ComputePipeline;
class VulkanContext;

class CommandBatch {
public:
    explicit CommandBatch(VulkanContext& ctx, uint32_t max_dispatches = 256, uint32_t max_timestamps = 64);
    ~CommandBatch();
    CommandBatch(const CommandBatch&) = delete;
    CommandBatch& operator=(const CommandBatch&) = delete;

    void begin();
    // buffers[i] is bound at binding i, one for each binding up to the kernel's highest (slots
    // its SPIR-V does not declare are not bound); push is copied into the command buffer.
    void dispatch(const ComputePipeline& pipeline, const std::vector<const Buffer*>& buffers, const void* push,
                  size_t push_bytes, uint32_t groups_x, uint32_t groups_y = 1, uint32_t groups_z = 1);
    template <class Push>
        requires std::is_class_v<Push> && std::is_trivially_copyable_v<Push>
    void dispatch(const ComputePipeline& pipeline, const std::vector<const Buffer*>& buffers, const Push& push,
                  uint32_t gx, uint32_t gy = 1, uint32_t gz = 1) {
        dispatch(pipeline, buffers, &push, sizeof(Push), gx, gy, gz);
    }
    // Orders all earlier shader and transfer writes before all later shader and transfer reads
    // and writes (a full memory barrier between dispatches that depend on each other).
    void barrier();
    void copy(const Buffer& src, size_t src_offset, Buffer& dst, size_t dst_offset, size_t bytes);
    // Records a timestamp after all earlier commands; label names the interval that ends here.
    // Ignored on devices without timestamps.
    void timestamp(const std::string& label);
    // Submits, waits for the fence and reads the timestamps. Throws VulkanError on failure (device
    // loss included); the batch must then be discarded.
    void submit_and_wait();

    // Intervals between consecutive timestamps of the last submission: (label, milliseconds).
    const std::vector<std::pair<std::string, double>>& intervals() const { return intervals_; }

private:
    void record_dispatch(const ComputePipeline& pipeline, VkDescriptorSet set, const void* push, size_t push_bytes,
                         uint32_t gx, uint32_t gy, uint32_t gz);

    VulkanContext& ctx_;
    VkCommandBuffer cmd_ = VK_NULL_HANDLE;
    VkFence fence_ = VK_NULL_HANDLE;
    VkDescriptorPool pool_ = VK_NULL_HANDLE;
    VkQueryPool queries_ = VK_NULL_HANDLE;
    uint32_t max_dispatches_, max_timestamps_;
    uint32_t dispatches_ = 0;
    std::vector<std::string> labels_;
    std::vector<std::pair<std::string, double>> intervals_;
    bool recording_ = false;
    bool in_flight_ = false;  // submitted and not yet seen complete
    // The last dispatch's descriptor set, reused while pipeline layout and buffers stay the same
    // (a sequence split into many dispatches binds the same buffers each time).
    VkDescriptorSetLayout last_layout_ = VK_NULL_HANDLE;
    std::vector<const Buffer*> last_buffers_;
    VkDescriptorSet last_set_ = VK_NULL_HANDLE;
};

} // namespace statescope::vk
