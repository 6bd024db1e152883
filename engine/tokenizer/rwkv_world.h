// The RWKV "world" tokenizer (rwkv_vocab_v20230424.txt and its kind): a vocabulary of byte strings,
// one per line as `ID PYTHON_LITERAL BYTE_LENGTH` ('text' or b'bytes'), and greedy longest-match
// encoding over the UTF-8 bytes through a trie, as the reference TRIE_TOKENIZER does. Id 0 is
// <|endoftext|>, which the file does not list.
#pragma once
#include "statescope/tokenizer.h"

#include <array>

namespace statescope {

class RwkvWorldTokenizer : public Tokenizer {
public:
    explicit RwkvWorldTokenizer(const std::string& vocab_path);

    std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const override;
    std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const override;
    int32_t vocab_size() const override { return int32_t(tokens_.size()); }
    std::optional<int32_t> token_to_id(std::string_view token) const override;
    std::optional<std::string> id_to_token(int32_t id) const override;
    std::optional<int32_t> eos_id() const override { return 0; }
    std::string describe() const override;

private:
    struct Node {
        std::vector<std::pair<unsigned char, int32_t>> children; // sorted by byte
        int32_t token = -1;
    };
    int32_t child(int32_t node, unsigned char b) const;

    std::string path_;
    std::vector<std::string> tokens_;        // id -> bytes; tokens_[0] is <|endoftext|>
    std::vector<bool> present_;
    std::vector<Node> nodes_;                // nodes_[0] is the root
    std::array<int32_t, 256> root_children_; // the root's children, indexed directly
};

} // namespace statescope
