// Placeholder until this family is implemented: loading reports it clearly instead of failing to link.
#include "core/checkpoint.h"
#include "core/error.h"
#include "models/registry.h"

namespace statescope {

std::unique_ptr<Model> make_mamba2(std::unique_ptr<Checkpoint> ck) {
    throw Error(ck->config().path() + ": model_type 'mamba2' is recognised but not implemented yet");
}

} // namespace statescope
