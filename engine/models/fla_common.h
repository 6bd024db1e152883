// Pieces shared by the flash-linear-attention families: the standard fla block model, output
// norms, feature maps and the export of short-convolution caches.
#pragma once
#include "models/block_model.h"

#include <functional>
#include <memory>
#include <string>

namespace statescope {

// Per-head RMSNorm of the mixer output, optionally gated by swish(g) (fla's FusedRMSNormGated,
// or RMSNorm followed by o * swish(g)). Weight [V] when elementwise_affine.
struct OutputNorm {
    cpu::Param weight;
    float eps = 1e-6f;
    // name: the module path without ".weight", e.g. "model.layers.0.attn.g_norm_swish_gate".
    static OutputNorm load(Checkpoint& ck, const std::string& name, int dim, float eps);
    // o: [T, H * dim]; g: [T, H * dim] or null.
    void apply(cpu::Mat& o, const cpu::Mat* g, int heads) const;
    void apply_gpu(gpu::Ops& ops, const gpu::Mat& o, const gpu::Mat* g, int heads) const;
};

// fla's ACT2FN feature maps that some families apply to q and k: "relu", "silu"/"swish",
// "elu" (elu(x) + 1), "identity". Empty string: nothing.
void apply_feature_map(const std::string& name, cpu::Mat& x);
void apply_feature_map_gpu(gpu::Ops& ops, const std::string& name, const gpu::Mat& x);

// [C, W] window -> [1, C, W] as fla's conv caches hold it.
Tensor export_conv_state(const Tensor& cw);

using MixerFactory = std::function<std::unique_ptr<Mixer>(Checkpoint&, const Config&, int layer, int hidden)>;

// The standard fla causal LM: model.embeddings, model.layers.N.{attn_norm, attn, mlp_norm, mlp},
// model.norm, lm_head (tied when tie_word_embeddings and absent). Layers listed in config.attn
// ("layers") are softmax attention (fla's hybrid models).
std::unique_ptr<Model> make_fla_block_model(std::unique_ptr<Checkpoint> ck, const std::string& family,
                                            const MixerFactory& make_mixer);

// Softmax attention with fla's naming (fla/layers/attn.py), for hybrid layers; defined in
// models/attention.cpp.
std::unique_ptr<Mixer> make_fla_attention(Checkpoint& ck, const Config& c, int layer, int hidden);

} // namespace statescope
