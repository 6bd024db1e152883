// Turning what the user gives (--prompt text, --tokens ids) into token ids and strip labels.
//
// No tokenizer is wired in yet, so text is tokenized byte by byte (UTF-8 bytes as ids 0..255):
// exact for byte-level vocabularies and enough to drive any checkpoint whose vocabulary has at
// least 256 entries. The strip labels say so (each token shows its byte).
#pragma once
#include <QString>
#include <cstdint>
#include <vector>

namespace statescope::app {

struct TokenInput {
    std::vector<int32_t> ids;
    std::vector<QString> labels;
    QString description; // "prompt (bytes)" / "token ids"
};

// UTF-8 bytes of `text`, one token each; labels show printable bytes as themselves.
TokenInput tokens_from_text(const QString& text);
// "1,2,3" or "1 2 3"; throws statescope::Error naming the bad item.
TokenInput tokens_from_ids(const QString& list);

// The sequence the app runs when the command line names none.
QString default_prompt();

} // namespace statescope::app
