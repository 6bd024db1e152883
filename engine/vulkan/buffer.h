// Storage buffers with their own memory. Two kinds:
//   Device  - where kernels read and write: device-local memory; on unified-memory devices (CPU
//             drivers, integrated GPUs) a device-local memory that is also host-visible, so
//             uploads and downloads are plain memcpy with no staging copy.
//   Host    - host-visible, coherent memory for staging and read-back.
// upload()/download() hide the difference: they memcpy when the buffer is mapped and go through a
// staging buffer and a copy command otherwise.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vulkan/vulkan.h>

namespace statescope::vk {

class VulkanContext;

enum class MemoryKind { Device, Host };

class Buffer {
public:
    Buffer() = default;
    // Throws VulkanError (out of device memory named with the size and the buffer's name).
    Buffer(VulkanContext& ctx, size_t bytes, MemoryKind kind, std::string name);
    ~Buffer();
    Buffer(Buffer&& other) noexcept;
    Buffer& operator=(Buffer&& other) noexcept;
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;

    VkBuffer handle() const { return buffer_; }
    size_t size() const { return size_; }
    const std::string& name() const { return name_; }
    bool valid() const { return buffer_ != VK_NULL_HANDLE; }
    // Non-null when the memory is host-visible (always for Host, on unified memory for Device).
    void* mapped() const { return mapped_; }

private:
    void release();
    VulkanContext* ctx_ = nullptr;
    VkBuffer buffer_ = VK_NULL_HANDLE;
    VkDeviceMemory memory_ = VK_NULL_HANDLE;
    void* mapped_ = nullptr;
    size_t size_ = 0;
    size_t reserved_ = 0; // bytes counted in the context's memory_in_use
    std::string name_;
};

// Copies bytes from host memory into dst at offset (staging through a host buffer and a copy
// command when dst is not mapped; waits for completion).
void upload(VulkanContext& ctx, Buffer& dst, const void* src, size_t bytes, size_t offset = 0);
// Copies bytes from src at offset into host memory (waits for completion).
void download(VulkanContext& ctx, const Buffer& src, void* dst, size_t bytes, size_t offset = 0);

} // namespace statescope::vk
