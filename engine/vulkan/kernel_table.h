// The kernel table: every SPIR-V module compiled from shaders/, by identifier. vulkan/kernels.h
// is generated at build time (cmake/statescope_shaders.cmake runs tools/kernel_table_gen.cpp):
// enum class Kernel and, per kernel, what its SPIR-V declares (kernel_interface(): the storage
// buffers of set 0 and the push-constant size). Pipelines are built from it and every dispatch is
// checked against it (commands.cpp); host push structs shared with GLSL static_assert their size
// against it.
#pragma once
#include "vulkan/kernels.h"

#include <cstdint>
#include <span>

namespace statescope::vk {

// The module's SPIR-V words, embedded in the binary.
std::span<const uint32_t> kernel_spirv(Kernel k);

// The push-constant size that kernel's SPIR-V declares, for static_assert(sizeof(Push) == ...).
constexpr uint32_t kernel_push_bytes(Kernel k) { return kernel_interface(k).push_bytes; }

} // namespace statescope::vk
