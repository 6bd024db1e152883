// Turning what the user gives (--prompt text, --tokens ids) into token ids and strip labels.
//
// Text is tokenized for the model being opened: with its own tokenizer when its folder has one
// (tokenizer.json, or an RWKV world vocabulary rwkv_vocab_*.txt; engine/tokenizer reproduces the
// Hugging Face library), otherwise byte by byte (UTF-8 bytes as ids 0..255), which drives any
// checkpoint with at least 256 ids (the bundled and reference models have no tokenizer).
// Text and labels are UTF-8.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace statescope {
class Tokenizer;
}

namespace statescope::frames {

struct TokenInput {
    std::optional<std::string> text;  // set when the input is text, to be tokenized per model
    std::vector<int32_t> ids;
    std::vector<std::string> labels;
    std::string description;          // how the ids were made: "token ids", "bytes", "tokenizer.json (...)"
    // A task sample's (tokens_from_task): per position the id the model should predict, -1 where
    // the task scores nothing; and how it was made ({"task":..,"seed":..,..}). Empty otherwise.
    std::vector<int32_t> targets;
    std::string task_settings;
    // Ids that follow the input's own tokens: what the model generated after it, restored from a
    // saved session. The text (or task sample) keeps its labels and targets; these are appended.
    std::vector<int32_t> generated;
};

// Token ids separated by commas or white space ("1,2,3", "1 2 3"); throws statescope::Error
// naming `flag` and the bad item, or that none was given unless `allow_empty`. `items`, when
// given, receives each id as it was written.
std::vector<int32_t> parse_token_ids(const std::string& list, const std::string& flag = "--tokens", bool allow_empty = false,
                                     std::vector<std::string>* items = nullptr);

// Text input; ids and labels are filled byte by byte until a model's tokenizer replaces them.
TokenInput tokens_from_text(const std::string& text);
// "1,2,3" or "1 2 3"; throws statescope::Error naming the bad item.
TokenInput tokens_from_ids(const std::string& list);

// A seeded sample of the task of the demonstration model at `model_path` (its task.json, see
// statescope/task.h) with its targets; size 0 is the task's default. Throws Error naming the
// task file when it is missing or broken.
TokenInput tokens_from_task(const std::string& model_path, uint64_t seed, int64_t size = 0);

// How one model's tokens turn into labels, and text into tokens.
class TokenCodec {
public:
    // Loads the tokenizer of the model at `model_path` (a folder or its config.json) if its
    // folder has one; throws Error when that tokenizer is broken.
    explicit TokenCodec(const std::string& model_path);
    ~TokenCodec();
    bool has_tokenizer() const { return tokenizer_ != nullptr; }
    // Text input is tokenized (tokenizer, else bytes); id input keeps its ids. Labels come from
    // the tokenizer when there is one.
    TokenInput encode(const TokenInput& input);
    // What the strip shows for token `id`: its text (tokenizer), its byte (text read byte by
    // byte), else the id itself.
    std::string label(int32_t id) const;
    // What the strip shows for a whole sequence: label() of each id, except that the pieces of one
    // multi-byte character (UTF-8 bytes, byte-fallback tokens) show that character ("é 1/2").
    std::vector<std::string> labels(const std::vector<int32_t>& ids) const;
    // Ids that end a generation (the tokenizer's EOS), none without a tokenizer.
    std::vector<int32_t> stop_ids() const;

private:
    // The text of `ids` decoded together when it is whole UTF-8 (no replacement character), else "".
    std::string whole_text(std::span<const int32_t> ids) const;
    bool partial_character(int32_t id) const; // the token alone decodes to part of a character
    void label_character_pieces(const std::vector<int32_t>& ids, std::vector<std::string>& labels) const;
    std::unique_ptr<Tokenizer> tokenizer_;
    bool bytes_ = false; // the last input was text read byte by byte
};

} // namespace statescope::frames
