// The skeleton pieces token mixers share, so that a family writes only what is its own:
//   RecurrentMixer   info(), init_state() and library_state() of a common-form recurrent layer
//   ShortConvs       a layer's short convolutions with their cache windows
//   GatedMlpMixer    the down(silu(gate(x)) * up(x)) feed-forward of fla and Llama
//   mixer_factory<M> the factory that builds mixer M of one layer
#pragma once
#include "models/block_model.h"

#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace statescope {

// Builds the token mixer of layer `layer` from the checkpoint and its config.
using MixerFactory = std::function<std::unique_ptr<Mixer>(Checkpoint&, const Config&, int layer, int hidden)>;

template <class M>
MixerFactory mixer_factory() {
    return [](Checkpoint& ck, const Config& c, int layer, int hidden) -> std::unique_ptr<Mixer> {
        return std::make_unique<M>(ck, c, layer, hidden);
    };
}

// The factory of mixer M whose options are the model's: `read` turns config.json into them once,
// when layer 0's mixer is built (after the model's own config reading gave hidden_size), and every
// layer's M(ck, options, layer, hidden) then loads only its weights.
template <class M, class Options>
MixerFactory mixer_factory(Options (*read)(const Config&, int hidden)) {
    auto options = std::make_shared<std::optional<Options>>();
    return [options, read](Checkpoint& ck, const Config& c, int layer, int hidden) -> std::unique_ptr<Mixer> {
        if (!*options) *options = read(c, hidden);
        return std::make_unique<M>(ck, **options, layer, hidden);
    };
}

// "L<layer>.<what>", the name of a cache tensor of fla's layer `layer`.
std::string library_state_name(int layer, const std::string& what);

// [C, W] window -> [1, C, W] as fla's and transformers' conv caches hold it.
Tensor export_conv_state(const Tensor& cw);

// A layer's short convolutions (fla's ShortConvolution), each with its window in the layer state
// under its own name ("conv.q", ...). Empty when the layer has none.
struct ShortConvs {
    std::vector<cpu::ShortConv> convs;
    std::vector<std::string> names;

    void add(cpu::ShortConv conv, std::string name);
    bool empty() const { return convs.empty(); }
    // Convolution i over x: [T, C], updating its window in st.
    cpu::Mat operator()(size_t i, const cpu::Mat& x, LayerState& st) const;
    gpu::Mat gpu(gpu::Ops& ops, size_t i, const gpu::Mat& x, gpu::LayerState& st) const;
    // Convolution i over the i-th of xs, in place (one per convolution); nothing when empty.
    void apply(LayerState& st, std::initializer_list<cpu::Mat*> xs) const;
    void apply_gpu(gpu::Ops& ops, gpu::LayerState& st, std::initializer_list<gpu::Mat*> xs) const;
    void init_state(LayerState& st) const;
    // Appends L<layer>.conv_state.<i> in the order the convolutions were added.
    void library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const;
};

// A token mixer whose state is one common-form recurrent state [H, K, V] plus its short
// convolutions' windows. Families fill layer_ (what info() reports), value_major_ and convs_.
class RecurrentMixer : public Mixer {
public:
    // layer_ plus the short convolutions' width and inputs, read from convs_.
    LayerInfo info() const override;
    void init_state(LayerState& st) const override;
    // L<layer>.recurrent_state in the library's layout, then the conv windows.
    void library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const override;

protected:
    // Sets what info() reports: the transition, H heads of key dim K and value dim V, micro-steps.
    void describe(TransitionKind transition, int H, int K, int V, std::string name, int substeps = 1);

    LayerInfo layer_;
    bool value_major_ = false; // the library keeps the state as [H, V, K] (fla's GLA-style kernels)
    ShortConvs convs_;
};

// fla's GatedMLP and Llama's MLP as a channel mixer (no state).
class GatedMlpMixer : public Mixer {
public:
    explicit GatedMlpMixer(cpu::GatedMLP m) : mlp_(std::move(m)) {}
    void init_state(LayerState&) const override {}
    cpu::Mat forward(const cpu::Mat& x, LayerState&, ForwardContext&) const override { return mlp_(x); }
    void library_state(const LayerState&, int, std::vector<NamedTensor>&) const override {}
    gpu::Mat forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState&, ForwardContext&) const override;

private:
    cpu::GatedMLP mlp_;
};

} // namespace statescope
