#include "tokenizer/bpe.h"

#include "tokenizer/unicode.h"

#include <algorithm>
#include <cstdio>
#include <queue>
#include <stdexcept>

namespace statescope {

void BpeModel::MergeTable::build(const std::vector<std::pair<uint64_t, std::pair<uint32_t, int32_t>>>& entries) {
    size_t cap = 16;
    while (cap < entries.size() * 2) cap *= 2;
    keys_.assign(cap, ~uint64_t(0));
    values_.assign(cap, {0, -1});
    mask_ = cap - 1;
    for (const auto& [k, v] : entries) {
        size_t i = (k * 0x9E3779B97F4A7C15ull) >> 20 & mask_;
        while (keys_[i] != ~uint64_t(0) && keys_[i] != k) i = (i + 1) & mask_;
        keys_[i] = k;   // a repeated pair keeps its last rank, as HF's HashMap collect does
        values_[i] = v;
    }
}

const std::pair<uint32_t, int32_t>* BpeModel::MergeTable::find(int32_t a, int32_t b) const {
    const uint64_t k = key(a, b);
    for (size_t i = (k * 0x9E3779B97F4A7C15ull) >> 20 & mask_;; i = (i + 1) & mask_) {
        if (keys_[i] == k) return &values_[i];
        if (keys_[i] == ~uint64_t(0)) return nullptr;
    }
}

void BpeModel::TokenIndex::insert(std::string key, int32_t id) {
    if ((keys_.size() + 1) * 2 > slots_.size()) grow();
    const uint64_t h = std::hash<std::string_view>{}(key);
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        Slot& slot = slots_[i];
        if (slot.index < 0) {
            slot = {h, int32_t(keys_.size())};
            keys_.push_back(std::move(key));
            ids_.push_back(id);
            return;
        }
        if (slot.hash == h && keys_[size_t(slot.index)] == key) {
            ids_[size_t(slot.index)] = id;
            return;
        }
    }
}

int32_t BpeModel::TokenIndex::find(std::string_view key) const {
    if (slots_.empty()) return -1;
    const uint64_t h = std::hash<std::string_view>{}(key);
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        const Slot& slot = slots_[i];
        if (slot.index < 0) return -1;
        if (slot.hash == h && keys_[size_t(slot.index)] == key) return ids_[size_t(slot.index)];
    }
}

void BpeModel::TokenIndex::grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(16, old.size() * 2), Slot{});
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
        if (s.index < 0) continue;
        size_t i = s.hash & mask;
        while (slots_[i].index >= 0) i = (i + 1) & mask;
        slots_[i] = s;
    }
}

BpeModel::BpeModel(std::vector<std::pair<std::string, int32_t>> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges, Options options)
    : options_(std::move(options)) {
    int32_t max_id = -1;
    for (const auto& [tok, id] : vocab) {
        if (id < 0) throw std::invalid_argument("token '" + tok + "' has a negative id");
        max_id = std::max(max_id, id);
    }
    id_to_token_.resize(size_t(max_id + 1));
    id_present_.assign(size_t(max_id + 1), false);
    for (auto& [tok, id] : vocab) {
        if (!id_present_[size_t(id)]) {
            id_to_token_[size_t(id)] = tok;
            id_present_[size_t(id)] = true;
        }
        vocab_.insert(std::move(tok), id);
    }

    const size_t prefix_len = options_.continuing_subword_prefix.size();
    std::vector<std::pair<uint64_t, std::pair<uint32_t, int32_t>>> entries;
    entries.reserve(merges.size());
    for (size_t rank = 0; rank < merges.size(); ++rank) {
        const auto& [a, b] = merges[rank];
        const int32_t ia = vocab_.find(a), ib = vocab_.find(b);
        if (ia < 0) throw std::invalid_argument("merge " + std::to_string(rank) + " ('" + a + " " + b + "'): '" + a + "' is not in the vocabulary");
        if (ib < 0) throw std::invalid_argument("merge " + std::to_string(rank) + " ('" + a + " " + b + "'): '" + b + "' is not in the vocabulary");
        // The merged token drops the continuing-subword prefix of the right part (as HF does).
        const std::string merged = a + (b.size() >= prefix_len ? b.substr(prefix_len) : std::string());
        const int32_t im = vocab_.find(merged);
        if (im < 0)
            throw std::invalid_argument("merge " + std::to_string(rank) + " ('" + a + " " + b + "'): the result '" + merged + "' is not in the vocabulary");
        entries.push_back({(uint64_t(uint32_t(ia)) << 32) | uint32_t(ib), {uint32_t(rank), im}});
    }
    merges_.build(entries);

    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        byte_tokens_[b] = vocab_.find(std::string_view(name));
    }
    if (options_.unk_token) {
        if (const int32_t id = vocab_.find(*options_.unk_token); id >= 0) unk_id_ = id;
    }

    const std::string_view metaspace = "\xE2\x96\x81";
    split_before_metaspace_ = options_.continuing_subword_prefix.empty() && options_.end_of_word_suffix.empty();
    for (const std::string& tok : vocab_.keys()) {
        if (!split_before_metaspace_) break;
        for (size_t at = tok.find(metaspace, 1); at != std::string::npos; at = tok.find(metaspace, at + 1))
            if (at < metaspace.size() || tok.compare(at - metaspace.size(), metaspace.size(), metaspace) != 0) {
                split_before_metaspace_ = false;
                break;
            }
    }
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
    const int32_t id = vocab_.find(token);
    if (id < 0) return std::nullopt;
    return id;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
    if (id < 0 || size_t(id) >= id_to_token_.size() || !id_present_[size_t(id)]) return nullptr;
    return &id_to_token_[size_t(id)];
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    if (options_.ignore_merges) {
        if (const int32_t id = vocab_.find(word); id >= 0) {
            out.push_back(id);
            return;
        }
    }
    if (split_before_metaspace_ && word.size() >= kCacheMaxWordBytes) {
        const std::string_view metaspace = "\xE2\x96\x81";
        size_t begin = 0;
        for (size_t at = word.find(metaspace, 1); at != std::string_view::npos; at = word.find(metaspace, at + 1)) {
            if (at >= metaspace.size() && word.compare(at - metaspace.size(), metaspace.size(), metaspace) == 0) continue;
            merge_word_cached(word.substr(begin, at - begin), out);
            begin = at;
        }
        merge_word_cached(word.substr(begin), out);
        return;
    }
    merge_word_cached(word, out);
}

void BpeModel::merge_word_cached(std::string_view word, std::vector<int32_t>& out) const {
    const bool cacheable = word.size() < kCacheMaxWordBytes;
    if (cacheable) {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        auto it = cache_.find(word);
        if (it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    const size_t first = out.size();
    merge_word(word, out);
    if (cacheable) {
        std::lock_guard<std::mutex> lock(cache_mutex_);
        if (cache_.size() < kCacheCapacity) cache_.emplace(std::string(word), std::vector<int32_t>(out.begin() + long(first), out.end()));
    }
}

// HF's BPE::merge_word and Word::merge_all: split into characters (with the continuing-subword
// prefix / end-of-word suffix), map unknown ones to byte tokens or the unknown token, then apply the
// lowest-ranked merge first (ties: leftmost), until no adjacent pair has a merge.
void BpeModel::merge_word(std::string_view w, std::vector<int32_t>& out) const {
    struct Symbol {
        int32_t id;
        int32_t prev, next;
        uint32_t len; // bytes of the word it covers; 0 marks a symbol merged into its left neighbour
    };
    std::vector<Symbol> symbols;
    symbols.reserve(w.size());
    auto add = [&](int32_t id, uint32_t len) {
        const int32_t n = int32_t(symbols.size());
        if (n > 0) symbols.back().next = n;
        symbols.push_back({id, n - 1, -1, len});
    };

    bool unk_pending = false; // an unknown token waiting to be added (HF fuses runs of them)
    int32_t unk_token_id = -1;
    uint32_t unk_len = 0;
    std::string s;
    for (size_t i = 0, n = 0; i < w.size(); i += n) {
        n = unicode::utf8_length(static_cast<unsigned char>(w[i]));
        const bool is_first = i == 0, is_last = i + n >= w.size();
        s.clear();
        if (!is_first) s += options_.continuing_subword_prefix;
        s.append(w.substr(i, n));
        if (is_last) s += options_.end_of_word_suffix;
        if (const int32_t id = vocab_.find(s); id >= 0) {
            if (unk_pending) {
                add(unk_token_id, unk_len);
                unk_pending = false;
            }
            add(id, uint32_t(n));
            continue;
        }
        if (options_.byte_fallback) {
            bool all = true;
            for (char c : s) all = all && byte_tokens_[static_cast<unsigned char>(c)] >= 0;
            if (all) {
                for (char c : s) add(byte_tokens_[static_cast<unsigned char>(c)], 1);
                continue;
            }
        }
        if (options_.unk_token) {
            if (!unk_id_) throw std::runtime_error("the unknown token '" + *options_.unk_token + "' is not in the vocabulary");
            if (unk_pending && options_.fuse_unk) {
                unk_len += uint32_t(n);
            } else {
                if (unk_pending) add(unk_token_id, unk_len);
                unk_pending = true;
                unk_token_id = *unk_id_;
                unk_len = uint32_t(n);
            }
        }
        // Without an unknown token HF drops the character.
    }
    if (unk_pending) add(unk_token_id, unk_len);

    struct Merge {
        uint32_t rank;
        int32_t pos;
        int32_t new_id;
    };
    auto later = [](const Merge& a, const Merge& b) { return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos; };
    std::priority_queue<Merge, std::vector<Merge>, decltype(later)> queue(later);
    for (size_t i = 0; i + 1 < symbols.size(); ++i)
        if (const auto* m = merges_.find(symbols[i].id, symbols[i + 1].id)) queue.push({m->first, int32_t(i), m->second});

    while (!queue.empty()) {
        const Merge top = queue.top();
        queue.pop();
        Symbol& cur = symbols[size_t(top.pos)];
        if (cur.len == 0 || cur.next == -1) continue;
        const Symbol right = symbols[size_t(cur.next)];
        // Skip entries made stale by earlier merges.
        const auto* m = merges_.find(cur.id, right.id);
        if (!m || m->second != top.new_id) continue;

        const int32_t right_pos = cur.next;
        cur.id = top.new_id;
        cur.len += right.len;
        cur.next = right.next;
        symbols[size_t(right_pos)].len = 0;
        if (right.next >= 0 && size_t(right.next) < symbols.size()) symbols[size_t(right.next)].prev = top.pos;

        if (cur.prev >= 0)
            if (const auto* pm = merges_.find(symbols[size_t(cur.prev)].id, cur.id)) queue.push({pm->first, cur.prev, pm->second});
        if (cur.next >= 0 && size_t(cur.next) < symbols.size())
            if (const auto* nm = merges_.find(cur.id, symbols[size_t(cur.next)].id)) queue.push({nm->first, top.pos, nm->second});
    }
    for (const Symbol& sym : symbols)
        if (sym.len != 0) out.push_back(sym.id);
}

} // namespace statescope
