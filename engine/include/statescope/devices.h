// The Vulkan devices of this machine as plain values (`statescope-cli devices`): what each one
// offers the kernels, and which one the selection rule (vulkan/device_info.h: a request, else
// discrete, integrated, virtual, CPU) picks. No Vulkan types, so callers need no Vulkan headers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace statescope::gpu {

struct DeviceSummary {
    int index = -1;
    std::string name, type;                 // type: "discrete GPU", "CPU", ...
    std::string api_version;                // "1.3.255"
    std::string driver_name, driver_info;   // empty before Vulkan 1.2
    bool usable = false;
    std::string unusable_reason;
    uint32_t subgroup_size = 0, subgroup_min = 0, subgroup_max = 0;
    bool subgroup_size_control = false, subgroup_in_compute = false;
    std::string subgroup_ops;               // "basic vote arithmetic ..."
    bool float16 = false, int8 = false, storage16 = false, float_atomics = false, buffer_device_address = false;
    bool shader_clock = false;
    uint32_t max_shared_memory = 0, max_workgroup_invocations = 0, max_push_constants = 0;
    uint64_t device_local_bytes = 0, max_storage_buffer_range = 0;
    bool unified_memory = false;
    bool coop_matrix_nv = false, coop_matrix_khr = false;
    std::vector<std::string> coop_matrix_nv_shapes;
    bool timestamps = false;
    double timestamp_period_ns = 0;
    uint32_t timestamp_valid_bits = 0;
};

struct DeviceListing {
    std::vector<DeviceSummary> devices;
    int selected = -1;        // index into devices; -1 when the request matched nothing usable
    std::string why_none;     // then: why
};

// Every device and the one `request` (an index or a name substring; empty: the default rule)
// selects.
DeviceListing list_devices(const std::string& request);

} // namespace statescope::gpu
