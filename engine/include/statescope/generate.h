// Generation: continue a sequence token by token, each new token fed back through the model's
// recurrent step. The callback sees every token as it is chosen (the app's views follow it) and
// can stop the generation by returning false.
#pragma once
#include "statescope/model.h"
#include "statescope/sampling.h"

#include <functional>
#include <vector>

namespace statescope {

struct GenerateOptions {
    int max_tokens = 32;
    SamplingOptions sampling;
    std::vector<int32_t> stop_ids; // generation ends after emitting one of these (e.g. EOS)
};

// state must already hold the prompt; last_logits are the logits after the prompt's last token.
// Returns the generated ids. on_token(id, logits) is called after each token is chosen.
std::vector<int32_t> generate(const Model& model, SequenceState& state, std::vector<float> last_logits,
                              const GenerateOptions& options,
                              const std::function<bool(int32_t id, const Tensor& logits)>& on_token = {});

} // namespace statescope
