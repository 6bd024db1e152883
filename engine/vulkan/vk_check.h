// Every VkResult of the runtime passes through check_vk(): failures become statescope::Error
// (a VulkanError) whose message names the call and says what it means for the user. Device loss
// and out-of-memory get messages of their own; nothing in the runtime aborts.
#pragma once
#include "statescope/error.h"

#include <string>
#include <vulkan/vulkan.h>

namespace statescope::vk {

class VulkanError : public Error {
public:
    VulkanError(VkResult result, const std::string& what) : Error(what), result_(result) {}
    VkResult result() const { return result_; }
    bool device_lost() const { return result_ == VK_ERROR_DEVICE_LOST; }
    bool out_of_memory() const {
        return result_ == VK_ERROR_OUT_OF_DEVICE_MEMORY || result_ == VK_ERROR_OUT_OF_HOST_MEMORY;
    }

private:
    VkResult result_;
};

// "VK_ERROR_DEVICE_LOST" and so on.
const char* vk_result_name(VkResult r);

// The user-facing message for a failed call: what failed, the result's name, and for device
// loss / out-of-memory what it means.
std::string vk_failure_message(VkResult r, const std::string& what);

// Throws VulkanError unless r is VK_SUCCESS (or another non-negative status code).
inline void check_vk(VkResult r, const char* what) {
    if (r < 0) throw VulkanError(r, vk_failure_message(r, what));
}

} // namespace statescope::vk
