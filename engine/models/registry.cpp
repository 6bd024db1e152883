#include "models/registry.h"

namespace statescope {

const std::vector<ModelFactory>& model_factories() {
    static const std::vector<ModelFactory> table = {
        {"mamba", make_mamba},
        {"mamba2", make_mamba2},
        {"llama", make_llama},
        {"gla", make_gla},
        {"retnet", make_retnet},
        {"linear_attn", make_linear_attn},
        {"hgrn2", make_hgrn2},
        {"delta_net", make_delta_net},
        {"gated_deltanet", make_gated_deltanet},
        {"gated_deltaproduct", make_gated_deltaproduct},
        {"rwkv7", make_rwkv7},
    };
    return table;
}

} // namespace statescope
