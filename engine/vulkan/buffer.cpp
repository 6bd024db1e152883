#include "vulkan/buffer.h"

#include "vulkan/commands.h"
#include "vulkan/context.h"

#include <algorithm>
#include <cstring>

namespace statescope::vk {

namespace {

std::string mib(size_t bytes) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / (1024.0 * 1024.0));
    return buf;
}

// Staging copies go through pieces of at most this size, so a large upload does not need a
// second allocation as large as the buffer.
constexpr size_t kStagingBytes = size_t(64) << 20;

} // namespace

Buffer::Buffer(VulkanContext& ctx, size_t bytes, MemoryKind kind, std::string name)
    : ctx_(&ctx), size_(bytes), name_(std::move(name)) {
    ctx.ensure_alive();
    // Zero-sized buffers are invalid in Vulkan; a placeholder of 16 bytes serves unused bindings.
    const size_t alloc_bytes = std::max<size_t>(bytes, 16);
    VkBufferCreateInfo bci{VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO};
    bci.size = alloc_bytes;
    bci.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT;
    bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
    ctx.check(vkCreateBuffer(ctx.handle(), &bci, nullptr, &buffer_), ("vkCreateBuffer '" + name_ + "'").c_str());

    VkMemoryRequirements req{};
    vkGetBufferMemoryRequirements(ctx.handle(), buffer_, &req);
    const VkMemoryPropertyFlags host = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    uint32_t type = UINT32_MAX;
    if (kind == MemoryKind::Host) {
        type = ctx.find_memory_type(req.memoryTypeBits, host, VK_MEMORY_PROPERTY_HOST_CACHED_BIT);
    } else if (ctx.device().unified_memory) {
        type = ctx.find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | host);
    }
    if (type == UINT32_MAX && kind == MemoryKind::Device)
        type = ctx.find_memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    if (type == UINT32_MAX) {
        release();
        throw Error("Vulkan: no suitable memory type for buffer '" + name_ + "' on " + ctx.device().name);
    }

    VkMemoryAllocateInfo mai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO};
    mai.allocationSize = req.size;
    mai.memoryTypeIndex = type;
    try {
        ctx.reserve_memory(size_t(req.size), "allocating " + mib(alloc_bytes) + " for buffer '" + name_ + "' on " + ctx.device().name);
    } catch (...) {
        release();
        throw;
    }
    reserved_ = size_t(req.size);
    VkResult r = vkAllocateMemory(ctx.handle(), &mai, nullptr, &memory_);
    if (r != VK_SUCCESS) {
        release();
        ctx.check(r, ("allocating " + mib(alloc_bytes) + " for buffer '" + name_ + "' on " + ctx.device().name).c_str());
    }
    try {
        ctx.check(vkBindBufferMemory(ctx.handle(), buffer_, memory_, 0), ("vkBindBufferMemory '" + name_ + "'").c_str());
        if (ctx.find_memory_type(1u << type, host) == type)
            ctx.check(vkMapMemory(ctx.handle(), memory_, 0, VK_WHOLE_SIZE, 0, &mapped_), ("vkMapMemory '" + name_ + "'").c_str());
    } catch (...) {
        release();
        throw;
    }
}

Buffer::~Buffer() { release(); }

Buffer::Buffer(Buffer&& o) noexcept { *this = std::move(o); }

Buffer& Buffer::operator=(Buffer&& o) noexcept {
    if (this != &o) {
        release();
        ctx_ = o.ctx_;
        buffer_ = std::exchange(o.buffer_, VK_NULL_HANDLE);
        memory_ = std::exchange(o.memory_, VK_NULL_HANDLE);
        mapped_ = std::exchange(o.mapped_, nullptr);
        size_ = std::exchange(o.size_, 0);
        reserved_ = std::exchange(o.reserved_, 0);
        name_ = std::move(o.name_);
    }
    return *this;
}

void Buffer::release() {
    if (!ctx_) return;
    VkDevice dev = ctx_->handle();
    if (mapped_) vkUnmapMemory(dev, memory_);
    if (buffer_) vkDestroyBuffer(dev, buffer_, nullptr);
    if (memory_) vkFreeMemory(dev, memory_, nullptr);
    ctx_->release_memory(std::exchange(reserved_, 0));
    buffer_ = VK_NULL_HANDLE;
    memory_ = VK_NULL_HANDLE;
    mapped_ = nullptr;
}

void upload(VulkanContext& ctx, Buffer& dst, const void* src, size_t bytes, size_t offset) {
    require(offset + bytes <= dst.size(), "upload of " + std::to_string(bytes) + " bytes overruns buffer '" + dst.name() + "'");
    if (bytes == 0) return;
    if (dst.mapped()) {
        std::memcpy(static_cast<char*>(dst.mapped()) + offset, src, bytes);
        return;
    }
    Buffer staging(ctx, std::min(bytes, kStagingBytes), MemoryKind::Host, "staging (upload)");
    CommandBatch batch(ctx);
    for (size_t done = 0; done < bytes;) {
        const size_t n = std::min(bytes - done, staging.size());
        std::memcpy(staging.mapped(), static_cast<const char*>(src) + done, n);
        batch.begin();
        batch.copy(staging, 0, dst, offset + done, n);
        batch.submit_and_wait();
        done += n;
    }
}

void download(VulkanContext& ctx, const Buffer& src, void* dst, size_t bytes, size_t offset) {
    require(offset + bytes <= src.size(), "download of " + std::to_string(bytes) + " bytes overruns buffer '" + src.name() + "'");
    if (bytes == 0) return;
    if (src.mapped()) {
        std::memcpy(dst, static_cast<const char*>(src.mapped()) + offset, bytes);
        return;
    }
    Buffer staging(ctx, std::min(bytes, kStagingBytes), MemoryKind::Host, "staging (download)");
    CommandBatch batch(ctx);
    for (size_t done = 0; done < bytes;) {
        const size_t n = std::min(bytes - done, staging.size());
        batch.begin();
        batch.copy(src, offset + done, staging, 0, n);
        batch.submit_and_wait();
        std::memcpy(static_cast<char*>(dst) + done, staging.mapped(), n);
        done += n;
    }
}

} // namespace statescope::vk
