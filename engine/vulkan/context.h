// VulkanContext: one instance, one chosen physical device, its logical device and compute queue,
// a command pool, the pipelines built so far and the validation-message counters.
//
// Not thread-safe by design: ONE thread owns a context and everything created from it (see
// worker.h, which runs a context on its own thread and takes work from others through futures).
// Every failed Vulkan call throws VulkanError (vk_check.h); once the device is lost, every later
// call throws at once instead of touching the device again.
#pragma once
#include "vulkan/device_info.h"
#include "vulkan/vk_check.h"

#include <atomic>
#include <cstdint>
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>
#include <vulkan/vulkan.h>

namespace statescope::vk {

class ComputePipeline;
struct PipelineDesc;

struct ContextOptions {
    // An index or a case-insensitive name substring; empty: STATESCOPE_VULKAN_DEVICE if set, else
    // the preference order of choose_device().
    std::string device;
    // Enable VK_LAYER_KHRONOS_validation with a messenger that counts errors. Also turned on by
    // STATESCOPE_VULKAN_VALIDATION=1.
    bool validation = false;
    // Throw if validation was asked for but the layer is not installed (tests set this).
    bool require_validation = false;
    // Ask the driver for each pipeline's compile statistics (registers, spills, shared memory;
    // VK_KHR_pipeline_executable_properties) where it offers them: pipeline_statistics() then
    // reports them. For tuning kernels; off by default since capturing may slow compilation.
    bool pipeline_statistics = false;
};

// Counts of validation-layer messages since the context was created.
struct ValidationCounts {
    int errors = 0;
    int warnings = 0;
    std::vector<std::string> first_messages;  // the first few errors and warnings, for test output
};

class VulkanContext {
public:
    explicit VulkanContext(const ContextOptions& options = {});
    ~VulkanContext();
    VulkanContext(const VulkanContext&) = delete;
    VulkanContext& operator=(const VulkanContext&) = delete;

    // Every device the loader reports, with capabilities (no logical device is created). Throws
    // VulkanError when no Vulkan loader/driver is present at all.
    static std::vector<DeviceInfo> list_devices();
    // True if the loader reports at least one usable device (used by tests to QSKIP).
    static bool any_device_available(std::string* why_not = nullptr);

    const DeviceInfo& device() const { return devices_[chosen_]; }
    const std::vector<DeviceInfo>& devices() const { return devices_; }
    VkDevice handle() const { return device_; }
    VkPhysicalDevice physical() const { return physical_; }
    VkQueue queue() const { return queue_; }
    VkCommandPool command_pool() const { return pool_; }

    bool validation_enabled() const { return messenger_ != VK_NULL_HANDLE; }
    // Whether the validation layer also checks synchronization (STATESCOPE_VULKAN_SYNC_VALIDATION=1
    // with validation on).
    bool sync_validation_enabled() const { return sync_validation_; }
    ValidationCounts validation_counts() const;

    // Checks a result from a call on this device; records device loss so later calls fail fast.
    void check(VkResult r, const char* what);
    // Throws if the device has been lost before (call before using the device).
    void ensure_alive() const;
    bool lost() const { return lost_; }

    // Device memory the runtime's buffers hold. STATESCOPE_GPU_MEMORY_LIMIT (bytes, or with a K, M
    // or G suffix) caps it below what the driver has, so that out-of-memory can be tested and
    // survived on any device: an allocation past it fails as VK_ERROR_OUT_OF_DEVICE_MEMORY does.
    void reserve_memory(size_t bytes, const std::string& what);
    void release_memory(size_t bytes) { memory_in_use_ -= std::min(bytes, memory_in_use_); }
    size_t memory_in_use() const { return memory_in_use_; }
    size_t memory_limit() const { return memory_limit_; } // 0: none
    // Counts queue submissions. With STATESCOPE_GPU_LOSE_DEVICE_AT_SUBMIT=N the N-th one reports
    // VK_ERROR_DEVICE_LOST, as a driver does after a GPU fault (fault injection for tests).
    VkResult count_submit();

    // A memory type index among type_bits that has all of `want`, preferring ones that also have
    // `prefer`; UINT32_MAX if none.
    uint32_t find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags prefer = 0) const;

    // The pipeline described (built on first use, then cached for the context's lifetime).
    ComputePipeline& pipeline(const PipelineDesc& desc);

    // Whether pipelines are built with statistics capture (ContextOptions::pipeline_statistics
    // and the device has VK_KHR_pipeline_executable_properties).
    bool captures_pipeline_statistics() const { return capture_statistics_; }
    // One line per pipeline built so far: its cache key and the driver's statistics, e.g.
    // "scan_tc_fused|...: Register Count 168, Spill ..."; empty without statistics capture.
    std::vector<std::string> pipeline_statistics() const;

    // Waits until the queue is idle (used before destroying objects that work may still use).
    void wait_idle();

    // Debug-messenger entry point (public so the C callback can reach it).
    void on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity, const char* message);

private:
    void create_instance(bool validation, bool require_validation);
    void create_device(bool pipeline_statistics);

    VkInstance instance_ = VK_NULL_HANDLE;
    VkDebugUtilsMessengerEXT messenger_ = VK_NULL_HANDLE;
    bool sync_validation_ = false;
    std::vector<VkPhysicalDevice> physicals_;
    std::vector<DeviceInfo> devices_;
    int chosen_ = -1;
    VkPhysicalDevice physical_ = VK_NULL_HANDLE;
    VkDevice device_ = VK_NULL_HANDLE;
    VkQueue queue_ = VK_NULL_HANDLE;
    VkCommandPool pool_ = VK_NULL_HANDLE;
    VkPhysicalDeviceMemoryProperties memory_{};
    bool lost_ = false;
    bool capture_statistics_ = false;
    size_t memory_in_use_ = 0, memory_limit_ = 0;
    long submits_ = 0, lose_device_at_submit_ = 0;

    std::map<std::string, std::unique_ptr<ComputePipeline>> pipelines_;

    mutable std::mutex messages_mutex_;  // the messenger may be called from driver threads
    std::atomic<int> validation_errors_{0}, validation_warnings_{0};
    std::vector<std::string> first_messages_;
};

} // namespace statescope::vk
