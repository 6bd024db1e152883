#include "models/block_model.h"

#include "statescope/error.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace statescope {

Norm Norm::rms(Checkpoint& ck, const std::string& name, int n, float eps) {
    Norm nm;
    nm.kind = RMS;
    nm.eps = eps;
    nm.weight = cpu::Param::load(ck, name + ".weight", {n});
    return nm;
}

Norm Norm::layer(Checkpoint& ck, const std::string& name, int n, float eps, bool bias) {
    Norm nm;
    nm.kind = Layer;
    nm.eps = eps;
    nm.weight = cpu::Param::load(ck, name + ".weight", {n});
    if (bias) nm.bias = cpu::Param::load(ck, name + ".bias", {n});
    return nm;
}

std::string Norm::implausible_output(const float* y, int n) const {
    double sum = 0, sumsq = 0;
    int used = 0;
    for (int i = 0; i < n; ++i) {
        const double w = weight.empty() ? 1.0 : weight[i];
        if (std::abs(w) < 1e-6) continue; // a zero weight hides the normalised value
        const double z = (double(y[i]) - (bias.empty() ? 0.0 : bias[i])) / w;
        sum += z;
        sumsq += z * z;
        ++used;
    }
    if (used < n / 2) return {};
    char buf[160];
    if (kind == Layer && std::abs(sum / used) > 1e-3) {
        std::snprintf(buf, sizeof buf, "not a LayerNorm output: normalised values have mean %.4g (must be 0)", sum / used);
        return buf;
    }
    if (sumsq > n * 1.001) {
        std::snprintf(buf, sizeof buf, "not a norm output: normalised values have sum of squares %.4g (at most %d)", sumsq, n);
        return buf;
    }
    return {};
}

void read_common_config(Checkpoint& ck, ModelInfo& info) {
    const Config& c = ck.config();
    info.model_type = c.get_string("model_type");
    info.hidden_size = int(c.int_in_range("hidden_size", -1, 1, 1 << 20));
    info.num_layers = int(c.int_in_range("num_hidden_layers", -1, 1, 4096));
    info.vocab_size = int(c.int_in_range("vocab_size", -1, 1, 1 << 24));
    info.parameters = ck.parameter_count();
    info.weight_dtype = ck.storage_dtype();
}

void BlockModel::finish_setup(const std::string& embed_name, const std::string& lm_head_name, bool tie_embeddings) {
    const int V = info_.vocab_size, D = info_.hidden_size;
    embed_ = ck_->f32(embed_name, {V, D});
    if (tie_embeddings && !ck_->has(lm_head_name)) lm_head_ = embed_;
    else lm_head_ = ck_->f32(lm_head_name, {V, D});
    info_.layers.clear();
    for (const Block& b : blocks_) info_.layers.push_back(b.mixer->info());
    // Counted after every tensor was requested (synthetic checkpoints make them on request).
    info_.parameters = ck_->parameter_count();
    info_.weight_dtype = ck_->storage_dtype();
}

SequenceState BlockModel::initial_state() const {
    SequenceState s;
    s.layers.resize(blocks_.size());
    for (size_t i = 0; i < blocks_.size(); ++i) {
        blocks_[i].mixer->init_state(s.layers[i]);
        if (blocks_[i].ffn) blocks_[i].ffn->init_state(s.layers[i]);
    }
    return s;
}

ForwardResult BlockModel::forward(std::span<const int32_t> tokens, SequenceState& state,
                                  const ForwardOptions& options) const {
    // Long prompts run in pieces: the per-token activations and scan inputs of one call grow
    // with T (Mamba-1 repeats B, C and dt*A per inner channel), and the result is the same.
    constexpr size_t kPiece = 512;
    return forward_in_pieces(tokens, kPiece, options, [&](std::span<const int32_t> piece) {
        return forward_piece(piece, state, options);
    });
}

ForwardResult BlockModel::forward_piece(std::span<const int32_t> tokens, SequenceState& state,
                                        const ForwardOptions& options) const {
    if (state.layers.size() != blocks_.size())
        throw Error("sequence state has " + std::to_string(state.layers.size()) + " layers, the model has " +
                    std::to_string(blocks_.size()));
    const int T = int(tokens.size()), D = info_.hidden_size, Vocab = info_.vocab_size;
    ForwardResult res;
    if (T == 0) return res;
    cpu::Mat x(T, D);
    for (int t = 0; t < T; ++t) {
        int id = tokens[size_t(t)];
        if (id < 0 || id >= Vocab)
            throw Error("token id " + std::to_string(id) + " at position " + std::to_string(state.position + t) +
                        " is out of range for a vocabulary of " + std::to_string(Vocab));
        x.row(t) = Eigen::Map<const Eigen::RowVectorXf>(embed_ + size_t(id) * D, D);
    }
    auto keep_hidden = [&](const cpu::Mat& h) {
        if (options.hidden_states) res.hidden.emplace_back(std::vector<int64_t>{T, D}, std::vector<float>(h.data(), h.data() + h.size()));
    };
    if (!hidden_after_each_layer_) keep_hidden(x);
    before_layers(x);

    ForwardContext ctx;
    ctx.position = state.position;
    ctx.options = &options;
    for (size_t l = 0; l < blocks_.size(); ++l) {
        ctx.layer = int(l);
        const Block& b = blocks_[l];
        cpu::Mat h = x;
        b.norm1(h);
        x += b.mixer->forward(h, state.layers[l], ctx);
        if (b.ffn) {
            h = x;
            b.norm2(h);
            x += b.ffn->forward(h, state.layers[l], ctx);
        }
        if (l + 1 < blocks_.size() || hidden_after_each_layer_) keep_hidden(x);
    }
    norm_f_(x);
    keep_hidden(x);
    state.position += T;

    cpu::ConstMap W(lm_head_, Vocab, D);
    if (options.all_logits) {
        cpu::Mat logits = x * W.transpose();
        res.logits = Tensor({T, Vocab}, std::vector<float>(logits.data(), logits.data() + logits.size()));
    } else {
        cpu::Mat logits = x.row(T - 1) * W.transpose();
        res.logits = Tensor({1, Vocab}, std::vector<float>(logits.data(), logits.data() + logits.size()));
    }
    return res;
}

std::vector<NamedTensor> BlockModel::library_state(const SequenceState& state) const {
    std::vector<NamedTensor> out;
    for (size_t l = 0; l < blocks_.size(); ++l) {
        blocks_[l].mixer->library_state(state.layers[l], int(l), out);
        if (blocks_[l].ffn) blocks_[l].ffn->library_state(state.layers[l], int(l), out);
    }
    return out;
}

cpu::Mat run_scan(const ScanInputs& in, LayerState& st, const ForwardContext& ctx) {
    ForwardObserver* obs = ctx.options ? ctx.options->observer : nullptr;
    const bool watched = obs && obs->wants_layer(ctx.layer);
    if (watched) obs->on_scan(ctx.layer, ctx.position, in, st.recurrent.ptr());
    cpu::Mat o(in.T, in.H * in.V);
    if (watched) {
        scan_recurrent(in, st.recurrent.ptr(), o.data(), [&](int t, const float* S) {
            if (obs->wants_state(ctx.layer, ctx.position + t)) obs->on_state(ctx.layer, ctx.position + t, S);
        });
    } else {
        scan_recurrent(in, st.recurrent.ptr(), o.data());
    }
    return o;
}

Tensor export_state(const Tensor& hkv, int H, int K, int V, bool value_major) {
    if (!value_major) return Tensor({1, H, K, V}, hkv.data);
    Tensor out({1, H, V, K});
    for (int h = 0; h < H; ++h)
        for (int k = 0; k < K; ++k)
            for (int v = 0; v < V; ++v)
                out.data[(size_t(h) * V + v) * K + k] = hkv.data[(size_t(h) * K + k) * V + v];
    return out;
}

} // namespace statescope
