// Reading the profiling variant of the fused tensor-core kernel (ScanRunOptions::tc_profile,
// shaders/scan_tc_fused.comp built with TC_PROFILE): SM-clock cycles per phase of its chunk loop.
#include "gpu/scan_kernels.h"

#include "statescope/error.h"

#include "common/push_constants.h"   // shaders/common: SS_PROFILE_ROW, SS_PROFILE_PHASES

#include <algorithm>
#include <iterator>

namespace statescope::gpu {

TensorCoreProfile ScanKernels::tensor_core_profile(const ScanBuffers& b) const {
    require(b.profile.valid(), "GPU scan: no tensor-core run with profiling (ScanRunOptions::tc_profile) to read");
    // The phases of scan_tc_fused.comp's chunk loop, in its PROF() order.
    static const char* const names[] = {"barrier 0 (chunk start)", "issue loads", "wait loads + stage", "barrier 1",
                                        "scores", "barrier 2", "mask (vector decay: stage 2)", "barrier 3",
                                        "outputs (+ delta values)", "state update"};
    static_assert(std::size(names) == SS_PROFILE_PHASES);
    constexpr size_t row = SS_PROFILE_ROW;
    std::vector<uint32_t> raw(size_t(b.profile_workgroups) * row);
    download(ctx_, b.profile, raw.data(), raw.size() * sizeof(uint32_t));
    TensorCoreProfile p;
    p.workgroups = b.profile_workgroups;
    p.chunks = b.num_chunks;
    const double per = 1.0 / (double(p.workgroups) * std::max(1, p.chunks));
    for (size_t i = 0; i < std::size(names); ++i) {
        double sum = 0;
        for (int g = 0; g < p.workgroups; ++g) sum += raw[size_t(g) * row + i];
        p.phases.emplace_back(names[i], sum * per);
    }
    double total = 0;
    for (int g = 0; g < p.workgroups; ++g) total += raw[size_t(g) * row + row - 1];
    p.total = total * per;
    return p;
}

} // namespace statescope::gpu
