// Unicode for the tokenizer: UTF-8 decoding and encoding, lossy repair of invalid UTF-8, General
// Category lookups, case folding and lowercasing, and the four normalization forms. Tables come from
// tools/gen_unicode_tables.py (unicode_data.cpp); unicode_version() says which Unicode they follow.
#pragma once
#include "statescope/utf8.h"
#include "tokenizer/unicode_data.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace statescope::unicode {

using unicode_data::Category;

// --- UTF-8 -------------------------------------------------------------------------------------

// The code point starting at s[i] of valid UTF-8; *len receives its byte length.
inline char32_t decode_utf8(std::string_view s, size_t i, size_t* len) {
    const auto b0 = static_cast<unsigned char>(s[i]);
    if (b0 < 0x80) { *len = 1; return b0; }
    auto cont = [&](size_t k) { return char32_t(static_cast<unsigned char>(s[i + k]) & 0x3F); };
    if (b0 < 0xE0) { *len = 2; return (char32_t(b0 & 0x1F) << 6) | cont(1); }
    if (b0 < 0xF0) { *len = 3; return (char32_t(b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2); }
    *len = 4;
    return (char32_t(b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
}

// Byte length of the UTF-8 sequence whose first byte is b (valid UTF-8 assumed).
inline size_t utf8_length(unsigned char b) { return b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4; }

void append_utf8(std::string& out, char32_t cp);
std::string to_utf8(char32_t cp);

// --- properties ----------------------------------------------------------------------------------

Category category(char32_t cp);

inline bool category_is_letter(Category c) { return c <= unicode_data::Lo; }
inline bool category_is_mark(Category c) { return c >= unicode_data::Mn && c <= unicode_data::Me; }
inline bool category_is_number(Category c) { return c >= unicode_data::Nd && c <= unicode_data::No; }

inline bool is_letter(char32_t cp) { return category_is_letter(category(cp)); }
inline bool is_number(char32_t cp) { return category_is_number(category(cp)); }

// The White_Space property: Zs, Zl, Zp, U+0009..U+000D and U+0085. This is also what \s means in
// Oniguruma (the regex library of HF tokenizers) and in Rust's regex crate.
bool is_whitespace(char32_t cp);

// \w as Rust's regex crate reads it (Alphabetic, M, Nd, Pc, Join_Control): HF uses it to decide
// where an added token with single_word may match.
bool is_rust_word_char(char32_t cp);

// \w as Oniguruma reads it (L, M, Nd, Pc).
bool is_onig_word_char(char32_t cp);

// Simple case folding (one code point to one code point; cp itself when it does not fold).
char32_t simple_fold(char32_t cp);

// Full lowercase mapping of each code point (U+0130 becomes "i\u0307"), as Rust's
// char::to_lowercase applies it, without context-sensitive rules.
std::string lowercase(std::string_view utf8);

enum class NormalForm { NFC, NFD, NFKC, NFKD };
std::string normalize(std::string_view utf8, NormalForm form);

} // namespace statescope::unicode
