// The SPIR-V modules compiled from shaders/ at build time (see shaders/CMakeLists.txt), embedded
// in the binary as word arrays.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace statescope::vk {

// The module of that name (the first column of shaders/CMakeLists.txt's table); empty if none.
std::span<const uint32_t> embedded_spirv(std::string_view name);
std::vector<std::string_view> embedded_spirv_names();

} // namespace statescope::vk
