// A sequence's state resident on the device: the GPU twin of statescope::SequenceState, with the
// same layers, names and shapes, so that a state moves between host and device without any
// family code (upload_sequence / download_sequence).
//
// Recurrent states are double-buffered: a scan reads one buffer and writes the other, then the
// layer's `current` flips. KV caches ("keys", "values") are stored token-major on the device,
// [capacity, kv_heads, head_dim], so that appending tokens never moves what is there; the host
// shape stays [kv_heads, P, head_dim].
#pragma once
#include "gpu/ops.h"
#include "statescope/model.h"

#include <string>
#include <utility>
#include <vector>

namespace statescope::gpu {

struct LayerState {
    DeviceTensor recurrent[2];
    int current = 0;
    std::vector<std::pair<std::string, DeviceTensor>> aux;

    bool has_recurrent() const { return !recurrent[0].shape.empty(); }
    // The current recurrent state as [H, K * V], and the buffer the next scan writes.
    Mat state() const { return recurrent[current].mat(); }
    const vk::Buffer& next_state_buffer() const { return *recurrent[current ^ 1].buf; }
    DeviceTensor* find(const std::string& name);
    DeviceTensor& get(const std::string& name);   // throws Error naming the tensor if absent
};

struct SequenceState {
    int64_t position = 0;
    std::vector<LayerState> layers;
    size_t bytes() const;   // device memory held
};

// True for aux tensors kept token-major with spare capacity (KV caches).
bool is_kv_cache(const std::string& name);

SequenceState upload_sequence(vk::VulkanContext& ctx, const statescope::SequenceState& host);
// The same into an existing device state, reusing its buffers where the shapes allow (the
// timeline restores a checkpoint every jump; allocating device memory each time would dominate).
void upload_sequence_into(vk::VulkanContext& ctx, const statescope::SequenceState& host, SequenceState& dev);
void download_sequence(vk::VulkanContext& ctx, const SequenceState& dev, statescope::SequenceState& host);

// Makes room for `tokens` positions in a KV cache (keeps its contents, grows by doubling). When
// it must grow it flushes the ops first (recorded work may still use the old buffer).
void reserve_kv(Ops& ops, DeviceTensor& cache, int64_t tokens);

// Runs a layer's scan from its current state and flips the state: o [T, H * V].
Mat scan_layer(Ops& ops, const ScanMats& in, LayerState& st);

} // namespace statescope::gpu
