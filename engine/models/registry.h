// The table of model families: one entry per config.json model_type (the list is families.inc).
#pragma once
#include "statescope/model.h"

#include <memory>
#include <vector>

namespace statescope {

class Checkpoint;

struct ModelFactory {
    const char* model_type;
    std::unique_ptr<Model> (*make)(std::unique_ptr<Checkpoint>);
};

const std::vector<ModelFactory>& model_factories();

} // namespace statescope
