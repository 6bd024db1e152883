#include "cli_common.h"

#include "core/checkpoint.h"
#include "core/error.h"
#include "gpu/gpu_model.h"

#include <cstdlib>

namespace statescope::cli {

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

long parse_positive(const std::string& flag, const char* s) {
    char* end = nullptr;
    long v = std::strtol(s, &end, 10);
    if (*end != '\0' || v <= 0) throw Error(flag + ": '" + s + "' is not a positive integer");
    return v;
}

std::unique_ptr<Model> open_any(const std::string& path) {
    if (path.size() > 5 && path.compare(path.size() - 5, 5, ".json") == 0 && path.find("config.json") == std::string::npos)
        return load_model(Checkpoint::synthetic(path, 1));
    return load_model(path);
}

std::string short_name(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    if (auto slash = path.find_last_of('/'); slash != std::string::npos) path = path.substr(slash + 1);
    return path;
}

std::shared_ptr<Model> on_backend(const std::string& backend, const std::string& device, std::shared_ptr<Model> model,
                                  std::unique_ptr<vk::VulkanContext>& ctx) {
    if (backend == "cpu") return model;
    if (backend != "vulkan") throw Error("--backend: '" + backend + "' is not available (available: cpu, vulkan)");
    vk::ContextOptions co;
    co.device = device;
    ctx = std::make_unique<vk::VulkanContext>(co);
    return std::make_shared<gpu::GpuModel>(std::move(model), *ctx);
}

} // namespace statescope::cli
