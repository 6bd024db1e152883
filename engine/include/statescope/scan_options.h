// Options of the GPU scan kernels that callers outside engine/gpu set (the benchmark of
// `statescope-cli bench`, statescope/scan_bench.h): which form runs, and tuning overrides.
// engine/gpu/scan_kernels.h runs them.
#pragma once
#include <string>
#include <utility>
#include <vector>

namespace statescope::gpu {

enum class ScanForm { Recurrent, Chunked, ChunkedF16 };
const char* scan_form_name(ScanForm f);

struct ScanRunOptions {
    ScanForm form = ScanForm::Recurrent;
    // Chunked form: positions (micro-steps) per chunk, rounded down to a multiple of substeps so
    // that chunk boundaries fall between tokens. At most 64.
    int chunk = 64;
    // Recurrent form: threads sharing one state column; 0 picks from the device (subgroup
    // shuffles when available), 1 forces the portable variant without subgroup operations.
    int lanes = 0;
    // Tuning overrides (0 = the device-based choice), for benchmarks: recurrent threads per
    // workgroup and tokens staged per block; chunked output value block and key tile.
    int recurrent_workgroup = 0, recurrent_tokens = 0;
    // (ChunkedF16: output_vblock picks its value block, 32, 64 or 128.)
    int output_vblock = 0, output_ktile = 0;
    // ChunkedF16: keep the state at every chunk start (download_chunk_states). The other
    // chunked form needs them as its intermediate and always keeps them; the fused kernel does
    // not, and skipping them saves one float32 state write per chunk and head.
    bool keep_chunk_states = true;
    // ChunkedF16: 0 issues each chunk's global loads at its start; 1 issues the next chunk's
    // loads before this chunk's products, so that they overlap the tensor-core work (costs the
    // registers that hold them); 2 or 3 spread them over that many of the chunk's phases.
    // -1: the measured choice (tensor_core_prefetch in scan_plan_tensor_core.cpp).
    int tc_prefetch = -1;
    // ChunkedF16 (no DPLR): run the profiling variant of the fused kernel, which adds up the
    // SM-clock cycles of each phase of its chunk loop (needs VK_KHR_shader_clock); read them
    // with ScanKernels::tensor_core_profile. For tuning: the clock reads change its speed.
    bool tc_profile = false;
    // ChunkedF16, no decay and scalar decay: split each sequence into this many segments that
    // run in parallel (a first pass computes every segment's own end state, the second starts
    // each segment from those carried forward), for long sequences with few heads, where one
    // workgroup per head leaves most of the GPU idle. 1: no split; -1: the measured choice
    // (tensor_core_segments in scan_plan_tensor_core.cpp). Not with tc_profile.
    int tc_segments = -1;
};

// Cycles per chunk of each phase of the fused tensor-core kernel, averaged over its workgroups
// (ScanRunOptions::tc_profile). Barrier phases are time spent waiting for the workgroup's
// other subgroups; the others are subgroup 0's own work.
struct TensorCoreProfile {
    std::vector<std::pair<std::string, double>> phases;
    double total = 0;   // cycles per chunk from the kernel's start to its end
    int workgroups = 0, chunks = 0;
};

} // namespace statescope::gpu
