#include "models/fla_common.h"

#include "statescope/error.h"
#include "gpu/layers.h"

#include <algorithm>
#include <cmath>

namespace statescope {

OutputNorm OutputNorm::load(Checkpoint& ck, const std::string& name, int dim, float eps, bool affine) {
    OutputNorm n;
    n.eps = eps;
    if (affine) n.weight = cpu::Param::load(ck, name + ".weight", {dim});
    return n;
}

void OutputNorm::apply(cpu::Mat& o, const cpu::Mat* g, int heads) const {
    const int dim = int(o.cols()) / heads;
    cpu::rms_norm(o, weight, eps, dim);
    if (g) {
        float* p = o.data();
        const float* gp = g->data();
        if (sigmoid_gate)
            for (Eigen::Index i = 0; i < o.size(); ++i) p[i] *= cpu::sigmoid(gp[i]);
        else
            for (Eigen::Index i = 0; i < o.size(); ++i) p[i] *= cpu::silu(gp[i]);
    }
}

void OutputNorm::apply_gpu(gpu::Ops& ops, const gpu::Mat& o, const gpu::Mat* g, int heads) const {
    gpu::rms_norm(ops, o, weight, eps, o.cols / uint32_t(heads));
    if (g && sigmoid_gate) {
        ops.apply(*g, gpu::Func::Sigmoid);
        ops.mul(o, o, *g);
    } else if (g) {
        gpu::ElementwiseParams p;
        p.op = gpu::Combine::MulSiluB;
        ops.elementwise(o, gpu::Operand::of(o), gpu::Operand::of(*g), p);
    }
}

cpu::Mat OutputHead::operator()(cpu::Mat& o, const cpu::Mat& x) const {
    cpu::Mat g;
    if (gated) g = gate(x);
    norm.apply(o, gated ? &g : nullptr, heads);
    return out(o);
}

gpu::Mat OutputHead::gpu(gpu::Ops& ops, const gpu::Mat& o, const gpu::Mat& x) const {
    gpu::Mat g;
    if (gated) g = gpu::linear(ops, gate, x);
    norm.apply_gpu(ops, o, gated ? &g : nullptr, heads);
    return gpu::linear(ops, out, o);
}

FlaHeads FlaHeads::read(const Config& c, int hidden, const Defaults& d) {
    FlaHeads h;
    h.H = int(c.int_in_range("num_heads", d.heads, 1, 4096));
    h.kv_heads = int(c.int_in_range("num_kv_heads", h.H, 1, h.H));
    if (h.H % h.kv_heads) c.fail("num_kv_heads", "must divide num_heads");
    const int key_dim = int(hidden * c.number_or("expand_k", d.expand_k));
    const int value_dim = int(hidden * c.number_or("expand_v", d.expand_v));
    const bool key_ok = key_dim > 0 && key_dim % h.H == 0, value_ok = value_dim > 0 && value_dim % h.H == 0;
    if (d.joint_dims_message && !(key_ok && value_ok)) c.fail("expand_k", d.joint_dims_message);
    if (!key_ok) c.fail("expand_k", "the key dim must be a positive multiple of num_heads");
    if (!value_ok) c.fail("expand_v", "the value dim must be a positive multiple of num_heads");
    h.K = key_dim / h.H;
    h.V = value_dim / h.H;
    return h;
}

void FlaHeads::load_qkv(Checkpoint& ck, const std::string& prefix, int hidden, cpu::Linear& q, cpu::Linear& k,
                        cpu::Linear& v) const {
    q = cpu::Linear::load(ck, prefix + ".q_proj", H * K, hidden);
    k = cpu::Linear::load(ck, prefix + ".k_proj", kv_heads * K, hidden);
    v = cpu::Linear::load(ck, prefix + ".v_proj", kv_heads * V, hidden);
}

void fill_gqa_scan_inputs(ScanInputs& in, const cpu::Mat& q, const cpu::Mat& k, const cpu::Mat& v, int kv_heads) {
    const int H = in.H, K = in.K, V = in.V, groups = in.H / kv_heads;
    const float scale = 1.0f / std::sqrt(float(K));
    for (int t = 0; t < in.T; ++t)
        for (int h = 0; h < H; ++h) {
            const int kvh = h / groups;
            for (int i = 0; i < K; ++i) {
                in.q_at(t, h)[i] = q(t, h * K + i) * scale;
                in.k_at(t, 0, h)[i] = k(t, kvh * K + i);
            }
            for (int i = 0; i < V; ++i) in.v_at(t, 0, h)[i] = v(t, kvh * V + i);
        }
}

void apply_feature_map_gpu(gpu::Ops& ops, const std::string& name, const gpu::Mat& x) {
    if (name.empty() || name == "identity") return;
    if (name == "relu") ops.apply(x, gpu::Func::Relu);
    else if (name == "silu" || name == "swish") ops.apply(x, gpu::Func::Silu);
    else if (name == "elu") ops.apply(x, gpu::Func::EluPlusOne);
    else throw Error("feature map '" + name + "' is not supported");
}

void apply_feature_map(const std::string& name, cpu::Mat& x) {
    if (name.empty() || name == "identity") return;
    float* p = x.data();
    const Eigen::Index n = x.size();
    if (name == "relu") for (Eigen::Index i = 0; i < n; ++i) p[i] = std::max(p[i], 0.0f);
    else if (name == "silu" || name == "swish") for (Eigen::Index i = 0; i < n; ++i) p[i] = cpu::silu(p[i]);
    else if (name == "elu") for (Eigen::Index i = 0; i < n; ++i) p[i] = p[i] > 0 ? p[i] + 1.0f : std::exp(p[i]);
    else throw Error("feature map '" + name + "' is not supported");
}

namespace {

class FlaBlockModel : public BlockModel {
public:
    FlaBlockModel(std::unique_ptr<Checkpoint> ck, const std::string& family, const MixerFactory& make_mixer)
        : BlockModel(std::move(ck), family) {
        Checkpoint& c = *ck_;
        const Config& cfg = c.config();
        read_common_config(c, info_);
        const int D = info_.hidden_size;
        const float eps = float(cfg.number_or("norm_eps", 1e-6));
        const double ratio = cfg.number_or("hidden_ratio", 4);
        const int inter = cfg.has("intermediate_size") ? int(cfg.int_in_range("intermediate_size", 0, 1, 1 << 22))
                                                       : cpu::fla_intermediate_size(D, ratio);
        if (cfg.has("attnres_block_size"))
            cfg.fail("attnres_block_size", "attention residuals are not supported");
        std::vector<int> attn_layers;
        if (const Json* a = cfg.root().find("attn"); a && !a->is_null()) {
            const Json* layers = a->find("layers");
            if (!layers || !layers->is_array()) cfg.fail("attn", "expected an object with a \"layers\" list");
            for (const Json& l : layers->items()) attn_layers.push_back(int(l.as_number()));
        }
        for (int l = 0; l < info_.num_layers; ++l) {
            const std::string p = "model.layers." + std::to_string(l);
            Block b;
            b.norm1 = Norm::rms(c, p + ".attn_norm", D, eps);
            bool is_attn = std::find(attn_layers.begin(), attn_layers.end(), l) != attn_layers.end();
            b.mixer = is_attn ? make_fla_attention(c, cfg, l, D) : make_mixer(c, cfg, l, D);
            b.norm2 = Norm::rms(c, p + ".mlp_norm", D, eps);
            b.ffn = std::make_unique<GatedMlpMixer>(cpu::GatedMLP::load(c, p + ".mlp", D, inter));
            blocks_.push_back(std::move(b));
        }
        norm_f_ = Norm::rms(c, "model.norm", D, eps);
        finish_setup("model.embeddings.weight", "lm_head.weight", cfg.bool_or("tie_word_embeddings", false));
    }
};

} // namespace

std::unique_ptr<Model> make_fla_block_model(std::unique_ptr<Checkpoint> ck, const std::string& family,
                                            const MixerFactory& make_mixer) {
    return std::make_unique<FlaBlockModel>(std::move(ck), family, make_mixer);
}

} // namespace statescope
