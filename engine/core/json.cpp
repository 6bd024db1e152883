#include "core/json.h"

#include "statescope/error.h"
#include "statescope/limits.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace statescope {

namespace {
constexpr size_t kIndexThreshold = 16;
constexpr int kMaxDepth = 256;
} // namespace

class JsonParser {
public:
    JsonParser(std::string_view text, const std::string& source) : s_(text), source_(source) {}

    Json parse_document() {
        skip_ws();
        Json v = parse_value(0);
        skip_ws();
        if (pos_ != s_.size()) fail("unexpected text after the JSON value");
        return v;
    }

private:
    std::string_view s_;
    const std::string& source_;
    size_t pos_ = 0;

    [[noreturn]] void fail(const std::string& what) const {
        size_t line = 1, col = 1;
        for (size_t i = 0; i < pos_ && i < s_.size(); ++i) {
            if (s_[i] == '\n') { ++line; col = 1; } else { ++col; }
        }
        throw Error(source_ + ": invalid JSON at line " + std::to_string(line) + ", column " +
                    std::to_string(col) + ": " + what);
    }

    void skip_ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r'))
            ++pos_;
    }

    bool consume(std::string_view lit) {
        if (s_.substr(pos_, lit.size()) == lit) { pos_ += lit.size(); return true; }
        return false;
    }

    Json parse_value(int depth) {
        if (depth > kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth));
        if (pos_ >= s_.size()) fail("unexpected end of input");
        Json v;
        char c = s_[pos_];
        if (c == '{') {
            v.type_ = Json::Type::Object;
            ++pos_;
            skip_ws();
            if (pos_ < s_.size() && s_[pos_] == '}') { ++pos_; return v; }
            for (;;) {
                skip_ws();
                if (pos_ >= s_.size() || s_[pos_] != '"') fail("expected a string key");
                std::string key = parse_string();
                skip_ws();
                if (pos_ >= s_.size() || s_[pos_] != ':') fail("expected ':' after key \"" + key + "\"");
                ++pos_;
                skip_ws();
                v.object_.emplace_back(std::move(key), parse_value(depth + 1));
                skip_ws();
                if (pos_ < s_.size() && s_[pos_] == ',') { ++pos_; continue; }
                if (pos_ < s_.size() && s_[pos_] == '}') { ++pos_; break; }
                fail("expected ',' or '}' in object");
            }
            if (v.object_.size() > kIndexThreshold) {
                v.index_ = std::make_shared<std::map<std::string, size_t, std::less<>>>();
                for (size_t i = 0; i < v.object_.size(); ++i) (*v.index_)[v.object_[i].first] = i;
            }
            return v;
        }
        if (c == '[') {
            v.type_ = Json::Type::Array;
            ++pos_;
            skip_ws();
            if (pos_ < s_.size() && s_[pos_] == ']') { ++pos_; return v; }
            for (;;) {
                skip_ws();
                v.array_.push_back(parse_value(depth + 1));
                skip_ws();
                if (pos_ < s_.size() && s_[pos_] == ',') { ++pos_; continue; }
                if (pos_ < s_.size() && s_[pos_] == ']') { ++pos_; break; }
                fail("expected ',' or ']' in array");
            }
            return v;
        }
        if (c == '"') {
            v.type_ = Json::Type::String;
            v.string_ = parse_string();
            return v;
        }
        if (consume("true")) { v.type_ = Json::Type::Bool; v.bool_ = true; return v; }
        if (consume("false")) { v.type_ = Json::Type::Bool; v.bool_ = false; return v; }
        if (consume("null")) { return v; }
        // Python's json module writes these for non-finite floats; accept them as numbers.
        if (consume("NaN")) { v.type_ = Json::Type::Number; v.number_ = NAN; return v; }
        if (consume("Infinity")) { v.type_ = Json::Type::Number; v.number_ = INFINITY; return v; }
        if (consume("-Infinity")) { v.type_ = Json::Type::Number; v.number_ = -INFINITY; return v; }
        if (c == '-' || (c >= '0' && c <= '9')) return parse_number();
        fail(std::string("unexpected character '") + c + "'");
    }

    Json parse_number() {
        size_t start = pos_;
        bool integer = true;
        if (s_[pos_] == '-') ++pos_;
        auto digits = [&] {
            size_t d = pos_;
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
            return pos_ - d;
        };
        if (digits() == 0) fail("malformed number");
        if (pos_ < s_.size() && s_[pos_] == '.') {
            integer = false;
            ++pos_;
            if (digits() == 0) fail("malformed number");
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            integer = false;
            ++pos_;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
            if (digits() == 0) fail("malformed number");
        }
        std::string text(s_.substr(start, pos_ - start));
        Json v;
        v.type_ = Json::Type::Number;
        v.number_ = std::strtod(text.c_str(), nullptr);
        if (integer) {
            errno = 0;
            long long i = std::strtoll(text.c_str(), nullptr, 10);
            if (errno == 0) { v.integer_ = true; v.int_ = i; }
        }
        return v;
    }

    unsigned parse_hex4() {
        if (pos_ + 4 > s_.size()) fail("truncated \\u escape");
        unsigned cp = 0;
        for (int i = 0; i < 4; ++i) {
            char h = s_[pos_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= unsigned(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= unsigned(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= unsigned(h - 'A' + 10);
            else fail("bad hex digit in \\u escape");
        }
        return cp;
    }

    static void append_utf8(std::string& out, unsigned cp) {
        if (cp < 0x80) out += char(cp);
        else if (cp < 0x800) { out += char(0xC0 | (cp >> 6)); out += char(0x80 | (cp & 0x3F)); }
        else if (cp < 0x10000) {
            out += char(0xE0 | (cp >> 12)); out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
        } else {
            out += char(0xF0 | (cp >> 18)); out += char(0x80 | ((cp >> 12) & 0x3F));
            out += char(0x80 | ((cp >> 6) & 0x3F)); out += char(0x80 | (cp & 0x3F));
        }
    }

    std::string parse_string() {
        ++pos_; // opening quote
        std::string out;
        for (;;) {
            if (pos_ >= s_.size()) fail("unterminated string");
            char c = s_[pos_++];
            if (c == '"') break;
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
            if (c != '\\') { out += c; continue; }
            if (pos_ >= s_.size()) fail("unterminated escape");
            char e = s_[pos_++];
            switch (e) {
            case '"': out += '"'; break;
            case '\\': out += '\\'; break;
            case '/': out += '/'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'u': {
                unsigned cp = parse_hex4();
                if (cp >= 0xD800 && cp < 0xDC00) {
                    // A high surrogate must be followed by a low one; a lone one becomes U+FFFD.
                    if (pos_ + 6 <= s_.size() && s_[pos_] == '\\' && s_[pos_ + 1] == 'u') {
                        size_t save = pos_;
                        pos_ += 2;
                        unsigned lo = parse_hex4();
                        if (lo >= 0xDC00 && lo < 0xE000) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        else { pos_ = save; cp = 0xFFFD; }
                    } else {
                        cp = 0xFFFD;
                    }
                } else if (cp >= 0xDC00 && cp < 0xE000) {
                    cp = 0xFFFD;
                }
                append_utf8(out, cp);
                break;
            }
            default: fail(std::string("unknown escape \\") + e);
            }
        }
        return out;
    }
};

Json Json::parse(std::string_view text, const std::string& source_name) {
    JsonParser p(text, source_name);
    return p.parse_document();
}

const Json* Json::find(std::string_view key) const {
    if (type_ != Type::Object) return nullptr;
    if (index_) {
        auto it = index_->find(key);
        return it == index_->end() ? nullptr : &object_[it->second].second;
    }
    for (const auto& [k, v] : object_)
        if (k == key) return &v;
    return nullptr;
}

const char* Json::type_name(Type t) {
    switch (t) {
    case Type::Null: return "null";
    case Type::Bool: return "boolean";
    case Type::Number: return "number";
    case Type::String: return "string";
    case Type::Array: return "array";
    case Type::Object: return "object";
    }
    return "?";
}

std::string read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(path + ": cannot open file (" + std::strerror(errno) + ")");
    in.seekg(0, std::ios::end);
    const std::streamoff size = in.tellg();
    if (size > 0) limits::check(path, size_t(size), limits::kMaxTextFileBytes, "text files");
    in.seekg(0, std::ios::beg);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (in.bad()) throw Error(path + ": read error");
    return ss.str();
}

namespace limits {

void check(const std::string& what, size_t size, size_t limit, const char* limit_name) {
    if (size <= limit) return;
    throw Error(what + ": " + std::to_string(size) + " bytes is over the limit of " + std::to_string(limit) + " for " +
                limit_name);
}

} // namespace limits

} // namespace statescope
