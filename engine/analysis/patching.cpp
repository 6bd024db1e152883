#include "statescope/analysis/patching.h"

#include "statescope/error.h"

#include <cmath>
#include <limits>
#include <string>

namespace statescope::analysis {

namespace {

// The [K, V] block of head `head` in a layer's [H, K, V] recurrent state (from a SequenceState or
// a const one).
template <class State>
auto* head_block(State& state, int layer, int head, int64_t* size) {
    if (layer < 0 || layer >= int(state.layers.size()))
        throw Error("layer " + std::to_string(layer) + " is out of range: the model has " +
                    std::to_string(state.layers.size()) + " layers");
    auto& S = state.layers[size_t(layer)].recurrent;
    if (S.shape.size() != 3)
        throw Error("layer " + std::to_string(layer) + " has no recurrent state to edit (softmax attention keeps a key and value cache)");
    if (head < 0 || head >= S.shape[0])
        throw Error("head " + std::to_string(head) + " is out of range: layer " + std::to_string(layer) + " has " +
                    std::to_string(S.shape[0]) + " heads");
    *size = S.shape[1] * S.shape[2];
    return S.ptr() + head * *size;
}

void check_same_layout(const LayerState& a, const LayerState& b, int layer) {
    bool same = a.recurrent.shape == b.recurrent.shape && a.aux.size() == b.aux.size();
    for (size_t i = 0; same && i < a.aux.size(); ++i)
        same = a.aux[i].name == b.aux[i].name && a.aux[i].tensor.shape == b.aux[i].tensor.shape;
    if (!same)
        throw Error("layer " + std::to_string(layer) +
                    ": the two states differ in layout (they must come from one model at the same position)");
}

double target_logit(const ForwardResult& r, int32_t target) {
    const Tensor& lg = r.logits;
    const int64_t vocab = lg.shape.back();
    return lg.data[size_t((lg.numel() / vocab - 1) * vocab + target)];
}

} // namespace

void zero_head(SequenceState& state, int layer, int head) { scale_head(state, layer, head, 0.0f); }

void scale_head(SequenceState& state, int layer, int head, float factor) {
    int64_t n = 0;
    float* S = head_block(state, layer, head, &n);
    for (int64_t i = 0; i < n; ++i) S[i] *= factor;
}

void copy_head(const SequenceState& from, SequenceState& to, int layer, int head) {
    int64_t n = 0, m = 0;
    const float* src = head_block(from, layer, head, &n);
    float* dst = head_block(to, layer, head, &m);
    if (n != m) throw Error("layer " + std::to_string(layer) + ": the two states' heads differ in size");
    std::copy(src, src + n, dst);
}

void copy_layer(const SequenceState& from, SequenceState& to, int layer) {
    if (layer < 0 || layer >= int(from.layers.size()) || from.layers.size() != to.layers.size())
        throw Error("layer " + std::to_string(layer) + " is out of range: the model has " +
                    std::to_string(to.layers.size()) + " layers");
    if (from.position != to.position)
        throw Error("the two states are at different positions (" + std::to_string(from.position) + " and " +
                    std::to_string(to.position) + " tokens)");
    check_same_layout(from.layers[size_t(layer)], to.layers[size_t(layer)], layer);
    to.layers[size_t(layer)] = from.layers[size_t(layer)];
}

void reset_layer(const Model& model, SequenceState& state, int layer) {
    SequenceState fresh = model.initial_state();
    if (layer < 0 || layer >= int(fresh.layers.size()) || fresh.layers.size() != state.layers.size())
        throw Error("layer " + std::to_string(layer) + " is out of range: the model has " +
                    std::to_string(fresh.layers.size()) + " layers");
    LayerState& target = state.layers[size_t(layer)];
    // A softmax layer's cache grows with the sequence; a fresh one is empty, which is what a
    // reset means for it.
    target = std::move(fresh.layers[size_t(layer)]);
}

double PatchingResult::restored(double logit) const {
    const double span = clean_logit - corrupt_logit;
    if (span == 0) return std::numeric_limits<double>::quiet_NaN();
    return (logit - corrupt_logit) / span;
}

int64_t last_difference(std::span<const int32_t> clean, std::span<const int32_t> corrupt) {
    const size_t n = std::min(clean.size(), corrupt.size());
    for (size_t i = n; i-- > 0;)
        if (clean[i] != corrupt[i]) return int64_t(i);
    return -1;
}

PatchingResult activation_patching(const Model& model, const PatchingRequest& request) {
    const auto& clean = request.clean;
    const auto& corrupt = request.corrupt;
    const int64_t T = int64_t(clean.size());
    if (corrupt.size() != clean.size())
        throw Error("the clean and corrupted inputs must have the same length (" + std::to_string(clean.size()) + " and " +
                    std::to_string(corrupt.size()) + " tokens)");
    if (T < 2) throw Error("patching needs at least 2 tokens: a patched state changes only the predictions after it");
    if (request.position < 0 || request.position > T - 2)
        throw Error("patch position " + std::to_string(request.position) + " is out of range: it must be 0 .. " +
                    std::to_string(T - 2) + " (the state after the last token predicts nothing that is read)");
    const ModelInfo& info = model.info();
    if (request.target < 0 || request.target >= info.vocab_size)
        throw Error("target " + std::to_string(request.target) + " is out of range: the vocabulary has " +
                    std::to_string(info.vocab_size) + " tokens");

    ForwardOptions last;
    last.all_logits = false;
    const size_t cut = size_t(request.position + 1);
    const std::span<const int32_t> clean_prefix(clean.data(), cut), corrupt_prefix(corrupt.data(), cut);
    const std::span<const int32_t> suffix(corrupt.data() + cut, corrupt.size() - cut);

    PatchingResult out;
    SequenceState clean_state = model.initial_state();
    model.forward(clean_prefix, clean_state, last);
    {
        SequenceState rest = clean_state;
        out.clean_logit = target_logit(model.forward(std::span<const int32_t>(clean.data() + cut, clean.size() - cut), rest, last),
                                       request.target);
    }
    SequenceState corrupt_state = model.initial_state();
    model.forward(corrupt_prefix, corrupt_state, last);
    auto patched = [&](auto&& patch) {
        SequenceState s = corrupt_state;
        patch(s);
        return target_logit(model.forward(suffix, s, last), request.target);
    };
    out.corrupt_logit = patched([](SequenceState&) {});

    out.head_logit.resize(info.layers.size());
    out.layer_logit.resize(info.layers.size());
    for (int l = 0; l < int(info.layers.size()); ++l) {
        out.layer_logit[size_t(l)] = patched([&](SequenceState& s) { copy_layer(clean_state, s, l); });
        if (info.layers[size_t(l)].mixer != MixerKind::Recurrent) continue;
        for (int h = 0; h < info.layers[size_t(l)].heads; ++h)
            out.head_logit[size_t(l)].push_back(patched([&](SequenceState& s) { copy_head(clean_state, s, l, h); }));
    }
    return out;
}

} // namespace statescope::analysis
