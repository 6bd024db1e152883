// Softmax attention with a KV cache (see attention.h), and fla's hybrid attention layers built on it.
#include "models/attention.h"

#include "statescope/error.h"
#include "gpu/attention_ops.h"
#include "gpu/layers.h"
#include "models/fla_common.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace statescope {

// ---- RoPE ----

void Rope::apply(cpu::Mat& x, int heads, int64_t first_position) const {
    if (empty()) return;
    const int half = dim / 2;
    std::vector<float> cos_t(static_cast<size_t>(half)), sin_t(static_cast<size_t>(half));
    for (Eigen::Index t = 0; t < x.rows(); ++t) {
        // The angle is formed in float32 as the libraries do (position * inv_freq), then rotated.
        const float pos = float(first_position + t);
        for (int i = 0; i < half; ++i) {
            const float angle = pos * inv_freq[size_t(i)];
            cos_t[size_t(i)] = float(std::cos(double(angle)));
            sin_t[size_t(i)] = float(std::sin(double(angle)));
        }
        float* row = x.row(t).data();
        for (int h = 0; h < heads; ++h) {
            float* v = row + size_t(h) * dim;
            for (int i = 0; i < half; ++i) {
                const float a = v[i], b = v[i + half];
                v[i] = a * cos_t[size_t(i)] - b * sin_t[size_t(i)];
                v[i + half] = b * cos_t[size_t(i)] + a * sin_t[size_t(i)];
            }
        }
    }
}

Rope Rope::standard(int dim, double theta) {
    if (dim <= 0 || dim % 2) throw Error("rotary embedding needs a positive even head dimension, got " + std::to_string(dim));
    Rope r;
    r.dim = dim;
    r.inv_freq.resize(size_t(dim / 2));
    for (int i = 0; i < dim / 2; ++i)
        r.inv_freq[size_t(i)] = float(1.0 / std::pow(theta, double(2 * i) / dim));
    return r;
}

Rope Rope::from_transformers_config(const Config& c, int head_dim) {
    // 5.x: rope_parameters {rope_theta, rope_type, ...}; 4.x: rope_theta and rope_scaling {type, ...}.
    const char* section = c.has("rope_parameters") ? "rope_parameters" : c.has("rope_scaling") ? "rope_scaling" : nullptr;
    Config rp;
    if (section) {
        const Json& j = *c.root().find(section);
        if (!j.is_object()) c.fail(section, "expected an object");
        rp = Config(j, c.path() + ": " + section);
    } else {
        rp = Config(Json::parse("{}", "defaults"), c.path());
    }
    const double theta = rp.number_or("rope_theta", c.number_or("rope_theta", 10000.0));
    if (!(theta > 0) || !std::isfinite(theta)) rp.fail("rope_theta", "must be positive and finite");
    const std::string type = rp.string_or("rope_type", rp.string_or("type", "default"));
    const double partial = rp.number_or("partial_rotary_factor", c.number_or("partial_rotary_factor", 1.0));
    if (partial != 1.0) rp.fail("partial_rotary_factor", "only 1.0 is supported");

    Rope r = standard(head_dim, theta);
    if (type == "default") return r;
    if (type == "linear") {
        const double factor = rp.number_or("factor", 0);
        if (!(factor > 0)) rp.fail("factor", "linear RoPE scaling needs a positive factor");
        for (float& f : r.inv_freq) f = float(f / factor);
        return r;
    }
    if (type == "llama3") {
        // transformers' _compute_llama3_parameters: long wavelengths slowed by `factor`, short
        // ones kept, the band in between interpolated smoothly.
        const double factor = rp.number_or("factor", 0);
        const double low = rp.number_or("low_freq_factor", 0), high = rp.number_or("high_freq_factor", 0);
        const double old_len = rp.number_or("original_max_position_embeddings", 0);
        if (!(factor > 0)) rp.fail("factor", "llama3 RoPE scaling needs a positive factor");
        if (!(high > low) || !(low > 0)) rp.fail("high_freq_factor", "llama3 RoPE scaling needs 0 < low_freq_factor < high_freq_factor");
        if (!(old_len > 0)) rp.fail("original_max_position_embeddings", "llama3 RoPE scaling needs a positive value");
        const double low_wavelen = old_len / low, high_wavelen = old_len / high;
        for (float& f : r.inv_freq) {
            const double inv = f, wavelen = 2 * M_PI / inv;
            double out = wavelen > low_wavelen ? inv / factor : inv;
            if (!(wavelen < high_wavelen) && !(wavelen > low_wavelen)) {
                const double smooth = (old_len / wavelen - low) / (high - low);
                out = (1 - smooth) * out / factor + smooth * out;
            }
            f = float(out);
        }
        return r;
    }
    rp.fail("rope_type", "'" + type + "' is not supported (default, linear, llama3 are)");
}

// ---- attention over a cache ----

cpu::Mat causal_attention(const cpu::Mat& q, const Tensor& keys, const Tensor& values, int heads, int window) {
    require(keys.shape.size() == 3 && values.shape == keys.shape, "attention: caches are not both [kv_heads, P, D]");
    const int KVH = int(keys.shape[0]), P = int(keys.shape[1]), D = int(keys.shape[2]), T = int(q.rows());
    require(heads > 0 && KVH > 0 && heads % KVH == 0 && q.cols() == Eigen::Index(heads) * D && P >= T,
            "attention: queries [" + std::to_string(T) + ", " + std::to_string(q.cols()) + "] do not match a cache of " +
                std::to_string(KVH) + " heads x " + std::to_string(P) + " positions x " + std::to_string(D));
    const int first_slot = P - T; // the cache slot of query 0's own key
    const int groups = heads / KVH; // query head h reads kv head h / groups (repeat_kv, flash-attn GQA)
    const float scale = 1.0f / std::sqrt(float(D));
    const float neg_inf = -std::numeric_limits<float>::infinity();
    cpu::Mat o(T, heads * D);
    for (int h = 0; h < heads; ++h) {
        const int kvh = h / groups;
        cpu::ConstMap Kh(keys.ptr() + size_t(kvh) * P * D, P, D);
        cpu::ConstMap Vh(values.ptr() + size_t(kvh) * P * D, P, D);
        cpu::Mat s = (q.middleCols(h * D, D) * Kh.transpose()) * scale; // [T, P]
        for (int t = 0; t < T; ++t) {
            const int slot = first_slot + t;
            float* row = s.row(t).data();
            float m = neg_inf;
            for (int j = 0; j < P; ++j) {
                if (j > slot || (window > 0 && j <= slot - window)) row[j] = neg_inf;
                m = std::max(m, row[j]);
            }
            double sum = 0;
            for (int j = 0; j < P; ++j) {
                row[j] = row[j] == neg_inf ? 0.0f : std::exp(row[j] - m);
                sum += row[j];
            }
            const float inv = float(1.0 / sum);
            for (int j = 0; j < P; ++j) row[j] *= inv;
        }
        o.middleCols(h * D, D) = s * Vh;
    }
    return o;
}

// ---- the attention mixer ----

namespace {

class SoftmaxAttention : public Mixer {
public:
    SoftmaxAttention(Checkpoint& ck, const AttentionSpec& s) : s_(s) {
        if (s.heads <= 0 || s.kv_heads <= 0 || s.heads % s.kv_heads)
            throw Error("attention: " + std::to_string(s.kv_heads) + " kv heads do not divide " + std::to_string(s.heads) + " heads");
        const int D = s.head_dim;
        q_ = cpu::Linear::load(ck, s.q_proj, s.heads * D, s.hidden, s.qkv_bias);
        k_ = cpu::Linear::load(ck, s.k_proj, s.kv_heads * D, s.hidden, s.qkv_bias);
        v_ = cpu::Linear::load(ck, s.v_proj, s.kv_heads * D, s.hidden, s.qkv_bias);
        o_ = cpu::Linear::load(ck, s.o_proj, s.hidden, s.heads * D, s.o_bias);
    }

    LayerInfo info() const override {
        LayerInfo li;
        li.mixer = MixerKind::SoftmaxAttention;
        li.heads = s_.heads;
        li.key_dim = s_.head_dim;
        li.value_dim = s_.head_dim;
        li.mixer_name = s_.mixer_name;
        return li;
    }

    void init_state(LayerState& st) const override {
        st.aux.push_back({"keys", Tensor({s_.kv_heads, 0, s_.head_dim})});
        st.aux.push_back({"values", Tensor({s_.kv_heads, 0, s_.head_dim})});
    }

    cpu::Mat forward(const cpu::Mat& x, LayerState& st, ForwardContext& ctx) const override {
        const int T = int(x.rows()), D = s_.head_dim, H = s_.heads, KVH = s_.kv_heads;
        cpu::Mat q = q_(x), k = k_(x), v = v_(x);
        s_.rope.apply(q, H, ctx.position);
        s_.rope.apply(k, KVH, ctx.position);

        // Append this call's keys and values to the cache: [KVH, P_old + T, D].
        Tensor& keys = st.get("keys");
        Tensor& values = st.get("values");
        keys = appended(keys, k);
        values = appended(values, v);
        const int P = int(keys.shape[1]);
        cpu::Mat o = causal_attention(q, keys, values, H, s_.window);

        ForwardObserver* obs = ctx.options ? ctx.options->observer : nullptr;
        if (obs && obs->wants_layer(ctx.layer))
            obs->on_attention(ctx.layer, ctx.position, Tensor({T, H, D}, std::vector<float>(q.data(), q.data() + q.size())),
                              position_major(keys), position_major(values));

        if (s_.window > 0 && P > s_.window) {
            keys = last_positions(keys, s_.window);
            values = last_positions(values, s_.window);
        }
        return o_(o);
    }

    // forward() on the device, step by step. The cache is token-major there ([capacity, KVH, D],
    // gpu/sequence.h), so this call's keys and values are rows appended in place.
    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState& st, ForwardContext& ctx) const override {
        const uint32_t T = x.rows, D = uint32_t(s_.head_dim), H = uint32_t(s_.heads), KVH = uint32_t(s_.kv_heads);
        const uint32_t width = KVH * D; // floats per cache row
        gpu::Mat q = gpu::linear(ops, q_, x), k = gpu::linear(ops, k_, x), v = gpu::linear(ops, v_, x);

        gpu::DeviceTensor& keys = st.get("keys");
        gpu::DeviceTensor& values = st.get("values");
        const int64_t P_old = keys.shape[1], P = P_old + T;
        require(values.shape[1] == P_old, "layer " + std::to_string(ctx.layer) + ": GPU key and value caches differ in length");
        require(P <= int64_t(INT32_MAX), "layer " + std::to_string(ctx.layer) + ": the KV cache would exceed 2^31 positions");
        gpu::reserve_kv(ops, keys, P); // may replace the buffers: take the views after
        gpu::reserve_kv(ops, values, P);
        const gpu::Mat kc{keys.buf.get(), 0, uint32_t(P), width, width};
        const gpu::Mat vc{values.buf.get(), 0, uint32_t(P), width, width};
        const gpu::Mat k_new = kc.rows_range(uint32_t(P_old), T), v_new = vc.rows_range(uint32_t(P_old), T);
        if (s_.rope.empty()) {
            ops.copy(k_new, k);
        } else {
            require(s_.rope.dim == s_.head_dim, "attention: rotary embedding over part of a head is not supported on the GPU");
            const gpu::Mat inv_freq = ops.weights().vector(s_.rope.inv_freq.data(), uint32_t(s_.rope.inv_freq.size()),
                                                           "layer " + std::to_string(ctx.layer) + " rotary frequencies");
            gpu::rope(ops, q, q, H, D, inv_freq, ctx.position);
            gpu::rope(ops, k_new, k, KVH, D, inv_freq, ctx.position);
        }
        ops.copy(v_new, v);
        keys.shape[1] = values.shape[1] = P;

        gpu::AttentionParams ap;
        ap.heads = H;
        ap.kv_heads = KVH;
        ap.head_dim = D;
        ap.scale = 1.0f / std::sqrt(float(D));
        ap.window = uint32_t(s_.window);
        const gpu::Mat o = gpu::attention(ops, q, kc, vc, ap);

        ForwardObserver* obs = ctx.options ? ctx.options->observer : nullptr;
        if (obs && obs->wants_layer(ctx.layer)) {
            Tensor qh = ops.download(q), kh = ops.download(kc), vh = ops.download(vc);
            qh.shape = {int64_t(T), int64_t(H), int64_t(D)};
            kh.shape = vh.shape = {P, int64_t(KVH), int64_t(D)}; // already position-major
            obs->on_attention(ctx.layer, ctx.position, qh, kh, vh);
        }

        if (s_.window > 0 && P > s_.window) {
            // Keep the last `window` rows: through scratch, since the ranges may overlap.
            const uint32_t keep = uint32_t(s_.window);
            const gpu::Mat tmp = ops.alloc(keep, width, "sliding-window cache rows");
            for (const gpu::Mat& c : {kc, vc}) {
                ops.copy(tmp, c.rows_range(uint32_t(P) - keep, keep));
                ops.copy(c.rows_range(0, keep), tmp);
            }
            keys.shape[1] = values.shape[1] = keep;
        }
        return gpu::linear(ops, o_, o);
    }

    void library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const override {
        const Tensor& keys = *st.find("keys");
        const Tensor& values = *st.find("values");
        if (s_.cache_layout == AttentionSpec::CacheLayout::Transformers) {
            const std::string p = "cache.layers." + std::to_string(layer);
            out.push_back({p + ".keys", with_batch(keys)});
            out.push_back({p + ".values", with_batch(values)});
        } else {
            // fla keeps (k, v) flattened over heads: [B, P, kv_heads * head_dim].
            const std::string p = "L" + std::to_string(layer) + ".attn_state.";
            Tensor k = position_major(keys), v = position_major(values);
            k.shape = {1, k.shape[0], k.shape[1] * k.shape[2]};
            v.shape = {1, v.shape[0], v.shape[1] * v.shape[2]};
            out.push_back({p + "0", std::move(k)});
            out.push_back({p + "1", std::move(v)});
        }
    }

private:
    // cache [KVH, P, D] + new rows x [T, KVH * D] -> [KVH, P + T, D]
    static Tensor appended(const Tensor& cache, const cpu::Mat& x) {
        const int KVH = int(cache.shape[0]), P = int(cache.shape[1]), D = int(cache.shape[2]), T = int(x.rows());
        Tensor out({KVH, P + T, D});
        for (int h = 0; h < KVH; ++h) {
            std::copy_n(cache.ptr() + size_t(h) * P * D, size_t(P) * D, out.ptr() + size_t(h) * (P + T) * D);
            for (int t = 0; t < T; ++t)
                std::copy_n(x.row(t).data() + size_t(h) * D, D, out.ptr() + (size_t(h) * (P + T) + P + t) * D);
        }
        return out;
    }
    static Tensor last_positions(const Tensor& cache, int n) {
        const int KVH = int(cache.shape[0]), P = int(cache.shape[1]), D = int(cache.shape[2]);
        Tensor out({KVH, n, D});
        for (int h = 0; h < KVH; ++h)
            std::copy_n(cache.ptr() + (size_t(h) * P + (P - n)) * D, size_t(n) * D, out.ptr() + size_t(h) * n * D);
        return out;
    }
    // [KVH, P, D] -> [P, KVH, D]
    static Tensor position_major(const Tensor& cache) {
        const int KVH = int(cache.shape[0]), P = int(cache.shape[1]), D = int(cache.shape[2]);
        Tensor out({P, KVH, D});
        for (int h = 0; h < KVH; ++h)
            for (int p = 0; p < P; ++p)
                std::copy_n(cache.ptr() + (size_t(h) * P + p) * D, D, out.ptr() + (size_t(p) * KVH + h) * D);
        return out;
    }
    static Tensor with_batch(const Tensor& t) {
        Tensor out = t;
        out.shape.insert(out.shape.begin(), 1);
        return out;
    }

    AttentionSpec s_;
    cpu::Linear q_, k_, v_, o_;
};

} // namespace

std::unique_ptr<Mixer> make_softmax_attention(Checkpoint& ck, const AttentionSpec& spec) {
    return std::make_unique<SoftmaxAttention>(ck, spec);
}

// fla's hybrid layers (fla/models/hybrid.py): config.attn is one spec {layers, num_heads,
// num_kv_heads, qkv_bias, window_size, rope_theta} or a list of them; the layer is fla's
// Attention (fla/layers/attn.py) with head_dim = hidden / num_heads and RoPE over the whole head.
std::unique_ptr<Mixer> make_fla_attention(Checkpoint& ck, const Config& c, int layer, int hidden) {
    const Json* attn = c.root().find("attn");
    if (!attn || attn->is_null()) c.fail("attn", "layer " + std::to_string(layer) + " is not an attention layer");
    std::vector<const Json*> specs;
    if (attn->is_object()) specs.push_back(attn);
    else if (attn->is_array()) for (const Json& s : attn->items()) specs.push_back(&s);
    else c.fail("attn", "expected an object or a list of objects");
    for (size_t i = 0; i < specs.size(); ++i) {
        if (!specs[i]->is_object()) c.fail("attn", "expected an object or a list of objects");
        const std::string where = c.path() + ": attn" + (attn->is_array() ? "[" + std::to_string(i) + "]" : "");
        const Config sc(*specs[i], where);
        const Json* layers = specs[i]->find("layers");
        if (!layers || !layers->is_array()) sc.fail("layers", "expected a list of layer indices");
        bool mine = false;
        for (const Json& l : layers->items()) mine = mine || (l.is_number() && l.as_number() == layer);
        if (!mine) continue;

        AttentionSpec s;
        s.hidden = hidden;
        s.heads = int(sc.int_in_range("num_heads", -1, 1, 4096));
        s.kv_heads = int(sc.int_in_range("num_kv_heads", s.heads, 1, s.heads));
        if (s.heads % s.kv_heads) sc.fail("num_kv_heads", "must divide num_heads");
        if (hidden % s.heads) sc.fail("num_heads", "must divide hidden_size");
        s.head_dim = hidden / s.heads;
        s.qkv_bias = sc.bool_or("qkv_bias", false);
        s.window = int(sc.int_in_range("window_size", 0, 0, 1 << 30));
        const double theta = sc.number_or("rope_theta", 10000.0);
        if (!(theta > 0) || !std::isfinite(theta)) sc.fail("rope_theta", "must be positive and finite");
        s.rope = Rope::standard(s.head_dim, theta);
        const std::string p = "model.layers." + std::to_string(layer) + ".attn";
        s.q_proj = p + ".q_proj";
        s.k_proj = p + ".k_proj";
        s.v_proj = p + ".v_proj";
        s.o_proj = p + ".o_proj";
        s.cache_layout = AttentionSpec::CacheLayout::Fla;
        return make_softmax_attention(ck, s);
    }
    c.fail("attn", "no attention spec lists layer " + std::to_string(layer));
}

} // namespace statescope
