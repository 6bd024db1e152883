// Encoding and decoding arbitrary bytes with real tokenizers: the bundled demonstration model's
// tokenizer.json, and Llama 3's (byte-level BPE, regex split) and Mistral's (SentencePiece-style
// BPE with byte fallback) from ../shared/reference/tokenizers. The first byte picks the tokenizer
// and the operation; the rest is the text, or for decode the ids (little-endian int32).
// Properties: encode's ids lie in the vocabulary and decode accepts them; decode of arbitrary ids
// returns text or refuses with statescope::Error.
#include "fuzz_support.h"
#include "statescope/error.h"
#include "statescope/tokenizer.h"

#include <cstring>
#include <memory>

using namespace statescope;

namespace {
const char* const kTokenizers[] = {
    STATESCOPE_SOURCE_DIR "/assets/models/mqar-deltanet/tokenizer.json",
    STATESCOPE_SHARED_DIR "/reference/tokenizers/llama-3.tokenizer.json",
    STATESCOPE_SHARED_DIR "/reference/tokenizers/mistral-7b.tokenizer.json",
};
constexpr size_t kCount = sizeof kTokenizers / sizeof kTokenizers[0];

// Loaded once per process; a tokenizer that does not load is a broken setup, not a finding.
const Tokenizer& tokenizer(size_t i) {
    static std::unique_ptr<Tokenizer> loaded[kCount];
    if (!loaded[i]) {
        try {
            loaded[i] = Tokenizer::load(kTokenizers[i]);
        } catch (const Error& e) {
            fuzz::violated(std::string("the fuzz target's tokenizer does not load: ") + e.what());
        }
    }
    return *loaded[i];
}
} // namespace

// Loads every tokenizer up front (Llama 3's takes seconds under ASan), so that no input is
// charged for it and a missing one fails at once.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
    for (size_t i = 0; i < kCount; ++i) tokenizer(i);
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const Tokenizer& tok = tokenizer((data[0] & 0x0F) % kCount);
    const int op = (data[0] >> 4) % 3; // 0, 1: encode without, with special tokens; 2: decode
    const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    if (op == 2) {
        std::vector<int32_t> ids(rest.size() / 4);
        if (!ids.empty()) std::memcpy(ids.data(), rest.data(), ids.size() * 4);
        for (bool skip : {false, true}) {
            try {
                tok.decode(ids, skip);
            } catch (const Error&) {
            }
        }
        return 0;
    }
    std::vector<int32_t> ids;
    try {
        ids = tok.encode(rest, op == 1); // invalid UTF-8 is repaired first
    } catch (const Error&) {
        return 0; // e.g. a character the vocabulary has no token for
    }
    for (int32_t id : ids)
        if (id < 0 || id >= tok.vocab_size())
            fuzz::violated("encode gave id " + std::to_string(id) + " of a vocabulary of " + std::to_string(tok.vocab_size()));
    try {
        tok.decode(ids, false);
    } catch (const Error& e) {
        fuzz::violated(std::string("decode refused ids that encode made: ") + e.what());
    }
    return 0;
}
