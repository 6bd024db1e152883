// The BPE model of HF tokenizers (models/bpe): a vocabulary, ranked merges, and the merge loop that
// turns one pre-tokenized word into token ids. Unknown characters go to byte-fallback tokens
// <0xNN> when enabled, else to the unknown token (fused when fuse_unk); with ignore_merges a word
// that is itself in the vocabulary is emitted whole. Results of words are cached.
#pragma once
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace statescope {

class BpeModel {
public:
    struct Options {
        std::optional<std::string> unk_token;
        std::string continuing_subword_prefix;
        std::string end_of_word_suffix;
        bool fuse_unk = false;
        bool byte_fallback = false;
        bool ignore_merges = false;
    };

    // vocab: (token, id); merges: pairs in rank order. Throws std::invalid_argument naming the first
    // merge whose parts or result are not in the vocabulary, or an unknown token missing from it.
    BpeModel(std::vector<std::pair<std::string, int32_t>> vocab, const std::vector<std::pair<std::string, std::string>>& merges,
             Options options);

    // Appends the ids of one word (valid UTF-8, non-empty).
    void tokenize(std::string_view word, std::vector<int32_t>& out) const;

    std::optional<int32_t> token_to_id(std::string_view token) const;
    // nullptr when the id is not in the vocabulary.
    const std::string* id_to_token(int32_t id) const;
    size_t vocab_size() const { return vocab_.size(); }
    int32_t max_id() const { return int32_t(id_to_token_.size()) - 1; }

private:
    struct StringHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    // Open-addressing map token text -> id: one probe sequence over (hash, index) slots, then one
    // string comparison; the lookup every word starts with.
    class TokenIndex {
    public:
        void insert(std::string key, int32_t id); // a repeated key takes the new id
        int32_t find(std::string_view key) const; // -1 when absent
        size_t size() const { return keys_.size(); }
        const std::vector<std::string>& keys() const { return keys_; }

    private:
        struct Slot {
            uint64_t hash = 0;
            int32_t index = -1; // into keys_ / ids_
        };
        void grow();
        std::vector<Slot> slots_;
        std::vector<std::string> keys_;
        std::vector<int32_t> ids_;
    };

    // Open-addressing map (pair of ids) -> (rank, merged id): the hot lookup of the merge loop.
    class MergeTable {
    public:
        void build(const std::vector<std::pair<uint64_t, std::pair<uint32_t, int32_t>>>& entries);
        const std::pair<uint32_t, int32_t>* find(int32_t a, int32_t b) const;

    private:
        static uint64_t key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }
        std::vector<uint64_t> keys_;
        std::vector<std::pair<uint32_t, int32_t>> values_;
        uint64_t mask_ = 0;
    };

    void merge_word(std::string_view word, std::vector<int32_t>& out) const;
    void merge_word_cached(std::string_view word, std::vector<int32_t>& out) const;

    TokenIndex vocab_;
    std::vector<std::string> id_to_token_;
    std::vector<bool> id_present_;
    MergeTable merges_;
    Options options_;
    std::optional<int32_t> unk_id_;
    int32_t byte_tokens_[256];  // <0xNN> ids when byte_fallback, -1 when missing
    // SentencePiece-style files have no pre-tokenizer, so a whole text is one BPE word. When no
    // token has U+2581 right after another character, no merge can cross the boundary before a
    // U+2581 that follows another character, and the word may be merged piecewise (same result,
    // and the pieces hit the cache).
    bool split_before_metaspace_ = false;

    // Word cache. HF keeps 10000 words up to 256 bytes; the result does not depend on it.
    static constexpr size_t kCacheCapacity = 100000, kCacheMaxWordBytes = 256;
    mutable std::mutex cache_mutex_;
    mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

} // namespace statescope
