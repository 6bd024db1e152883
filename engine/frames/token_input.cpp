#include "statescope/frames/token_input.h"
#include "statescope/limits.h"

#include "statescope/error.h"
#include "statescope/task.h"
#include "statescope/tokenizer.h"
#include "statescope/utf8.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cstdio>
#include <filesystem>

namespace statescope::frames {

namespace {
// What the strip shows for a piece of text: spaces and line breaks made visible.
std::string visible(const std::string& s) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == ' ') out += "\u2423";
        else if (c == '\n') out += "\u23CE";
        else if (c == '\t') out += "\u21E5";
        else out += c;
    }
    return out;
}

std::string byte_label(int32_t id) {
    if (id == ' ' || id == '\n' || id == '\t') return visible(std::string(1, char(id)));
    if (id >= 0x21 && id < 0x7f) return std::string(1, char(id));
    if (id >= 0 && id < 256) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\x%02x", unsigned(id));
        return buf;
    }
    return std::to_string(id);
}

// The bytes of one multi-byte UTF-8 character, read one token each, show the character and which
// of its bytes they are ("é 1/2", "é 2/2"): a student sees the letter, not "\xc3".
void label_utf8_bytes(const std::vector<int32_t>& bytes, std::vector<std::string>& labels) {
    for (size_t i = 0; i < bytes.size();) {
        const int32_t lead = bytes[i];
        const size_t n = lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 && lead <= 0xEF ? 3 : lead >= 0xC2 && lead <= 0xDF ? 2 : 1;
        std::string ch(1, char(lead));
        bool whole = n > 1 && i + n <= bytes.size();
        for (size_t k = 1; whole && k < n; ++k) {
            whole = bytes[i + k] >= 0x80 && bytes[i + k] <= 0xBF;
            ch += char(bytes[i + k]);
        }
        whole = whole && unicode::valid_utf8_prefix(ch) == ch.size();
        if (!whole) {
            ++i;
            continue;
        }
        for (size_t k = 0; k < n; ++k) labels[i + k] = ch + " " + std::to_string(k + 1) + "/" + std::to_string(n);
        i += n;
    }
}

bool is_separator(char c) { return c == ',' || std::isspace(static_cast<unsigned char>(c)); }
} // namespace

std::vector<int32_t> parse_token_ids(const std::string& list, const std::string& flag, bool allow_empty,
                                     std::vector<std::string>* items) {
    std::vector<int32_t> ids;
    for (size_t i = 0; i < list.size();) {
        if (is_separator(list[i])) {
            ++i;
            continue;
        }
        size_t j = i;
        while (j < list.size() && !is_separator(list[j])) ++j;
        const std::string item = list.substr(i, j - i);
        long long v = -1;
        const char* first = item.data() + (item[0] == '+' ? 1 : 0);
        const auto [end, ec] = std::from_chars(first, item.data() + item.size(), v);
        if (ec != std::errc() || end != item.data() + item.size() || v < 0 || v > INT32_MAX)
            throw Error(flag + ": '" + item + "' is not a token id");
        ids.push_back(int32_t(v));
        if (items) items->push_back(item);
        i = j;
    }
    if (ids.empty() && !allow_empty) throw Error(flag + ": no token ids given");
    return ids;
}

TokenInput tokens_from_text(const std::string& text) {
    limits::check("text to run as bytes", text.size(), limits::kMaxPromptBytes, "prompts");
    TokenInput t;
    t.text = text;
    t.description = "bytes (one token per UTF-8 byte)";
    for (char ch : text) {
        const int32_t b = static_cast<unsigned char>(ch);
        t.ids.push_back(b);
        t.labels.push_back(byte_label(b));
    }
    label_utf8_bytes(t.ids, t.labels);
    return t;
}

TokenInput tokens_from_task(const std::string& model_path, uint64_t seed, int64_t size) {
    const task::Spec spec = task::load_task(model_path);
    const task::Sample s = task::sample(spec, {seed, size});
    TokenInput in;
    in.ids = s.tokens;
    in.targets = s.targets;
    in.task_settings = s.settings_json();
    in.description = spec.name + " sample, seed " + std::to_string(seed) + ", " + s.size_name + " " + std::to_string(s.size);
    return in;
}

TokenInput tokens_from_ids(const std::string& list) {
    TokenInput t;
    t.description = "token ids";
    t.ids = parse_token_ids(list, "--tokens", false, &t.labels); // labelled as written
    return t;
}

TokenCodec::TokenCodec(const std::string& model_path) {
    namespace fs = std::filesystem;
    const fs::path p = fs::absolute(model_path);
    const fs::path dir = fs::is_directory(p) ? p : p.parent_path();
    bool has = fs::exists(dir / "tokenizer.json");
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !has && !ec && it != fs::directory_iterator(); it.increment(ec)) {
        std::string name = it->path().filename().string();
        std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return char(std::tolower(c)); });
        has = it->is_regular_file() && name.rfind("rwkv_vocab", 0) == 0 && name.size() >= 14 &&
              name.compare(name.size() - 4, 4, ".txt") == 0;
    }
    if (has) tokenizer_ = Tokenizer::load(dir.lexically_normal().string());
}

TokenCodec::~TokenCodec() = default;

TokenInput TokenCodec::encode(const TokenInput& input) {
    if (!input.generated.empty()) {
        TokenInput base = input;
        base.generated.clear();
        TokenInput t = encode(base);
        for (int32_t id : input.generated) {
            t.ids.push_back(id);
            t.labels.push_back(label(id));
        }
        // As the engine worker describes a continuation.
        t.description += " + " + std::to_string(input.generated.size()) + " generated";
        return t;
    }
    bytes_ = input.text && !tokenizer_;
    if (input.text && !tokenizer_) return tokens_from_text(*input.text);
    TokenInput t = input;
    if (!tokenizer_) return t;
    t.description = tokenizer_->describe();
    if (input.text) t.ids = tokenizer_->encode(*input.text, /*add_special_tokens=*/true);
    else t.description = (input.targets.empty() ? std::string("token ids") : input.description) + ", labelled by " + t.description;
    t.labels = labels(t.ids);
    return t;
}

std::string TokenCodec::whole_text(std::span<const int32_t> ids) const {
    try {
        const std::string text = tokenizer_->decode(ids);
        if (!text.empty() && unicode::valid_utf8_prefix(text) == text.size() && text.find("\xEF\xBF\xBD") == std::string::npos)
            return text;
    } catch (const Error&) {
    }
    return {};
}

bool TokenCodec::partial_character(int32_t id) const {
    try {
        const int32_t one[1] = {id};
        const std::string text = tokenizer_->decode(one);
        return !text.empty() && (unicode::valid_utf8_prefix(text) != text.size() || text.find("\xEF\xBF\xBD") != std::string::npos);
    } catch (const Error&) {
        return false;
    }
}

void TokenCodec::label_character_pieces(const std::vector<int32_t>& ids, std::vector<std::string>& labels) const {
    // A token that is only part of a character (byte fallback "<0xC3>", or a byte-level piece)
    // shows the character its run of partial tokens decodes to, and its place in the run.
    for (size_t i = 0; i < ids.size(); ++i) {
        if (!partial_character(ids[i])) continue;
        for (size_t n = 2; n <= 4 && i + n <= ids.size() && partial_character(ids[i + n - 1]); ++n) {
            const std::string text = whole_text(std::span<const int32_t>(&ids[i], n));
            if (text.empty()) continue;
            for (size_t k = 0; k < n; ++k) labels[i + k] = visible(text) + " " + std::to_string(k + 1) + "/" + std::to_string(n);
            i += n - 1;
            break;
        }
    }
}

std::vector<std::string> TokenCodec::labels(const std::vector<int32_t>& ids) const {
    std::vector<std::string> out;
    out.reserve(ids.size());
    for (int32_t id : ids) out.push_back(label(id));
    if (tokenizer_) label_character_pieces(ids, out);
    else if (bytes_) label_utf8_bytes(ids, out);
    return out;
}

std::vector<int32_t> TokenCodec::stop_ids() const {
    if (tokenizer_)
        if (auto eos = tokenizer_->eos_id()) return {*eos};
    return {};
}

std::string TokenCodec::label(int32_t id) const {
    if (!tokenizer_) return bytes_ ? byte_label(id) : std::to_string(id);
    // A token's own text; pieces of a multi-byte character decode to U+FFFD (or to bytes that
    // are not UTF-8), and ids outside the tokenizer's vocabulary throw, so those show the
    // vocabulary entry or the id.
    try {
        const int32_t one[1] = {id};
        const std::string text = tokenizer_->decode(one);
        const bool whole = !text.empty() && unicode::valid_utf8_prefix(text) == text.size() &&
                           text.find("\xEF\xBF\xBD") == std::string::npos;
        if (whole) return visible(text);
    } catch (const Error&) {
    }
    return visible(tokenizer_->id_to_token(id).value_or(std::to_string(id)));
}

} // namespace statescope::frames
