#include "models/mixer_parts.h"

#include "statescope/error.h"
#include "gpu/layers.h"

namespace statescope {

std::string library_state_name(int layer, const std::string& what) {
    std::string name = "L"; // appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "L" + string
    name += std::to_string(layer);
    name += '.';
    name += what;
    return name;
}

Tensor export_conv_state(const Tensor& cw) {
    Tensor t = cw;
    t.shape.insert(t.shape.begin(), 1);
    return t;
}

void ShortConvs::add(cpu::ShortConv conv, std::string name) {
    convs.push_back(conv);
    names.push_back(std::move(name));
}

cpu::Mat ShortConvs::operator()(size_t i, const cpu::Mat& x, LayerState& st) const {
    return convs[i](x, st.get(names[i]));
}

gpu::Mat ShortConvs::gpu(gpu::Ops& ops, size_t i, const gpu::Mat& x, gpu::LayerState& st) const {
    return gpu::short_conv(ops, convs[i], x, st.get(names[i]));
}

void ShortConvs::apply(LayerState& st, std::initializer_list<cpu::Mat*> xs) const {
    if (convs.empty()) return;
    require(xs.size() == convs.size(), "short convolutions: " + std::to_string(xs.size()) + " inputs for " +
                                           std::to_string(convs.size()) + " convolutions");
    size_t i = 0;
    for (cpu::Mat* x : xs) *x = (*this)(i++, *x, st);
}

void ShortConvs::apply_gpu(gpu::Ops& ops, gpu::LayerState& st, std::initializer_list<gpu::Mat*> xs) const {
    if (convs.empty()) return;
    require(xs.size() == convs.size(), "short convolutions (GPU): " + std::to_string(xs.size()) + " inputs for " +
                                           std::to_string(convs.size()) + " convolutions");
    size_t i = 0;
    for (gpu::Mat* x : xs) *x = gpu(ops, i++, *x, st);
}

void ShortConvs::init_state(LayerState& st) const {
    for (size_t i = 0; i < convs.size(); ++i) st.aux.push_back({names[i], convs[i].initial_state()});
}

void ShortConvs::library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const {
    for (size_t i = 0; i < convs.size(); ++i)
        out.push_back({library_state_name(layer, "conv_state." + std::to_string(i)),
                       export_conv_state(*st.find(names[i]))});
}

void RecurrentMixer::describe(TransitionKind transition, int H, int K, int V, std::string name, int substeps) {
    layer_.transition = transition;
    layer_.heads = H;
    layer_.key_dim = K;
    layer_.value_dim = V;
    layer_.substeps = substeps;
    layer_.mixer_name = std::move(name);
}

LayerInfo RecurrentMixer::info() const {
    LayerInfo l = layer_;
    if (!convs_.empty()) {
        l.conv_width = convs_.convs.front().width;
        for (const std::string& name : convs_.names) {
            const std::string input = name.rfind("conv.", 0) == 0 ? name.substr(5) : name;
            l.conv_inputs += (l.conv_inputs.empty() ? "" : ", ") + input;
        }
    }
    return l;
}

void RecurrentMixer::init_state(LayerState& st) const {
    st.recurrent = Tensor({layer_.heads, layer_.key_dim, layer_.value_dim});
    convs_.init_state(st);
}

void RecurrentMixer::library_state(const LayerState& st, int layer, std::vector<NamedTensor>& out) const {
    out.push_back({library_state_name(layer, "recurrent_state"),
                   export_state(st.recurrent, layer_.heads, layer_.key_dim, layer_.value_dim, value_major_)});
    convs_.library_state(st, layer, out);
}

gpu::Mat GatedMlpMixer::forward_gpu(gpu::Ops& ops, const gpu::Mat& x, gpu::LayerState&, ForwardContext&) const {
    return gpu::gated_mlp(ops, mlp_, x);
}

} // namespace statescope
