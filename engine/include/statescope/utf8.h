// The UTF-8 checks the command line and the app apply to text before tokenizing it, and which
// Unicode version the tokenizer's tables follow. The rest of the tokenizer's Unicode support is
// internal (engine/tokenizer/unicode.h).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>

namespace statescope::unicode {

const char* unicode_version();

// Length of the longest valid UTF-8 prefix of s (s.size() when all of s is valid).
size_t valid_utf8_prefix(std::string_view s);

// s with every ill-formed sequence replaced by U+FFFD, one per maximal subpart (Unicode 3.9, the
// practice of Python's errors="replace" and Rust's String::from_utf8_lossy). *replaced, when given,
// receives the number of replacements.
std::string repair_utf8(std::string_view s, size_t* replaced = nullptr);

} // namespace statescope::unicode
