#include "vulkan/vk_check.h"

namespace statescope::vk {

const char* vk_result_name(VkResult r) {
    switch (r) {
#define CASE(x) case x: return #x;
    CASE(VK_SUCCESS)
    CASE(VK_NOT_READY)
    CASE(VK_TIMEOUT)
    CASE(VK_EVENT_SET)
    CASE(VK_EVENT_RESET)
    CASE(VK_INCOMPLETE)
    CASE(VK_ERROR_OUT_OF_HOST_MEMORY)
    CASE(VK_ERROR_OUT_OF_DEVICE_MEMORY)
    CASE(VK_ERROR_INITIALIZATION_FAILED)
    CASE(VK_ERROR_DEVICE_LOST)
    CASE(VK_ERROR_MEMORY_MAP_FAILED)
    CASE(VK_ERROR_LAYER_NOT_PRESENT)
    CASE(VK_ERROR_EXTENSION_NOT_PRESENT)
    CASE(VK_ERROR_FEATURE_NOT_PRESENT)
    CASE(VK_ERROR_INCOMPATIBLE_DRIVER)
    CASE(VK_ERROR_TOO_MANY_OBJECTS)
    CASE(VK_ERROR_FORMAT_NOT_SUPPORTED)
    CASE(VK_ERROR_FRAGMENTED_POOL)
    CASE(VK_ERROR_UNKNOWN)
    CASE(VK_ERROR_OUT_OF_POOL_MEMORY)
    CASE(VK_ERROR_INVALID_EXTERNAL_HANDLE)
    CASE(VK_ERROR_FRAGMENTATION)
    CASE(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
    CASE(VK_PIPELINE_COMPILE_REQUIRED)
#undef CASE
    default: return "unknown VkResult";
    }
}

std::string vk_failure_message(VkResult r, const std::string& what) {
    std::string msg = "Vulkan: " + what + " failed (" + vk_result_name(r) + ", " + std::to_string(int(r)) + ")";
    switch (r) {
    case VK_ERROR_DEVICE_LOST:
        msg += ": the GPU device was lost (driver reset, hang or crash); results of this run are "
               "unavailable and the device must be opened again";
        break;
    case VK_ERROR_OUT_OF_DEVICE_MEMORY:
        msg += ": the GPU is out of memory; try fewer tokens or heads, or another device";
        break;
    case VK_ERROR_OUT_OF_HOST_MEMORY:
        msg += ": the host is out of memory";
        break;
    case VK_ERROR_INCOMPATIBLE_DRIVER:
        msg += ": no Vulkan driver supports the requested API version (is a driver such as "
               "mesa-vulkan-drivers installed?)";
        break;
    case VK_ERROR_LAYER_NOT_PRESENT:
        msg += ": a requested layer is not installed (validation needs vulkan-validationlayers)";
        break;
    default: break;
    }
    return msg;
}

} // namespace statescope::vk
