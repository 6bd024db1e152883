// Text <-> token ids for the checkpoints Statescope loads.
//
// load() reads a Hugging Face tokenizer.json (with the tokenizer_config.json beside it, when there
// is one) and reproduces what the Rust `tokenizers` library does with it: added and special tokens
// split the text first, then the normalizer, the pre-tokenizer, the BPE model and the
// post-processor run; decode() runs the decoder. Everything a file asks for is either implemented
// exactly or refused with an Error naming the file and the feature (another model type, an unknown
// normalizer, a regex outside the supported subset...): a tokenizer never silently tokenizes
// differently from the library. RWKV "world" vocabularies (rwkv_vocab_*.txt) load too.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace statescope {

class Tokenizer {
public:
    virtual ~Tokenizer() = default;

    // path: a tokenizer.json, a folder holding one (or an RWKV world vocabulary .txt), or an RWKV
    // vocabulary .txt file. config_path: the tokenizer_config.json to use; empty means the one
    // beside the tokenizer file ("tokenizer_config.json", or "X.tokenizer_config.json" next to
    // "X.tokenizer.json"), if present. Throws Error naming the file and the problem.
    static std::unique_ptr<Tokenizer> load(const std::string& path, const std::string& config_path = "");

    // Token ids of UTF-8 text. Invalid UTF-8 is first repaired the way Python's
    // bytes.decode("utf-8", errors="replace") does (one U+FFFD per maximal ill-formed subpart): the
    // HF library only accepts valid strings, so this is what its users get for such bytes.
    // add_special_tokens adds what the post-processor (or tokenizer_config.json's add_bos_token /
    // add_eos_token) asks for, e.g. a BOS token. Special tokens written in the text are always
    // recognised, as in HF.
    virtual std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const = 0;

    // Text of the ids. Throws Error for an id outside the vocabulary (HF skips those silently).
    virtual std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const = 0;

    // Number of ids the tokenizer can produce (largest id + 1).
    virtual int32_t vocab_size() const = 0;
    virtual std::optional<int32_t> token_to_id(std::string_view token) const = 0;
    virtual std::optional<std::string> id_to_token(int32_t id) const = 0;
    virtual std::optional<int32_t> bos_id() const { return std::nullopt; }
    virtual std::optional<int32_t> eos_id() const { return std::nullopt; }
    // One line: kind, vocabulary size, the pipeline's parts.
    virtual std::string describe() const = 0;
};

} // namespace statescope
