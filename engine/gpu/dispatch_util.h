// Small helpers every GPU op file needs when it records a kernel: grid sizes, the pipeline
// description of a kernel, and the bounds check of a view before a kernel
// reads it (a view past its buffer's end would read garbage, never fail).
#pragma once
#include "statescope/error.h"
#include "gpu/ops.h"
#include "vulkan/pipeline.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace statescope::gpu {

inline uint32_t ceil_div(uint64_t a, uint64_t b) { return uint32_t((a + b - 1) / b); }
inline uint32_t round_up(uint32_t a, uint32_t m) { return ceil_div(a, m) * m; }

// The pipeline of `kernel` with specialization constants (its bindings and push block are the
// ones its SPIR-V declares: the kernel table).
inline vk::PipelineDesc kernel_pipeline(vk::Kernel kernel, std::vector<std::pair<uint32_t, uint32_t>> spec = {}) {
    vk::PipelineDesc d;
    d.kernel = kernel;
    d.spec = std::move(spec);
    return d;
}

// Workgroups of 256 for n invocations as (x, y) within the per-dimension limit of 65535.
inline std::pair<uint32_t, uint32_t> grid_2d(uint64_t n) {
    const uint32_t groups = std::max<uint32_t>(1, ceil_div(n, 256));
    const uint32_t gx = std::min<uint32_t>(groups, 65535);
    return {gx, ceil_div(groups, gx)};
}

// Throws Error naming the op and operand when m is unallocated or runs past its buffer.
inline void check_view(const Mat& m, const std::string& op, const std::string& what) {
    if (!m.buf) throw Error("GPU " + op + ": " + what + " is not allocated");
    const size_t last = size_t(m.offset) + (m.rows ? size_t(m.rows - 1) * m.stride + m.cols : 0);
    if (last * sizeof(float) > m.buf->size())
        throw Error("GPU " + op + ": " + what + " [" + std::to_string(m.rows) + ", " + std::to_string(m.cols) +
                    "] runs past the end of buffer '" + m.buf->name() + "'");
}

} // namespace statescope::gpu
