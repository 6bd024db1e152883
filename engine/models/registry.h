// The table of model families: one entry per config.json model_type.
#pragma once
#include "model.h"

#include <memory>
#include <vector>

namespace statescope {

class Checkpoint;

struct ModelFactory {
    const char* model_type;
    std::unique_ptr<Model> (*make)(std::unique_ptr<Checkpoint>);
};

const std::vector<ModelFactory>& model_factories();

// One per family, defined in engine/models/<family>.cpp.
std::unique_ptr<Model> make_mamba(std::unique_ptr<Checkpoint>);
std::unique_ptr<Model> make_mamba2(std::unique_ptr<Checkpoint>);
std::unique_ptr<Model> make_llama(std::unique_ptr<Checkpoint>);
std::unique_ptr<Model> make_gla(std::unique_ptr<Checkpoint>);
std::unique_ptr<Model> make_retnet(std::unique_ptr<Checkpoint>);
std::unique_ptr<Model> make_linear_attn(std::unique_ptr<Checkpoint>);
std::unique_ptr<Model> make_hgrn2(std::unique_ptr<Checkpoint>);
std::unique_ptr<Model> make_delta_net(std::unique_ptr<Checkpoint>);
std::unique_ptr<Model> make_gated_deltanet(std::unique_ptr<Checkpoint>);
std::unique_ptr<Model> make_gated_deltaproduct(std::unique_ptr<Checkpoint>);
std::unique_ptr<Model> make_rwkv7(std::unique_ptr<Checkpoint>);

} // namespace statescope
