#include "gpu/sequence.h"

#include "statescope/error.h"
#include "vulkan/commands.h"
#include "vulkan/context.h"

#include <algorithm>

namespace statescope::gpu {

DeviceTensor* LayerState::find(const std::string& name) {
    for (auto& [n, t] : aux)
        if (n == name) return &t;
    return nullptr;
}

DeviceTensor& LayerState::get(const std::string& name) {
    DeviceTensor* t = find(name);
    if (!t) throw Error("GPU layer state has no tensor '" + name + "'");
    return *t;
}

size_t SequenceState::bytes() const {
    size_t n = 0;
    for (const LayerState& l : layers) {
        for (const DeviceTensor& r : l.recurrent) n += r.capacity * 4;
        for (const auto& a : l.aux) n += a.second.capacity * 4;
    }
    return n;
}

bool is_kv_cache(const std::string& name) { return name == "keys" || name == "values"; }

namespace {

DeviceTensor make_tensor(vk::VulkanContext& ctx, const std::vector<int64_t>& shape, size_t capacity,
                         const std::string& what) {
    DeviceTensor t;
    t.shape = shape;
    t.capacity = std::max<size_t>(capacity, 1);
    t.buf = std::make_unique<vk::Buffer>(ctx, t.capacity * 4, vk::MemoryKind::Device, what);
    return t;
}

// [kv, P, D] <-> [P, kv, D]
std::vector<float> transpose_kv(const std::vector<float>& src, int64_t a, int64_t b, int64_t d) {
    std::vector<float> out(src.size());
    for (int64_t i = 0; i < a; ++i)
        for (int64_t j = 0; j < b; ++j)
            std::copy_n(src.data() + (i * b + j) * d, d, out.data() + (j * a + i) * d);
    return out;
}

} // namespace

SequenceState upload_sequence(vk::VulkanContext& ctx, const statescope::SequenceState& host) {
    SequenceState dev;
    upload_sequence_into(ctx, host, dev);
    return dev;
}

void upload_sequence_into(vk::VulkanContext& ctx, const statescope::SequenceState& host, SequenceState& dev) {
    // Reuse a buffer when the tensor's name, shape and capacity fit; otherwise make a new one.
    auto fits = [](const DeviceTensor& d, const std::vector<int64_t>& shape, size_t floats) {
        return d.buf && d.shape == shape && d.capacity >= floats;
    };
    dev.position = host.position;
    if (dev.layers.size() != host.layers.size()) {
        dev.layers.clear();
        dev.layers.resize(host.layers.size());
    }
    for (size_t l = 0; l < host.layers.size(); ++l) {
        const statescope::LayerState& h = host.layers[l];
        LayerState& d = dev.layers[l];
        const std::string L = "layer " + std::to_string(l);
        if (!h.recurrent.data.empty()) {
            const size_t n = h.recurrent.data.size();
            if (!fits(d.recurrent[0], h.recurrent.shape, n) || !fits(d.recurrent[1], h.recurrent.shape, n))
                for (int i = 0; i < 2; ++i) d.recurrent[i] = make_tensor(ctx, h.recurrent.shape, n, L + " recurrent state");
            d.current = 0;
            vk::upload(ctx, *d.recurrent[0].buf, h.recurrent.ptr(), n * 4);
        } else {
            d.recurrent[0] = {};
            d.recurrent[1] = {};
        }
        std::vector<std::pair<std::string, DeviceTensor>> old = std::move(d.aux);
        d.aux.clear();
        for (size_t i = 0; i < h.aux.size(); ++i) {
            const NamedTensor& a = h.aux[i];
            const Tensor& t = a.tensor;
            DeviceTensor dt;
            if (i < old.size() && old[i].first == a.name) dt = std::move(old[i].second);
            if (is_kv_cache(a.name)) {
                require(t.shape.size() == 3, "GPU state: KV cache '" + a.name + "' of " + L + " is not [heads, P, D]");
                const int64_t kv = t.shape[0], P = t.shape[1], D = t.shape[2];
                const size_t need = size_t(std::max<int64_t>(P, 64)) * kv * D;
                const bool same_rows = dt.buf && dt.shape.size() == 3 && dt.shape[0] == kv && dt.shape[2] == D;
                if (!same_rows || dt.capacity < need) dt = make_tensor(ctx, t.shape, need, L + " " + a.name);
                dt.shape = t.shape;
                if (P > 0) {
                    const std::vector<float> tm = transpose_kv(t.data, kv, P, D);
                    vk::upload(ctx, *dt.buf, tm.data(), tm.size() * 4);
                }
            } else {
                if (!fits(dt, t.shape, t.data.size())) dt = make_tensor(ctx, t.shape, t.data.size(), L + " " + a.name);
                if (!t.data.empty()) vk::upload(ctx, *dt.buf, t.ptr(), t.data.size() * 4);
            }
            d.aux.emplace_back(a.name, std::move(dt));
        }
    }
}

void download_sequence(vk::VulkanContext& ctx, const SequenceState& dev, statescope::SequenceState& host) {
    require(dev.layers.size() == host.layers.size(), "GPU state: layer count differs from the host state");
    host.position = dev.position;
    for (size_t l = 0; l < dev.layers.size(); ++l) {
        const LayerState& d = dev.layers[l];
        statescope::LayerState& h = host.layers[l];
        if (d.has_recurrent()) {
            const DeviceTensor& cur = d.recurrent[d.current];
            h.recurrent = Tensor(cur.shape);
            vk::download(ctx, *cur.buf, h.recurrent.ptr(), h.recurrent.data.size() * 4);
        }
        h.aux.clear();
        for (const auto& [name, t] : d.aux) {
            Tensor out(t.shape);
            if (!out.data.empty()) {
                if (is_kv_cache(name)) {
                    const int64_t kv = t.shape[0], P = t.shape[1], Dh = t.shape[2];
                    std::vector<float> tm(out.data.size());
                    vk::download(ctx, *t.buf, tm.data(), tm.size() * 4);
                    out.data = transpose_kv(tm, P, kv, Dh);
                } else {
                    vk::download(ctx, *t.buf, out.ptr(), out.data.size() * 4);
                }
            }
            h.aux.push_back({name, std::move(out)});
        }
    }
}

Mat scan_layer(Ops& ops, const ScanMats& in, LayerState& st) {
    require(st.has_recurrent(), "GPU scan: the layer has no recurrent state");
    Mat o = ops.scan(in, *st.recurrent[st.current].buf, st.next_state_buffer());
    st.current ^= 1;
    return o;
}

void reserve_kv(Ops& ops, DeviceTensor& cache, int64_t tokens) {
    vk::VulkanContext& ctx = ops.context();
    require(cache.shape.size() == 3, "GPU KV cache is not [heads, P, D]");
    const size_t row = size_t(cache.shape[0]) * size_t(cache.shape[2]);
    if (size_t(tokens) * row <= cache.capacity) return;
    size_t cap_tokens = std::max<size_t>(cache.capacity / std::max<size_t>(row, 1), 64);
    while (cap_tokens < size_t(tokens)) cap_tokens *= 2;
    ops.flush();
    auto bigger = std::make_unique<vk::Buffer>(ctx, cap_tokens * row * 4, vk::MemoryKind::Device, cache.buf->name());
    const size_t used = size_t(cache.shape[1]) * row * 4;
    if (used > 0) {
        vk::CommandBatch b(ctx, 1, 2);
        b.begin();
        b.copy(*cache.buf, 0, *bigger, 0, used);
        b.submit_and_wait();
    }
    cache.buf = std::move(bigger);
    cache.capacity = cap_tokens * row;
}

} // namespace statescope::gpu
