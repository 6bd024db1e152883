// A small backtracking regex matcher for the patterns that tokenizer.json files give to the Split
// pre-tokenizer and the Replace normalizer (the GPT-2, Llama-3 / cl100k, Qwen and similar patterns).
// HF tokenizers runs them with Oniguruma; this matcher follows Oniguruma's semantics for the subset
// those patterns use, with real Unicode classes:
//   alternation |, groups ( ), (?: ), (?i: ), lookahead (?= ) (?! ), quantifiers ? * + {n} {n,}
//   {n,m} and their lazy forms, '.', classes [...] [^...] with ranges, \p{..} / \P{..} (General
//   Category: L, Lu, Ll, Lt, Lm, Lo, M, Mn, Mc, Me, N, Nd, Nl, No, P.., S.., Z.., C..), \s \S \d \D
//   \w \W, escapes \r \n \t \f \v \e \a \xHH \x{H..} \uHHHH and escaped punctuation.
// Anything else (anchors, backreferences, lookbehind, possessive or atomic groups, scripts, inline
// flags, a quantified group that can match more than one character) is refused at compile time with
// a RegexError naming the construct, so an unfamiliar pattern is never half-understood.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace statescope {

class RegexError : public std::runtime_error {
public:
    explicit RegexError(const std::string& what) : std::runtime_error(what) {}
};

class SplitRegex {
public:
    // Throws RegexError for syntax errors and unsupported constructs.
    explicit SplitRegex(std::string_view pattern);
    // A regex that matches the literal text (what HF does with {"String": ...} patterns).
    static SplitRegex literal(std::string_view text);

    const std::string& pattern() const { return pattern_; }

    // Leftmost match starting at or after byte `from` of valid UTF-8 text; [*start, *end) receives
    // it. Empty matches are reported like any other; callers iterating must step past them.
    bool find(std::string_view text, size_t from, size_t* start, size_t* end) const;

    // Every non-overlapping match, as (start, end) pairs, in the order Oniguruma's search loop
    // yields them (after an empty match the search resumes one character later).
    std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;
    // The same matches, passed to on_match(start, end) as they are found.
    void for_each_match(std::string_view text, const std::function<void(size_t, size_t)>& on_match) const;

    struct CharClass;
    struct Node;

private:
    SplitRegex() = default;
    friend class RegexParser;
    friend class RegexMatcher;

    std::string pattern_;
    std::vector<Node> nodes_;
    std::vector<std::vector<int>> sequences_; // node indices matched one after another
    std::vector<CharClass> classes_;
    // Per sequence: which characters can begin a match of it (ASCII exactly, anything else
    // conservatively), so the matcher skips alternatives that cannot start at a character.
    struct FirstSet {
        uint64_t ascii[2] = {0, 0};
        bool non_ascii = false;
        bool nullable = false; // can match without consuming a character
        bool may_start(char32_t c) const {
            if (nullable) return true;
            return c < 128 ? ((ascii[c >> 6] >> (c & 63)) & 1) != 0 : non_ascii;
        }
    };
    std::vector<FirstSet> first_;
    FirstSet first_of_sequence(int seq) const;
    FirstSet first_of_node(int node) const;
    int root_ = -1;                           // index into sequences_
    std::string literal_;                     // non-empty: a plain substring search
};

// What a node matches; kept public for the matcher in the .cpp, not an API.
struct SplitRegex::CharClass {
    bool negated = false;
    bool case_insensitive = false;
    std::vector<std::pair<char32_t, char32_t>> ranges;
    uint32_t categories = 0;     // bit per unicode_data::Category
    uint32_t not_categories = 0; // \P{..}: matches when the category is NOT one of these
    bool space = false, not_space = false, word = false, not_word = false;
    bool any_but_newline = false; // '.'
    uint64_t ascii[2] = {0, 0};  // precomputed answer for code points < 128

    bool matches_uncached(char32_t cp) const;
    void finish(); // fills `ascii`
    bool matches(char32_t cp) const {
        if (cp < 128) return (ascii[cp >> 6] >> (cp & 63)) & 1;
        return matches_uncached(cp);
    }
};

struct SplitRegex::Node {
    enum class Kind { Char, Class, Group, Alternation, Repeat, LookAhead, NegativeLookAhead };
    Kind kind = Kind::Char;
    char32_t cp = 0;                 // Char
    bool case_insensitive = false;   // Char
    int index = -1;                  // Class: classes_; Group / LookAhead: sequences_; Repeat: nodes_
    std::vector<int> alternatives;   // Alternation: sequences_
    int min = 0, max = 0;            // Repeat; max < 0 means unbounded
    bool greedy = true;              // Repeat
};

} // namespace statescope
