#include "core/rwkv_lm_names.h"

#include "statescope/error.h"

#include <cstring>
#include <regex>
#include <set>

namespace statescope {

bool is_rwkv_lm_rwkv7(const std::map<std::string, const TensorEntry*>& tensors) {
    return tensors.count("emb.weight") && tensors.count("blocks.0.att.r_k") && tensors.count("blocks.0.att.w1");
}

namespace {

const TensorEntry& need(const std::map<std::string, const TensorEntry*>& t, const std::string& name, size_t rank,
                        const std::string& file) {
    auto it = t.find(name);
    if (it == t.end()) throw Error(file + ": tensor '" + name + "' is missing (RWKV-LM's RWKV-7 names are used)");
    if (it->second->shape.size() != rank)
        throw Error(file + ": tensor '" + name + "' has shape " + shape_string(it->second->shape) + ", expected " +
                    std::to_string(rank) + " dimensions");
    return *it->second;
}

// fla's name for an RWKV-LM one and whether the matrix is transposed; "" for a tensor fla has no
// place for (layer 0's v0/v1/v2, which RWKV-LM keeps but never uses).
std::string fla_name(const std::string& name, bool* transposed) {
    *transposed = false;
    static const std::map<std::string, std::string> outer = {
        {"emb.weight", "model.embeddings.weight"}, {"ln_out.weight", "model.norm.weight"},
        {"ln_out.bias", "model.norm.bias"},       {"head.weight", "lm_head.weight"}};
    if (auto it = outer.find(name); it != outer.end()) return it->second;
    static const std::regex block(R"(blocks\.(\d+)\.(att|ffn|ln0|ln1|ln2)\.(.+))");
    std::smatch m;
    if (!std::regex_match(name, m, block)) return "?";
    const std::string layer = m[1], part = m[2], rest = m[3];
    if (layer == "0" && (rest == "v0" || rest == "v1" || rest == "v2")) return "";
    static const std::map<std::string, std::string> parts = {
        {"att", "attn"}, {"ffn", "ffn"}, {"ln0", "pre_norm"}, {"ln1", "attn_norm"}, {"ln2", "ffn_norm"}};
    // Only the tensors RWKV-7's code has; another name means another model (or version).
    static const std::set<std::string> att = {"x_r", "x_w", "x_k", "x_v", "x_a", "x_g", "w0", "w1", "w2", "a0", "a1", "a2",
                                              "v0", "v1", "v2", "g1", "g2", "k_k", "k_a", "r_k", "receptance.weight",
                                              "key.weight", "value.weight", "output.weight", "ln_x.weight", "ln_x.bias"};
    static const std::set<std::string> ffn = {"x_k", "key.weight", "value.weight"};
    static const std::set<std::string> norm = {"weight", "bias"};
    if (!(part == "att" ? att : part == "ffn" ? ffn : norm).count(rest)) return "?";
    std::string tail = rest;
    if (part == "att") {
        static const std::regex lora(R"(([wvag])([012]))");
        static const std::map<std::string, std::string> proj = {
            {"receptance.weight", "r_proj.weight"}, {"key.weight", "k_proj.weight"}, {"value.weight", "v_proj.weight"},
            {"output.weight", "o_proj.weight"},     {"ln_x.weight", "g_norm.weight"}, {"ln_x.bias", "g_norm.bias"}};
        std::smatch l;
        if (std::regex_match(rest, l, lora)) {
            const std::string n = l[2];
            tail = std::string(l[1]) + "_lora.lora." + (n == "0" ? "2.bias" : n == "1" ? "0.weight" : "2.weight");
            *transposed = n != "0";
        } else if (auto it = proj.find(rest); it != proj.end()) {
            tail = it->second;
        }
    }
    return "model.layers." + layer + "." + parts.at(part) + "." + tail;
}

} // namespace

RenamedTensors rename_rwkv_lm_rwkv7(const std::map<std::string, const TensorEntry*>& tensors, const std::string& file) {
    RenamedTensors out;
    for (const auto& [name, src] : tensors) {
        bool transposed = false;
        const std::string to = fla_name(name, &transposed);
        if (to.empty()) continue;
        if (to == "?") throw Error(file + ": tensor '" + name + "' is not one of RWKV-LM's RWKV-7 tensors (emb, blocks.N.att/ffn/ln*, ln_out, head)");
        auto e = std::make_unique<TensorEntry>(*src);
        e->name = to;
        const size_t es = dtype_size(src->dtype);
        if (transposed) {
            if (src->shape.size() != 2) throw Error(file + ": tensor '" + name + "' has shape " + shape_string(src->shape) + ", expected a matrix");
            const size_t rows = size_t(src->shape[0]), cols = size_t(src->shape[1]);
            out.transposed.push_back(std::make_unique<uint8_t[]>(src->nbytes ? src->nbytes : 1));
            uint8_t* t = out.transposed.back().get();
            for (size_t r = 0; r < rows; ++r)
                for (size_t c = 0; c < cols; ++c) std::memcpy(t + (c * rows + r) * es, src->data + (r * cols + c) * es, es);
            e->data = t;
            e->shape = {src->shape[1], src->shape[0]};
        } else if (src->shape.size() == 3 && src->shape[0] == 1 && src->shape[1] == 1 && to.find(".attn.x_") == std::string::npos) {
            e->shape = {src->shape[2]}; // w0, a0, v0, k_k, k_a, ffn.x_k: [1, 1, C] -> [C]
        }
        out.source_of[to] = src;
        out.entries.push_back(std::move(e));
    }
    return out;
}

std::string rwkv_lm_rwkv7_config(const std::map<std::string, const TensorEntry*>& t, const std::string& file) {
    const TensorEntry& emb = need(t, "emb.weight", 2, file);
    const TensorEntry& r_k = need(t, "blocks.0.att.r_k", 2, file);
    const TensorEntry& ffn_key = need(t, "blocks.0.ffn.key.weight", 2, file);
    const int64_t vocab = emb.shape[0], hidden = emb.shape[1];
    int64_t layers = 0;
    while (t.count("blocks." + std::to_string(layers) + ".ffn.key.weight")) ++layers;
    const auto rank = [&](const std::string& name) { return need(t, name, 2, file).shape[1]; };
    // Layer 0 uses no v LoRA; a one-layer model has none to read, and fla's default stands.
    const int64_t v_rank = t.count("blocks.1.att.v1") ? rank("blocks.1.att.v1") : t.count("blocks.0.att.v1") ? rank("blocks.0.att.v1") : 16;
    std::string value_dim;
    for (int64_t i = 0; i < layers; ++i) value_dim += (i ? ", " : "") + std::to_string(hidden);
    const int64_t inter = ffn_key.shape[0];
    return std::string("{\n") +
           "  \"architectures\": [\"RWKV7ForCausalLM\"],\n"
           "  \"model_type\": \"rwkv7\",\n"
           "  \"note\": \"inferred by Statescope from the tensor shapes of RWKV-LM's " + file.substr(file.find_last_of('/') + 1) + "\",\n" +
           "  \"vocab_size\": " + std::to_string(vocab) + ",\n" +
           "  \"hidden_size\": " + std::to_string(hidden) + ",\n" +
           "  \"num_hidden_layers\": " + std::to_string(layers) + ",\n" +
           "  \"num_heads\": " + std::to_string(r_k.shape[0]) + ",\n" +
           "  \"head_dim\": " + std::to_string(r_k.shape[1]) + ",\n" +
           "  \"intermediate_size\": " + std::to_string(inter) + ",\n" +
           "  \"hidden_ratio\": " + std::to_string(double(inter) / double(hidden)) + ",\n" +
           "  \"decay_low_rank_dim\": " + std::to_string(rank("blocks.0.att.w1")) + ",\n" +
           "  \"a_low_rank_dim\": " + std::to_string(rank("blocks.0.att.a1")) + ",\n" +
           "  \"v_low_rank_dim\": " + std::to_string(v_rank) + ",\n" +
           "  \"gate_low_rank_dim\": " + std::to_string(rank("blocks.0.att.g1")) + ",\n" +
           "  \"value_dim\": [" + value_dim + "],\n" +
           "  \"hidden_act\": \"sqrelu\",\n"
           "  \"norm_first\": " + (t.count("blocks.0.ln0.weight") ? "true" : "false") + ",\n" +
           "  \"norm_bias\": true,\n"
           "  \"norm_eps\": 1e-05,\n"
           "  \"fuse_norm\": false,\n"
           "  \"tie_word_embeddings\": false\n"
           "}\n";
}

} // namespace statescope
