// Placeholder until softmax attention lands (llama and fla hybrid layers).
#include "core/error.h"
#include "models/fla_common.h"

namespace statescope {

std::unique_ptr<Mixer> make_fla_attention(Checkpoint& ck, const Config& c, int layer, int) {
    throw Error(c.path() + ": attn: hybrid softmax attention (layer " + std::to_string(layer) + ") is not implemented yet");
}

} // namespace statescope
