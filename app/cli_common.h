// Helpers the statescope-cli subcommands share (cli_models.cpp, cli_bench_model.cpp, cli_main.cpp).
#pragma once
#include "model.h"
#include "vulkan/context.h"

#include <chrono>
#include <memory>
#include <string>

namespace statescope::cli {

double seconds_since(std::chrono::steady_clock::time_point t0);
// A positive integer option value, or an Error naming the flag.
long parse_positive(const std::string& flag, const char* s);
// A model folder, or a config .json (not a folder's config.json) turned into a synthetic model.
std::unique_ptr<Model> open_any(const std::string& path);
// The last component of a path, for tables.
std::string short_name(std::string path);
// backend "cpu" returns the model as it is; "vulkan" opens the device (`device`: index or name
// part, empty for the default choice) into ctx, which must outlive the result, and returns the
// GPU model over it. Other values are an Error naming the option.
std::shared_ptr<Model> on_backend(const std::string& backend, const std::string& device, std::shared_ptr<Model> model,
                                  std::unique_ptr<vk::VulkanContext>& ctx);

} // namespace statescope::cli
