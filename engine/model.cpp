#include "statescope/model.h"

#include "core/checkpoint.h"
#include "statescope/error.h"
#include "models/registry.h"

#include <algorithm>

namespace statescope {

Tensor* LayerState::find(const std::string& name) {
    for (auto& t : aux)
        if (t.name == name) return &t.tensor;
    return nullptr;
}

const Tensor* LayerState::find(const std::string& name) const {
    for (const auto& t : aux)
        if (t.name == name) return &t.tensor;
    return nullptr;
}

Tensor& LayerState::get(const std::string& name) {
    Tensor* t = find(name);
    if (!t) throw Error("layer state has no tensor '" + name + "'");
    return *t;
}

size_t SequenceState::bytes() const {
    size_t n = 0;
    for (const auto& l : layers) {
        n += l.recurrent.data.size() * sizeof(float);
        for (const auto& a : l.aux) n += a.tensor.data.size() * sizeof(float);
    }
    return n;
}

std::unique_ptr<Model> load_model(const std::string& dir_or_config) {
    return load_model(Checkpoint::open(dir_or_config));
}

std::unique_ptr<Model> load_model(std::unique_ptr<Checkpoint> ck) {
    std::string type = ck->config().get_string("model_type");
    for (const auto& f : model_factories())
        if (type == f.model_type) {
            std::unique_ptr<Model> model = f.make(std::move(ck));
            if (model->checkpoint()) model->checkpoint()->refuse_unused_tensors();
            return model;
        }
    std::string known;
    for (const auto& f : model_factories()) known += (known.empty() ? "" : ", ") + std::string(f.model_type);
    throw Error(ck->config().path() + ": model_type '" + type + "' is not supported (supported: " + known + ")");
}

std::unique_ptr<Model> load_synthetic_model(const std::string& config_path, uint32_t seed) {
    return load_model(Checkpoint::synthetic(config_path, seed));
}

void save_checkpoint(const Model& model, const std::string& dir, DType dtype) {
    const Checkpoint* ck = model.checkpoint();
    if (!ck) throw Error(dir + ": the model " + model.info().family + " holds no weights to write");
    ck->save(dir, dtype);
}

std::vector<std::string> supported_model_types() {
    std::vector<std::string> out;
    for (const auto& f : model_factories()) out.emplace_back(f.model_type);
    return out;
}

namespace {

void append_rows(Tensor& dst, Tensor&& src) {
    if (dst.data.empty()) {
        dst = std::move(src);
        return;
    }
    dst.data.insert(dst.data.end(), src.data.begin(), src.data.end());
    dst.shape[0] += src.shape[0];
}

} // namespace

ForwardResult forward_in_pieces(std::span<const int32_t> tokens, size_t piece, const ForwardOptions& options,
                                const std::function<ForwardResult(std::span<const int32_t>)>& run) {
    if (tokens.size() <= piece || options.observer) return run(tokens);
    ForwardResult all;
    for (size_t first = 0; first < tokens.size(); first += piece) {
        ForwardResult r = run(tokens.subspan(first, std::min(piece, tokens.size() - first)));
        if (options.all_logits) append_rows(all.logits, std::move(r.logits));
        else all.logits = std::move(r.logits);
        all.hidden.resize(r.hidden.size());
        for (size_t i = 0; i < r.hidden.size(); ++i) append_rows(all.hidden[i], std::move(r.hidden[i]));
    }
    return all;
}

} // namespace statescope
