#include "statescope/devices.h"

#include "statescope/error.h"
#include "vulkan/context.h"

namespace statescope::gpu {

namespace {

DeviceSummary summarize(const vk::DeviceInfo& d) {
    DeviceSummary s;
    s.index = d.index;
    s.name = d.name;
    s.type = vk::device_type_name(d.type);
    s.api_version = vk::api_version_string(d.api_version);
    s.driver_name = d.driver_name;
    s.driver_info = d.driver_info;
    s.usable = d.usable;
    s.unusable_reason = d.unusable_reason;
    s.subgroup_size = d.subgroup_size;
    s.subgroup_min = d.subgroup_min;
    s.subgroup_max = d.subgroup_max;
    s.subgroup_size_control = d.subgroup_size_control;
    s.subgroup_in_compute = d.subgroup_in_compute;
    s.subgroup_ops = vk::subgroup_ops_string(d.subgroup_ops);
    s.float16 = d.float16;
    s.int8 = d.int8;
    s.storage16 = d.storage16;
    s.float_atomics = d.float_atomics;
    s.buffer_device_address = d.buffer_device_address;
    s.shader_clock = d.shader_clock;
    s.max_shared_memory = d.max_shared_memory;
    s.max_workgroup_invocations = d.max_workgroup_invocations;
    s.max_push_constants = d.max_push_constants;
    s.device_local_bytes = d.device_local_bytes;
    s.max_storage_buffer_range = d.max_storage_buffer_range;
    s.unified_memory = d.unified_memory;
    s.coop_matrix_nv = d.coop_matrix_nv;
    s.coop_matrix_khr = d.coop_matrix_khr;
    s.coop_matrix_nv_shapes = d.coop_matrix_nv_shapes;
    s.timestamps = d.timestamps;
    s.timestamp_period_ns = d.timestamp_period_ns;
    s.timestamp_valid_bits = d.timestamp_valid_bits;
    return s;
}

} // namespace

DeviceListing list_devices(const std::string& request) {
    DeviceListing out;
    const std::vector<vk::DeviceInfo> devs = vk::VulkanContext::list_devices();
    for (const vk::DeviceInfo& d : devs) out.devices.push_back(summarize(d));
    if (devs.empty()) return out;
    try {
        out.selected = vk::choose_device(devs, request);
    } catch (const Error& e) {
        out.why_none = e.what();
    }
    return out;
}

} // namespace statescope::gpu
