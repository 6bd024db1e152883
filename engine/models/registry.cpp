#include "models/registry.h"

namespace statescope {

#define STATESCOPE_FAMILY(model_type, factory) std::unique_ptr<Model> factory(std::unique_ptr<Checkpoint>);
#include "models/families.inc"
#undef STATESCOPE_FAMILY

const std::vector<ModelFactory>& model_factories() {
    static const std::vector<ModelFactory> table = {
#define STATESCOPE_FAMILY(model_type, factory) {#model_type, factory},
#include "models/families.inc"
#undef STATESCOPE_FAMILY
    };
    return table;
}

} // namespace statescope
