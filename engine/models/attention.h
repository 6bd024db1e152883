// Softmax attention with a KV cache, shared by llama (transformers' naming) and the softmax
// layers of fla's hybrid models (fla/layers/attn.py). The layer state is the cache itself:
// aux tensors "keys" and "values", [kv_heads, P, head_dim], keys stored after RoPE.
#pragma once
#include "models/block_model.h"

#include <memory>
#include <string>
#include <vector>

namespace statescope {

// Rotary position embedding in the GPT-NeoX layout that transformers' llama and fla's
// RotaryEmbedding (interleaved=False) use: feature i rotates together with feature i + dim/2 by
// the angle position * inv_freq[i].
struct Rope {
    int dim = 0;                 // rotated features per head (the whole head)
    std::vector<float> inv_freq; // [dim / 2]

    bool empty() const { return dim == 0; }
    // Rotates every head of every row of x ([T, heads * dim]); row t is at first_position + t.
    void apply(cpu::Mat& x, int heads, int64_t first_position) const;

    // inv_freq[i] = theta^(-2i / dim).
    static Rope standard(int dim, double theta);
    // transformers' RoPE settings: rope_parameters (5.x) or rope_theta + rope_scaling (4.x), of
    // rope_type "default", "linear" or "llama3".
    static Rope from_transformers_config(const Config& c, int head_dim);
};

struct AttentionSpec {
    int hidden = 0, heads = 0, kv_heads = 0, head_dim = 0;
    std::string q_proj, k_proj, v_proj, o_proj; // module names, without ".weight"
    bool qkv_bias = false, o_bias = false;
    int window = 0; // keys a query sees, itself included (sliding window); 0: all
    Rope rope;
    // How library_state names and lays out the cache:
    //   Transformers: cache.layers.<l>.keys / .values, [1, kv_heads, P, head_dim]
    //   Fla:          L<l>.attn_state.0 / .1 (keys, values), [1, P, kv_heads * head_dim]
    enum class CacheLayout { Transformers, Fla } cache_layout = CacheLayout::Transformers;
    std::string mixer_name = "softmax attention";
};

std::unique_ptr<Mixer> make_softmax_attention(Checkpoint& ck, const AttentionSpec& spec);

// Causal softmax attention (transformers' eager attention with repeat_kv) of q [T, heads * D]
// over a cache [kv_heads, P, D] (P >= T) whose last T slots hold the queries' own keys: the query
// of row t sees slot j when j <= P - T + t and, with a window, j > P - T + t - window; scores are
// scaled by 1/sqrt(D). Returns [T, heads * D]. The softmax layer's CPU forward, and the judge of
// the GPU kernels (engine/gpu/attention_ops.h).
cpu::Mat causal_attention(const cpu::Mat& q, const Tensor& keys, const Tensor& values, int heads, int window);

} // namespace statescope
