#include "vulkan/pipeline.h"

#include "vulkan/context.h"

namespace statescope::vk {
namespace {

// The statistics of every executable of `pipeline` (a compute pipeline has one), as
// "name value" pairs joined by commas. A driver that reports none gives an empty string.
std::string query_statistics(VulkanContext& ctx, VkPipeline pipeline) {
    VkDevice dev = ctx.handle();
    auto props = reinterpret_cast<PFN_vkGetPipelineExecutablePropertiesKHR>(
        vkGetDeviceProcAddr(dev, "vkGetPipelineExecutablePropertiesKHR"));
    auto stats = reinterpret_cast<PFN_vkGetPipelineExecutableStatisticsKHR>(
        vkGetDeviceProcAddr(dev, "vkGetPipelineExecutableStatisticsKHR"));
    if (!props || !stats) return {};
    VkPipelineInfoKHR pi{VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR};
    pi.pipeline = pipeline;
    uint32_t n = 0;
    ctx.check(props(dev, &pi, &n, nullptr), "vkGetPipelineExecutablePropertiesKHR");
    std::string out;
    for (uint32_t e = 0; e < n; ++e) {
        VkPipelineExecutableInfoKHR ei{VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR};
        ei.pipeline = pipeline;
        ei.executableIndex = e;
        uint32_t m = 0;
        ctx.check(stats(dev, &ei, &m, nullptr), "vkGetPipelineExecutableStatisticsKHR");
        std::vector<VkPipelineExecutableStatisticKHR> s(m, {VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR});
        ctx.check(stats(dev, &ei, &m, s.data()), "vkGetPipelineExecutableStatisticsKHR");
        for (uint32_t i = 0; i < m; ++i) {
            std::string v;
            switch (s[i].format) {
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: v = s[i].value.b32 ? "yes" : "no"; break;
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: v = std::to_string(s[i].value.i64); break;
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR: v = std::to_string(s[i].value.u64); break;
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_FLOAT64_KHR: v = std::to_string(s[i].value.f64); break;
            default: v = "?";
            }
            if (!out.empty()) out += ", ";
            out += std::string(s[i].name) + " " + v;
        }
    }
    return out;
}

} // namespace

std::string PipelineDesc::key() const {
    std::string k = std::string(kernel_name(kernel)) + "|sg" + std::to_string(required_subgroup_size);
    for (const auto& [id, value] : spec) k += "|" + std::to_string(id) + "=" + std::to_string(value);
    return k;
}

ComputePipeline::ComputePipeline(VulkanContext& ctx, const PipelineDesc& desc) : ctx_(ctx), desc_(desc) {
    ctx.ensure_alive();
    const std::span<const uint32_t> words = kernel_spirv(desc.kernel);
    const KernelInterface& io = kernel_interface(desc.kernel);
    const std::string name = io.name;
    require(io.push_bytes <= ctx.device().max_push_constants,
            "Vulkan: pipeline '" + name + "' needs " + std::to_string(io.push_bytes) +
                " bytes of push constants; the device allows " + std::to_string(ctx.device().max_push_constants));
    VkDevice dev = ctx.handle();
    const std::string what = " for pipeline '" + name + "'";
    try {
        VkShaderModuleCreateInfo smci{VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO};
        smci.codeSize = words.size() * sizeof(uint32_t);
        smci.pCode = words.data();
        ctx.check(vkCreateShaderModule(dev, &smci, nullptr, &module_), ("vkCreateShaderModule" + what).c_str());

        // The bindings the SPIR-V declares (a kernel of the shared scan layout declares a subset).
        std::vector<VkDescriptorSetLayoutBinding> binds;
        for (uint32_t i = 0; i < io.bindings; ++i)
            if (io.binding_mask >> i & 1)
                binds.push_back({i, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr});
        VkDescriptorSetLayoutCreateInfo dslci{VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO};
        dslci.bindingCount = uint32_t(binds.size());
        dslci.pBindings = binds.data();
        ctx.check(vkCreateDescriptorSetLayout(dev, &dslci, nullptr, &set_layout_), ("vkCreateDescriptorSetLayout" + what).c_str());

        VkPushConstantRange range{VK_SHADER_STAGE_COMPUTE_BIT, 0, io.push_bytes};
        VkPipelineLayoutCreateInfo plci{VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO};
        plci.setLayoutCount = 1;
        plci.pSetLayouts = &set_layout_;
        plci.pushConstantRangeCount = io.push_bytes ? 1 : 0;
        plci.pPushConstantRanges = io.push_bytes ? &range : nullptr;
        ctx.check(vkCreatePipelineLayout(dev, &plci, nullptr, &layout_), ("vkCreatePipelineLayout" + what).c_str());

        std::vector<VkSpecializationMapEntry> entries;
        std::vector<uint32_t> values;
        for (const auto& [id, value] : desc.spec) {
            entries.push_back({id, uint32_t(values.size() * sizeof(uint32_t)), sizeof(uint32_t)});
            values.push_back(value);
        }
        VkSpecializationInfo si{uint32_t(entries.size()), entries.data(), values.size() * sizeof(uint32_t), values.data()};

        VkComputePipelineCreateInfo cpci{VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO};
        cpci.stage.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO;
        cpci.stage.stage = VK_SHADER_STAGE_COMPUTE_BIT;
        cpci.stage.module = module_;
        cpci.stage.pName = "main";
        cpci.stage.pSpecializationInfo = entries.empty() ? nullptr : &si;
        VkPipelineShaderStageRequiredSubgroupSizeCreateInfo rss{
            VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO};
        if (desc.required_subgroup_size) {
            require(ctx.device().subgroup_size_control,
                    "Vulkan: pipeline '" + name + "' needs subgroup size control, which " + ctx.device().name + " lacks");
            rss.requiredSubgroupSize = desc.required_subgroup_size;
            cpci.stage.pNext = &rss;
            cpci.stage.flags = VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT;
        }
        cpci.layout = layout_;
        if (ctx.captures_pipeline_statistics()) cpci.flags |= VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR;
        ctx.check(vkCreateComputePipelines(dev, VK_NULL_HANDLE, 1, &cpci, nullptr, &pipeline_),
                  ("vkCreateComputePipelines" + what).c_str());
        if (ctx.captures_pipeline_statistics()) statistics_ = query_statistics(ctx, pipeline_);
    } catch (...) {
        if (pipeline_) vkDestroyPipeline(dev, pipeline_, nullptr);
        if (layout_) vkDestroyPipelineLayout(dev, layout_, nullptr);
        if (set_layout_) vkDestroyDescriptorSetLayout(dev, set_layout_, nullptr);
        if (module_) vkDestroyShaderModule(dev, module_, nullptr);
        throw;
    }
}

ComputePipeline::~ComputePipeline() {
    VkDevice dev = ctx_.handle();
    vkDestroyPipeline(dev, pipeline_, nullptr);
    vkDestroyPipelineLayout(dev, layout_, nullptr);
    vkDestroyDescriptorSetLayout(dev, set_layout_, nullptr);
    vkDestroyShaderModule(dev, module_, nullptr);
}

} // namespace statescope::vk
