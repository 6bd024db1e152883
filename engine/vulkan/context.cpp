#include "vulkan/context.h"

#include "vulkan/pipeline.h"

#include <string>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace statescope::vk {

namespace {

constexpr const char* kValidationLayer = "VK_LAYER_KHRONOS_validation";
constexpr size_t kKeptMessages = 20;

bool env_flag(const char* name) {
    const char* v = std::getenv(name);
    return v && *v && std::strcmp(v, "0") != 0 && std::strcmp(v, "false") != 0;
}

VKAPI_ATTR VkBool32 VKAPI_CALL debug_callback(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                              VkDebugUtilsMessageTypeFlagsEXT,
                                              const VkDebugUtilsMessengerCallbackDataEXT* data, void* user) {
    static_cast<VulkanContext*>(user)->on_validation_message(severity, data && data->pMessage ? data->pMessage : "");
    return VK_FALSE; // never abort the call that triggered the message
}

bool layer_available(const char* name) {
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, nullptr) < 0) return false;
    std::vector<VkLayerProperties> layers(n);
    if (vkEnumerateInstanceLayerProperties(&n, layers.data()) < 0) return false;
    for (const auto& l : layers)
        if (std::strcmp(l.layerName, name) == 0) return true;
    return false;
}

// An instance extension of the loader and drivers, or with `layer` of that layer.
bool instance_extension_available(const char* name, const char* layer = nullptr) {
    uint32_t n = 0;
    if (vkEnumerateInstanceExtensionProperties(layer, &n, nullptr) < 0) return false;
    std::vector<VkExtensionProperties> exts(n);
    if (vkEnumerateInstanceExtensionProperties(layer, &n, exts.data()) < 0) return false;
    for (const auto& e : exts)
        if (std::strcmp(e.extensionName, name) == 0) return true;
    return false;
}

// Creates a bare instance (Vulkan 1.3 if the loader has it, else what it has, at least 1.1).
VkInstance make_instance(const std::vector<const char*>& layers, const std::vector<const char*>& extensions,
                         const void* next) {
    uint32_t loader_version = VK_API_VERSION_1_0;
    if (vkEnumerateInstanceVersion(&loader_version) < 0) loader_version = VK_API_VERSION_1_0;
    if (loader_version < VK_API_VERSION_1_1)
        throw Error("Vulkan: the loader supports only Vulkan " + api_version_string(loader_version) +
                    "; 1.1 or newer is needed");
    VkApplicationInfo app{VK_STRUCTURE_TYPE_APPLICATION_INFO};
    app.pApplicationName = "statescope";
    app.applicationVersion = VK_MAKE_API_VERSION(0, 0, 1, 0);
    app.pEngineName = "statescope";
    app.apiVersion = loader_version >= VK_API_VERSION_1_3 ? VK_API_VERSION_1_3 : loader_version;
    VkInstanceCreateInfo ci{VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO};
    ci.pNext = next;
    ci.pApplicationInfo = &app;
    ci.enabledLayerCount = uint32_t(layers.size());
    ci.ppEnabledLayerNames = layers.data();
    ci.enabledExtensionCount = uint32_t(extensions.size());
    ci.ppEnabledExtensionNames = extensions.data();
    VkInstance instance = VK_NULL_HANDLE;
    check_vk(vkCreateInstance(&ci, nullptr, &instance), "vkCreateInstance");
    return instance;
}

std::vector<VkPhysicalDevice> enumerate(VkInstance instance) {
    uint32_t n = 0;
    check_vk(vkEnumeratePhysicalDevices(instance, &n, nullptr), "vkEnumeratePhysicalDevices");
    std::vector<VkPhysicalDevice> pds(n);
    check_vk(vkEnumeratePhysicalDevices(instance, &n, pds.data()), "vkEnumeratePhysicalDevices");
    pds.resize(n);
    return pds;
}

} // namespace

std::vector<DeviceInfo> VulkanContext::list_devices() {
    VkInstance instance = make_instance({}, {}, nullptr);
    std::vector<DeviceInfo> out;
    try {
        auto pds = enumerate(instance);
        for (size_t i = 0; i < pds.size(); ++i) out.push_back(query_device(instance, pds[i], int(i)));
    } catch (...) {
        vkDestroyInstance(instance, nullptr);
        throw;
    }
    vkDestroyInstance(instance, nullptr);
    return out;
}

bool VulkanContext::any_device_available(std::string* why_not) {
    try {
        for (const auto& d : list_devices())
            if (d.usable) return true;
        if (why_not) *why_not = "the Vulkan loader reports no usable device";
    } catch (const std::exception& e) {
        if (why_not) *why_not = e.what();
    }
    return false;
}

namespace {

// "1048576", "64K", "512M", "2G" -> bytes; anything else is an Error naming the variable.
size_t parse_byte_count(const char* var, const std::string& text) {
    size_t i = 0;
    unsigned long long n = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && n < (1ull << 50)) n = n * 10 + unsigned(text[i++] - '0');
    unsigned long long scale = 1;
    if (i + 1 == text.size()) {
        const char s = text[i++];
        scale = s == 'K' || s == 'k' ? 1ull << 10 : s == 'M' || s == 'm' ? 1ull << 20 : s == 'G' || s == 'g' ? 1ull << 30 : 0;
    }
    if (text.empty() || i != text.size() || scale == 0 || n == 0)
        throw Error(std::string(var) + "='" + text + "' is not a byte count (e.g. 268435456, 256M or 2G)");
    return size_t(n * scale);
}

long env_count(const char* var) {
    const char* v = std::getenv(var);
    if (!v || !*v) return 0;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (*end || n <= 0) throw Error(std::string(var) + "='" + v + "' is not a positive integer");
    return n;
}

} // namespace

VulkanContext::VulkanContext(const ContextOptions& options) {
    try {
        if (const char* v = std::getenv("STATESCOPE_GPU_MEMORY_LIMIT"); v && *v)
            memory_limit_ = parse_byte_count("STATESCOPE_GPU_MEMORY_LIMIT", v);
        lose_device_at_submit_ = env_count("STATESCOPE_GPU_LOSE_DEVICE_AT_SUBMIT");
        create_instance(options.validation || env_flag("STATESCOPE_VULKAN_VALIDATION"), options.require_validation);
        physicals_ = enumerate(instance_);
        for (size_t i = 0; i < physicals_.size(); ++i) devices_.push_back(query_device(instance_, physicals_[i], int(i)));
        std::string request = options.device;
        if (request.empty())
            if (const char* e = std::getenv("STATESCOPE_VULKAN_DEVICE")) request = e;
        chosen_ = choose_device(devices_, request);
        physical_ = physicals_[chosen_];
        create_device(options.pipeline_statistics || env_flag("STATESCOPE_PIPELINE_STATISTICS"));
    } catch (...) {
        // The destructor does not run for a constructor that throws: release what exists.
        if (pool_) vkDestroyCommandPool(device_, pool_, nullptr);
        if (device_) vkDestroyDevice(device_, nullptr);
        if (messenger_) {
            auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
                vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
            if (destroy) destroy(instance_, messenger_, nullptr);
        }
        if (instance_) vkDestroyInstance(instance_, nullptr);
        throw;
    }
}

VulkanContext::~VulkanContext() {
    // Work may still be in flight if an exception unwound a submission: wait (errors ignored,
    // the device may be lost) before destroying what it uses.
    if (device_) vkDeviceWaitIdle(device_);
    pipelines_.clear();
    if (pool_) vkDestroyCommandPool(device_, pool_, nullptr);
    if (device_) vkDestroyDevice(device_, nullptr);
    if (messenger_) {
        auto destroy = reinterpret_cast<PFN_vkDestroyDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkDestroyDebugUtilsMessengerEXT"));
        if (destroy) destroy(instance_, messenger_, nullptr);
    }
    if (instance_) vkDestroyInstance(instance_, nullptr);
}

void VulkanContext::create_instance(bool validation, bool require_validation) {
    std::vector<const char*> layers, extensions;
    if (validation) {
        const bool have_layer = layer_available(kValidationLayer);
        const bool have_utils = instance_extension_available(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
        if (have_layer && have_utils) {
            layers.push_back(kValidationLayer);
            extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
        } else if (require_validation) {
            throw Error(std::string("Vulkan validation was requested but ") +
                        (have_layer ? "VK_EXT_debug_utils is missing"
                                    : "VK_LAYER_KHRONOS_validation is not installed (Debian: vulkan-validationlayers)"));
        } else {
            std::fprintf(stderr, "statescope: Vulkan validation requested but %s is not available; running without it\n",
                         have_layer ? VK_EXT_DEBUG_UTILS_EXTENSION_NAME : kValidationLayer);
            validation = false;
        }
    }
    VkDebugUtilsMessengerCreateInfoEXT mci{VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT};
    mci.messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    mci.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                      VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
    mci.pfnUserCallback = debug_callback;
    mci.pUserData = this;
    // Synchronization validation (missing or wrong barriers between dispatches and copies) is off
    // in the layer by default because it is slow; STATESCOPE_VULKAN_SYNC_VALIDATION=1 adds it to
    // a validated context (CTest's *_syncval tests).
    const VkValidationFeatureEnableEXT sync = VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT;
    VkValidationFeaturesEXT features{VK_STRUCTURE_TYPE_VALIDATION_FEATURES_EXT};
    features.enabledValidationFeatureCount = 1;
    features.pEnabledValidationFeatures = &sync;
    features.pNext = &mci;
    const bool sync_validation = validation && env_flag("STATESCOPE_VULKAN_SYNC_VALIDATION");
    if (sync_validation) {
        if (!instance_extension_available(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME, kValidationLayer))
            throw Error("Vulkan synchronization validation was requested (STATESCOPE_VULKAN_SYNC_VALIDATION) but the "
                        "validation layer lacks " VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
        extensions.push_back(VK_EXT_VALIDATION_FEATURES_EXTENSION_NAME);
    }
    // Chaining the messenger's create info also reports problems of vkCreateInstance itself.
    instance_ = make_instance(layers, extensions, !validation ? nullptr : sync_validation ? static_cast<const void*>(&features) : &mci);
    sync_validation_ = sync_validation;
    if (validation) {
        auto create = reinterpret_cast<PFN_vkCreateDebugUtilsMessengerEXT>(
            vkGetInstanceProcAddr(instance_, "vkCreateDebugUtilsMessengerEXT"));
        if (!create) throw Error("Vulkan: vkCreateDebugUtilsMessengerEXT is missing although VK_EXT_debug_utils is enabled");
        check_vk(create(instance_, &mci, nullptr, &messenger_), "vkCreateDebugUtilsMessengerEXT");
    }
}

void VulkanContext::create_device(bool pipeline_statistics) {
    const DeviceInfo& info = device();
    float priority = 1.0f;
    VkDeviceQueueCreateInfo qci{VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO};
    qci.queueFamilyIndex = info.compute_queue_family;
    qci.queueCount = 1;
    qci.pQueuePriorities = &priority;

    // Enable only what the device has and the kernels may use.
    std::vector<const char*> extensions;
    const bool v12 = info.api_version >= VK_API_VERSION_1_2, v13 = info.api_version >= VK_API_VERSION_1_3;
    VkPhysicalDeviceFeatures2 feats{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
    void** tail = &feats.pNext;
    VkPhysicalDeviceSubgroupSizeControlFeatures sgsc{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES};
    if (info.subgroup_size_control) {
        sgsc.subgroupSizeControl = VK_TRUE;
        sgsc.computeFullSubgroups = VK_TRUE;
        if (!v13) extensions.push_back(VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
        *tail = &sgsc;
        tail = &sgsc.pNext;
    }
    VkPhysicalDeviceShaderFloat16Int8Features f16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    if (info.float16) {
        f16.shaderFloat16 = VK_TRUE;
        if (!v12) extensions.push_back(VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
        *tail = &f16;
        tail = &f16.pNext;
    }
    VkPhysicalDevice16BitStorageFeatures st16{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    if (info.storage16) {
        st16.storageBuffer16BitAccess = VK_TRUE;
        *tail = &st16;
        tail = &st16.pNext;
    }
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    if (info.coop_matrix_nv) {
        cm.cooperativeMatrix = VK_TRUE;
        extensions.push_back(VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
        *tail = &cm;
        tail = &cm.pNext;
    }

    VkPhysicalDeviceShaderClockFeaturesKHR clk{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CLOCK_FEATURES_KHR};
    if (info.shader_clock) {   // only the profiling variant of the tensor-core scan reads it
        clk.shaderSubgroupClock = VK_TRUE;
        extensions.push_back(VK_KHR_SHADER_CLOCK_EXTENSION_NAME);
        *tail = &clk;
        tail = &clk.pNext;
    }
    VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR pe{
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR};
    if (pipeline_statistics && info.has_extension(VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME)) {
        pe.pipelineExecutableInfo = VK_TRUE;
        extensions.push_back(VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);
        *tail = &pe;
        tail = &pe.pNext;
        capture_statistics_ = true;
    }

    // The tensor-core kernels declare the Vulkan memory model (GL_NV_cooperative_matrix comes
    // with GL_KHR_memory_scope_semantics); enable it where the device has it.
    VkPhysicalDeviceVulkanMemoryModelFeatures mm{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
    if (v12) {
        VkPhysicalDeviceVulkanMemoryModelFeatures have{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES};
        VkPhysicalDeviceFeatures2 query{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2};
        query.pNext = &have;
        vkGetPhysicalDeviceFeatures2(physical_, &query);
        if (have.vulkanMemoryModel) {
            mm.vulkanMemoryModel = VK_TRUE;
            mm.vulkanMemoryModelDeviceScope = have.vulkanMemoryModelDeviceScope;
            *tail = &mm;
            tail = &mm.pNext;
        }
    }

    VkDeviceCreateInfo dci{VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO};
    dci.pNext = &feats;
    dci.queueCreateInfoCount = 1;
    dci.pQueueCreateInfos = &qci;
    dci.enabledExtensionCount = uint32_t(extensions.size());
    dci.ppEnabledExtensionNames = extensions.data();
    check_vk(vkCreateDevice(physical_, &dci, nullptr, &device_), ("vkCreateDevice for " + info.name).c_str());
    vkGetDeviceQueue(device_, info.compute_queue_family, 0, &queue_);
    vkGetPhysicalDeviceMemoryProperties(physical_, &memory_);

    VkCommandPoolCreateInfo pci{VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO};
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = info.compute_queue_family;
    check_vk(vkCreateCommandPool(device_, &pci, nullptr, &pool_), "vkCreateCommandPool");
}


void VulkanContext::reserve_memory(size_t bytes, const std::string& what) {
    if (memory_limit_ && memory_in_use_ + bytes > memory_limit_)
        throw VulkanError(VK_ERROR_OUT_OF_DEVICE_MEMORY,
                          vk_failure_message(VK_ERROR_OUT_OF_DEVICE_MEMORY, what.c_str()) + " [" +
                              std::to_string(memory_in_use_ >> 20) + " MiB in use of the " +
                              std::to_string(memory_limit_ >> 20) + " MiB that STATESCOPE_GPU_MEMORY_LIMIT allows]");
    memory_in_use_ += bytes;
}

VkResult VulkanContext::count_submit() {
    ++submits_;
    return lose_device_at_submit_ && submits_ >= lose_device_at_submit_ ? VK_ERROR_DEVICE_LOST : VK_SUCCESS;
}

void VulkanContext::check(VkResult r, const char* what) {
    if (r == VK_ERROR_DEVICE_LOST) lost_ = true;
    check_vk(r, what);
}

void VulkanContext::ensure_alive() const {
    if (lost_)
        throw VulkanError(VK_ERROR_DEVICE_LOST,
                          "Vulkan: the device " + device().name + " was lost earlier; open it again to run more work");
}

uint32_t VulkanContext::find_memory_type(uint32_t type_bits, VkMemoryPropertyFlags want, VkMemoryPropertyFlags prefer) const {
    uint32_t fallback = UINT32_MAX;
    for (uint32_t i = 0; i < memory_.memoryTypeCount; ++i) {
        if (!(type_bits & (1u << i))) continue;
        const auto f = memory_.memoryTypes[i].propertyFlags;
        if ((f & want) != want) continue;
        if ((f & prefer) == prefer) return i;
        if (fallback == UINT32_MAX) fallback = i;
    }
    return fallback;
}

ComputePipeline& VulkanContext::pipeline(const PipelineDesc& desc) {
    const std::string key = desc.key();
    auto it = pipelines_.find(key);
    if (it != pipelines_.end()) return *it->second;
    auto p = std::make_unique<ComputePipeline>(*this, desc);
    return *pipelines_.emplace(key, std::move(p)).first->second;
}

std::vector<std::string> VulkanContext::pipeline_statistics() const {
    std::vector<std::string> lines;
    for (const auto& [key, p] : pipelines_)
        if (!p->statistics().empty()) lines.push_back(key + ": " + p->statistics());
    return lines;
}

void VulkanContext::wait_idle() {
    ensure_alive();
    check(vkQueueWaitIdle(queue_), "vkQueueWaitIdle");
}

void VulkanContext::on_validation_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity, const char* message) {
    const bool error = severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
    (error ? validation_errors_ : validation_warnings_).fetch_add(1);
    if (error) std::fprintf(stderr, "statescope: Vulkan validation error: %s\n", message);
    std::lock_guard<std::mutex> lock(messages_mutex_);
    if (first_messages_.size() < kKeptMessages)
        first_messages_.push_back(std::string(error ? "error: " : "warning: ") + message);
}

ValidationCounts VulkanContext::validation_counts() const {
    ValidationCounts c;
    c.errors = validation_errors_.load();
    c.warnings = validation_warnings_.load();
    std::lock_guard<std::mutex> lock(messages_mutex_);
    c.first_messages = first_messages_;
    return c;
}

} // namespace statescope::vk
