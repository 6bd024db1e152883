#include "statescope/generate.h"

#include "statescope/error.h"

#include <algorithm>

namespace statescope {

std::vector<int32_t> generate(const Model& model, SequenceState& state, std::vector<float> last_logits,
                              const GenerateOptions& options,
                              const std::function<bool(int32_t, const Tensor&)>& on_token) {
    if (options.max_tokens < 0) throw Error("max tokens must be >= 0");
    if (int(last_logits.size()) != model.info().vocab_size)
        throw Error("generate: logits have " + std::to_string(last_logits.size()) + " entries, the vocabulary " +
                    std::to_string(model.info().vocab_size));
    Sampler sampler(options.sampling);
    std::vector<int32_t> out;
    ForwardOptions fo;
    fo.all_logits = false;
    for (int i = 0; i < options.max_tokens; ++i) {
        const int32_t id = sampler.next(last_logits);
        out.push_back(id);
        ForwardResult r = model.forward(std::span<const int32_t>(&id, 1), state, fo);
        last_logits = r.logits.data;
        if (on_token && !on_token(id, r.logits)) break;
        if (std::find(options.stop_ids.begin(), options.stop_ids.end(), id) != options.stop_ids.end()) break;
    }
    return out;
}

} // namespace statescope
