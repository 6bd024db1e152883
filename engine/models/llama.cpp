// Llama (transformers/models/llama/modeling_llama.py): the softmax attention baseline.
//     x = x + o_proj(attention(RoPE(q), RoPE(k), v));  x = x + down(silu(gate(x)) * up(x))
// both after an RMSNorm (input_layernorm, post_attention_layernorm), GQA through
// num_key_value_heads. The layer state is the KV cache (models/attention.h).
#include "statescope/error.h"
#include "gpu/layers.h"
#include "models/attention.h"
#include "models/block_model.h"
#include "models/mixer_parts.h"

namespace statescope {
namespace {

class LlamaModel : public BlockModel {
public:
    explicit LlamaModel(std::unique_ptr<Checkpoint> ck) : BlockModel(std::move(ck), "Llama") {
        Checkpoint& c = *ck_;
        const Config& cfg = c.config();
        read_common_config(c, info_);
        const int D = info_.hidden_size;
        const float eps = float(cfg.number_or("rms_norm_eps", 1e-6));
        const int heads = int(cfg.int_in_range("num_attention_heads", -1, 1, 4096));
        const int kv_heads = int(cfg.int_in_range("num_key_value_heads", heads, 1, heads));
        if (heads % kv_heads) cfg.fail("num_key_value_heads", "must divide num_attention_heads");
        if (!cfg.has("head_dim") && D % heads) cfg.fail("num_attention_heads", "must divide hidden_size");
        const int head_dim = int(cfg.int_in_range("head_dim", D / heads, 2, 1 << 16));
        const int inter = int(cfg.int_in_range("intermediate_size", -1, 1, 1 << 22));
        const std::string act = cfg.string_or("hidden_act", "silu");
        if (act != "silu") cfg.fail("hidden_act", "'" + act + "' is not supported (silu is)");
        if (cfg.int_or("pretraining_tp", 1) != 1) cfg.fail("pretraining_tp", "only 1 is supported");
        const bool attention_bias = cfg.bool_or("attention_bias", false);
        const bool mlp_bias = cfg.bool_or("mlp_bias", false);
        const Rope rope = Rope::from_transformers_config(cfg, head_dim);

        for (int l = 0; l < info_.num_layers; ++l) {
            const std::string p = "model.layers." + std::to_string(l);
            AttentionSpec s;
            s.hidden = D;
            s.heads = heads;
            s.kv_heads = kv_heads;
            s.head_dim = head_dim;
            s.q_proj = p + ".self_attn.q_proj";
            s.k_proj = p + ".self_attn.k_proj";
            s.v_proj = p + ".self_attn.v_proj";
            s.o_proj = p + ".self_attn.o_proj";
            s.qkv_bias = s.o_bias = attention_bias;
            s.rope = rope;
            s.cache_layout = AttentionSpec::CacheLayout::Transformers;

            cpu::GatedMLP mlp;
            mlp.gate = cpu::Linear::load(c, p + ".mlp.gate_proj", inter, D, mlp_bias);
            mlp.up = cpu::Linear::load(c, p + ".mlp.up_proj", inter, D, mlp_bias);
            mlp.down = cpu::Linear::load(c, p + ".mlp.down_proj", D, inter, mlp_bias);

            Block b;
            b.norm1 = Norm::rms(c, p + ".input_layernorm", D, eps);
            b.mixer = make_softmax_attention(c, s);
            b.norm2 = Norm::rms(c, p + ".post_attention_layernorm", D, eps);
            b.ffn = std::make_unique<GatedMlpMixer>(std::move(mlp));
            blocks_.push_back(std::move(b));
        }
        norm_f_ = Norm::rms(c, "model.norm", D, eps);
        finish_setup("model.embed_tokens.weight", "lm_head.weight", cfg.bool_or("tie_word_embeddings", false));
    }
};

} // namespace

std::unique_ptr<Model> make_llama(std::unique_ptr<Checkpoint> ck) {
    return std::make_unique<LlamaModel>(std::move(ck));
}

} // namespace statescope
