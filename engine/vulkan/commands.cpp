#include "vulkan/commands.h"

#include "vulkan/buffer.h"
#include "vulkan/context.h"
#include "vulkan/pipeline.h"

#include <algorithm>

namespace statescope::vk {

namespace {
// A kernel that has not finished after this long is treated as a hung device.
constexpr uint64_t kFenceTimeoutNs = uint64_t(600) * 1000 * 1000 * 1000;
constexpr uint32_t kMaxBindingsPerSet = 24;   // the scan layout (push_constants.h) has 22
} // namespace

CommandBatch::CommandBatch(VulkanContext& ctx, uint32_t max_dispatches, uint32_t max_timestamps)
    : ctx_(ctx), max_dispatches_(max_dispatches), max_timestamps_(max_timestamps) {
    ctx.ensure_alive();
    VkDevice dev = ctx.handle();
    try {
        VkCommandBufferAllocateInfo cai{VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO};
        cai.commandPool = ctx.command_pool();
        cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
        cai.commandBufferCount = 1;
        ctx.check(vkAllocateCommandBuffers(dev, &cai, &cmd_), "vkAllocateCommandBuffers");

        VkFenceCreateInfo fci{VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        ctx.check(vkCreateFence(dev, &fci, nullptr, &fence_), "vkCreateFence");

        VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, max_dispatches * kMaxBindingsPerSet};
        VkDescriptorPoolCreateInfo dpci{VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO};
        dpci.maxSets = max_dispatches;
        dpci.poolSizeCount = 1;
        dpci.pPoolSizes = &size;
        ctx.check(vkCreateDescriptorPool(dev, &dpci, nullptr, &pool_), "vkCreateDescriptorPool");

        if (ctx.device().timestamps && max_timestamps > 0) {
            VkQueryPoolCreateInfo qci{VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO};
            qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
            qci.queryCount = max_timestamps;
            ctx.check(vkCreateQueryPool(dev, &qci, nullptr, &queries_), "vkCreateQueryPool");
        }
    } catch (...) {
        if (queries_) vkDestroyQueryPool(dev, queries_, nullptr);
        if (pool_) vkDestroyDescriptorPool(dev, pool_, nullptr);
        if (fence_) vkDestroyFence(dev, fence_, nullptr);
        if (cmd_) vkFreeCommandBuffers(dev, ctx.command_pool(), 1, &cmd_);
        throw;
    }
}

CommandBatch::~CommandBatch() {
    VkDevice dev = ctx_.handle();
    // A batch destroyed while its submission may still run (an exception between submit and
    // wait, or a timeout) must not free what the device uses: wait for it first.
    if (in_flight_) vkDeviceWaitIdle(dev);
    if (queries_) vkDestroyQueryPool(dev, queries_, nullptr);
    vkDestroyDescriptorPool(dev, pool_, nullptr);
    vkDestroyFence(dev, fence_, nullptr);
    vkFreeCommandBuffers(dev, ctx_.command_pool(), 1, &cmd_);
}

void CommandBatch::begin() {
    ctx_.ensure_alive();
    VkDevice dev = ctx_.handle();
    ctx_.check(vkResetCommandBuffer(cmd_, 0), "vkResetCommandBuffer");
    ctx_.check(vkResetDescriptorPool(dev, pool_, 0), "vkResetDescriptorPool");
    ctx_.check(vkResetFences(dev, 1, &fence_), "vkResetFences");
    VkCommandBufferBeginInfo bi{VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    bi.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    ctx_.check(vkBeginCommandBuffer(cmd_, &bi), "vkBeginCommandBuffer");
    if (queries_) vkCmdResetQueryPool(cmd_, queries_, 0, max_timestamps_);
    dispatches_ = 0;
    last_layout_ = VK_NULL_HANDLE;
    last_buffers_.clear();
    last_set_ = VK_NULL_HANDLE;
    labels_.clear();
    intervals_.clear();
    recording_ = true;
}

void CommandBatch::dispatch(const ComputePipeline& pipeline, const std::vector<const Buffer*>& buffers,
                            const void* push, size_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) {
    // The call against the kernel's SPIR-V (the kernel table), not against what the caller said.
    const KernelInterface& k = pipeline.interface();
    const std::string name = k.name;
    require(recording_, "CommandBatch::dispatch outside begin()/submit_and_wait()");
    require(buffers.size() == k.bindings, "dispatch of '" + name + "': " + std::to_string(buffers.size()) +
                                              " buffers given, its SPIR-V declares bindings 0.." +
                                              std::to_string(int(k.bindings) - 1));
    require(push_bytes == k.push_bytes, "dispatch of '" + name + "': " + std::to_string(push_bytes) +
                                            " bytes of push constants given, its SPIR-V declares " +
                                            std::to_string(k.push_bytes));
    require(k.bindings <= kMaxBindingsPerSet, "dispatch of '" + name + "': too many bindings");
    const DeviceInfo& dev_info = ctx_.device();
    const uint32_t groups[3] = {gx, gy, gz};
    for (int i = 0; i < 3; ++i)
        require(groups[i] >= 1 && groups[i] <= dev_info.max_workgroup_count[i],
                "dispatch of '" + name + "': " + std::to_string(groups[i]) + " workgroups in dimension " +
                    std::to_string(i) + " (device limit " + std::to_string(dev_info.max_workgroup_count[i]) + ")");

    VkDescriptorSetLayout layout = pipeline.set_layout();
    if (last_set_ && layout == last_layout_ && buffers == last_buffers_) {
        record_dispatch(pipeline, last_set_, push, push_bytes, gx, gy, gz);
        return;
    }
    require(dispatches_ < max_dispatches_, "dispatch of '" + name + "': more than " +
                                               std::to_string(max_dispatches_) + " descriptor sets in one batch");
    VkDescriptorSet set = VK_NULL_HANDLE;
    VkDescriptorSetAllocateInfo dsai{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO};
    dsai.descriptorPool = pool_;
    dsai.descriptorSetCount = 1;
    dsai.pSetLayouts = &layout;
    ctx_.check(vkAllocateDescriptorSets(ctx_.handle(), &dsai, &set), "vkAllocateDescriptorSets");

    // Every binding the kernel declares gets a buffer; the other slots of a shared layout (the
    // scan kernels') are not part of its descriptor set.
    std::vector<VkDescriptorBufferInfo> infos(buffers.size());
    std::vector<VkWriteDescriptorSet> writes;
    for (size_t i = 0; i < buffers.size(); ++i) {
        if (!(k.binding_mask >> i & 1)) continue;
        const Buffer* b = buffers[i];
        require(b && b->valid(), "dispatch of '" + name + "': binding " + std::to_string(i) + " has no buffer");
        require(b->size() <= dev_info.max_storage_buffer_range,
                "buffer '" + b->name() + "' (" + std::to_string(b->size()) + " bytes) exceeds the device's storage-buffer range (" +
                    std::to_string(dev_info.max_storage_buffer_range) + " bytes); use fewer tokens or heads");
        infos[i] = {b->handle(), 0, VK_WHOLE_SIZE};
        VkWriteDescriptorSet w{VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET};
        w.dstSet = set;
        w.dstBinding = uint32_t(i);
        w.descriptorCount = 1;
        w.descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        w.pBufferInfo = &infos[i];
        writes.push_back(w);
    }
    vkUpdateDescriptorSets(ctx_.handle(), uint32_t(writes.size()), writes.data(), 0, nullptr);
    last_layout_ = layout;
    last_buffers_ = buffers;
    last_set_ = set;
    ++dispatches_;
    record_dispatch(pipeline, set, push, push_bytes, gx, gy, gz);
}

void CommandBatch::record_dispatch(const ComputePipeline& pipeline, VkDescriptorSet set, const void* push,
                                   size_t push_bytes, uint32_t gx, uint32_t gy, uint32_t gz) {
    vkCmdBindPipeline(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.handle());
    vkCmdBindDescriptorSets(cmd_, VK_PIPELINE_BIND_POINT_COMPUTE, pipeline.layout(), 0, 1, &set, 0, nullptr);
    if (push_bytes) vkCmdPushConstants(cmd_, pipeline.layout(), VK_SHADER_STAGE_COMPUTE_BIT, 0, uint32_t(push_bytes), push);
    vkCmdDispatch(cmd_, gx, gy, gz);
}

void CommandBatch::barrier() {
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT |
                       VK_ACCESS_TRANSFER_WRITE_BIT;
    const VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vkCmdPipelineBarrier(cmd_, stages, stages, 0, 1, &mb, 0, nullptr, 0, nullptr);
}

void CommandBatch::copy(const Buffer& src, size_t src_offset, Buffer& dst, size_t dst_offset, size_t bytes) {
    require(recording_, "CommandBatch::copy outside begin()/submit_and_wait()");
    VkBufferCopy region{src_offset, dst_offset, bytes};
    vkCmdCopyBuffer(cmd_, src.handle(), dst.handle(), 1, &region);
}

void CommandBatch::timestamp(const std::string& label) {
    if (!queries_ || labels_.size() >= max_timestamps_) return;
    vkCmdWriteTimestamp(cmd_, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queries_, uint32_t(labels_.size()));
    labels_.push_back(label);
}

void CommandBatch::submit_and_wait() {
    require(recording_, "CommandBatch::submit_and_wait without begin()");
    recording_ = false;
    // Make the device's writes visible to host reads of mapped memory after the fence.
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
    mb.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    vkCmdPipelineBarrier(cmd_, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, nullptr, 0, nullptr);
    ctx_.check(vkEndCommandBuffer(cmd_), "vkEndCommandBuffer");

    VkSubmitInfo si{VK_STRUCTURE_TYPE_SUBMIT_INFO};
    si.commandBufferCount = 1;
    si.pCommandBuffers = &cmd_;
    ctx_.check(ctx_.count_submit(), "vkQueueSubmit (STATESCOPE_GPU_LOSE_DEVICE_AT_SUBMIT)");
    ctx_.check(vkQueueSubmit(ctx_.queue(), 1, &si, fence_), "vkQueueSubmit");
    in_flight_ = true;
    VkResult r = vkWaitForFences(ctx_.handle(), 1, &fence_, VK_TRUE, kFenceTimeoutNs);
    if (r == VK_TIMEOUT) {
        // The work may still hold resources; treat the device as unusable rather than guess.
        ctx_.check(VK_ERROR_DEVICE_LOST, "waiting for GPU work (no completion after 600 s)");
    }
    ctx_.check(r, "vkWaitForFences");
    in_flight_ = false;

    intervals_.clear();
    if (queries_ && labels_.size() >= 2) {
        std::vector<uint64_t> ts(labels_.size());
        ctx_.check(vkGetQueryPoolResults(ctx_.handle(), queries_, 0, uint32_t(ts.size()), ts.size() * sizeof(uint64_t),
                                         ts.data(), sizeof(uint64_t), VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
                   "vkGetQueryPoolResults");
        const uint32_t bits = ctx_.device().timestamp_valid_bits;
        const uint64_t mask = bits >= 64 ? ~uint64_t(0) : ((uint64_t(1) << bits) - 1);
        const double ns = ctx_.device().timestamp_period_ns;
        for (size_t i = 1; i < ts.size(); ++i)
            intervals_.emplace_back(labels_[i], double((ts[i] - ts[i - 1]) & mask) * ns * 1e-6);
    }
}

} // namespace statescope::vk
