#include "vulkan/device_info.h"

#include "statescope/error.h"
#include "vulkan/vk_check.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace statescope::vk {

bool DeviceInfo::has_extension(const char* ext) const {
    return std::find(extensions.begin(), extensions.end(), ext) != extensions.end();
}

const char* device_type_name(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

std::string subgroup_ops_string(VkSubgroupFeatureFlags f) {
    static const std::pair<VkSubgroupFeatureFlagBits, const char*> names[] = {
        {VK_SUBGROUP_FEATURE_BASIC_BIT, "basic"},
        {VK_SUBGROUP_FEATURE_VOTE_BIT, "vote"},
        {VK_SUBGROUP_FEATURE_ARITHMETIC_BIT, "arithmetic"},
        {VK_SUBGROUP_FEATURE_BALLOT_BIT, "ballot"},
        {VK_SUBGROUP_FEATURE_SHUFFLE_BIT, "shuffle"},
        {VK_SUBGROUP_FEATURE_SHUFFLE_RELATIVE_BIT, "shuffle-relative"},
        {VK_SUBGROUP_FEATURE_CLUSTERED_BIT, "clustered"},
        {VK_SUBGROUP_FEATURE_QUAD_BIT, "quad"},
    };
    std::string out;
    for (const auto& [bit, name] : names)
        if (f & bit) out += (out.empty() ? "" : " ") + std::string(name);
    return out.empty() ? "none" : out;
}

std::string api_version_string(uint32_t v) {
    return std::to_string(VK_API_VERSION_MAJOR(v)) + "." + std::to_string(VK_API_VERSION_MINOR(v)) + "." +
           std::to_string(VK_API_VERSION_PATCH(v));
}

namespace {

const char* component_name(VkComponentTypeNV t) {
    switch (t) {
    case VK_COMPONENT_TYPE_FLOAT16_NV: return "f16";
    case VK_COMPONENT_TYPE_FLOAT32_NV: return "f32";
    case VK_COMPONENT_TYPE_FLOAT64_NV: return "f64";
    case VK_COMPONENT_TYPE_SINT8_NV: return "s8";
    case VK_COMPONENT_TYPE_SINT32_NV: return "s32";
    case VK_COMPONENT_TYPE_UINT8_NV: return "u8";
    case VK_COMPONENT_TYPE_UINT32_NV: return "u32";
    default: return "?";
    }
}

void query_coop_matrix_nv(VkInstance instance, VkPhysicalDevice pd, DeviceInfo& d) {
    auto fn = reinterpret_cast<PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV>(
        vkGetInstanceProcAddr(instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV"));
    if (!fn) return;
    uint32_t n = 0;
    if (fn(pd, &n, nullptr) < 0 || n == 0) return;
    std::vector<VkCooperativeMatrixPropertiesNV> props(n, {VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV});
    if (fn(pd, &n, props.data()) < 0) return;
    for (uint32_t i = 0; i < n; ++i) {
        const auto& p = props[i];
        if (p.scope != VK_SCOPE_SUBGROUP_NV) continue;
        d.coop_matrix_nv_shapes.push_back(std::to_string(p.MSize) + "x" + std::to_string(p.NSize) + "x" +
                                          std::to_string(p.KSize) + " " + component_name(p.AType) + "*" +
                                          component_name(p.BType) + "+" + component_name(p.CType) + "->" +
                                          component_name(p.DType));
    }
}

} // namespace

DeviceInfo query_device(VkInstance instance, VkPhysicalDevice pd, int index) {
    DeviceInfo d;
    d.index = index;

    VkPhysicalDeviceProperties base{};
    vkGetPhysicalDeviceProperties(pd, &base);
    d.name = base.deviceName;
    d.type = base.deviceType;
    d.api_version = base.apiVersion;
    d.vendor_id = base.vendorID;
    d.device_id = base.deviceID;
    d.max_shared_memory = base.limits.maxComputeSharedMemorySize;
    d.max_workgroup_invocations = base.limits.maxComputeWorkGroupInvocations;
    for (int i = 0; i < 3; ++i) d.max_workgroup_count[i] = base.limits.maxComputeWorkGroupCount[i];
    d.max_storage_buffer_range = base.limits.maxStorageBufferRange;
    d.max_push_constants = base.limits.maxPushConstantsSize;
    d.timestamp_period_ns = base.limits.timestampPeriod;

    uint32_t n_ext = 0;
    check_vk(vkEnumerateDeviceExtensionProperties(pd, nullptr, &n_ext, nullptr), "vkEnumerateDeviceExtensionProperties");
    std::vector<VkExtensionProperties> exts(n_ext);
    check_vk(vkEnumerateDeviceExtensionProperties(pd, nullptr, &n_ext, exts.data()), "vkEnumerateDeviceExtensionProperties");
    for (const auto& e : exts) d.extensions.push_back(e.extensionName);
    std::sort(d.extensions.begin(), d.extensions.end());

    // Queue: the first family with compute (a dedicated compute family would not gain us anything
    // while one thread submits everything).
    uint32_t n_fam = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_fam, nullptr);
    std::vector<VkQueueFamilyProperties> fams(n_fam);
    vkGetPhysicalDeviceQueueFamilyProperties(pd, &n_fam, fams.data());
    for (uint32_t i = 0; i < n_fam; ++i) {
        if (fams[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            d.compute_queue_family = i;
            d.timestamp_valid_bits = fams[i].timestampValidBits;
            break;
        }
    }
    d.timestamps = d.timestamp_valid_bits > 0 && d.timestamp_period_ns > 0;

    VkPhysicalDeviceMemoryProperties mem{};
    vkGetPhysicalDeviceMemoryProperties(pd, &mem);
    for (uint32_t h = 0; h < mem.memoryHeapCount; ++h)
        if (mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
            d.device_local_bytes = std::max<uint64_t>(d.device_local_bytes, mem.memoryHeaps[h].size);
    for (uint32_t t = 0; t < mem.memoryTypeCount; ++t) {
        const auto f = mem.memoryTypes[t].propertyFlags;
        const auto want = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                          VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        // Only integrated and CPU devices count: a discrete card may map all its memory into the
        // host's address space (resizable BAR), but host reads through PCIe are very slow.
        const bool shares_host_memory =
            d.type == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU || d.type == VK_PHYSICAL_DEVICE_TYPE_CPU;
        if ((f & want) == want && shares_host_memory) d.unified_memory = true;
    }

    if (d.api_version < VK_API_VERSION_1_1) {
        d.unusable_reason = "Vulkan " + api_version_string(d.api_version) + " (1.1 or newer needed)";
        return d;
    }
    if (d.compute_queue_family == UINT32_MAX) {
        d.unusable_reason = "no compute queue";
        return d;
    }
    d.usable = true;

    // Properties and features through the *2 queries; each struct is chained only when the
    // device's API version (or an extension) defines it.
    VkPhysicalDeviceSubgroupProperties sg{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceSubgroupSizeControlProperties sgsc{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES};
    VkPhysicalDeviceDriverProperties drv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    VkPhysicalDeviceProperties2 props2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2};
    props2.pNext = &sg;
    void** tail = &sg.pNext;
    const bool v12 = d.api_version >= VK_API_VERSION_1_2, v13 = d.api_version >= VK_API_VERSION_1_3;
    const bool has_sgsc = v13 || d.has_extension(VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
    if (v12) { *tail = &drv; tail = &drv.pNext; }
    if (has_sgsc) { *tail = &sgsc; tail = &sgsc.pNext; }
    vkGetPhysicalDeviceProperties2(pd, &props2);
    d.subgroup_size = sg.subgroupSize;
    d.subgroup_ops = sg.supportedOperations;
    d.subgroup_in_compute = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) != 0;
    d.subgroup_min = has_sgsc ? sgsc.minSubgroupSize : sg.subgroupSize;
    d.subgroup_max = has_sgsc ? sgsc.maxSubgroupSize : sg.subgroupSize;
    if (v12) {
        d.driver_name = drv.driverName;
        d.driver_info = drv.driverInfo;
    }

    VkPhysicalDevice16BitStorageFeatures st16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features f16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDeviceBufferDeviceAddressFeatures bda{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_BUFFER_DEVICE_ADDRESS_FEATURES};
    VkPhysicalDeviceSubgroupSizeControlFeatures sgscf{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cmnv{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    VkPhysicalDeviceShaderClockFeaturesKHR clk{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CLOCK_FEATURES_KHR};
    VkPhysicalDeviceFeatures2 feats2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    feats2.pNext = &st16;
    tail = &st16.pNext;
    const bool has_f16 = v12 || d.has_extension(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    const bool has_bda = v12 || d.has_extension(VK_KHR_BUFFER_DEVICE_ADDRESS_EXTENSION_NAME);
    const bool has_cmnv = d.has_extension(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
    if (has_f16) { *tail = &f16; tail = &f16.pNext; }
    if (has_bda) { *tail = &bda; tail = &bda.pNext; }
    if (has_sgsc) { *tail = &sgscf; tail = &sgscf.pNext; }
    if (has_cmnv) { *tail = &cmnv; tail = &cmnv.pNext; }
    const bool has_clock = d.has_extension(VK_KHR_SHADER_CLOCK_EXTENSION_NAME);
    if (has_clock) { *tail = &clk; tail = &clk.pNext; }
    vkGetPhysicalDeviceFeatures2(pd, &feats2);
    d.storage16 = st16.storageBuffer16BitAccess;
    d.float16 = has_f16 && f16.shaderFloat16;
    d.int8 = has_f16 && f16.shaderInt8;
    d.buffer_device_address = has_bda && bda.bufferDeviceAddress;
    d.subgroup_size_control = has_sgsc && sgscf.subgroupSizeControl && sgscf.computeFullSubgroups;
    d.coop_matrix_nv = has_cmnv && cmnv.cooperativeMatrix;
    d.coop_matrix_khr = d.has_extension("VK_KHR_cooperative_matrix");
    d.float_atomics = d.has_extension(VK_EXT_SHADER_ATOMIC_FLOAT_EXTENSION_NAME);
    d.shader_clock = has_clock && clk.shaderSubgroupClock;
    if (d.coop_matrix_nv) query_coop_matrix_nv(instance, pd, d);
    return d;
}

namespace {

int type_rank(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
    }
}

std::string lower(std::string s) {
    for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string device_list(const std::vector<DeviceInfo>& devices) {
    std::string out;
    for (const auto& d : devices) {
        out += "\n  " + std::to_string(d.index) + ": " + d.name + " (" + device_type_name(d.type) + ")";
        if (!d.usable) out += " [unusable: " + d.unusable_reason + "]";
    }
    return out.empty() ? " (none)" : out;
}

} // namespace

int choose_device(const std::vector<DeviceInfo>& devices, const std::string& request) {
    if (!request.empty()) {
        const bool numeric = std::all_of(request.begin(), request.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
        for (size_t i = 0; i < devices.size(); ++i) {
            const DeviceInfo& d = devices[i];
            const bool match = numeric ? std::to_string(d.index) == request
                                       : lower(d.name).find(lower(request)) != std::string::npos;
            if (!match) continue;
            if (!d.usable)
                throw Error("Vulkan device '" + request + "' (" + d.name + ") cannot run compute work: " + d.unusable_reason);
            return int(i);
        }
        throw Error("no Vulkan device matches '" + request +
                    "' (give an index or part of a name; set by --device or STATESCOPE_VULKAN_DEVICE); devices:" +
                    device_list(devices));
    }
    int best = -1;
    for (size_t i = 0; i < devices.size(); ++i) {
        if (!devices[i].usable) continue;
        if (best < 0 || type_rank(devices[i].type) < type_rank(devices[best].type)) best = int(i);
    }
    if (best < 0) throw Error("no usable Vulkan device (Vulkan 1.1 with a compute queue needed); devices:" + device_list(devices));
    return best;
}

} // namespace statescope::vk
