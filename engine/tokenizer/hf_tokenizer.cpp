#include "tokenizer/hf_tokenizer.h"
#include "statescope/limits.h"

#include "statescope/error.h"
#include "core/json.h"
#include "tokenizer/unicode.h"

#include <algorithm>
#include <filesystem>

namespace statescope {

using hf::JsonPlace;
using hf::Piece;

namespace {

std::string component_type(const Json* j) {
    if (!j || j->is_null()) return "none";
    const Json* t = j->is_object() ? j->find("type") : nullptr;
    std::string s = t && t->is_string() ? t->as_string() : "?";
    // Name the parts of a Sequence: "Sequence[Split, ByteLevel]".
    for (const char* key : {"normalizers", "pretokenizers", "processors", "decoders"}) {
        const Json* list = j->find(key);
        if (!list || !list->is_array()) continue;
        s += "[";
        for (size_t i = 0; i < list->size(); ++i) {
            if (i) s += ", ";
            s += component_type(&list->items()[i]);
        }
        s += "]";
    }
    return s;
}

// The model section: BPE is the only model type implemented.
std::unique_ptr<BpeModel> parse_model(const Json& j, const JsonPlace& where) {
    if (!j.is_object()) where.fail("expected an object");
    std::string type = "BPE";
    if (const Json* t = j.find("type")) {
        if (!t->is_string()) where.at("type").fail("expected a string");
        type = t->as_string();
    } else if (!j.find("merges")) {
        where.fail("model has no \"type\" and no \"merges\"; only BPE models are supported");
    }
    if (type != "BPE") where.fail("model type '" + type + "' is not supported (supported: BPE)");

    if (const Json* d = j.find("dropout"); d && !d->is_null()) {
        if (!d->is_number()) where.at("dropout").fail("expected a number or null");
        if (d->as_number() != 0.0) where.at("dropout").fail("BPE dropout (random merge skipping) is not supported");
    }
    BpeModel::Options opt;
    opt.unk_token = hf::optional_string_member(j, "unk_token", where);
    opt.continuing_subword_prefix = hf::optional_string_member(j, "continuing_subword_prefix", where).value_or("");
    opt.end_of_word_suffix = hf::optional_string_member(j, "end_of_word_suffix", where).value_or("");
    opt.fuse_unk = hf::bool_member(j, "fuse_unk", where, false);
    opt.byte_fallback = hf::bool_member(j, "byte_fallback", where, false);
    opt.ignore_merges = hf::bool_member(j, "ignore_merges", where, false);

    const Json& vocab = hf::require_member(j, "vocab", where);
    if (!vocab.is_object()) where.at("vocab").fail("expected an object of token: id");
    if (vocab.size() > limits::kMaxVocabularyEntries)
        where.at("vocab").fail(std::to_string(vocab.size()) + " entries is over the limit of " +
                               std::to_string(limits::kMaxVocabularyEntries) + " for vocabularies");
    std::vector<std::pair<std::string, int32_t>> v;
    v.reserve(vocab.size());
    for (const auto& [tok, id] : vocab.members()) {
        if (!id.is_integer() || id.as_int() < 0 || id.as_int() > INT32_MAX)
            where.at("vocab").fail("token '" + tok + "' has no valid id");
        v.emplace_back(tok, int32_t(id.as_int()));
    }

    const Json& merges = hf::require_member(j, "merges", where);
    if (!merges.is_array()) where.at("merges").fail("expected an array");
    std::vector<std::pair<std::string, std::string>> m;
    m.reserve(merges.size());
    for (size_t i = 0; i < merges.size(); ++i) {
        const Json& e = merges.items()[i];
        if (e.is_string()) {
            // Legacy "a b": exactly one space (HF's convert_merges_to_hashmap).
            const std::string& s = e.as_string();
            const size_t sp = s.find(' ');
            if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos)
                where.at("merges").index(i).fail("merge \"" + s + "\" is not two tokens separated by one space");
            m.emplace_back(s.substr(0, sp), s.substr(sp + 1));
        } else if (e.is_array() && e.size() == 2 && e.items()[0].is_string() && e.items()[1].is_string()) {
            m.emplace_back(e.items()[0].as_string(), e.items()[1].as_string());
        } else {
            where.at("merges").index(i).fail("expected \"a b\" or [\"a\", \"b\"]");
        }
    }
    try {
        return std::make_unique<BpeModel>(std::move(v), m, std::move(opt));
    } catch (const std::invalid_argument& e) {
        where.fail(e.what());
    }
}

// A token in tokenizer_config.json: "<s>" or {"content": "<s>", ...}.
std::optional<std::string> config_token(const Json& cfg, const std::string& key, const JsonPlace& where) {
    const Json* v = cfg.find(key);
    if (!v || v->is_null()) return std::nullopt;
    if (v->is_string()) return v->as_string();
    if (v->is_object()) return hf::string_member(*v, "content", where.at(key));
    where.at(key).fail("expected a token string or {\"content\": ...}");
}

bool ends_with_word_char(std::string_view s) {
    if (s.empty()) return false;
    size_t k = s.size() - 1, n = 0;
    while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
    return unicode::is_rust_word_char(unicode::decode_utf8(s, k, &n));
}

bool starts_with_word_char(std::string_view s) {
    size_t n = 0;
    return !s.empty() && unicode::is_rust_word_char(unicode::decode_utf8(s, 0, &n));
}

} // namespace

// --- added-token trie ----------------------------------------------------------------------------

void HfTokenizer::AddedTrie::insert(const std::string& s, int32_t token) {
    if (s.empty()) return;
    first_byte[static_cast<unsigned char>(s[0])] = true;
    int32_t node = 0;
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        int32_t next = -1;
        for (const auto& [k, child] : nodes[size_t(node)].children)
            if (k == c) next = child;
        if (next < 0) {
            next = int32_t(nodes.size());
            nodes[size_t(node)].children.emplace_back(c, next);
            nodes.emplace_back();
        }
        node = next;
    }
    nodes[size_t(node)].token = token;
}

bool HfTokenizer::AddedTrie::find(std::string_view text, size_t from, int32_t* token, size_t* start, size_t* end) const {
    for (size_t pos = from; pos < text.size(); ++pos) {
        if (!first_byte[static_cast<unsigned char>(text[pos])]) continue;
        int32_t node = 0, best = -1;
        size_t best_end = 0;
        for (size_t i = pos; i < text.size(); ++i) {
            const auto c = static_cast<unsigned char>(text[i]);
            int32_t next = -1;
            for (const auto& [k, child] : nodes[size_t(node)].children)
                if (k == c) next = child;
            if (next < 0) break;
            node = next;
            if (nodes[size_t(node)].token >= 0) {
                best = nodes[size_t(node)].token;
                best_end = i + 1;
            }
        }
        if (best >= 0) {
            *token = best;
            *start = pos;
            *end = best_end;
            return true;
        }
    }
    return false;
}

// --- loading -------------------------------------------------------------------------------------

HfTokenizer::HfTokenizer(const std::string& json_path, const std::string& config_path) : json_path_(json_path) {
    const Json root = Json::parse(read_text_file(json_path), json_path);
    const JsonPlace top{json_path, ""};
    if (!root.is_object()) top.fail("expected a JSON object");
    if (auto v = hf::optional_string_member(root, "version", top); v && *v != "1.0")
        top.at("version").fail("tokenizer.json version '" + *v + "' is not supported (1.0)");
    if (const Json* t = root.find("truncation"); t && !t->is_null())
        top.at("truncation").fail("truncation is not supported: statescope tokenizes whole texts (set it to null)");
    if (const Json* p = root.find("padding"); p && !p->is_null())
        top.at("padding").fail("padding is not supported: statescope tokenizes one text at a time (set it to null)");

    model_ = parse_model(hf::require_member(root, "model", top), top.at("model"));
    if (const Json* j = root.find("normalizer"); j && !j->is_null()) normalizer_ = hf::parse_normalizer(*j, top.at("normalizer"));
    if (const Json* j = root.find("pre_tokenizer"); j && !j->is_null())
        pre_tokenizer_ = hf::parse_pre_tokenizer(*j, top.at("pre_tokenizer"));
    if (const Json* j = root.find("post_processor"); j && !j->is_null())
        post_processor_ = hf::parse_post_processor(*j, top.at("post_processor"));
    if (const Json* j = root.find("decoder"); j && !j->is_null()) decoder_ = hf::parse_decoder(*j, top.at("decoder"));

    if (const Json* list = root.find("added_tokens"); list && !list->is_null()) {
        const JsonPlace w = top.at("added_tokens");
        if (!list->is_array()) w.fail("expected an array");
        for (size_t i = 0; i < list->size(); ++i) {
            const Json& e = list->items()[i];
            const JsonPlace ew = w.index(i);
            AddedToken t;
            t.content = hf::string_member(e, "content", ew);
            const Json& id = hf::require_member(e, "id", ew);
            if (!id.is_integer() || id.as_int() < 0 || id.as_int() > INT32_MAX) ew.at("id").fail("expected a token id");
            t.id = int32_t(id.as_int());
            t.special = hf::bool_member(e, "special", ew, false);
            t.single_word = hf::bool_member(e, "single_word", ew, false);
            t.lstrip = hf::bool_member(e, "lstrip", ew, false);
            t.rstrip = hf::bool_member(e, "rstrip", ew, false);
            t.normalized = hf::bool_member(e, "normalized", ew, !t.special);
            add_token(std::move(t));
        }
    }

    std::string config = config_path;
    if (config.empty()) {
        // "tokenizer_config.json" beside "tokenizer.json"; "X.tokenizer_config.json" beside "X.tokenizer.json".
        const std::string name = std::filesystem::path(json_path).filename().string();
        const std::string suffix = "tokenizer.json";
        if (name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
            const auto candidate = std::filesystem::path(json_path).parent_path() /
                                   (name.substr(0, name.size() - suffix.size()) + "tokenizer_config.json");
            if (std::filesystem::exists(candidate)) config = candidate.string();
        }
    }
    if (!config.empty()) load_config(config);
    build_added_tries();

    size_t specials = 0;
    for (const auto& t : added_) specials += t.special;
    description_ = "tokenizer.json: BPE, " + std::to_string(model_->vocab_size()) + " tokens + " +
                   std::to_string(added_.size()) + " added (" + std::to_string(specials) + " special); normalizer " +
                   component_type(root.find("normalizer")) + "; pre_tokenizer " + component_type(root.find("pre_tokenizer")) +
                   "; decoder " + component_type(root.find("decoder"));
    if (post_processor_) {
        auto ids_text = [](const std::vector<int32_t>& ids) {
            std::string s;
            for (int32_t id : ids) {
                if (!s.empty()) s += ',';
                s += std::to_string(id);
            }
            return s.empty() ? std::string("-") : s;
        };
        description_ += "; special tokens around a text: " + ids_text(post_processor_->prefix_ids()) + " ... " +
                        ids_text(post_processor_->suffix_ids());
    }
    if (!config.empty()) description_ += "; config " + config;
}

void HfTokenizer::add_token(AddedToken t) {
    if (t.content.empty()) return;
    // HF gives a token already in the vocabulary that vocabulary's id.
    if (auto id = model_->token_to_id(t.content)) t.id = *id;
    if (auto it = added_by_content_.find(t.content); it != added_by_content_.end()) {
        if (it->second != t.id) added_by_id_.erase(it->second);
    }
    t.match_text = t.content;
    if (t.normalized && normalizer_) normalizer_->normalize(t.match_text);
    if (t.special) special_contents_.insert(t.content);
    added_by_content_[t.content] = t.id;
    if (auto it = added_by_id_.find(t.id); it != added_by_id_.end()) {
        added_[it->second] = std::move(t);
    } else {
        added_by_id_[t.id] = added_.size();
        added_.push_back(std::move(t));
    }
}

void HfTokenizer::load_config(const std::string& path) {
    const Json cfg = Json::parse(read_text_file(path), path);
    const JsonPlace top{path, ""};
    if (!cfg.is_object()) top.fail("expected a JSON object");

    // Tokens transformers adds on top of tokenizer.json.
    if (const Json* dec = cfg.find("added_tokens_decoder"); dec && dec->is_object()) {
        for (const auto& [key, e] : dec->members()) {
            const JsonPlace ew = top.at("added_tokens_decoder").at(key);
            char* end = nullptr;
            const long id = std::strtol(key.c_str(), &end, 10);
            if (key.empty() || *end != '\0' || id < 0 || id > INT32_MAX) ew.fail("key is not a token id");
            if (added_by_id_.count(int32_t(id))) continue;
            AddedToken t;
            t.content = hf::string_member(e, "content", ew);
            if (added_by_content_.count(t.content)) continue;
            t.id = int32_t(id);
            t.special = hf::bool_member(e, "special", ew, false);
            t.single_word = hf::bool_member(e, "single_word", ew, false);
            t.lstrip = hf::bool_member(e, "lstrip", ew, false);
            t.rstrip = hf::bool_member(e, "rstrip", ew, false);
            t.normalized = hf::bool_member(e, "normalized", ew, !t.special);
            add_token(std::move(t));
        }
    }

    auto resolve = [&](const std::string& key) -> std::optional<int32_t> {
        auto tok = config_token(cfg, key, top);
        if (!tok) return std::nullopt;
        auto id = token_to_id(*tok);
        if (!id) top.at(key).fail("token '" + *tok + "' is not in the vocabulary of " + json_path_);
        return id;
    };
    bos_id_ = resolve("bos_token");
    eos_id_ = resolve("eos_token");

    // add_bos_token / add_eos_token rewrite the single-sequence template to [BOS] A [EOS], as
    // transformers' update_post_processor does; an end the config does not name keeps what the
    // tokenizer.json post-processor puts there.
    const Json* add_bos = cfg.find("add_bos_token");
    const Json* add_eos = cfg.find("add_eos_token");
    if ((add_bos && !add_bos->is_null()) || (add_eos && !add_eos->is_null())) {
        std::vector<int32_t> prefix = post_processor_ ? post_processor_->prefix_ids() : std::vector<int32_t>{};
        std::vector<int32_t> suffix = post_processor_ ? post_processor_->suffix_ids() : std::vector<int32_t>{};
        if (add_bos && !add_bos->is_null()) {
            if (!add_bos->is_bool()) top.at("add_bos_token").fail("expected true or false");
            if (add_bos->as_bool() && !bos_id_) top.at("add_bos_token").fail("add_bos_token is true but there is no bos_token");
            prefix = add_bos->as_bool() ? std::vector<int32_t>{*bos_id_} : std::vector<int32_t>{};
        }
        if (add_eos && !add_eos->is_null()) {
            if (!add_eos->is_bool()) top.at("add_eos_token").fail("expected true or false");
            if (add_eos->as_bool() && !eos_id_) top.at("add_eos_token").fail("add_eos_token is true but there is no eos_token");
            suffix = add_eos->as_bool() ? std::vector<int32_t>{*eos_id_} : std::vector<int32_t>{};
        }
        post_processor_ = hf::make_template(std::move(prefix), std::move(suffix));
    }
}

void HfTokenizer::build_added_tries() {
    for (size_t i = 0; i < added_.size(); ++i) {
        const AddedToken& t = added_[i];
        (t.normalized ? normalized_trie_ : raw_trie_).insert(t.match_text, int32_t(i));
    }
}

// --- encoding ------------------------------------------------------------------------------------

void HfTokenizer::split_added(Piece&& piece, const AddedTrie& trie, std::vector<Piece>& out) const {
    const std::string& s = piece.text;
    if (s.empty()) return;
    if (trie.empty()) {
        out.push_back(std::move(piece));
        return;
    }
    auto text_piece = [&](size_t a, size_t b) {
        Piece p;
        p.text = s.substr(a, b - a);
        p.at_input_start = piece.at_input_start && a == 0;
        out.push_back(std::move(p));
    };
    size_t start_offset = 0, search = 0, start = 0, stop = 0;
    int32_t index = -1;
    while (trie.find(s, search, &index, &start, &stop)) {
        search = stop; // the automaton resumes after the match, whatever is done with it below
        const AddedToken& t = added_[size_t(index)];
        if (t.single_word) {
            const bool start_space = start == 0 || !ends_with_word_char(std::string_view(s).substr(0, start));
            const bool stop_space = stop == s.size() || !starts_with_word_char(std::string_view(s).substr(stop));
            if (!start_space || !stop_space) continue;
        }
        if (t.lstrip) {
            size_t new_start = start, n = 0;
            while (new_start > 0) {
                size_t k = new_start - 1;
                while (k > 0 && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
                if (!unicode::is_whitespace(unicode::decode_utf8(s, k, &n))) break;
                new_start = k;
            }
            start = std::max(new_start, start_offset);
        }
        if (t.rstrip) {
            size_t n = 0;
            while (stop < s.size() && unicode::is_whitespace(unicode::decode_utf8(s, stop, &n))) stop += n;
        }
        if (start_offset < start) text_piece(start_offset, start);
        Piece p;
        p.text = s.substr(start, stop - start);
        p.added_id = t.id;
        out.push_back(std::move(p));
        start_offset = stop;
    }
    if (start_offset < s.size()) text_piece(start_offset, s.size());
}

std::vector<int32_t> HfTokenizer::encode(std::string_view input, bool add_special_tokens) const {
    limits::check("text to tokenize", input.size(), limits::kMaxPromptBytes, "prompts");
    Piece whole;
    whole.text = unicode::valid_utf8_prefix(input) == input.size() ? std::string(input) : unicode::repair_utf8(input);
    whole.at_input_start = true;

    // 1. Added tokens matched on the raw text; 2. normalize the rest, then match the added tokens
    // that are compared in normalized form; 3. pre-tokenize; 4. the model.
    std::vector<Piece> raw_split, normalized;
    split_added(std::move(whole), raw_trie_, raw_split);
    for (Piece& p : raw_split) {
        if (p.added_id >= 0) {
            normalized.push_back(std::move(p));
            continue;
        }
        if (normalizer_) normalizer_->normalize(p.text);
        split_added(std::move(p), normalized_trie_, normalized);
    }
    std::vector<int32_t> ids;
    ids.reserve(input.size() / 3 + 4);
    try {
        for (Piece& p : normalized) {
            if (p.added_id >= 0) ids.push_back(p.added_id);
            else if (!pre_tokenizer_) model_->tokenize(p.text, ids);
            else pre_tokenizer_->split(std::move(p), [&](Piece&& word) { model_->tokenize(word.text, ids); });
        }
    } catch (const std::runtime_error& e) {
        throw Error("tokenizer file " + json_path_ + ": " + e.what());
    }
    if (post_processor_) post_processor_->process(ids, add_special_tokens);
    return ids;
}

// --- decoding and lookups ------------------------------------------------------------------------

std::string HfTokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
        std::string tok;
        if (auto it = added_by_id_.find(id); it != added_by_id_.end()) {
            tok = added_[it->second].match_text;
        } else if (const std::string* t = model_->id_to_token(id)) {
            tok = *t;
        } else {
            throw Error("decode: token id " + std::to_string(id) + " is not in the vocabulary of " + json_path_ +
                        " (ids 0.." + std::to_string(vocab_size() - 1) + ")");
        }
        if (skip_special_tokens && special_contents_.count(tok)) continue;
        tokens.push_back(std::move(tok));
    }
    std::string out;
    if (decoder_) {
        decoder_->decode_chain(tokens);
        for (const auto& t : tokens) out += t;
    } else {
        for (size_t i = 0; i < tokens.size(); ++i) {
            if (i) out += ' ';
            out += tokens[i];
        }
    }
    return out;
}

int32_t HfTokenizer::vocab_size() const {
    int32_t n = model_->max_id() + 1;
    for (const auto& t : added_) n = std::max(n, t.id + 1);
    return n;
}

std::optional<int32_t> HfTokenizer::token_to_id(std::string_view token) const {
    if (auto it = added_by_content_.find(std::string(token)); it != added_by_content_.end()) return it->second;
    return model_->token_to_id(token);
}

std::optional<std::string> HfTokenizer::id_to_token(int32_t id) const {
    if (auto it = added_by_id_.find(id); it != added_by_id_.end()) return added_[it->second].content;
    if (const std::string* t = model_->id_to_token(id)) return *t;
    return std::nullopt;
}

} // namespace statescope
