// Loading a Hugging Face tokenizer: tokenizer.json and tokenizer_config.json are the two parts of
// one input (an empty second part means no config file). The pair loads or is refused with
// statescope::Error; a tokenizer that loads encodes a sample text into ids of its vocabulary, and
// decodes them again.
#include "fuzz_support.h"
#include "statescope/error.h"
#include "statescope/tokenizer.h"

using namespace statescope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto parts = fuzz::split_parts(std::string_view(reinterpret_cast<const char*>(data), size), 2);
    fuzz::scratch_dir();
    const std::string json_path = fuzz::write_scratch("tokenizer.json", parts[0]);
    if (!parts[1].empty()) fuzz::write_scratch("tokenizer_config.json", parts[1]);
    std::unique_ptr<Tokenizer> tok;
    try {
        tok = Tokenizer::load(json_path);
    } catch (const Error&) {
        return 0;
    }
    tok->describe();
    for (bool special : {false, true}) {
        std::vector<int32_t> ids;
        try {
            ids = tok->encode("Hello world, <s> 12 345 \xC3\xA9t\xC3\xA9 \xE4\xBD\xA0\xE5\xA5\xBD \n\t end</s>", special);
        } catch (const Error&) {
            continue; // e.g. a vocabulary without a token for some byte
        }
        for (int32_t id : ids) {
            if (id < 0 || id >= tok->vocab_size())
                fuzz::violated("encode gave id " + std::to_string(id) + " of a vocabulary of " + std::to_string(tok->vocab_size()));
            tok->id_to_token(id);
        }
        try {
            tok->decode(ids, !special);
        } catch (const Error& e) {
            // A decoder may refuse what it cannot represent, but never an id encode produced as
            // "not in the vocabulary".
            if (std::string(e.what()).find("not in the") != std::string::npos)
                fuzz::violated(std::string("decode refused ids that encode made: ") + e.what());
        }
    }
    return 0;
}
