// The tokenizer.json pipeline (HF tokenizers' TokenizerImpl): added-token splitting, normalizer,
// pre-tokenizer, BPE model, post-processor; decoder for the way back.
#pragma once
#include "tokenizer/bpe.h"
#include "tokenizer/hf_components.h"
#include "statescope/tokenizer.h"

#include <unordered_map>
#include <unordered_set>

namespace statescope {

class HfTokenizer : public Tokenizer {
public:
    // config_path may be empty (no tokenizer_config.json).
    HfTokenizer(const std::string& json_path, const std::string& config_path);

    std::vector<int32_t> encode(std::string_view text, bool add_special_tokens) const override;
    std::string decode(std::span<const int32_t> ids, bool skip_special_tokens = false) const override;
    int32_t vocab_size() const override;
    std::optional<int32_t> token_to_id(std::string_view token) const override;
    std::optional<std::string> id_to_token(int32_t id) const override;
    std::optional<int32_t> bos_id() const override { return bos_id_; }
    std::optional<int32_t> eos_id() const override { return eos_id_; }
    std::string describe() const override { return description_; }

private:
    struct AddedToken {
        std::string content;
        int32_t id = -1;
        bool single_word = false, lstrip = false, rstrip = false, normalized = true, special = false;
        std::string match_text; // what is searched for: content, or its normalized form
    };

    // Byte trie over the contents of one group of added tokens (leftmost-longest matching, as HF's
    // Aho-Corasick automaton with MatchKind::LeftmostLongest).
    struct AddedTrie {
        struct Node {
            std::vector<std::pair<unsigned char, int32_t>> children;
            int32_t token = -1; // index into added_
        };
        std::vector<Node> nodes{Node{}};
        bool first_byte[256] = {};
        void insert(const std::string& s, int32_t token);
        bool empty() const { return nodes.size() == 1; }
        // Leftmost-longest match starting at or after `from`: token index, [start, end).
        bool find(std::string_view text, size_t from, int32_t* token, size_t* start, size_t* end) const;
    };

    void load_config(const std::string& config_path);
    void add_token(AddedToken t);
    void build_added_tries();
    // AddedVocabulary::split_with_indices over one piece with one trie.
    void split_added(hf::Piece&& piece, const AddedTrie& trie, std::vector<hf::Piece>& out) const;

    std::string json_path_;
    std::unique_ptr<BpeModel> model_;
    std::unique_ptr<hf::Normalizer> normalizer_;
    std::unique_ptr<hf::PreTokenizer> pre_tokenizer_;
    std::unique_ptr<hf::PostProcessor> post_processor_;
    std::unique_ptr<hf::Decoder> decoder_;

    std::vector<AddedToken> added_;
    std::unordered_map<int32_t, size_t> added_by_id_;
    std::unordered_map<std::string, int32_t> added_by_content_;
    std::unordered_set<std::string> special_contents_;
    AddedTrie raw_trie_, normalized_trie_;

    std::optional<int32_t> bos_id_, eos_id_;
    std::string description_;
};

} // namespace statescope
