// A checkpoint folder: config.json, an optional model.safetensors.index.json and up to three
// safetensors files, the parts of one input (fuzz_support.h's separator). With an index the files
// are the shards model-0000N-of-00003.safetensors the seeds' indexes name; without one the first
// is model.safetensors. A folder loads as a model or is refused with statescope::Error; a model
// that loads runs two tokens and hands out its state, and the session's model identity of the
// folder is computed or refused the same way.
#include "fuzz_support.h"
#include "statescope/error.h"
#include "statescope/model.h"
#include "statescope/session.h"

#include <filesystem>

using namespace statescope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto parts = fuzz::split_parts(std::string_view(reinterpret_cast<const char*>(data), size), 5);
    const std::string dir = fuzz::scratch_dir();
    fuzz::write_scratch("config.json", parts[0]);
    const bool sharded = !parts[1].empty();
    if (sharded) {
        fuzz::write_scratch("model.safetensors.index.json", parts[1]);
        for (int i = 0; i < 3; ++i)
            fuzz::write_scratch("model-0000" + std::to_string(i + 1) + "-of-00003.safetensors", parts[size_t(2 + i)]);
    } else {
        fuzz::write_scratch("model.safetensors", parts[2]);
    }
    try {
        const auto model = load_model(dir);
        const ModelInfo& info = model->info();
        if (info.vocab_size <= 0) fuzz::violated("a model loaded with vocab_size " + std::to_string(info.vocab_size));
        SequenceState state = model->initial_state();
        const int32_t tokens[2] = {0, info.vocab_size - 1};
        const ForwardResult r = model->forward(tokens, state, {});
        if (r.logits.numel() != 2 * int64_t(info.vocab_size))
            fuzz::violated("forward of 2 tokens gave " + std::to_string(r.logits.numel()) + " logits for a vocabulary of " +
                           std::to_string(info.vocab_size));
        model->library_state(state);
    } catch (const Error&) {
    }
    try {
        session::model_identity(dir);
    } catch (const Error&) {
    }
    return 0;
}
