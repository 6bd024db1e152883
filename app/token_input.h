// Turning what the user gives (--prompt text, --tokens ids) into token ids and strip labels.
//
// Text is tokenized for the model being opened: with its own tokenizer when its folder has one
// (tokenizer.json, or an RWKV world vocabulary rwkv_vocab_*.txt; engine/tokenizer reproduces the
// Hugging Face library), otherwise byte by byte (UTF-8 bytes as ids 0..255), which drives any
// checkpoint with at least 256 ids (the bundled and reference models have no tokenizer).
#pragma once
#include <QString>
#include <cstdint>
#include <optional>
#include <vector>

namespace statescope::app {

struct TokenInput {
    std::optional<QString> text;  // set when the input is text, to be tokenized per model
    std::vector<int32_t> ids;
    std::vector<QString> labels;
    QString description;          // how the ids were made: "token ids", "bytes", "tokenizer.json (...)"
};

// Text input; ids and labels are filled byte by byte until a model's tokenizer replaces them.
TokenInput tokens_from_text(const QString& text);
// "1,2,3" or "1 2 3"; throws statescope::Error naming the bad item.
TokenInput tokens_from_ids(const QString& list);
// Tokenizes input.text (if any) for the model at `model_path` (a folder or its config.json) as
// described above; id input is returned as it is. Throws Error when the folder's tokenizer is broken.
TokenInput tokenize_for_model(const TokenInput& input, const QString& model_path);

// The sequence the app runs when the command line names none.
QString default_prompt();

} // namespace statescope::app
