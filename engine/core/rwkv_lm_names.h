// BlinkDL's RWKV-LM names and layouts for RWKV-7 ("x070": emb, blocks.N.att.*, blocks.N.ffn.*,
// ln_out, head), as its released .pth files hold them, translated into the names and layouts of
// flash-linear-attention's RWKV7 (the rwkv7 family), following fla's own converter
// (utils/convert_from_rwkv7.py): LoRA matrices w1/w2, a1/a2, v1/v2, g1/g2 transposed into
// Linear weights, w0/a0/v0 the LoRA biases, [1, 1, C] vectors squeezed (the token-shift mixes
// x_r ... x_g stay [1, 1, C], as fla stores them), layer 0's unused v0/v1/v2 dropped.
#pragma once
#include "statescope/safetensors.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace statescope {

// Whether a checkpoint's tensor names are RWKV-LM's RWKV-7 ones.
bool is_rwkv_lm_rwkv7(const std::map<std::string, const TensorEntry*>& tensors);

struct RenamedTensors {
    std::vector<std::unique_ptr<TensorEntry>> entries;    // fla names; data may point into `transposed`
    std::map<std::string, const TensorEntry*> source_of;  // fla name -> the RWKV-LM tensor it came from
    std::vector<std::unique_ptr<uint8_t[]>> transposed;   // the transposed copies
};

// Translates every tensor; throws Error naming `file` and the tensor for a name it does not know
// or a shape that does not fit.
RenamedTensors rename_rwkv_lm_rwkv7(const std::map<std::string, const TensorEntry*>& tensors, const std::string& file);

// The config.json fla's converter would write for these (RWKV-LM) tensors, inferred from their
// shapes: sizes, layer count, heads, LoRA ranks; RWKV-LM's fixed choices for the rest (LayerNorm
// eps 1e-5 with bias, squared-ReLU channel mix, untied head, and F.normalize and nn.GroupNorm as
// its code calls them: fuse_norm false; its GroupNorm eps 64e-5 is fla's head_dim * norm_eps for
// the usual head size 64). Throws Error naming `file` when a
// tensor the inference needs is missing.
std::string rwkv_lm_rwkv7_config(const std::map<std::string, const TensorEntry*>& tensors, const std::string& file);

} // namespace statescope
