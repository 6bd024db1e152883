#include "tokenizer/split_regex.h"

#include "tokenizer/unicode.h"

#include <cctype>

namespace statescope {

namespace ud = unicode_data;
using Node = SplitRegex::Node;
using CharClass = SplitRegex::CharClass;

// --- character classes ---------------------------------------------------------------------------

namespace {

constexpr uint32_t bit(ud::Category c) { return 1u << c; }
constexpr uint32_t kLetters = bit(ud::Lu) | bit(ud::Ll) | bit(ud::Lt) | bit(ud::Lm) | bit(ud::Lo);
constexpr uint32_t kMarks = bit(ud::Mn) | bit(ud::Mc) | bit(ud::Me);
constexpr uint32_t kNumbers = bit(ud::Nd) | bit(ud::Nl) | bit(ud::No);
constexpr uint32_t kPunctuation = bit(ud::Pc) | bit(ud::Pd) | bit(ud::Ps) | bit(ud::Pe) | bit(ud::Pi) | bit(ud::Pf) |
                                  bit(ud::Po);
constexpr uint32_t kSymbols = bit(ud::Sm) | bit(ud::Sc) | bit(ud::Sk) | bit(ud::So);
constexpr uint32_t kSeparators = bit(ud::Zs) | bit(ud::Zl) | bit(ud::Zp);
constexpr uint32_t kOthers = bit(ud::Cc) | bit(ud::Cf) | bit(ud::Cs) | bit(ud::Co) | bit(ud::Cn);

// General Category names as Oniguruma accepts them in \p{..} (compared in lower case).
uint32_t category_mask(const std::string& lower_name) {
    static const std::pair<const char*, uint32_t> names[] = {
        {"l", kLetters}, {"letter", kLetters}, {"lu", bit(ud::Lu)}, {"ll", bit(ud::Ll)}, {"lt", bit(ud::Lt)},
        {"lm", bit(ud::Lm)}, {"lo", bit(ud::Lo)}, {"m", kMarks}, {"mark", kMarks}, {"mn", bit(ud::Mn)},
        {"mc", bit(ud::Mc)}, {"me", bit(ud::Me)}, {"n", kNumbers}, {"number", kNumbers}, {"nd", bit(ud::Nd)},
        {"nl", bit(ud::Nl)}, {"no", bit(ud::No)}, {"p", kPunctuation}, {"punctuation", kPunctuation},
        {"pc", bit(ud::Pc)}, {"pd", bit(ud::Pd)}, {"ps", bit(ud::Ps)}, {"pe", bit(ud::Pe)}, {"pi", bit(ud::Pi)},
        {"pf", bit(ud::Pf)}, {"po", bit(ud::Po)}, {"s", kSymbols}, {"symbol", kSymbols}, {"sm", bit(ud::Sm)},
        {"sc", bit(ud::Sc)}, {"sk", bit(ud::Sk)}, {"so", bit(ud::So)}, {"z", kSeparators}, {"separator", kSeparators},
        {"zs", bit(ud::Zs)}, {"zl", bit(ud::Zl)}, {"zp", bit(ud::Zp)}, {"c", kOthers}, {"other", kOthers},
        {"cc", bit(ud::Cc)}, {"cf", bit(ud::Cf)}, {"cs", bit(ud::Cs)}, {"co", bit(ud::Co)}, {"cn", bit(ud::Cn)},
    };
    for (const auto& [n, m] : names)
        if (lower_name == n) return m;
    return 0;
}

bool single_char_node(const Node& n) { return n.kind == Node::Kind::Char || n.kind == Node::Kind::Class; }

} // namespace

bool CharClass::matches_uncached(char32_t cp) const {
    auto plain = [&](char32_t c) {
        for (const auto& [lo, hi] : ranges)
            if (c >= lo && c <= hi) return true;
        if (categories || not_categories) {
            const uint32_t b = 1u << unicode::category(c);
            if (categories & b) return true;
            if (not_categories && !(not_categories & b)) return true;
        }
        if (space || not_space) {
            const bool ws = unicode::is_whitespace(c);
            if ((space && ws) || (not_space && !ws)) return true;
        }
        if (word || not_word) {
            const bool w = unicode::is_onig_word_char(c);
            if ((word && w) || (not_word && !w)) return true;
        }
        if (any_but_newline && c != '\n') return true;
        return false;
    };
    bool hit = plain(cp);
    if (!hit && case_insensitive) {
        // Case-insensitive sets: the folded form, and for ASCII letters the other case.
        const char32_t f = unicode::simple_fold(cp);
        hit = (f != cp && plain(f)) || (f >= 'a' && f <= 'z' && plain(f - 32));
    }
    return hit != negated;
}

void CharClass::finish() {
    ascii[0] = ascii[1] = 0;
    for (char32_t c = 0; c < 128; ++c)
        if (matches_uncached(c)) ascii[c >> 6] |= uint64_t(1) << (c & 63);
}

// --- parser --------------------------------------------------------------------------------------

class RegexParser {
public:
    RegexParser(SplitRegex& re, std::string_view pattern) : re_(re) {
        for (size_t i = 0, n = 0; i < pattern.size(); i += n) p_.push_back(unicode::decode_utf8(pattern, i, &n));
    }

    void parse() {
        re_.root_ = parse_alternation(false);
        if (pos_ < p_.size()) fail("unbalanced ')'");
    }

private:
    SplitRegex& re_;
    std::u32string p_;
    size_t pos_ = 0;

    [[noreturn]] void fail(const std::string& what) const {
        throw RegexError(what + " at offset " + std::to_string(pos_));
    }
    bool at_end() const { return pos_ >= p_.size(); }
    char32_t peek() const { return at_end() ? 0 : p_[pos_]; }
    bool eat(char32_t c) {
        if (!at_end() && p_[pos_] == c) { ++pos_; return true; }
        return false;
    }

    int add_node(Node n) {
        re_.nodes_.push_back(std::move(n));
        return int(re_.nodes_.size()) - 1;
    }
    int add_sequence(std::vector<int> seq) {
        re_.sequences_.push_back(std::move(seq));
        return int(re_.sequences_.size()) - 1;
    }
    int add_class(CharClass c) {
        c.finish();
        re_.classes_.push_back(std::move(c));
        Node n;
        n.kind = Node::Kind::Class;
        n.index = int(re_.classes_.size()) - 1;
        return add_node(n);
    }

    // Returns a sequence index.
    int parse_alternation(bool icase) {
        std::vector<int> alts{parse_sequence(icase)};
        while (eat('|')) alts.push_back(parse_sequence(icase));
        if (alts.size() == 1) return alts[0];
        Node n;
        n.kind = Node::Kind::Alternation;
        n.alternatives = std::move(alts);
        return add_sequence({add_node(std::move(n))});
    }

    int parse_sequence(bool icase) {
        std::vector<int> seq;
        while (!at_end() && peek() != '|' && peek() != ')') {
            int atom = parse_atom(icase);
            seq.push_back(parse_quantifier(atom));
        }
        return add_sequence(std::move(seq));
    }

    int parse_atom(bool icase) {
        const char32_t c = p_[pos_++];
        switch (c) {
        case '(': return parse_group(icase);
        case '[': return parse_class(icase);
        case '.': {
            CharClass cc;
            cc.any_but_newline = true;
            return add_class(std::move(cc));
        }
        case '\\': return parse_escape_atom(icase);
        case '^': case '$': --pos_; fail("anchors (^, $) are not supported");
        case '*': case '+': case '?': case '{': --pos_; fail("quantifier without anything to repeat");
        default: {
            Node n;
            n.kind = Node::Kind::Char;
            n.cp = c;
            n.case_insensitive = icase;
            return add_node(n);
        }
        }
    }

    int parse_group(bool icase) {
        Node n;
        n.kind = Node::Kind::Group;
        bool inner_icase = icase;
        if (eat('?')) {
            if (eat(':')) {
            } else if (eat('=')) {
                n.kind = Node::Kind::LookAhead;
            } else if (eat('!')) {
                n.kind = Node::Kind::NegativeLookAhead;
            } else if (peek() == 'i' || peek() == '-') {
                const bool on = !eat('-');
                if (!eat('i') || !eat(':')) fail("inline flags other than (?i:...) / (?-i:...) are not supported");
                inner_icase = on;
            } else {
                fail("group kind (?" + std::string(1, char(peek())) + " is not supported (lookbehind, atomic, named, "
                     "comment and flag groups are not)");
            }
        }
        const int seq = parse_alternation(inner_icase);
        if (!eat(')')) fail("missing ')'");
        // A plain group of one node is that node.
        if (n.kind == Node::Kind::Group && re_.sequences_[seq].size() == 1) return re_.sequences_[seq][0];
        n.index = seq;
        return add_node(n);
    }

    int parse_quantifier(int atom) {
        int min, max;
        const size_t at = pos_;
        if (eat('?')) { min = 0; max = 1; }
        else if (eat('*')) { min = 0; max = -1; }
        else if (eat('+')) { min = 1; max = -1; }
        else if (peek() == '{') {
            ++pos_;
            min = parse_number(0);
            max = min;
            if (eat(',')) max = peek() == '}' ? -1 : parse_number(-1);
            if (!eat('}')) fail("malformed {n,m} quantifier");
            if (min < 0 || (max >= 0 && max < min)) fail("malformed {n,m} quantifier");
        } else {
            return atom;
        }
        Node n;
        n.kind = Node::Kind::Repeat;
        n.min = min;
        n.max = max;
        if (eat('?')) n.greedy = false;
        else if (peek() == '+') fail("possessive quantifiers are not supported");
        const Node& child = re_.nodes_[atom];
        if (child.kind == Node::Kind::LookAhead || child.kind == Node::Kind::NegativeLookAhead) {
            pos_ = at;
            fail("a quantified lookahead is not supported");
        }
        if (!single_char_node(child) && max != 1) {
            pos_ = at;
            fail("a quantified group that can match more than one character is not supported");
        }
        n.index = atom;
        n.alternatives = {add_sequence({atom})}; // the body as a sequence, for the general case
        return add_node(std::move(n));
    }

    int parse_number(int if_missing) {
        if (at_end() || peek() < '0' || peek() > '9') return if_missing;
        long v = 0;
        while (!at_end() && peek() >= '0' && peek() <= '9') {
            v = v * 10 + long(p_[pos_++] - '0');
            if (v > 100000) fail("repeat count too large");
        }
        return int(v);
    }

    static int hex_value(char32_t c) {
        if (c >= '0' && c <= '9') return int(c - '0');
        if (c >= 'a' && c <= 'f') return int(c - 'a' + 10);
        if (c >= 'A' && c <= 'F') return int(c - 'A' + 10);
        return -1;
    }

    char32_t parse_hex(size_t digits) {
        char32_t v = 0;
        for (size_t i = 0; i < digits; ++i) {
            const int h = at_end() ? -1 : hex_value(p_[pos_]);
            if (h < 0) fail("malformed hexadecimal escape");
            v = v * 16 + char32_t(h);
            ++pos_;
        }
        return v;
    }

    // Parses the escape after '\'. Either fills *literal (returns true) or adds its set to *cc.
    bool parse_escape(CharClass* cc, char32_t* literal) {
        if (at_end()) fail("pattern ends with '\\'");
        const char32_t c = p_[pos_++];
        switch (c) {
        case 's': cc->space = true; return false;
        case 'S': cc->not_space = true; return false;
        case 'd': cc->categories |= bit(ud::Nd); return false;
        case 'D': cc->not_categories |= bit(ud::Nd); return false;
        case 'w': cc->word = true; return false;
        case 'W': cc->not_word = true; return false;
        case 'p': case 'P': {
            bool negate = c == 'P';
            std::string name, written; // lower case without separators; as written
            if (eat('{')) {
                if (eat('^')) negate = !negate;
                while (!at_end() && peek() != '}') {
                    const char32_t ch = p_[pos_++];
                    unicode::append_utf8(written, ch);
                    if (ch == ' ' || ch == '_' || ch == '-') continue;
                    name += ch < 128 ? char(std::tolower(int(ch))) : '?';
                }
                if (!eat('}')) fail("missing '}' in \\p{...}");
            } else if (!at_end()) {
                unicode::append_utf8(written, p_[pos_]);
                name = p_[pos_] < 128 ? char(std::tolower(int(p_[pos_]))) : '?';
                ++pos_;
            }
            const uint32_t mask = category_mask(name);
            if (mask == 0) fail("Unicode property \\p{" + written + "} is not supported (only General Categories)");
            (negate ? cc->not_categories : cc->categories) |= mask;
            return false;
        }
        case 'r': *literal = '\r'; return true;
        case 'n': *literal = '\n'; return true;
        case 't': *literal = '\t'; return true;
        case 'f': *literal = '\f'; return true;
        case 'v': *literal = '\v'; return true;
        case 'e': *literal = 0x1B; return true;
        case 'a': *literal = 0x07; return true;
        case 'x':
            if (eat('{')) {
                char32_t v = 0;
                int digits = 0;
                while (!at_end() && peek() != '}') {
                    const int h = hex_value(p_[pos_++]);
                    if (h < 0 || ++digits > 8) fail("malformed \\x{...} escape");
                    v = v * 16 + char32_t(h);
                }
                if (!eat('}') || digits == 0 || v > 0x10FFFF) fail("malformed \\x{...} escape");
                *literal = v;
            } else {
                *literal = parse_hex(2);
            }
            return true;
        case 'u': *literal = parse_hex(4); return true;
        default:
            if (c < 128 && std::isalnum(int(c))) {
                --pos_;
                fail(std::string("escape \\") + char(c) + " is not supported");
            }
            *literal = c;
            return true;
        }
    }

    int parse_escape_atom(bool icase) {
        CharClass cc;
        char32_t literal = 0;
        if (parse_escape(&cc, &literal)) {
            Node n;
            n.kind = Node::Kind::Char;
            n.cp = literal;
            n.case_insensitive = icase;
            return add_node(n);
        }
        cc.case_insensitive = icase;
        return add_class(std::move(cc));
    }

    int parse_class(bool icase) {
        CharClass cc;
        cc.case_insensitive = icase;
        if (eat('^')) cc.negated = true;
        bool first = true;
        for (;;) {
            if (at_end()) fail("missing ']'");
            char32_t c = p_[pos_];
            if (c == ']' && !first) {
                ++pos_;
                break;
            }
            first = false;
            if (c == '[') fail("nested character classes are not supported");
            if (c == '&' && pos_ + 1 < p_.size() && p_[pos_ + 1] == '&') fail("class intersection && is not supported");
            ++pos_;
            char32_t lo = c;
            if (c == '\\') {
                if (!parse_escape(&cc, &lo)) continue; // a set such as \p{L} or \s
            }
            char32_t hi = lo;
            if (peek() == '-' && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']') {
                ++pos_;
                hi = p_[pos_++];
                if (hi == '[') fail("nested character classes are not supported");
                if (hi == '\\') {
                    CharClass dummy;
                    if (!parse_escape(&dummy, &hi)) fail("a range cannot end in a set escape");
                }
                if (hi < lo) fail("character range out of order");
            }
            cc.ranges.emplace_back(lo, hi);
        }
        return add_class(std::move(cc));
    }
};

SplitRegex::SplitRegex(std::string_view pattern) : pattern_(pattern) {
    if (unicode::valid_utf8_prefix(pattern) != pattern.size()) throw RegexError("pattern is not valid UTF-8");
    RegexParser(*this, pattern).parse();
    for (size_t i = 0; i < sequences_.size(); ++i) first_.push_back(first_of_sequence(int(i)));
}

SplitRegex::FirstSet SplitRegex::first_of_sequence(int seq) const {
    FirstSet r;
    for (int node : sequences_[size_t(seq)]) {
        const FirstSet f = first_of_node(node);
        r.ascii[0] |= f.ascii[0];
        r.ascii[1] |= f.ascii[1];
        r.non_ascii = r.non_ascii || f.non_ascii;
        if (!f.nullable) return r;
    }
    r.nullable = true;
    return r;
}

SplitRegex::FirstSet SplitRegex::first_of_node(int index) const {
    const Node& n = nodes_[size_t(index)];
    FirstSet r;
    switch (n.kind) {
    case Node::Kind::Char: {
        auto add = [&](char32_t c) {
            if (c < 128) r.ascii[c >> 6] |= uint64_t(1) << (c & 63);
            else r.non_ascii = true;
        };
        add(n.cp);
        if (n.case_insensitive) {
            for (char32_t c = 0; c < 128; ++c)
                if (unicode::simple_fold(c) == unicode::simple_fold(n.cp)) add(c);
            r.non_ascii = true; // e.g. U+017F folds to 's'
        }
        return r;
    }
    case Node::Kind::Class: {
        const CharClass& c = classes_[size_t(n.index)];
        r.ascii[0] = c.ascii[0];
        r.ascii[1] = c.ascii[1];
        r.non_ascii = true;
        return r;
    }
    case Node::Kind::Group: return first_of_sequence(n.index);
    case Node::Kind::Alternation:
        for (int a : n.alternatives) {
            const FirstSet f = first_of_sequence(a);
            r.ascii[0] |= f.ascii[0];
            r.ascii[1] |= f.ascii[1];
            r.non_ascii = r.non_ascii || f.non_ascii;
            r.nullable = r.nullable || f.nullable;
        }
        return r;
    case Node::Kind::Repeat:
        r = first_of_node(n.index);
        r.nullable = r.nullable || n.min == 0;
        return r;
    case Node::Kind::LookAhead:
    case Node::Kind::NegativeLookAhead:
        r.nullable = true; // consumes nothing; what follows decides the first character
        return r;
    }
    return r;
}

SplitRegex SplitRegex::literal(std::string_view text) {
    if (text.empty()) throw RegexError("empty literal pattern");
    SplitRegex r;
    r.pattern_ = std::string(text);
    r.literal_ = std::string(text);
    return r;
}

// --- matcher -------------------------------------------------------------------------------------

namespace {
// A continuation: what remains to match after the current node (the rest of a sequence, then
// whatever follows the enclosing group). Lives on the C++ stack of the matcher.
struct Cont {
    const std::vector<int>* seq;
    size_t index;
    const Cont* next;
};
} // namespace

class RegexMatcher {
public:
    RegexMatcher(const SplitRegex& re, std::string_view text) : re_(re), t_(text) {}

    bool match_at(size_t pos, size_t* end) {
        Cont top{&re_.sequences_[size_t(re_.root_)], 0, nullptr};
        if (!run(&top, pos)) return false;
        *end = end_;
        return true;
    }

private:
    const SplitRegex& re_;
    std::string_view t_;
    size_t end_ = 0;

    bool single_matches(const Node& n, char32_t c) const {
        if (n.kind == Node::Kind::Class) return re_.classes_[size_t(n.index)].matches(c);
        if (n.case_insensitive) return unicode::simple_fold(c) == unicode::simple_fold(n.cp);
        return c == n.cp;
    }

    bool run(const Cont* k, size_t pos) {
        while (k && k->index >= k->seq->size()) k = k->next;
        if (!k) {
            end_ = pos;
            return true;
        }
        const Node& n = re_.nodes_[size_t((*k->seq)[k->index])];
        const Cont after{k->seq, k->index + 1, k->next};
        switch (n.kind) {
        case Node::Kind::Char:
        case Node::Kind::Class: {
            if (pos >= t_.size()) return false;
            size_t len;
            const char32_t c = unicode::decode_utf8(t_, pos, &len);
            return single_matches(n, c) && run(&after, pos + len);
        }
        case Node::Kind::Group: {
            const Cont inner{&re_.sequences_[size_t(n.index)], 0, &after};
            return run(&inner, pos);
        }
        case Node::Kind::Alternation: {
            size_t len;
            const char32_t c = pos < t_.size() ? unicode::decode_utf8(t_, pos, &len) : 0;
            for (int a : n.alternatives) {
                const SplitRegex::FirstSet& f = re_.first_[size_t(a)];
                if (pos < t_.size() ? !f.may_start(c) : !f.nullable) continue;
                const Cont inner{&re_.sequences_[size_t(a)], 0, &after};
                if (run(&inner, pos)) return true;
            }
            return false;
        }
        case Node::Kind::LookAhead:
        case Node::Kind::NegativeLookAhead: {
            // Lookarounds are atomic: decided once, never re-entered on backtracking.
            const Cont inner{&re_.sequences_[size_t(n.index)], 0, nullptr};
            const size_t saved = end_;
            const bool found = run(&inner, pos);
            end_ = saved;
            if (found != (n.kind == Node::Kind::LookAhead)) return false;
            return run(&after, pos);
        }
        case Node::Kind::Repeat: return run_repeat(n, after, pos);
        }
        return false;
    }

    bool run_repeat(const Node& n, const Cont& after, size_t pos) {
        const Node& child = re_.nodes_[size_t(n.index)];
        if (!single_char_node(child)) {
            // An optional group (max == 1, checked by the parser).
            const Cont body{&re_.sequences_[size_t(n.alternatives[0])], 0, &after};
            if (n.greedy) {
                if (run(&body, pos)) return true;
                return n.min == 0 && run(&after, pos);
            }
            if (n.min == 0 && run(&after, pos)) return true;
            return run(&body, pos);
        }
        const auto one = [&](size_t p, size_t* len) {
            if (p >= t_.size()) return false;
            return single_matches(child, unicode::decode_utf8(t_, p, len));
        };
        size_t p = pos, len = 0;
        int count = 0;
        if (n.greedy) {
            while ((n.max < 0 || count < n.max) && one(p, &len)) {
                p += len;
                ++count;
            }
            if (count < n.min) return false;
            for (;;) {
                if (run(&after, p)) return true;
                if (count == n.min) return false;
                do { --p; } while ((static_cast<unsigned char>(t_[p]) & 0xC0) == 0x80); // back one code point
                --count;
            }
        }
        for (; count < n.min; ++count) {
            if (!one(p, &len)) return false;
            p += len;
        }
        for (;;) {
            if (run(&after, p)) return true;
            if ((n.max >= 0 && count >= n.max) || !one(p, &len)) return false;
            p += len;
            ++count;
        }
    }
};

bool SplitRegex::find(std::string_view text, size_t from, size_t* start, size_t* end) const {
    if (!literal_.empty()) {
        const size_t at = text.find(literal_, from);
        if (at == std::string_view::npos) return false;
        *start = at;
        *end = at + literal_.size();
        return true;
    }
    RegexMatcher m(*this, text);
    for (size_t pos = from;;) {
        if (m.match_at(pos, end)) {
            *start = pos;
            return true;
        }
        if (pos >= text.size()) return false;
        pos += unicode::utf8_length(static_cast<unsigned char>(text[pos]));
    }
}

void SplitRegex::for_each_match(std::string_view text, const std::function<void(size_t, size_t)>& on_match) const {
    size_t pos = 0, s = 0, e = 0;
    bool have_last = false;
    size_t last_end = 0;
    while (pos <= text.size() && find(text, pos, &s, &e)) {
        if (s == e && have_last && e == last_end) {
            // An empty match right after the previous match is skipped, as Oniguruma's iterator does.
            if (s >= text.size()) break;
            pos = s + unicode::utf8_length(static_cast<unsigned char>(text[s]));
            continue;
        }
        on_match(s, e);
        have_last = true;
        last_end = e;
        if (e > s) {
            pos = e;
        } else {
            if (e >= text.size()) break;
            pos = e + unicode::utf8_length(static_cast<unsigned char>(text[e]));
        }
    }
}

std::vector<std::pair<size_t, size_t>> SplitRegex::find_all(std::string_view text) const {
    std::vector<std::pair<size_t, size_t>> out;
    for_each_match(text, [&](size_t s, size_t e) { out.emplace_back(s, e); });
    return out;
}

} // namespace statescope
