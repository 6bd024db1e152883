// How the scan forms of scan_kernels.h are laid out on a device: workgroups, tiles, chunk and
// value blocks, staging depths and dispatch splits, chosen from the device's limits and the
// problem's shape (overridable through ScanRunOptions, for benchmarks).
//   scan_plan.cpp              - the recurrent and chunked forms: fit to shared memory,
//                                threads and the loop limits of CPU drivers.
//   scan_plan_tensor_core.cpp  - the fused tensor-core form: what the device must offer and the
//                                value block, segments and prefetch depth it runs with.
// Defaults chosen by measurement say their rule here; the measurements are in docs/benchmarks.md,
// "Why the scan planner's defaults are what they are".
#pragma once
#include "gpu/scan_kernels.h"
#include "vulkan/kernel_table.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace statescope::vk {
struct DeviceInfo;
} // namespace statescope::vk

namespace statescope::gpu {

struct RecurrentPlan {
    vk::Kernel kernel = vk::Kernel::scan_recurrent;   // a variant of shaders/scan_recurrent.comp
    uint32_t lanes = 1, rows = 1, workgroup = 128, subgroup = 0;
    uint32_t tokens = 1;   // tokens staged in shared memory per block
    uint32_t segment = 0;  // tokens per dispatch (all of them except on CPU drivers)
};
struct ChunkPlan {
    uint32_t chunk = 64;
    uint32_t wy_workgroup = 256, wy_ktile = 32;
    uint32_t state_workgroup = 256, state_ktile = 16, state_vblock = 32, state_kblock = 32;
    uint32_t out_workgroup = 256, out_ktile = 16, out_vblock = 32;
    uint32_t state_segment = 0;   // chunks per state-pass dispatch
};
struct TensorCorePlan {
    uint32_t vblock = 64, groups = 0;       // value block; workgroups per segment (blocks x heads)
    uint32_t segments = 1, seg_chunks = 0;  // split sequences: segments of seg_chunks chunks
    uint32_t prefetch = 0;                  // SS_SC_PREFETCH
};

RecurrentPlan plan_recurrent(const vk::DeviceInfo& d, const ScanBuffers& b, const ScanRunOptions& options);
ChunkPlan plan_chunked(const vk::DeviceInfo& d, const ScanBuffers& b, const ScanRunOptions& options);
// (check_tensor_core_form first.)
TensorCorePlan plan_tensor_core(const ScanBuffers& b, const ScanRunOptions& options);

// The chunked form runs DiagPlusRankOne as a scan of two micro-steps per token
// (shaders/scan_chunk_dplr.comp): its chunk, gates and scratch count those.
uint32_t chunk_substeps(const ScanBuffers& b);

// The tensor-core form: the cooperative-matrix shape its shader uses, its chunk, largest K and
// subgroup size (shaders/common/scan_tc.glsl).
constexpr const char* kTensorCoreShape = "16x16x16 f16*f16+f32->f32";
constexpr uint32_t kTensorCoreChunk = 32, kTensorCoreKMax = 128, kTensorCoreSubgroup = 32;
// "" when the device can run the tensor-core form, else what it lacks.
std::string tensor_core_missing(const vk::DeviceInfo& d);
// Throws Error naming what the device or the problem lacks for the tensor-core form.
void check_tensor_core_form(const vk::DeviceInfo& d, const ScanBuffers& b, const ScanRunOptions& options);

// The plan of options.form for b, in words (ScanKernels::describe).
std::string describe_plan(const vk::DeviceInfo& d, const ScanBuffers& b, const ScanRunOptions& options);

} // namespace statescope::gpu
