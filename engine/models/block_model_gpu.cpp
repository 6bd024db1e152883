// BlockModel's GPU path: the same skeleton as forward_piece() (block_model.cpp), recorded through
// gpu::Ops with the sequence's state resident on the device. Only logits, requested hidden
// states and what an observer asks for come back to the host.
#include "statescope/error.h"
#include "gpu/layers.h"
#include "models/block_model.h"

namespace statescope {

void Norm::gpu(gpu::Ops& ops, const gpu::Mat& x) const {
    if (kind == RMS) gpu::rms_norm(ops, x, weight, eps);
    else gpu::layer_norm(ops, x, weight, bias, eps);
}

ForwardResult BlockModel::forward_gpu(gpu::Ops& ops, std::span<const int32_t> tokens, gpu::SequenceState& state,
                                      const ForwardOptions& options) const {
    require(state.layers.size() == blocks_.size(), "GPU sequence state has " + std::to_string(state.layers.size()) +
                                                       " layers, the model has " + std::to_string(blocks_.size()));
    const uint32_t T = uint32_t(tokens.size()), D = uint32_t(info_.hidden_size), Vocab = uint32_t(info_.vocab_size);
    ForwardResult res;
    if (T == 0) return res;
    for (size_t t = 0; t < tokens.size(); ++t)
        if (tokens[t] < 0 || tokens[t] >= int32_t(Vocab))
            throw Error("token id " + std::to_string(tokens[t]) + " at position " + std::to_string(state.position + int64_t(t)) +
                        " is out of range for a vocabulary of " + std::to_string(Vocab));
    ops.begin();
    const gpu::Weight embed = ops.weights().matrix(embed_, Vocab, D, "embeddings");
    gpu::Mat x = ops.embed(tokens, embed);
    auto keep_hidden = [&](const gpu::Mat& h) {
        if (options.hidden_states) res.hidden.push_back(ops.download(h));
    };
    if (!hidden_after_each_layer_) keep_hidden(x);
    before_layers_gpu(ops, x);

    ForwardContext ctx;
    ctx.position = state.position;
    ctx.options = &options;
    gpu::Mat h = ops.alloc(T, D, "normalised hidden");
    for (size_t l = 0; l < blocks_.size(); ++l) {
        ctx.layer = int(l);
        const Block& b = blocks_[l];
        ops.copy(h, x);
        b.norm1.gpu(ops, h);
        ops.add(x, x, b.mixer->forward_gpu(ops, h, state.layers[l], ctx));
        if (b.ffn) {
            ops.copy(h, x);
            b.norm2.gpu(ops, h);
            ops.add(x, x, b.ffn->forward_gpu(ops, h, state.layers[l], ctx));
        }
        if (l + 1 < blocks_.size() || hidden_after_each_layer_) keep_hidden(x);
    }
    norm_f_.gpu(ops, x);
    keep_hidden(x);
    state.position += T;

    const gpu::Weight head = ops.weights().matrix(lm_head_, Vocab, D, "lm_head");
    const gpu::Mat rows = options.all_logits ? x : x.row(T - 1);
    res.logits = ops.download(ops.linear(rows, head));
    return res;
}

gpu::Mat run_scan_gpu(gpu::Ops& ops, const gpu::ScanMats& in, gpu::LayerState& st, const ForwardContext& ctx) {
    ForwardObserver* obs = ctx.options ? ctx.options->observer : nullptr;
    if (obs && obs->wants_layer(ctx.layer)) {
        const ScanInputs host = ops.download_scan_inputs(in);
        Tensor S = ops.download(st.state());
        obs->on_scan(ctx.layer, ctx.position, host, S.ptr());
        bool any_state = false;
        for (int t = 0; t < in.T && !any_state; ++t) any_state = obs->wants_state(ctx.layer, ctx.position + t);
        if (any_state) {
            std::vector<float> o(size_t(in.T) * in.H * in.V);
            scan_recurrent(host, S.ptr(), o.data(), [&](int t, const float* s) {
                if (obs->wants_state(ctx.layer, ctx.position + t)) obs->on_state(ctx.layer, ctx.position + t, s);
            });
        }
    }
    return gpu::scan_layer(ops, in, st);
}

} // namespace statescope
