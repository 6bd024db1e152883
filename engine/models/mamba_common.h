// What transformers' Mamba and Mamba-2 models share: the backbone (backbone.embeddings,
// backbone.layers.N.{norm, mixer}, backbone.norm_f, lm_head), blocks x + mixer(rmsnorm(x)) with no
// feed-forward, and the config fields both mixers read the same way.
#pragma once
#include "models/mixer_parts.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace statescope {

// transformers' MambaModel / Mamba2Model with a causal LM head. tie_default: the config class's
// default for tie_word_embeddings (MambaConfig true, Mamba2Config false). Hidden states follow
// transformers: hidden[i] = output of layer i, the last one after norm_f (no embeddings entry).
std::unique_ptr<Model> make_mamba_backbone_model(std::unique_ptr<Checkpoint> ck, const std::string& family,
                                                 bool tie_default, const MixerFactory& make_mixer);

// Both mixers apply ACT2FN[hidden_act] after the convolution and to the gate; only silu is supported.
void require_silu_activation(const Config& c);

// config.time_step_limit: a [min, max] pair whose elements may be {"__float__": "Infinity"};
// absent or null means (0, inf).
std::pair<float, float> read_time_step_limit(const Config& c);

// config.time_step_rank: an integer, or "auto" (ceil(hidden / 16)).
int read_time_step_rank(const Config& c, int hidden);

// Name prefix of a layer's mixer tensors: "backbone.layers.<layer>.mixer".
std::string mamba_mixer_prefix(int layer);

// The library's cache names of a layer: "cache.layers.<layer>.conv_states.0" / ".recurrent_states.0".
std::string mamba_cache_name(int layer, const char* what);

} // namespace statescope
