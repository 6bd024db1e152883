#include "tokenizer/unicode.h"

#include <algorithm>
#include <array>
#include <vector>

namespace statescope::unicode {

namespace ud = unicode_data;

const char* unicode_version() { return ud::kUnicodeVersion; }

// --- UTF-8 -------------------------------------------------------------------------------------

void append_utf8(std::string& out, char32_t cp) {
    if (cp < 0x80) {
        out += char(cp);
    } else if (cp < 0x800) {
        out += char(0xC0 | (cp >> 6));
        out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += char(0xE0 | (cp >> 12));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    } else {
        out += char(0xF0 | (cp >> 18));
        out += char(0x80 | ((cp >> 12) & 0x3F));
        out += char(0x80 | ((cp >> 6) & 0x3F));
        out += char(0x80 | (cp & 0x3F));
    }
}

std::string to_utf8(char32_t cp) {
    std::string s;
    append_utf8(s, cp);
    return s;
}

namespace {

// Length of the well-formed sequence at s[i] (Unicode Table 3-7), or 0 when it is ill-formed; in
// that case *subpart receives the length of the maximal subpart to replace (at least 1).
size_t well_formed_length(std::string_view s, size_t i, size_t* subpart) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; // allowed range of the second byte
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        need = 2;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        need = 3;
        if (b0 == 0xE0) lo = 0xA0;
        if (b0 == 0xED) hi = 0x9F; // no surrogates
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        need = 4;
        if (b0 == 0xF0) lo = 0x90;
        if (b0 == 0xF4) hi = 0x8F;
    } else {
        *subpart = 1;
        return 0;
    }
    size_t k = 1;
    for (; k < need; ++k) {
        if (i + k >= s.size()) break;
        const auto b = static_cast<unsigned char>(s[i + k]);
        const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
        if (b < l || b > h) break;
    }
    if (k == need) return need;
    *subpart = k;
    return 0;
}

} // namespace

size_t valid_utf8_prefix(std::string_view s) {
    size_t i = 0, sub = 0;
    while (i < s.size()) {
        if (static_cast<unsigned char>(s[i]) < 0x80) { ++i; continue; }
        size_t n = well_formed_length(s, i, &sub);
        if (n == 0) return i;
        i += n;
    }
    return i;
}

std::string repair_utf8(std::string_view s, size_t* replaced) {
    std::string out;
    out.reserve(s.size() + 8);
    size_t count = 0, i = 0;
    while (i < s.size()) {
        size_t sub = 0, n = well_formed_length(s, i, &sub);
        if (n > 0) {
            out.append(s.substr(i, n));
            i += n;
        } else {
            out += "\xEF\xBF\xBD";
            ++count;
            i += sub;
        }
    }
    if (replaced) *replaced = count;
    return out;
}

// --- properties ----------------------------------------------------------------------------------

namespace {

// General categories of the Basic Multilingual Plane, unpacked once from the runs; code points
// above it use a binary search over the runs.
const std::array<Category, 0x10000>& bmp_categories() {
    static const std::array<Category, 0x10000> table = [] {
        std::array<Category, 0x10000> t{};
        for (size_t r = 0; r < ud::kCategoryRunCount; ++r) {
            const uint32_t start = ud::kCategoryRuns[r].start;
            if (start >= 0x10000) break;
            const uint32_t end = r + 1 < ud::kCategoryRunCount ? std::min<uint32_t>(ud::kCategoryRuns[r + 1].start, 0x10000)
                                                               : 0x10000;
            for (uint32_t cp = start; cp < end; ++cp) t[cp] = ud::kCategoryRuns[r].category;
        }
        return t;
    }();
    return table;
}

template <class T, class Key>
const T* find_by_code_point(const T* table, size_t n, char32_t cp, Key key) {
    const T* end = table + n;
    const T* it = std::lower_bound(table, end, cp, [&](const T& e, char32_t v) { return key(e) < v; });
    return (it != end && key(*it) == cp) ? it : nullptr;
}

int combining_class(char32_t cp) {
    if (cp < 0x300) return 0;
    const ud::CombiningClassRun* end = ud::kCombiningClassRuns + ud::kCombiningClassRunCount;
    const ud::CombiningClassRun* it = std::upper_bound(ud::kCombiningClassRuns, end, cp,
                                                       [](char32_t v, const ud::CombiningClassRun& r) { return v < r.first; });
    if (it == ud::kCombiningClassRuns) return 0;
    --it;
    return cp <= it->last ? it->ccc : 0;
}

} // namespace

Category category(char32_t cp) {
    if (cp < 0x10000) return bmp_categories()[cp];
    if (cp > 0x10FFFF) return ud::Cn;
    const ud::CategoryRun* end = ud::kCategoryRuns + ud::kCategoryRunCount;
    const ud::CategoryRun* it = std::upper_bound(ud::kCategoryRuns, end, cp,
                                                 [](char32_t v, const ud::CategoryRun& r) { return v < r.start; });
    return (it - 1)->category;
}

bool is_whitespace(char32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
    if (cp == 0x85) return true;
    const Category c = category(cp);
    return c == ud::Zs || c == ud::Zl || c == ud::Zp;
}

bool is_onig_word_char(char32_t cp) {
    const Category c = category(cp);
    return category_is_letter(c) || category_is_mark(c) || c == ud::Nd || c == ud::Pc;
}

bool is_rust_word_char(char32_t cp) {
    if (cp == 0x200C || cp == 0x200D) return true; // Join_Control
    const Category c = category(cp);
    if (category_is_letter(c) || category_is_mark(c) || c == ud::Nd || c == ud::Nl || c == ud::Pc) return true;
    for (size_t i = 0; i < ud::kOtherAlphabeticSymbolCount; ++i)
        if (cp >= ud::kOtherAlphabeticSymbols[i].first && cp <= ud::kOtherAlphabeticSymbols[i].last) return true;
    return false;
}

char32_t simple_fold(char32_t cp) {
    if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
    const auto* e = find_by_code_point(ud::kSimpleCaseFold, ud::kSimpleCaseFoldCount, cp,
                                       [](const ud::CodepointMap& m) { return char32_t(m.from); });
    return e ? char32_t(e->to) : cp;
}

std::string lowercase(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0, n = 0; i < s.size(); i += n) {
        const char32_t cp = decode_utf8(s, i, &n);
        if (cp < 0x80) {
            out += char((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
            continue;
        }
        const auto* e = find_by_code_point(ud::kLowercase, ud::kLowercaseCount, cp,
                                           [](const ud::Expansion& x) { return char32_t(x.cp); });
        if (!e) {
            out.append(s.substr(i, n));
            continue;
        }
        for (uint32_t k = 0; k < e->length; ++k) append_utf8(out, ud::kExpansionPool[e->offset + k]);
    }
    return out;
}

// --- normalization (UAX #15) ---------------------------------------------------------------------

namespace {

constexpr char32_t kHangulS = 0xAC00, kHangulL = 0x1100, kHangulV = 0x1161, kHangulT = 0x11A7;
constexpr int kHangulVCount = 21, kHangulTCount = 28, kHangulNCount = kHangulVCount * kHangulTCount;
constexpr int kHangulSCount = 19 * kHangulNCount;

void decompose(char32_t cp, bool compat, std::vector<char32_t>& out) {
    if (cp >= kHangulS && cp < kHangulS + kHangulSCount) {
        const int s = int(cp - kHangulS);
        out.push_back(kHangulL + s / kHangulNCount);
        out.push_back(kHangulV + (s % kHangulNCount) / kHangulTCount);
        if (s % kHangulTCount != 0) out.push_back(kHangulT + s % kHangulTCount);
        return;
    }
    auto key = [](const ud::Expansion& x) { return char32_t(x.cp); };
    const ud::Expansion* e = nullptr;
    if (compat) e = find_by_code_point(ud::kCompatibilityDecomposition, ud::kCompatibilityDecompositionCount, cp, key);
    if (!e) e = find_by_code_point(ud::kCanonicalDecomposition, ud::kCanonicalDecompositionCount, cp, key);
    if (!e) {
        out.push_back(cp);
        return;
    }
    for (uint32_t k = 0; k < e->length; ++k) out.push_back(ud::kExpansionPool[e->offset + k]);
}

// The primary composite of (a, b), or 0.
char32_t compose_pair(char32_t a, char32_t b) {
    if (a >= kHangulL && a < kHangulL + 19 && b >= kHangulV && b < kHangulV + kHangulVCount)
        return kHangulS + ((a - kHangulL) * kHangulVCount + (b - kHangulV)) * kHangulTCount;
    if (a >= kHangulS && a < kHangulS + kHangulSCount && (a - kHangulS) % kHangulTCount == 0 && b > kHangulT &&
        b < kHangulT + kHangulTCount)
        return a + (b - kHangulT);
    const ud::Composition* end = ud::kCompositions + ud::kCompositionCount;
    const ud::Composition* it = std::lower_bound(ud::kCompositions, end, std::pair<char32_t, char32_t>(a, b),
                                                 [](const ud::Composition& c, const std::pair<char32_t, char32_t>& v) {
                                                     return c.first != v.first ? c.first < v.first : c.second < v.second;
                                                 });
    return (it != end && it->first == a && it->second == b) ? it->composite : 0;
}

} // namespace

std::string normalize(std::string_view s, NormalForm form) {
    bool ascii = true;
    for (char c : s) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
    if (ascii) return std::string(s);

    const bool compat = form == NormalForm::NFKC || form == NormalForm::NFKD;
    std::vector<char32_t> buf;
    buf.reserve(s.size());
    for (size_t i = 0, n = 0; i < s.size(); i += n) decompose(decode_utf8(s, i, &n), compat, buf);

    // Canonical ordering: stable sort of each run of non-starters by combining class.
    std::vector<int> ccc(buf.size());
    for (size_t i = 0; i < buf.size(); ++i) ccc[i] = combining_class(buf[i]);
    for (size_t i = 0; i < buf.size();) {
        if (ccc[i] == 0) { ++i; continue; }
        size_t j = i;
        while (j < buf.size() && ccc[j] != 0) ++j;
        for (size_t a = i + 1; a < j; ++a) // insertion sort: runs are short and it is stable
            for (size_t b = a; b > i && ccc[b - 1] > ccc[b]; --b) {
                std::swap(buf[b - 1], buf[b]);
                std::swap(ccc[b - 1], ccc[b]);
            }
        i = j;
    }

    if (form == NormalForm::NFC || form == NormalForm::NFKC) {
        // Canonical composition (the UAX #15 sample algorithm): a character combines with the last
        // starter unless a character in between blocks it.
        if (!buf.empty()) {
            size_t starter = 0, out = 1;
            bool have_starter = ccc[0] == 0;
            int last_class = ccc[0];
            for (size_t i = 1; i < buf.size(); ++i) {
                const char32_t ch = buf[i];
                const int ch_class = ccc[i];
                const char32_t composite = have_starter ? compose_pair(buf[starter], ch) : 0;
                if (composite != 0 && (last_class < ch_class || last_class == 0)) {
                    buf[starter] = composite;
                    continue;
                }
                if (ch_class == 0) {
                    starter = out;
                    have_starter = true;
                }
                last_class = ch_class;
                buf[out++] = ch;
            }
            buf.resize(out);
        }
    }
    std::string result;
    result.reserve(s.size());
    for (char32_t cp : buf) append_utf8(result, cp);
    return result;
}

} // namespace statescope::unicode
