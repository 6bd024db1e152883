// An RWKV world vocabulary (rwkv_vocab_*.txt) and a text, the two parts of one input. The file
// loads or is refused with statescope::Error; a vocabulary that loads either encodes the text or
// refuses it, and what it encodes decodes back to the text (after the repair of invalid UTF-8 that
// encode and decode both do): greedy longest match over tokens that are each one id's bytes.
#include "fuzz_support.h"
#include "statescope/error.h"
#include "statescope/tokenizer.h"
#include "statescope/utf8.h"

using namespace statescope;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const auto parts = fuzz::split_parts(std::string_view(reinterpret_cast<const char*>(data), size), 2);
    fuzz::scratch_dir();
    const std::string path = fuzz::write_scratch("rwkv_vocab_fuzz.txt", parts[0]);
    std::unique_ptr<Tokenizer> tok;
    try {
        tok = Tokenizer::load(path);
    } catch (const Error&) {
        return 0;
    }
    tok->describe();
    std::vector<int32_t> ids;
    try {
        ids = tok->encode(parts[1], false);
    } catch (const Error&) {
        return 0; // a byte no token starts with
    }
    std::string decoded;
    try {
        decoded = tok->decode(ids);
    } catch (const Error& e) {
        fuzz::violated(std::string("decode refused ids that encode made: ") + e.what());
    }
    const std::string text = unicode::repair_utf8(parts[1]);
    if (decoded != text)
        fuzz::violated("decode(encode(text)) is not the text: " + std::to_string(decoded.size()) + " bytes instead of " +
                       std::to_string(text.size()));
    for (int32_t id : ids) {
        const auto bytes = tok->id_to_token(id);
        // token_to_id reads "<|endoftext|>" as id 0 whatever the file lists under those bytes.
        if (bytes && *bytes == "<|endoftext|>") continue;
        if (!bytes || tok->token_to_id(*bytes) != id)
            fuzz::violated("token " + std::to_string(id) + " does not map back to its id");
    }
    return 0;
}
