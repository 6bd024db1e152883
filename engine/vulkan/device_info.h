// What the runtime knows about one Vulkan physical device (for `statescope-cli devices`, for
// choosing a device and for choosing kernel variants), and the device-selection rule:
// discrete GPU first, then integrated, then virtual, then a CPU driver such as lavapipe, unless a
// request (flag or STATESCOPE_VULKAN_DEVICE: an index or a name substring) names one.
#pragma once
#include <cstdint>
#include <string>
#include <vector>
#include <vulkan/vulkan.h>

namespace statescope::vk {

struct DeviceInfo {
    int index = -1;                       // position in the instance's enumeration (the index users give)
    std::string name;
    VkPhysicalDeviceType type = VK_PHYSICAL_DEVICE_TYPE_OTHER;
    uint32_t api_version = 0;
    uint32_t vendor_id = 0, device_id = 0;
    std::string driver_name, driver_info;  // empty before Vulkan 1.2
    bool usable = false;                  // Vulkan 1.1+ with a compute queue
    std::string unusable_reason;

    // Subgroups (the compute stage's view).
    uint32_t subgroup_size = 0, subgroup_min = 0, subgroup_max = 0;
    VkSubgroupFeatureFlags subgroup_ops = 0;
    bool subgroup_in_compute = false;
    bool subgroup_size_control = false;   // VK_EXT_subgroup_size_control / Vulkan 1.3 feature

    // Arithmetic and storage types.
    bool float16 = false, int8 = false, storage16 = false;
    bool float_atomics = false;           // VK_EXT_shader_atomic_float
    bool shader_clock = false;            // VK_KHR_shader_clock, subgroup scope (kernel phase profiles)
    bool buffer_device_address = false;

    // Cooperative matrices (tensor cores): the NV extension is what Debian's glslc can target.
    bool coop_matrix_nv = false, coop_matrix_khr = false;
    std::vector<std::string> coop_matrix_nv_shapes;  // "MxNxK A*B+C->D" for the compute scope

    // Limits.
    uint32_t max_shared_memory = 0;
    uint32_t max_workgroup_invocations = 0;
    uint32_t max_workgroup_count[3] = {0, 0, 0};
    uint64_t max_storage_buffer_range = 0;
    uint32_t max_push_constants = 0;
    uint64_t device_local_bytes = 0;      // largest device-local heap
    bool unified_memory = false;          // integrated/CPU device with device-local, host-visible, coherent memory

    // Timestamps on the compute queue.
    bool timestamps = false;
    uint32_t timestamp_valid_bits = 0;
    float timestamp_period_ns = 0;
    uint32_t compute_queue_family = UINT32_MAX;

    std::vector<std::string> extensions;
    bool has_extension(const char* name) const;
};

const char* device_type_name(VkPhysicalDeviceType t);
// "basic vote arithmetic ballot shuffle ..." for a VkSubgroupFeatureFlags mask.
std::string subgroup_ops_string(VkSubgroupFeatureFlags flags);
std::string api_version_string(uint32_t v);

// Reads everything above from the driver. The instance must have been created for Vulkan 1.1+.
DeviceInfo query_device(VkInstance instance, VkPhysicalDevice pd, int index);

// Picks a device: `request` (an index into `devices` or a case-insensitive substring of a name;
// empty means none) wins, otherwise the first usable device by type preference (discrete,
// integrated, virtual, CPU, other), ties broken by enumeration order. Throws Error naming the
// available devices when the request matches nothing usable or when no device is usable.
int choose_device(const std::vector<DeviceInfo>& devices, const std::string& request);

} // namespace statescope::vk
