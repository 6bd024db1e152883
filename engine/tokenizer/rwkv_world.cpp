#include "tokenizer/rwkv_world.h"
#include "statescope/limits.h"

#include "statescope/error.h"
#include "core/json.h"
#include "tokenizer/unicode.h"

#include <algorithm>

namespace statescope {

namespace {

constexpr const char* kEndOfText = "<|endoftext|>";

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// The bytes of a Python str or bytes literal as repr() writes them ('...', "...", b'...').
// Throws std::runtime_error describing what is wrong.
std::string python_literal_bytes(std::string_view lit) {
    bool is_bytes = false;
    if (!lit.empty() && (lit[0] == 'b' || lit[0] == 'B')) {
        is_bytes = true;
        lit.remove_prefix(1);
    }
    if (lit.size() < 2 || (lit[0] != '\'' && lit[0] != '"') || lit.back() != lit[0])
        throw std::runtime_error("expected a quoted Python string or bytes literal");
    lit = lit.substr(1, lit.size() - 2);
    std::string out;
    for (size_t i = 0; i < lit.size(); ++i) {
        const char c = lit[i];
        if (c != '\\') {
            if (is_bytes && static_cast<unsigned char>(c) >= 0x80) throw std::runtime_error("non-ASCII character in a bytes literal");
            out += c; // str literals hold their characters as UTF-8 already
            continue;
        }
        if (++i >= lit.size()) throw std::runtime_error("literal ends with a backslash");
        const char e = lit[i];
        auto hex = [&](size_t digits) {
            uint32_t v = 0;
            for (size_t k = 0; k < digits; ++k) {
                const int d = i + 1 < lit.size() ? hex_digit(lit[i + 1]) : -1;
                if (d < 0) throw std::runtime_error("malformed \\x, \\u or \\U escape");
                v = v * 16 + uint32_t(d);
                ++i;
            }
            return v;
        };
        switch (e) {
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x': {
            const uint32_t v = hex(2);
            if (is_bytes) out += char(v);
            else unicode::append_utf8(out, v); // in a str, \xNN is the code point U+00NN
            break;
        }
        case 'u':
        case 'U': {
            if (is_bytes) throw std::runtime_error("\\u escape in a bytes literal");
            const uint32_t v = hex(e == 'u' ? 4 : 8);
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) throw std::runtime_error("escape is not a Unicode scalar value");
            unicode::append_utf8(out, v);
            break;
        }
        default:
            if (e >= '0' && e <= '7') {
                uint32_t v = uint32_t(e - '0');
                for (int k = 0; k < 2 && i + 1 < lit.size() && lit[i + 1] >= '0' && lit[i + 1] <= '7'; ++k)
                    v = v * 8 + uint32_t(lit[++i] - '0');
                if (is_bytes) out += char(v & 0xFF);
                else unicode::append_utf8(out, v);
                break;
            }
            throw std::runtime_error(std::string("escape \\") + e + " is not supported");
        }
    }
    return out;
}

} // namespace

RwkvWorldTokenizer::RwkvWorldTokenizer(const std::string& vocab_path) : path_(vocab_path) {
    const std::string text = read_text_file(vocab_path);
    nodes_.emplace_back();
    root_children_.fill(-1);
    tokens_.assign(1, kEndOfText);
    present_.assign(1, true);

    size_t line_no = 0, count = 0;
    std::vector<size_t> line_of_id(1, 0); // where each id was listed, for the message about a repeat
    for (size_t pos = 0; pos < text.size();) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string_view line(text.data() + pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty()) continue;
        const std::string where = "RWKV vocabulary " + vocab_path + " line " + std::to_string(line_no) + ": ";
        const size_t first = line.find(' '), last = line.rfind(' ');
        if (first == std::string_view::npos || last <= first) throw Error(where + "expected `ID LITERAL LENGTH`");
        char* stop = nullptr;
        const std::string id_text(line.substr(0, first)), len_text(line.substr(last + 1));
        const long id = std::strtol(id_text.c_str(), &stop, 10);
        if (id_text.empty() || *stop != '\0' || id <= 0) throw Error(where + "'" + id_text + "' is not a token id above 0");
        // The vocabulary's size is its largest id + 1: a huge id alone would take the memory.
        limits::check(where + "token id " + id_text, size_t(id) + 1, limits::kMaxVocabularyEntries, "vocabularies");
        const long declared = std::strtol(len_text.c_str(), &stop, 10);
        if (len_text.empty() || *stop != '\0') throw Error(where + "'" + len_text + "' is not a byte length");
        std::string bytes;
        try {
            bytes = python_literal_bytes(line.substr(first + 1, last - first - 1));
        } catch (const std::runtime_error& e) {
            throw Error(where + e.what());
        }
        if (long(bytes.size()) != declared)
            throw Error(where + "the token has " + std::to_string(bytes.size()) + " bytes, the line says " + len_text);
        if (bytes.empty()) throw Error(where + "empty token");
        if (size_t(id) >= tokens_.size()) {
            tokens_.resize(size_t(id) + 1);
            present_.resize(size_t(id) + 1, false);
            line_of_id.resize(size_t(id) + 1, 0);
        }
        // A repeated id would leave its first bytes in the trie, encoding to an id that decodes
        // to other bytes. Real vocabularies list each id once.
        if (present_[size_t(id)])
            throw Error(where + "token id " + id_text + " is listed again (first on line " +
                        std::to_string(line_of_id[size_t(id)]) + ")");
        line_of_id[size_t(id)] = line_no;
        tokens_[size_t(id)] = bytes;
        present_[size_t(id)] = true;

        // Insert into the trie; a repeated byte string keeps its last id, as the reference's dict does.
        int32_t node = 0;
        for (size_t k = 0; k < bytes.size(); ++k) {
            const auto b = static_cast<unsigned char>(bytes[k]);
            int32_t next = child(node, b);
            if (next < 0) {
                next = int32_t(nodes_.size());
                nodes_.emplace_back();
                if (node == 0) {
                    root_children_[b] = next;
                } else {
                    auto& ch = nodes_[size_t(node)].children;
                    ch.insert(std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, int32_t(-1))), {b, next});
                }
            }
            node = next;
        }
        nodes_[size_t(node)].token = int32_t(id);
        ++count;
    }
    if (count == 0) throw Error("RWKV vocabulary " + vocab_path + ": no tokens");
}

int32_t RwkvWorldTokenizer::child(int32_t node, unsigned char b) const {
    if (node == 0) return root_children_[b];
    const auto& ch = nodes_[size_t(node)].children;
    auto it = std::lower_bound(ch.begin(), ch.end(), std::make_pair(b, int32_t(-1)));
    return (it != ch.end() && it->first == b) ? it->second : -1;
}

std::vector<int32_t> RwkvWorldTokenizer::encode(std::string_view input, bool) const {
    limits::check("text to tokenize", input.size(), limits::kMaxPromptBytes, "prompts");
    const std::string text = unicode::valid_utf8_prefix(input) == input.size() ? std::string(input) : unicode::repair_utf8(input);
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 1);
    for (size_t pos = 0; pos < text.size();) {
        int32_t node = 0, best = -1;
        size_t best_end = pos;
        for (size_t i = pos; i < text.size(); ++i) {
            node = child(node, static_cast<unsigned char>(text[i]));
            if (node < 0) break;
            if (nodes_[size_t(node)].token >= 0) {
                best = nodes_[size_t(node)].token;
                best_end = i + 1;
            }
        }
        if (best < 0) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(text[pos]));
            throw Error("RWKV vocabulary " + path_ + " has no token for byte " + hex);
        }
        ids.push_back(best);
        pos = best_end;
    }
    return ids;
}

std::string RwkvWorldTokenizer::decode(std::span<const int32_t> ids, bool skip_special_tokens) const {
    std::string bytes;
    for (int32_t id : ids) {
        if (id < 0 || size_t(id) >= tokens_.size() || !present_[size_t(id)])
            throw Error("decode: token id " + std::to_string(id) + " is not in the RWKV vocabulary " + path_);
        if (id == 0 && skip_special_tokens) continue;
        bytes += tokens_[size_t(id)];
    }
    return unicode::repair_utf8(bytes); // a sequence may end inside a character
}

std::optional<int32_t> RwkvWorldTokenizer::token_to_id(std::string_view token) const {
    if (token == kEndOfText) return 0;
    int32_t node = 0;
    for (char c : token) {
        node = child(node, static_cast<unsigned char>(c));
        if (node < 0) return std::nullopt;
    }
    const int32_t t = token.empty() ? -1 : nodes_[size_t(node)].token;
    return t >= 0 ? std::optional<int32_t>(t) : std::nullopt;
}

std::optional<std::string> RwkvWorldTokenizer::id_to_token(int32_t id) const {
    if (id < 0 || size_t(id) >= tokens_.size() || !present_[size_t(id)]) return std::nullopt;
    return tokens_[size_t(id)];
}

std::string RwkvWorldTokenizer::describe() const {
    size_t n = 0;
    for (bool p : present_) n += p;
    return "RWKV world vocabulary " + path_ + ": " + std::to_string(n - 1) + " tokens + <|endoftext|> (id 0), greedy longest match";
}

} // namespace statescope
