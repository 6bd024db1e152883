// The parts of a tokenizer.json pipeline other than the model: normalizers, pre-tokenizers,
// post-processors and decoders, each built from its JSON object. They follow HF tokenizers 0.23
// (tokenizers/src/{normalizers,pre_tokenizers,processors,decoders}); what is not implemented is
// refused by the parse_* functions with an Error naming the file, the JSON path and the type.
#pragma once
#include "core/json.h"
#include "tokenizer/split_regex.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace statescope::hf {

// Where a JSON value sits, for error messages: "tokenizer.json (PATH): pre_tokenizer.pretokenizers[1]".
struct JsonPlace {
    std::string file;  // the file as given
    std::string path;  // JSON path inside it
    JsonPlace at(const std::string& key) const { return {file, path.empty() ? key : path + "." + key}; }
    JsonPlace index(size_t i) const { return {file, path + "[" + std::to_string(i) + "]"}; }
    [[noreturn]] void fail(const std::string& what) const;
};

// JSON accessors that name the place on error.
const Json& require_member(const Json& obj, const std::string& key, const JsonPlace& where);
std::string string_member(const Json& obj, const std::string& key, const JsonPlace& where);
bool bool_member(const Json& obj, const std::string& key, const JsonPlace& where, bool fallback);
std::optional<std::string> optional_string_member(const Json& obj, const std::string& key, const JsonPlace& where);

// A stretch of text on its way through the pipeline, or an added token already decided.
struct Piece {
    std::string text;
    int32_t added_id = -1;        // >= 0: an added token; text is its content
    bool at_input_start = false;  // begins at offset 0 of the input (Metaspace "first" needs it)
};

class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual void normalize(std::string& s) const = 0;
};

// Receives the pieces a pre-tokenizer produces, one at a time, so that a long text never exists as
// a list of all its words.
using PieceSink = std::function<void(Piece&&)>;

class PreTokenizer {
public:
    virtual ~PreTokenizer() = default;
    // Splits (and may transform) one text piece, passing the non-empty results to `emit` in order.
    virtual void split(Piece&& piece, const PieceSink& emit) const = 0;
};

class PostProcessor {
public:
    virtual ~PostProcessor() = default;
    // Adds special tokens around one encoded sequence when add_special_tokens.
    virtual void process(std::vector<int32_t>& ids, bool add_special_tokens) const = 0;
    // The ids it puts before and after a sequence (for describe() and tokenizer_config.json).
    virtual std::vector<int32_t> prefix_ids() const { return {}; }
    virtual std::vector<int32_t> suffix_ids() const { return {}; }
};

class Decoder {
public:
    virtual ~Decoder() = default;
    virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// Build a part from its JSON object; `where` names the file and the JSON path for errors.
std::unique_ptr<Normalizer> parse_normalizer(const Json& j, const JsonPlace& where);
std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const Json& j, const JsonPlace& where);
std::unique_ptr<PostProcessor> parse_post_processor(const Json& j, const JsonPlace& where);
std::unique_ptr<Decoder> parse_decoder(const Json& j, const JsonPlace& where);

// [prefix] A [suffix]: what tokenizer_config.json's add_bos_token / add_eos_token turn the
// post-processor into (transformers' LlamaTokenizerFast.update_post_processor).
std::unique_ptr<PostProcessor> make_template(std::vector<int32_t> prefix, std::vector<int32_t> suffix);

// Names of the types each parse_* accepts, for messages and documentation.
extern const char* const kSupportedNormalizers;
extern const char* const kSupportedPreTokenizers;
extern const char* const kSupportedPostProcessors;
extern const char* const kSupportedDecoders;

// GPT-2's byte-to-character table (bytes_char in HF's byte_level.rs) and its inverse.
const std::string& byte_level_char(unsigned char b); // UTF-8 of the character standing for b
int byte_level_byte(char32_t c);                      // the byte c stands for, or -1

} // namespace statescope::hf
