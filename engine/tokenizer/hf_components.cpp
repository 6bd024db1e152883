#include "tokenizer/hf_components.h"

#include "statescope/error.h"
#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace statescope::hf {

const char* const kSupportedNormalizers = "Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip";
const char* const kSupportedPreTokenizers = "Sequence, Split, ByteLevel, Metaspace, Digits";
const char* const kSupportedPostProcessors = "TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence";
const char* const kSupportedDecoders = "Sequence, ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace";

// --- JSON helpers --------------------------------------------------------------------------------

void JsonPlace::fail(const std::string& what) const {
    throw Error("tokenizer file " + file + ": " + (path.empty() ? "" : path + ": ") + what);
}

const Json& require_member(const Json& obj, const std::string& key, const JsonPlace& where) {
    if (!obj.is_object()) where.fail("expected an object");
    const Json* v = obj.find(key);
    if (!v) where.fail("missing \"" + key + "\"");
    return *v;
}

std::string string_member(const Json& obj, const std::string& key, const JsonPlace& where) {
    const Json& v = require_member(obj, key, where);
    if (!v.is_string()) where.at(key).fail("expected a string");
    return v.as_string();
}

bool bool_member(const Json& obj, const std::string& key, const JsonPlace& where, bool fallback) {
    const Json* v = obj.find(key);
    if (!v || v->is_null()) return fallback;
    if (!v->is_bool()) where.at(key).fail("expected true or false");
    return v->as_bool();
}

std::optional<std::string> optional_string_member(const Json& obj, const std::string& key, const JsonPlace& where) {
    const Json* v = obj.find(key);
    if (!v || v->is_null()) return std::nullopt;
    if (!v->is_string()) where.at(key).fail("expected a string or null");
    return v->as_string();
}

namespace {

size_t size_member(const Json& obj, const std::string& key, const JsonPlace& where, size_t fallback) {
    const Json* v = obj.find(key);
    if (!v || v->is_null()) return fallback;
    if (!v->is_integer() || v->as_int() < 0) where.at(key).fail("expected a non-negative integer");
    return size_t(v->as_int());
}

std::string type_of(const Json& j, const JsonPlace& where) {
    if (!j.is_object()) where.fail("expected an object");
    return string_member(j, "type", where);
}

[[noreturn]] void unsupported_type(const std::string& what, const std::string& type, const char* supported,
                                   const JsonPlace& where) {
    where.fail(what + " type '" + type + "' is not supported (supported: " + supported + ")");
}

// A single character given as a one-character string (Metaspace replacement, Strip content).
char32_t single_char_member(const Json& obj, const std::string& key, const JsonPlace& where) {
    const std::string s = string_member(obj, key, where);
    size_t len = 0;
    if (s.empty() || unicode::valid_utf8_prefix(s) != s.size() || (unicode::decode_utf8(s, 0, &len), len != s.size()))
        where.at(key).fail("expected exactly one character");
    return unicode::decode_utf8(s, 0, &len);
}

// {"String": "..."} or {"Regex": "..."}.
SplitRegex pattern_member(const Json& obj, const JsonPlace& where) {
    const Json& p = require_member(obj, "pattern", where);
    const JsonPlace pw = where.at("pattern");
    if (!p.is_object() || p.size() != 1) pw.fail("expected {\"String\": ...} or {\"Regex\": ...}");
    const auto& [kind, value] = p.members()[0];
    if (!value.is_string()) pw.at(kind).fail("expected a string");
    try {
        if (kind == "String") return SplitRegex::literal(value.as_string());
        if (kind == "Regex") return SplitRegex(value.as_string());
    } catch (const RegexError& e) {
        pw.at(kind).fail("regex \"" + value.as_string() + "\" is not supported: " + e.what());
    }
    pw.fail("pattern kind '" + kind + "' is not supported (String, Regex)");
}

// Spans of the text as HF's Pattern::find_matches gives them: matches and the gaps between them,
// each flagged is_match.
struct Span {
    size_t start, end;
    bool is_match;
};

std::vector<Span> regex_spans(const SplitRegex& re, std::string_view text) {
    if (text.empty()) return {{0, 0, false}};
    std::vector<Span> out;
    size_t prev = 0;
    for (const auto& [s, e] : re.find_all(text)) {
        if (prev != s) out.push_back({prev, s, false});
        out.push_back({s, e, true});
        prev = e;
    }
    if (prev != text.size()) out.push_back({prev, text.size(), false});
    return out;
}

template <class Pred>
std::vector<Span> char_spans(std::string_view text, Pred pred) {
    if (text.empty()) return {{0, 0, false}};
    std::vector<Span> out;
    size_t last = 0, n = 0;
    for (size_t i = 0; i < text.size(); i += n) {
        const char32_t c = unicode::decode_utf8(text, i, &n);
        if (!pred(c)) continue;
        if (last < i) out.push_back({last, i, false});
        out.push_back({i, i + n, true});
        last = i + n;
    }
    if (text.size() > last) out.push_back({last, text.size(), false});
    return out;
}

enum class Behavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

Behavior behavior_member(const Json& obj, const JsonPlace& where) {
    const std::string b = string_member(obj, "behavior", where);
    if (b == "Removed") return Behavior::Removed;
    if (b == "Isolated") return Behavior::Isolated;
    if (b == "MergedWithPrevious") return Behavior::MergedWithPrevious;
    if (b == "MergedWithNext") return Behavior::MergedWithNext;
    if (b == "Contiguous") return Behavior::Contiguous;
    where.at("behavior").fail("split behavior '" + b + "' is not supported");
}

Piece sub_piece(const Piece& piece, size_t start, size_t end) {
    Piece p;
    p.text.assign(piece.text, start, end - start);
    p.at_input_start = piece.at_input_start && start == 0;
    return p;
}

// NormalizedString::split: which spans become pieces under each delimiter behavior.
void split_by_behavior(Piece&& piece, std::vector<Span> spans, Behavior behavior, const PieceSink& emit) {
    std::vector<Span> kept; // is_match here means "remove"
    switch (behavior) {
    case Behavior::Isolated:
        for (Span s : spans) kept.push_back({s.start, s.end, false});
        break;
    case Behavior::Removed: kept = std::move(spans); break;
    case Behavior::Contiguous: {
        bool previous = false;
        for (const Span& s : spans) {
            if (s.is_match == previous && !kept.empty()) kept.back().end = s.end;
            else kept.push_back({s.start, s.end, false});
            previous = s.is_match;
        }
        break;
    }
    case Behavior::MergedWithPrevious: {
        bool previous = false;
        for (const Span& s : spans) {
            if (s.is_match && !previous && !kept.empty()) kept.back().end = s.end;
            else kept.push_back({s.start, s.end, false});
            previous = s.is_match;
        }
        break;
    }
    case Behavior::MergedWithNext: {
        bool previous = false;
        for (auto it = spans.rbegin(); it != spans.rend(); ++it) {
            if (it->is_match && !previous && !kept.empty()) kept.back().start = it->start;
            else kept.push_back({it->start, it->end, false});
            previous = it->is_match;
        }
        std::reverse(kept.begin(), kept.end());
        break;
    }
    }
    for (const Span& s : kept) {
        if (s.is_match || s.end == s.start) continue;
        emit(sub_piece(piece, s.start, s.end));
    }
}

std::string replace_all(const SplitRegex& re, const std::string& s, const std::string& content) {
    std::string out;
    size_t prev = 0;
    for (const auto& [a, b] : re.find_all(s)) {
        out.append(s, prev, a - prev);
        out += content;
        prev = b;
    }
    out.append(s, prev, std::string::npos);
    return out;
}

// --- normalizers ---------------------------------------------------------------------------------

class SequenceNormalizer : public Normalizer {
public:
    std::vector<std::unique_ptr<Normalizer>> parts;
    void normalize(std::string& s) const override {
        for (const auto& p : parts) p->normalize(s);
    }
};

class PrependNormalizer : public Normalizer {
public:
    std::string prepend;
    void normalize(std::string& s) const override {
        if (!s.empty()) s.insert(0, prepend);
    }
};

class ReplaceNormalizer : public Normalizer {
public:
    ReplaceNormalizer(SplitRegex re, std::string content) : re_(std::move(re)), content_(std::move(content)) {}
    void normalize(std::string& s) const override { s = replace_all(re_, s, content_); }

private:
    SplitRegex re_;
    std::string content_;
};

class UnicodeNormalizer : public Normalizer {
public:
    explicit UnicodeNormalizer(unicode::NormalForm f) : form_(f) {}
    void normalize(std::string& s) const override { s = unicode::normalize(s, form_); }

private:
    unicode::NormalForm form_;
};

class LowercaseNormalizer : public Normalizer {
public:
    void normalize(std::string& s) const override { s = unicode::lowercase(s); }
};

class StripNormalizer : public Normalizer {
public:
    bool left = true, right = true;
    void normalize(std::string& s) const override {
        size_t b = 0, e = s.size(), n = 0;
        if (left)
            while (b < e && unicode::is_whitespace(unicode::decode_utf8(s, b, &n))) b += n;
        if (right)
            while (e > b) {
                size_t k = e - 1;
                while (k > b && (static_cast<unsigned char>(s[k]) & 0xC0) == 0x80) --k;
                if (!unicode::is_whitespace(unicode::decode_utf8(s, k, &n))) break;
                e = k;
            }
        s = s.substr(b, e - b);
    }
};

// --- pre-tokenizers ------------------------------------------------------------------------------

class SequencePreTokenizer : public PreTokenizer {
public:
    std::vector<std::unique_ptr<PreTokenizer>> parts;
    void split(Piece&& piece, const PieceSink& emit) const override { run(0, std::move(piece), emit); }

private:
    // Each piece of stage i goes through the later stages before the next one is made.
    void run(size_t stage, Piece&& piece, const PieceSink& emit) const {
        if (stage == parts.size()) {
            emit(std::move(piece));
            return;
        }
        parts[stage]->split(std::move(piece), [&](Piece&& p) { run(stage + 1, std::move(p), emit); });
    }
};

class SplitPreTokenizer : public PreTokenizer {
public:
    SplitPreTokenizer(SplitRegex re, Behavior b, bool invert) : re_(std::move(re)), behavior_(b), invert_(invert) {}
    void split(Piece&& piece, const PieceSink& emit) const override {
        if (behavior_ == Behavior::Isolated || behavior_ == Behavior::Removed) {
            // These two need no look at the neighbours: stream the matches and the gaps between them.
            const bool keep_matches = behavior_ == Behavior::Isolated || invert_;
            const bool keep_gaps = behavior_ == Behavior::Isolated || !invert_;
            size_t prev = 0;
            re_.for_each_match(piece.text, [&](size_t s, size_t e) {
                if (prev != s && keep_gaps) emit(sub_piece(piece, prev, s));
                if (e != s && keep_matches) emit(sub_piece(piece, s, e));
                prev = e;
            });
            if (prev < piece.text.size() && keep_gaps) emit(sub_piece(piece, prev, piece.text.size()));
            return;
        }
        std::vector<Span> spans = regex_spans(re_, piece.text);
        if (invert_)
            for (Span& s : spans) s.is_match = !s.is_match;
        split_by_behavior(std::move(piece), std::move(spans), behavior_, emit);
    }

private:
    SplitRegex re_;
    Behavior behavior_;
    bool invert_;
};

class ByteLevelPreTokenizer : public PreTokenizer {
public:
    bool add_prefix_space = true;
    bool use_regex = true;
    void split(Piece&& piece, const PieceSink& emit) const override {
        // The GPT-2 pattern, fixed inside HF's ByteLevel.
        static const SplitRegex gpt2(R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)");
        if (add_prefix_space && (piece.text.empty() || piece.text[0] != ' ')) piece.text.insert(0, " ");
        // Every byte becomes the character that stands for it.
        auto map_bytes = [&](Piece&& p) {
            std::string mapped;
            mapped.reserve(p.text.size() * 2);
            for (char c : p.text) mapped += byte_level_char(static_cast<unsigned char>(c));
            p.text = std::move(mapped);
            emit(std::move(p));
        };
        if (!use_regex) {
            if (!piece.text.empty()) map_bytes(std::move(piece));
            return;
        }
        size_t prev = 0;
        gpt2.for_each_match(piece.text, [&](size_t s, size_t e) {
            if (prev != s) map_bytes(sub_piece(piece, prev, s));
            if (e != s) map_bytes(sub_piece(piece, s, e));
            prev = e;
        });
        if (prev < piece.text.size()) map_bytes(sub_piece(piece, prev, piece.text.size()));
    }
};

enum class PrependScheme { First, Never, Always };

PrependScheme prepend_scheme_member(const Json& j, const JsonPlace& where) {
    PrependScheme scheme = PrependScheme::Always;
    if (auto s = optional_string_member(j, "prepend_scheme", where)) {
        if (*s == "first") scheme = PrependScheme::First;
        else if (*s == "never") scheme = PrependScheme::Never;
        else if (*s == "always") scheme = PrependScheme::Always;
        else where.at("prepend_scheme").fail("prepend_scheme '" + *s + "' is not one of first, never, always");
    }
    // Older files say add_prefix_space instead; HF refuses a false one next to another scheme.
    if (const Json* a = j.find("add_prefix_space"); a && a->is_bool() && !a->as_bool()) {
        if (scheme != PrependScheme::Never) where.fail("add_prefix_space does not match declared prepend_scheme");
    }
    return scheme;
}

class MetaspacePreTokenizer : public PreTokenizer {
public:
    char32_t replacement = 0x2581;
    PrependScheme scheme = PrependScheme::Always;
    bool split_words = true;
    void split(Piece&& piece, const PieceSink& emit) const override {
        const std::string rep = unicode::to_utf8(replacement);
        std::string s;
        s.reserve(piece.text.size() + 8);
        for (char c : piece.text) {
            if (c == ' ') s += rep;
            else s += c;
        }
        const bool starts = s.compare(0, rep.size(), rep) == 0;
        if (!starts && (scheme == PrependScheme::Always || (scheme == PrependScheme::First && piece.at_input_start)))
            s.insert(0, rep);
        piece.text = std::move(s);
        if (!split_words) {
            if (!piece.text.empty()) emit(std::move(piece));
            return;
        }
        const char32_t r = replacement;
        std::vector<Span> spans = char_spans(piece.text, [r](char32_t c) { return c == r; });
        split_by_behavior(std::move(piece), std::move(spans), Behavior::MergedWithNext, emit);
    }
};

class DigitsPreTokenizer : public PreTokenizer {
public:
    bool individual = false;
    void split(Piece&& piece, const PieceSink& emit) const override {
        std::vector<Span> spans = char_spans(piece.text, [](char32_t c) { return unicode::is_number(c); });
        split_by_behavior(std::move(piece), std::move(spans), individual ? Behavior::Isolated : Behavior::Contiguous, emit);
    }
};

// --- post-processors -----------------------------------------------------------------------------

class TemplatePostProcessor : public PostProcessor {
public:
    std::vector<int32_t> prefix, suffix;
    void process(std::vector<int32_t>& ids, bool add_special_tokens) const override {
        if (!add_special_tokens) return;
        ids.insert(ids.begin(), prefix.begin(), prefix.end());
        ids.insert(ids.end(), suffix.begin(), suffix.end());
    }
    std::vector<int32_t> prefix_ids() const override { return prefix; }
    std::vector<int32_t> suffix_ids() const override { return suffix; }
};

class NoOpPostProcessor : public PostProcessor { // ByteLevel: offsets only
public:
    void process(std::vector<int32_t>&, bool) const override {}
};

class SequencePostProcessor : public PostProcessor {
public:
    std::vector<std::unique_ptr<PostProcessor>> parts;
    void process(std::vector<int32_t>& ids, bool add_special_tokens) const override {
        for (const auto& p : parts) p->process(ids, add_special_tokens);
    }
    std::vector<int32_t> prefix_ids() const override {
        std::vector<int32_t> r;
        for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
            auto p = (*it)->prefix_ids();
            r.insert(r.end(), p.begin(), p.end());
        }
        return r;
    }
    std::vector<int32_t> suffix_ids() const override {
        std::vector<int32_t> r;
        for (const auto& p : parts) {
            auto s = p->suffix_ids();
            r.insert(r.end(), s.begin(), s.end());
        }
        return r;
    }
};

std::unique_ptr<PostProcessor> parse_template(const Json& j, const JsonPlace& where) {
    const Json& single = require_member(j, "single", where);
    const JsonPlace sw = where.at("single");
    if (!single.is_array()) sw.fail("expected an array of pieces");
    const Json* specials = j.find("special_tokens");
    auto t = std::make_unique<TemplatePostProcessor>();
    bool seen_a = false;
    for (size_t i = 0; i < single.size(); ++i) {
        const Json& piece = single.items()[i];
        const JsonPlace pw = sw.index(i);
        if (const Json* seq = piece.is_object() ? piece.find("Sequence") : nullptr) {
            const std::string id = string_member(*seq, "id", pw.at("Sequence"));
            if (id != "A" || seen_a) pw.fail("a single-sequence template must name sequence A exactly once");
            seen_a = true;
        } else if (const Json* sp = piece.is_object() ? piece.find("SpecialToken") : nullptr) {
            const std::string name = string_member(*sp, "id", pw.at("SpecialToken"));
            const Json* def = specials && specials->is_object() ? specials->find(name) : nullptr;
            if (!def) where.at("special_tokens").fail("special token '" + name + "' used by the template is not defined");
            const Json& ids = require_member(*def, "ids", where.at("special_tokens").at(name));
            if (!ids.is_array()) where.at("special_tokens").at(name).at("ids").fail("expected an array of ids");
            for (const Json& id : ids.items()) {
                if (!id.is_integer() || id.as_int() < 0) where.at("special_tokens").at(name).at("ids").fail("expected token ids");
                (seen_a ? t->suffix : t->prefix).push_back(int32_t(id.as_int()));
            }
        } else {
            pw.fail("expected {\"Sequence\": ...} or {\"SpecialToken\": ...}");
        }
    }
    if (!seen_a) sw.fail("the template does not contain sequence A");
    return t;
}

// ["token", id] of Bert / Roberta processing.
int32_t token_pair_id(const Json& j, const std::string& key, const JsonPlace& where) {
    const Json& v = require_member(j, key, where);
    if (!v.is_array() || v.size() != 2 || !v.items()[1].is_integer()) where.at(key).fail("expected [\"token\", id]");
    return int32_t(v.items()[1].as_int());
}

// --- decoders ------------------------------------------------------------------------------------

class SequenceDecoder : public Decoder {
public:
    std::vector<std::unique_ptr<Decoder>> parts;
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (const auto& p : parts) p->decode_chain(tokens);
    }
};

class ByteLevelDecoder : public Decoder {
public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::string bytes;
        for (const std::string& t : tokens) {
            // A token whose characters all belong to the byte alphabet becomes those bytes; any
            // other token (an added token such as "<|begin_of_text|>") is kept as it is.
            std::string mapped;
            bool all = true;
            for (size_t i = 0, n = 0; i < t.size() && all; i += n) {
                const int b = byte_level_byte(unicode::decode_utf8(t, i, &n));
                if (b < 0) all = false;
                else mapped += char(b);
            }
            bytes += all ? mapped : t;
        }
        tokens.assign(1, unicode::repair_utf8(bytes));
    }
};

class ByteFallbackDecoder : public Decoder {
public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::vector<std::string> out;
        std::string pending;
        auto flush = [&] {
            if (pending.empty()) return;
            if (unicode::valid_utf8_prefix(pending) == pending.size()) out.push_back(pending);
            else
                for (size_t i = 0; i < pending.size(); ++i) out.push_back("\xEF\xBF\xBD");
            pending.clear();
        };
        for (std::string& t : tokens) {
            int byte = -1;
            if (t.size() == 6 && t.compare(0, 3, "<0x") == 0 && t[5] == '>') {
                auto hex = [](char c) {
                    if (c >= '0' && c <= '9') return c - '0';
                    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
                    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
                    return -1;
                };
                const int hi = hex(t[3]), lo = hex(t[4]);
                if (hi >= 0 && lo >= 0) byte = hi * 16 + lo;
            }
            if (byte >= 0) {
                pending += char(byte);
            } else {
                flush();
                out.push_back(std::move(t));
            }
        }
        flush();
        tokens = std::move(out);
    }
};

class FuseDecoder : public Decoder {
public:
    void decode_chain(std::vector<std::string>& tokens) const override {
        std::string all;
        for (const auto& t : tokens) all += t;
        tokens.assign(1, all);
    }
};

class StripDecoder : public Decoder {
public:
    char32_t content = ' ';
    size_t start = 0, stop = 0;
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (std::string& t : tokens) {
            std::u32string chars;
            for (size_t i = 0, n = 0; i < t.size(); i += n) chars += unicode::decode_utf8(t, i, &n);
            size_t start_cut = 0, stop_cut = chars.size();
            for (size_t i = 0; i < start && i < chars.size() && chars[i] == content; ++i) start_cut = i + 1;
            for (size_t i = 0; i < stop && i < chars.size() && chars[chars.size() - 1 - i] == content; ++i)
                stop_cut = chars.size() - 1 - i;
            std::string r;
            for (size_t i = start_cut; i < stop_cut; ++i) unicode::append_utf8(r, chars[i]);
            t = std::move(r);
        }
    }
};

class ReplaceDecoder : public Decoder {
public:
    ReplaceDecoder(SplitRegex re, std::string content) : re_(std::move(re)), content_(std::move(content)) {}
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (std::string& t : tokens) t = replace_all(re_, t, content_);
    }

private:
    SplitRegex re_;
    std::string content_;
};

class MetaspaceDecoder : public Decoder {
public:
    char32_t replacement = 0x2581;
    PrependScheme scheme = PrependScheme::Always;
    void decode_chain(std::vector<std::string>& tokens) const override {
        for (size_t i = 0; i < tokens.size(); ++i) {
            std::string r;
            const std::string& t = tokens[i];
            for (size_t k = 0, n = 0; k < t.size(); k += n) {
                const char32_t c = unicode::decode_utf8(t, k, &n);
                if (c != replacement) r.append(t, k, n);
                else if (i != 0 || scheme == PrependScheme::Never) r += ' '; // HF drops them all in the first token
            }
            tokens[i] = std::move(r);
        }
    }
};

} // namespace

// --- byte-level alphabet -------------------------------------------------------------------------

namespace {
struct ByteAlphabet {
    std::array<std::string, 256> chars;
    std::array<int, 324> bytes; // the alphabet's code points are all below 256 + 68
    ByteAlphabet() {
        bytes.fill(-1);
        int n = 0;
        for (int b = 0; b < 256; ++b) {
            const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            const char32_t c = printable ? char32_t(b) : char32_t(256 + n++);
            chars[size_t(b)] = unicode::to_utf8(c);
            bytes[size_t(c)] = b;
        }
    }
};
const ByteAlphabet& byte_alphabet() {
    static const ByteAlphabet a;
    return a;
}
} // namespace

const std::string& byte_level_char(unsigned char b) { return byte_alphabet().chars[b]; }

int byte_level_byte(char32_t c) { return c < 324 ? byte_alphabet().bytes[c] : -1; }

// --- parsers -------------------------------------------------------------------------------------

std::unique_ptr<Normalizer> parse_normalizer(const Json& j, const JsonPlace& where) {
    const std::string type = type_of(j, where);
    if (type == "Sequence") {
        auto s = std::make_unique<SequenceNormalizer>();
        const Json& list = require_member(j, "normalizers", where);
        if (!list.is_array()) where.at("normalizers").fail("expected an array");
        for (size_t i = 0; i < list.size(); ++i)
            s->parts.push_back(parse_normalizer(list.items()[i], where.at("normalizers").index(i)));
        return s;
    }
    if (type == "Prepend") {
        auto p = std::make_unique<PrependNormalizer>();
        p->prepend = string_member(j, "prepend", where);
        return p;
    }
    if (type == "Replace") return std::make_unique<ReplaceNormalizer>(pattern_member(j, where), string_member(j, "content", where));
    if (type == "NFC") return std::make_unique<UnicodeNormalizer>(unicode::NormalForm::NFC);
    if (type == "NFD") return std::make_unique<UnicodeNormalizer>(unicode::NormalForm::NFD);
    if (type == "NFKC") return std::make_unique<UnicodeNormalizer>(unicode::NormalForm::NFKC);
    if (type == "NFKD") return std::make_unique<UnicodeNormalizer>(unicode::NormalForm::NFKD);
    if (type == "Lowercase") return std::make_unique<LowercaseNormalizer>();
    if (type == "Strip") {
        auto s = std::make_unique<StripNormalizer>();
        s->left = bool_member(j, "strip_left", where, true);
        s->right = bool_member(j, "strip_right", where, true);
        return s;
    }
    unsupported_type("normalizer", type, kSupportedNormalizers, where);
}

std::unique_ptr<PreTokenizer> parse_pre_tokenizer(const Json& j, const JsonPlace& where) {
    const std::string type = type_of(j, where);
    if (type == "Sequence") {
        auto s = std::make_unique<SequencePreTokenizer>();
        const Json& list = require_member(j, "pretokenizers", where);
        if (!list.is_array()) where.at("pretokenizers").fail("expected an array");
        for (size_t i = 0; i < list.size(); ++i)
            s->parts.push_back(parse_pre_tokenizer(list.items()[i], where.at("pretokenizers").index(i)));
        return s;
    }
    if (type == "Split")
        return std::make_unique<SplitPreTokenizer>(pattern_member(j, where), behavior_member(j, where),
                                                   bool_member(j, "invert", where, false));
    if (type == "ByteLevel") {
        auto b = std::make_unique<ByteLevelPreTokenizer>();
        b->add_prefix_space = bool_member(j, "add_prefix_space", where, true);
        b->use_regex = bool_member(j, "use_regex", where, true);
        return b;
    }
    if (type == "Metaspace") {
        auto m = std::make_unique<MetaspacePreTokenizer>();
        m->replacement = single_char_member(j, "replacement", where);
        m->scheme = prepend_scheme_member(j, where);
        m->split_words = bool_member(j, "split", where, true);
        return m;
    }
    if (type == "Digits") {
        auto d = std::make_unique<DigitsPreTokenizer>();
        d->individual = bool_member(j, "individual_digits", where, false);
        return d;
    }
    unsupported_type("pre_tokenizer", type, kSupportedPreTokenizers, where);
}

std::unique_ptr<PostProcessor> parse_post_processor(const Json& j, const JsonPlace& where) {
    const std::string type = type_of(j, where);
    if (type == "TemplateProcessing") return parse_template(j, where);
    if (type == "ByteLevel") return std::make_unique<NoOpPostProcessor>();
    if (type == "RobertaProcessing" || type == "BertProcessing") {
        auto t = std::make_unique<TemplatePostProcessor>();
        t->prefix = {token_pair_id(j, "cls", where)};
        t->suffix = {token_pair_id(j, "sep", where)};
        return t;
    }
    if (type == "Sequence") {
        auto s = std::make_unique<SequencePostProcessor>();
        const Json& list = require_member(j, "processors", where);
        if (!list.is_array()) where.at("processors").fail("expected an array");
        for (size_t i = 0; i < list.size(); ++i)
            s->parts.push_back(parse_post_processor(list.items()[i], where.at("processors").index(i)));
        return s;
    }
    unsupported_type("post_processor", type, kSupportedPostProcessors, where);
}

std::unique_ptr<PostProcessor> make_template(std::vector<int32_t> prefix, std::vector<int32_t> suffix) {
    auto t = std::make_unique<TemplatePostProcessor>();
    t->prefix = std::move(prefix);
    t->suffix = std::move(suffix);
    return t;
}

std::unique_ptr<Decoder> parse_decoder(const Json& j, const JsonPlace& where) {
    const std::string type = type_of(j, where);
    if (type == "Sequence") {
        auto s = std::make_unique<SequenceDecoder>();
        const Json& list = require_member(j, "decoders", where);
        if (!list.is_array()) where.at("decoders").fail("expected an array");
        for (size_t i = 0; i < list.size(); ++i) s->parts.push_back(parse_decoder(list.items()[i], where.at("decoders").index(i)));
        return s;
    }
    if (type == "ByteLevel") return std::make_unique<ByteLevelDecoder>();
    if (type == "ByteFallback") return std::make_unique<ByteFallbackDecoder>();
    if (type == "Fuse") return std::make_unique<FuseDecoder>();
    if (type == "Strip") {
        auto s = std::make_unique<StripDecoder>();
        s->content = single_char_member(j, "content", where);
        s->start = size_member(j, "start", where, 0);
        s->stop = size_member(j, "stop", where, 0);
        return s;
    }
    if (type == "Replace") return std::make_unique<ReplaceDecoder>(pattern_member(j, where), string_member(j, "content", where));
    if (type == "Metaspace") {
        auto m = std::make_unique<MetaspaceDecoder>();
        m->replacement = single_char_member(j, "replacement", where);
        m->scheme = prepend_scheme_member(j, where);
        return m;
    }
    unsupported_type("decoder", type, kSupportedDecoders, where);
}

} // namespace statescope::hf
