// Pieces shared by the flash-linear-attention families: the standard fla block model, the output
// norm, gate and projection, and feature maps.
#pragma once
#include "models/mixer_parts.h"

#include <functional>
#include <memory>
#include <string>

namespace statescope {

// Per-head RMSNorm of the mixer output, optionally gated by swish(g) (fla's FusedRMSNormGated,
// or RMSNorm followed by o * swish(g)), or by sigmoid(g) (FusedRMSNormGated with
// activation='sigmoid', Kimi Delta Attention's). Weight [V] when elementwise_affine.
struct OutputNorm {
    cpu::Param weight;
    float eps = 1e-6f;
    bool sigmoid_gate = false; // o * sigmoid(g) instead of o * swish(g)
    // name: the module path without ".weight", e.g. "model.layers.0.attn.g_norm_swish_gate".
    // affine: whether the layer has a weight (fla's elementwise_affine, where the layer reads it);
    // then the weight is required, so a checkpoint missing it is refused instead of loading as ones.
    static OutputNorm load(Checkpoint& ck, const std::string& name, int dim, float eps, bool affine);
    // o: [T, H * dim]; g: [T, H * dim] or null. On the GPU a sigmoid gate is applied to g in
    // place first (g is the caller's scratch).
    void apply(cpu::Mat& o, const cpu::Mat* g, int heads) const;
    void apply_gpu(gpu::Ops& ops, const gpu::Mat& o, const gpu::Mat* g, int heads) const;
};

// The end of most fla token mixers: the OutputNorm per head, gated by swish(g_proj(x)) when the
// layer has an output gate, then o_proj. Families load the pieces in their checkpoint order.
struct OutputHead {
    OutputNorm norm;
    bool gated = false;
    cpu::Linear gate; // g_proj [H * V, hidden], when gated
    cpu::Linear out;  // o_proj [hidden, H * V]
    int heads = 1;    // the norm's groups (1: one norm over all heads together)
    // o: [T, H * V] (normalised in place), x: the mixer's input -> [T, hidden].
    cpu::Mat operator()(cpu::Mat& o, const cpu::Mat& x) const;
    gpu::Mat gpu(gpu::Ops& ops, const gpu::Mat& o, const gpu::Mat& x) const;
};

// The heads of fla's GLA-style layers (gla, retnet, linear_attn): num_heads H, num_kv_heads
// dividing it (each kv head serves H / kv_heads consecutive heads), and key and value dims
// hidden * expand_k and hidden * expand_v split over the H heads.
struct FlaHeads {
    int H = 0, kv_heads = 0, K = 0, V = 0;
    struct Defaults {
        int heads;
        double expand_k, expand_v;
        // When set, a bad key or value dim is reported on expand_k with this text (GLA's wording);
        // else each on its own key.
        const char* joint_dims_message = nullptr;
    };
    static FlaHeads read(const Config& c, int hidden, const Defaults& d);
    int groups() const { return H / kv_heads; }
    // q_proj [H * K], k_proj [kv_heads * K] and v_proj [kv_heads * V] of the layer at `prefix`.
    void load_qkv(Checkpoint& ck, const std::string& prefix, int hidden, cpu::Linear& q, cpu::Linear& k,
                  cpu::Linear& v) const;
};

// Fills in.q (scaled by K^-1/2), in.k and in.v of a one-micro-step scan from q [T, H * K],
// k [T, kv_heads * K] and v [T, kv_heads * V], each kv head serving H / kv_heads consecutive heads
// (fla's repeat of the kv heads; gpu::repeat_heads on the device).
void fill_gqa_scan_inputs(ScanInputs& in, const cpu::Mat& q, const cpu::Mat& k, const cpu::Mat& v, int kv_heads);

// fla's ACT2FN feature maps that some families apply to q and k: "relu", "silu"/"swish",
// "elu" (elu(x) + 1), "identity". Empty string: nothing.
void apply_feature_map(const std::string& name, cpu::Mat& x);
void apply_feature_map_gpu(gpu::Ops& ops, const std::string& name, const gpu::Mat& x);

// The standard fla causal LM: model.embeddings, model.layers.N.{attn_norm, attn, mlp_norm, mlp},
// model.norm, lm_head (tied when tie_word_embeddings and absent). Layers listed in config.attn
// ("layers") are softmax attention (fla's hybrid models).
std::unique_ptr<Model> make_fla_block_model(std::unique_ptr<Checkpoint> ck, const std::string& family,
                                            const MixerFactory& make_mixer);

// Softmax attention with fla's naming (fla/layers/attn.py), for hybrid layers; defined in
// models/attention.cpp.
std::unique_ptr<Mixer> make_fla_attention(Checkpoint& ck, const Config& c, int layer, int hidden);

} // namespace statescope
