// The scan buffers an Ops keeps between forwards, one set per problem shape (private to
// engine/gpu: ops.cpp and scan_ops.cpp).
#pragma once
#include "gpu/scan_kernels.h"

#include <map>
#include <memory>
#include <tuple>

namespace statescope::gpu {

class ScanCache {
public:
    explicit ScanCache(vk::VulkanContext& ctx) : kernels(ctx) {}
    ScanKernels kernels;
    using Key = std::tuple<int, int, int, int, int, int, bool, bool>;
    struct Entry {
        std::unique_ptr<ScanBuffers> buffers;
        uint64_t last_used = 0;
    };
    std::map<Key, Entry> entries;
    uint64_t forward = 0;

    // Called at begin(): the previous batch has completed, so buffers unused by the last
    // forward can go (prefix lengths of a verify run would otherwise pile up).
    void trim() {
        ++forward;
        if (entries.size() <= 6) return;
        for (auto it = entries.begin(); it != entries.end();)
            it = it->second.last_used + 1 < forward ? entries.erase(it) : std::next(it);
    }
};

} // namespace statescope::gpu
