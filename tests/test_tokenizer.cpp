// Tokenizers: every case of ../shared/reference/tokenizers/encodings.json (ids from the Rust
// `tokenizers` library, with and without special tokens, and its decode) for the Llama-3 and
// Mistral-7B files; round trips on random Unicode; the Unicode regex classes and normalization
// forms; the features the two reference files do not use (Metaspace, added-token flags,
// tokenizer_config.json) on small generated files; and refusal of what is not implemented.
#include "statescope/error.h"
#include "core/json.h"
#include "test_support.h"
#include "tokenizer/split_regex.h"
#include "statescope/tokenizer.h"
#include "tokenizer/unicode.h"

#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <filesystem>
#include <fstream>
#include <random>

using namespace statescope;
namespace fs = std::filesystem;

namespace {

std::string tokenizers_dir() { return testsupport::reference_dir() + "/tokenizers"; }

void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary);
    f.write(bytes.data(), std::streamsize(bytes.size()));
}

std::vector<int32_t> ids_of(const Json& j) {
    std::vector<int32_t> out;
    for (const Json& x : j.items()) out.push_back(int32_t(x.as_int()));
    return out;
}

QString show(const std::vector<int32_t>& ids) {
    QStringList l;
    for (int32_t i : ids) l << QString::number(i);
    return "[" + l.join(' ') + "]";
}

// Expects `fn` to throw statescope::Error whose message contains every needle.
template <typename Fn>
void expect_error(Fn fn, std::initializer_list<std::string> needles) {
    try {
        fn();
    } catch (const Error& e) {
        const std::string msg = e.what();
        for (const std::string& n : needles)
            QVERIFY2(msg.find(n) != std::string::npos,
                     qPrintable(QString("message \"%1\" lacks \"%2\"").arg(msg.c_str(), n.c_str())));
        return;
    }
    QFAIL("expected statescope::Error");
}

// The matches of a pattern, as strings.
std::vector<std::string> split_all(const char* pattern, const std::string& text) {
    SplitRegex re(pattern);
    std::vector<std::string> out;
    for (auto [a, b] : re.find_all(text)) out.push_back(text.substr(a, b - a));
    return out;
}

const char* kLlama3Pattern = R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* kGpt2Pattern = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

// A random valid UTF-8 string mixing ASCII, whitespace of all kinds, Latin, combining marks, CJK,
// emoji with joiners, and code points drawn from the whole range.
std::string random_text(std::mt19937& rng, bool allow_metaspace) {
    static const char32_t pool[] = {' ', ' ', '\n', '\t', '\r', 'a', 'Z', '7', '\'', 's', '!', '.', 0x00A0, 0x0085, 0x2028,
                                    0x3000, 0x200B, 0x200D, 0xFEFF, 0x00E9, 0x0301, 0x0308, 0x4E2D, 0x6587, 0xAC00,
                                    0x05D0, 0x0627, 0x0939, 0x1F600, 0x1F3FD, 0x1F468, 0x1D518, 0x2211, 0xFFFD, 0x0000};
    std::uniform_int_distribution<int> len(0, 40), pick(0, int(std::size(pool)) - 1), coin(0, 9);
    std::uniform_int_distribution<uint32_t> any(0, 0x10FFFF), ascii(0x20, 0x7E);
    std::string s;
    const int n = len(rng);
    for (int i = 0; i < n; ++i) {
        char32_t c;
        const int k = coin(rng);
        if (k < 4) c = ascii(rng);
        else if (k < 8) c = pool[pick(rng)];
        else do { c = any(rng); } while (c >= 0xD800 && c <= 0xDFFF);
        if (!allow_metaspace && c == 0x2581) c = 'x';
        unicode::append_utf8(s, c);
    }
    return s;
}

} // namespace

class TestTokenizer : public QObject {
    Q_OBJECT
    QTemporaryDir tmp_;
    std::unique_ptr<Tokenizer> llama3_, mistral_;

    std::string path(const std::string& name) const { return (fs::path(tmp_.path().toStdString()) / name).string(); }

    // Writes a tokenizer.json built from a BPE model section plus the given top-level members.
    std::string write_tokenizer(const std::string& name, const std::string& model, const std::string& rest) {
        const std::string p = path(name);
        write_file(p, "{\"version\": \"1.0\", \"model\": " + model + (rest.empty() ? "" : ", " + rest) + "}");
        return p;
    }

private slots:
    void initTestCase() {
        QVERIFY(tmp_.isValid());
        fs::create_directory(path("rwkv_only"));
        llama3_ = Tokenizer::load(tokenizers_dir() + "/llama-3.tokenizer.json");
        mistral_ = Tokenizer::load(tokenizers_dir() + "/mistral-7b.tokenizer.json");
    }

    // --- the reference encodings -----------------------------------------------------------------

    void reference_encodings() {
        const Json ref = Json::parse(read_text_file(tokenizers_dir() + "/encodings.json"), "encodings.json");
        const Json* cases = ref.find("cases");
        QVERIFY(cases && cases->is_object());
        const std::pair<const char*, Tokenizer*> files[] = {{"llama3", llama3_.get()}, {"llama2", mistral_.get()}};
        int checked = 0;
        for (const auto& [name, tok] : files) {
            const Json* list = cases->find(name);
            QVERIFY2(list && list->size() == 51, name);
            for (const Json& c : list->items()) {
                const std::string text = c.find("text")->as_string();
                const std::vector<int32_t> ids = ids_of(*c.find("ids"));
                const std::vector<int32_t> with_special = ids_of(*c.find("ids_with_special"));
                const QString where = QString("%1 %2").arg(name, QString::fromStdString(text));
                const std::vector<int32_t> got = tok->encode(text, false);
                QVERIFY2(got == ids, qPrintable(where + ": " + show(got) + " != " + show(ids)));
                const std::vector<int32_t> got_special = tok->encode(text, true);
                QVERIFY2(got_special == with_special, qPrintable(where + " (special): " + show(got_special) + " != " + show(with_special)));
                const std::string decoded = tok->decode(ids);
                QVERIFY2(decoded == c.find("decoded")->as_string(), qPrintable(where + ": decoded as " + QString::fromStdString(decoded)));
                checked += 3;
            }
        }
        QCOMPARE(checked, 2 * 51 * 3);
    }

    void gpt2_style_byte_level_with_nfc() {
        // GPT-2 / GPT-NeoX (Mamba) files use the ByteLevel pre-tokenizer's own regex and an NFC
        // normalizer. Built on the Llama-3 vocabulary: wherever the two patterns split a text the
        // same way, the ids must be the reference ones.
        std::string json = read_text_file(tokenizers_dir() + "/llama-3.tokenizer.json");
        const size_t a = json.find("\"normalizer\": null,"), b = json.find("\"post_processor\"");
        QVERIFY(a != std::string::npos && b != std::string::npos && a < b);
        auto variant = [&](const char* name, bool prefix_space) {
            std::string j = json;
            j.replace(a, b - a, std::string(R"("normalizer": {"type": "NFC"}, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": )") +
                                    (prefix_space ? "true" : "false") + R"(, "trim_offsets": true, "use_regex": true}, )");
            write_file(path(name), j);
            return Tokenizer::load(path(name));
        };
        auto gpt2 = variant("gpt2style.json", false);
        const Json ref = Json::parse(read_text_file(tokenizers_dir() + "/encodings.json"), "encodings.json");
        int checked = 0;
        for (const Json& c : ref.find("cases")->find("llama3")->items()) {
            const std::string text = c.find("text")->as_string();
            if (unicode::normalize(text, unicode::NormalForm::NFC) != text) continue;
            if (split_all(kGpt2Pattern, text) != split_all(kLlama3Pattern, text)) continue;
            QVERIFY2(gpt2->encode(text, false) == ids_of(*c.find("ids")), text.c_str());
            ++checked;
        }
        QVERIFY2(checked >= 25, qPrintable(QString::number(checked)));
        // NFC composes before splitting: a decomposed e + U+0301 reads as the precomposed letter.
        QCOMPARE(gpt2->encode("combining e\u0301 and a\u0308", false), llama3_->encode("combining \u00E9 and \u00E4", false));
        QVERIFY(llama3_->encode("e\u0301", false) != llama3_->encode("\u00E9", false));
        // add_prefix_space puts a space before text that does not start with one.
        auto spaced = variant("gpt2spaced.json", true);
        QCOMPARE(spaced->encode("Hello world", false), (std::vector<int32_t>{22691, 1917}));
        QCOMPARE(spaced->encode(" Hello world", false), (std::vector<int32_t>{22691, 1917}));
    }

    void bos_and_eos_from_the_configs() {
        QCOMPARE(mistral_->bos_id().value_or(-1), 1);
        QCOMPARE(mistral_->eos_id().value_or(-1), 2);
        QCOMPARE(llama3_->bos_id().value_or(-1), 128000);
        QCOMPARE(llama3_->eos_id().value_or(-1), 128001);
        QCOMPARE(llama3_->vocab_size(), 128256);
        QCOMPARE(mistral_->vocab_size(), 32000);
    }

    void skip_special_tokens_on_decode() {
        const std::vector<int32_t> ids = mistral_->encode("<s> not special </s>", true);
        QCOMPARE(mistral_->decode(ids, true), std::string(" not special "));
        const std::vector<int32_t> l3 = {128000, 9906, 1917, 128001};
        QCOMPARE(llama3_->decode(l3, true), std::string("Hello world"));
        QCOMPARE(llama3_->decode(l3, false), std::string("<|begin_of_text|>Hello world<|end_of_text|>"));
    }

    void unknown_ids_are_refused_on_decode() {
        const std::vector<int32_t> ids = {9906, 128256};
        expect_error([&] { llama3_->decode(ids); }, {"128256", "llama-3.tokenizer.json"});
    }

    // --- round trips on random text --------------------------------------------------------------

    void byte_level_round_trip_random_unicode() {
        std::mt19937 rng(1234);
        for (int i = 0; i < 400; ++i) {
            const std::string s = random_text(rng, true);
            const std::string back = llama3_->decode(llama3_->encode(s, false));
            QVERIFY2(back == s, qPrintable(QString("round trip changed %1").arg(QString::fromStdString(s).toHtmlEscaped())));
        }
    }

    void sentencepiece_round_trip_random_unicode() {
        // Byte fallback covers characters outside the vocabulary; U+2581 itself reads back as a space.
        std::mt19937 rng(99);
        for (int i = 0; i < 400; ++i) {
            const std::string s = random_text(rng, false);
            const std::string back = mistral_->decode(mistral_->encode(s, false));
            QVERIFY2(back == s, qPrintable(QString("round trip changed %1").arg(QString::fromStdString(s).toHtmlEscaped())));
        }
    }

    void long_text_equals_its_lines() {
        // A long SentencePiece-style text is one BPE word; it is merged piecewise at word starts.
        // Lines joined by "\n" must tokenize as the lines do, with "\n" (byte token 13) between
        // them: no merge involves that byte token.
        const Json ref = Json::parse(read_text_file(tokenizers_dir() + "/encodings.json"), "encodings.json");
        std::vector<std::pair<std::string, std::vector<int32_t>>> lines;
        for (const Json& c : ref.find("cases")->find("llama2")->items()) {
            const std::string t = c.find("text")->as_string();
            if (!t.empty() && t.find_first_of("\n\r<") == std::string::npos) lines.emplace_back(t, ids_of(*c.find("ids")));
        }
        std::string text;
        std::vector<int32_t> expected;
        for (int pass = 0; pass < 4; ++pass) {
            for (const auto& [line, ids] : lines) {
                if (text.empty()) {
                    expected = ids; // the reference ids, with the U+2581 the normalizer prepends
                } else {
                    // After "\n" a line has no prepended U+2581: take its ids from "x\n" + line.
                    std::vector<int32_t> inner = mistral_->encode("x\n" + line, false);
                    QCOMPARE(inner[1], 13);
                    expected.insert(expected.end(), inner.begin() + 1, inner.end());
                    text += "\n";
                }
                text += line;
            }
        }
        QVERIFY(text.size() > 2000);
        QCOMPARE(mistral_->encode(text, false), expected);
    }

    // --- invalid UTF-8 ---------------------------------------------------------------------------

    void invalid_utf8_reads_as_replacement_characters() {
        // One U+FFFD per maximal ill-formed subpart: "\xE2\x82" is one, "\xFF" one, "\xC0\xAF" two.
        QCOMPARE(unicode::repair_utf8("a\xE2\x82" "b\xFF" "c\xC0\xAF"), std::string("a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD"));
        QCOMPARE(unicode::repair_utf8("\xED\xA0\x80"), std::string("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD")); // a surrogate
        QCOMPARE(unicode::repair_utf8("\xF0\x9F\x98"), std::string("\xEF\xBF\xBD"));
        QCOMPARE(llama3_->encode("x\xFFy", false), llama3_->encode("x\xEF\xBF\xBDy", false));
        QCOMPARE(mistral_->encode("\xF0\x9F\x98!", false), mistral_->encode("\xEF\xBF\xBD!", false));
    }

    // --- Unicode pieces --------------------------------------------------------------------------

    void regex_classes_are_unicode() {
        using V = std::vector<std::string>;
        // Ideographic spaces are \s, so "\s+(?!\S)" leaves the last one to the word.
        QCOMPARE(split_all(kLlama3Pattern, "a\u3000\u3000b"), (V{"a", "\u3000", "\u3000b"}));
        // U+200B is not whitespace (format character): it is the optional prefix of the word.
        QCOMPARE(split_all(kLlama3Pattern, "a\u200Bb"), (V{"a", "\u200Bb"}));
        // NEL, NBSP and LINE SEPARATOR are whitespace.
        QCOMPARE(split_all(kGpt2Pattern, "x\u0085\u00A0\u2028y"), (V{"x", "\u0085\u00A0", "\u2028", "y"}));
        // Letters and numbers beyond ASCII; numbers in groups of at most three.
        QCOMPARE(split_all(kLlama3Pattern, "\u00FCber\u0663\u0664 \u216B1234567"),
                 (V{"\u00FCber", "\u0663\u0664", " ", "\u216B12", "345", "67"}));
        // Case-insensitive contractions, with Unicode folding (U+017F LONG S folds to s).
        QCOMPARE(split_all(kLlama3Pattern, "DON'T it'S x'\u017F"), (V{"DON", "'T", " it", "'S", " x", "'\u017F"}));
        QCOMPARE(split_all(kGpt2Pattern, "DON'T it's"), (V{"DON", "'", "T", " it", "'s"}));
        QCOMPARE(split_all(kGpt2Pattern, "Hello   world!!"), (V{"Hello", "  ", " world", "!!"}));
        QCOMPARE(split_all(kLlama3Pattern, "a.\r\n\n  b"), (V{"a", ".\r\n\n", " ", " b"}));
        // Emoji are neither letters nor numbers; a modifier and joiner stay in the same run.
        QCOMPARE(split_all(kLlama3Pattern, "ok \U0001F44D\U0001F3FD\u200D!"), (V{"ok", " \U0001F44D\U0001F3FD\u200D!"}));
    }

    void regex_refuses_what_it_does_not_implement() {
        for (const char* p : {"(?<=a)b", "(a)\\1", "\\p{Han}+", "^a", "a$", "(ab)+", "a++", "(?>ab)", "[[:alpha:]]", "\\bx", "(?i)a"}) {
            bool refused = false;
            try {
                SplitRegex re(p);
            } catch (const RegexError&) {
                refused = true;
            }
            QVERIFY2(refused, p);
        }
    }

    void category_tables() {
        QCOMPARE(QString(unicode::unicode_version()), QString("14.0.0"));
        QVERIFY(unicode::is_letter(U'\u00E9') && unicode::is_letter(U'\u4E2D') && unicode::is_letter(U'\U0001D518'));
        QVERIFY(!unicode::is_letter(U'\u0301') && !unicode::is_letter('1') && !unicode::is_letter(U'\U0001F600'));
        QVERIFY(unicode::is_number(U'\u0663') && unicode::is_number(U'\u216B') && unicode::is_number(U'\u00BD'));
        QVERIFY(unicode::is_whitespace(U'\u3000') && unicode::is_whitespace(U'\u0085') && unicode::is_whitespace(U'\u2029'));
        QVERIFY(!unicode::is_whitespace(U'\u200B') && !unicode::is_whitespace(U'\uFEFF') && !unicode::is_whitespace(0x1C));
        QCOMPARE(uint32_t(unicode::simple_fold(U'\u212A')), uint32_t('k')); // KELVIN SIGN
        QCOMPARE(uint32_t(unicode::simple_fold(U'\u0391')), uint32_t(U'\u03B1'));
    }

    void normalization_forms() {
        using unicode::NormalForm;
        QCOMPARE(unicode::normalize("e\u0301", NormalForm::NFC), std::string("\u00E9"));
        QCOMPARE(unicode::normalize("\u00E9", NormalForm::NFD), std::string("e\u0301"));
        // Canonical reordering (dot below, class 220, before circumflex, class 230), then composition.
        QCOMPARE(unicode::normalize("a\u0302\u0323", NormalForm::NFC), std::string("\u1EAD"));
        QCOMPARE(unicode::normalize("a\u0302\u0323", NormalForm::NFD), std::string("a\u0323\u0302"));
        QCOMPARE(unicode::normalize("\u1E0B\u0323", NormalForm::NFC), std::string("\u1E0D\u0307"));
        // Hangul is algorithmic; ANGSTROM SIGN is a singleton; the fi ligature is compatibility only.
        QCOMPARE(unicode::normalize("\uD55C", NormalForm::NFD), std::string("\u1112\u1161\u11AB"));
        QCOMPARE(unicode::normalize("\u1100\u1161\u11A8", NormalForm::NFC), std::string("\uAC01"));
        QCOMPARE(unicode::normalize("\u212B", NormalForm::NFC), std::string("\u00C5"));
        QCOMPARE(unicode::normalize("\uFB01", NormalForm::NFC), std::string("\uFB01"));
        QCOMPARE(unicode::normalize("\uFB01", NormalForm::NFKC), std::string("fi"));
        // Composition exclusions stay decomposed.
        QCOMPARE(unicode::normalize("\u0344", NormalForm::NFC), std::string("\u0308\u0301"));
        QCOMPARE(unicode::lowercase("\u0130A\u03A3"), std::string("i\u0307a\u03C3"));
    }

    // --- features the reference files do not use -------------------------------------------------

    void metaspace_first_and_byte_fallback() {
        // Llama-2 style: Metaspace pre-tokenizer (prepend only at the start of the input), byte
        // fallback for characters outside the vocabulary.
        std::string vocab = R"("<unk>": 0, "<s>": 1, "</s>": 2)";
        for (int b = 0; b < 256; ++b) {
            char name[16];
            std::snprintf(name, sizeof name, "<0x%02X>", b);
            vocab += std::string(", \"") + name + "\": " + std::to_string(3 + b);
        }
        vocab += R"(, "\u2581": 259, "a": 260, "b": 261, "\u2581a": 262, "ab": 263, "\u2581ab": 264)";
        const std::string model = R"({"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "byte_fallback": true, "vocab": {)" +
                                  vocab + R"(}, "merges": ["\u2581 a", "a b", "\u2581a b"]})";
        const std::string rest = R"(
            "added_tokens": [
              {"id": 0, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
              {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
              {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
            "normalizer": null,
            "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "first", "split": false},
            "post_processor": {"type": "TemplateProcessing",
              "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
              "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
            "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
              {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})";
        auto tok = Tokenizer::load(write_tokenizer("metaspace.json", model, rest));
        using V = std::vector<int32_t>;
        QCOMPARE(tok->encode("ab", false), (V{264}));        // "\u2581ab"
        QCOMPARE(tok->encode("ab", true), (V{1, 264}));
        QCOMPARE(tok->encode("ba", false), (V{259, 261, 260}));
        QCOMPARE(tok->encode("a\u20AC", false), (V{262, 3 + 0xE2, 3 + 0x82, 3 + 0xAC})); // the euro sign as bytes
        QCOMPARE(tok->decode(V{262, 3 + 0xE2, 3 + 0x82, 3 + 0xAC}), std::string("a\u20AC"));
        QCOMPARE(tok->decode(V{262, 3 + 0xE2, 3 + 0x82}), std::string("a\uFFFD\uFFFD")); // an incomplete sequence
        // "first": the text after an added token is not at the start of the input, so no prefix.
        QCOMPARE(tok->encode("<s>ab", false), (V{1, 263}));
        QCOMPARE(tok->encode("a b", false), (V{262, 259, 261}));
    }

    void added_token_flags() {
        // Character-level BPE (no merges) with a Lowercase normalizer and added tokens using
        // lstrip, rstrip, single_word and normalized.
        const std::string model = R"({"type": "BPE", "vocab": {" ": 0, "a": 1, "b": 2, "x": 3, "w": 4, "d": 5}, "merges": []})";
        const std::string rest = R"(
            "added_tokens": [
              {"id": 10, "content": "<L>", "single_word": false, "lstrip": true, "rstrip": false, "normalized": false, "special": true},
              {"id": 11, "content": "<R>", "single_word": false, "lstrip": false, "rstrip": true, "normalized": false, "special": true},
              {"id": 12, "content": "wd", "single_word": true, "lstrip": false, "rstrip": false, "normalized": false, "special": false},
              {"id": 13, "content": "AB", "single_word": false, "lstrip": false, "rstrip": false, "normalized": true, "special": false}],
            "normalizer": {"type": "Lowercase"})";
        auto tok = Tokenizer::load(write_tokenizer("flags.json", model, rest));
        using V = std::vector<int32_t>;
        QCOMPARE(tok->encode("a  <L>b", false), (V{1, 10, 2}));     // lstrip takes the spaces before
        QCOMPARE(tok->encode("a<R>  b", false), (V{1, 11, 2}));     // rstrip takes the spaces after
        QCOMPARE(tok->encode("awd b", false), (V{1, 4, 5, 0, 2}));  // single_word: inside a word, not a match
        QCOMPARE(tok->encode("a wd b", false), (V{1, 0, 12, 0, 2}));
        QCOMPARE(tok->encode("xAB", false), (V{3, 13}));            // matched after normalization ("ab")
        QCOMPARE(tok->encode("XaB", false), (V{3, 13}));
        QCOMPARE(tok->decode(V{1, 13}), std::string("a ab"));      // no decoder: tokens joined by spaces
    }

    void tokenizer_config_add_bos_and_eos() {
        const std::string json = tokenizers_dir() + "/mistral-7b.tokenizer.json";
        write_file(path("both.json"), R"({"add_bos_token": true, "add_eos_token": true, "bos_token": "<s>",
                                          "eos_token": {"content": "</s>", "special": true}})");
        write_file(path("none.json"), R"({"add_bos_token": false, "bos_token": "<s>", "eos_token": "</s>"})");
        using V = std::vector<int32_t>;
        QCOMPARE(Tokenizer::load(json, path("both.json"))->encode("Hello world", true), (V{1, 22557, 1526, 2}));
        QCOMPARE(Tokenizer::load(json, path("none.json"))->encode("Hello world", true), (V{22557, 1526}));
        QCOMPARE(Tokenizer::load(json, path("both.json"))->encode("Hello world", false), (V{22557, 1526}));
        write_file(path("nobos.json"), R"({"add_bos_token": true, "bos_token": "<nope>"})");
        expect_error([&] { Tokenizer::load(json, path("nobos.json")); }, {"nobos.json", "<nope>"});
    }

    // --- RWKV world vocabulary -------------------------------------------------------------------

    void rwkv_world_greedy_longest_match() {
        // The layout of rwkv_vocab_v20230424.txt: ids 1..256 are the single bytes (str literals up to
        // 0x7F, bytes literals above), then longer tokens as str or bytes literals.
        std::string vocab;
        for (int b = 0; b < 256; ++b) {
            char lit[16];
            if (b < 0x80) std::snprintf(lit, sizeof lit, b == '\'' ? "\"'\"" : b == '\\' ? "'\\\\'" : b >= 0x20 && b < 0x7F ? "'%c'" : "'\\x%02x'", b);
            else std::snprintf(lit, sizeof lit, "b'\\x%02x'", b);
            vocab += std::to_string(b + 1) + " " + lit + " 1\n";
        }
        vocab += "257 'ab' 2\n258 'abc' 3\n259 '\\n\\n' 2\n260 '\u00e9' 2\n261 \"it's\" 4\n262 b'\\xe4\\xb8' 2\n263 '\\u4e2d' 3\n264 ' a' 2\n";
        write_file(path("rwkv_vocab_test.txt"), vocab);
        auto tok = Tokenizer::load(path("rwkv_vocab_test.txt"));
        using V = std::vector<int32_t>;
        QCOMPARE(tok->encode("abcd", false), (V{258, 'd' + 1}));
        QCOMPARE(tok->encode("ab\n\nab a", false), (V{257, 259, 257, 264}));
        QCOMPARE(tok->encode("it's \u00e9", false), (V{261, ' ' + 1, 260}));
        QCOMPARE(tok->encode("\u4e2d\u4e01", false), (V{263, 262, 0x81 + 1}));  // U+4E01 is e4 b8 81
        QCOMPARE(tok->decode(V{262, 0x81 + 1}), std::string("\u4e01"));
        QCOMPARE(tok->decode(V{262}), std::string("\uFFFD"));                      // ends inside a character
        QCOMPARE(tok->decode(V{0, 257}), std::string("<|endoftext|>ab"));
        QCOMPARE(tok->decode(V{0, 257}, true), std::string("ab"));
        QCOMPARE(tok->eos_id().value_or(-1), 0);
        QCOMPARE(tok->vocab_size(), 265);
        std::mt19937 rng(7);
        for (int i = 0; i < 200; ++i) {
            const std::string s = random_text(rng, true);
            QCOMPARE(tok->decode(tok->encode(s, false)), s);
        }
        // A folder holding the vocabulary loads it too.
        write_file(path("rwkv_only/rwkv_vocab_v20230424.txt"), vocab);
        QCOMPARE(Tokenizer::load(path("rwkv_only"))->encode("ab", false), (V{257}));

        write_file(path("rwkv_bad_len.txt"), "1 'ab' 3\n");
        expect_error([&] { Tokenizer::load(path("rwkv_bad_len.txt")); }, {"rwkv_bad_len.txt", "line 1", "2 bytes"});
        write_file(path("rwkv_bad_lit.txt"), "1 'a' 1\n2 ab 2\n");
        expect_error([&] { Tokenizer::load(path("rwkv_bad_lit.txt")); }, {"rwkv_bad_lit.txt", "line 2", "literal"});
        write_file(path("rwkv_gap.txt"), "1 'a' 1\n");
        expect_error([&] { Tokenizer::load(path("rwkv_gap.txt"))->encode("ab", false); }, {"rwkv_gap.txt", "0x62"});
    }

    // --- the command line ------------------------------------------------------------------------

    void cli_tokenize_and_decode() {
        const QString l3 = QString::fromStdString(tokenizers_dir() + "/llama-3.tokenizer.json");
        const QString m7 = QString::fromStdString(tokenizers_dir() + "/mistral-7b.tokenizer.json");
        auto run = [](const QStringList& args, const QByteArray& input, QByteArray* err = nullptr) {
            QProcess p;
            p.start(STATESCOPE_CLI, QStringList{"tokenize"} + args);
            p.write(input);
            p.closeWriteChannel();
            if (!p.waitForFinished(120000)) return QByteArray("timeout");
            if (err) *err = p.readAllStandardError();
            return p.exitCode() == 0 ? p.readAllStandardOutput() : QByteArray("exit ") + QByteArray::number(p.exitCode());
        };
        QCOMPARE(run({"--tokenizer", l3, "Hello world"}, {}), QByteArray("9906 1917\n"));
        QCOMPARE(run({"--tokenizer", m7, "--special", "Hello world"}, {}), QByteArray("1 22557 1526\n"));
        QCOMPARE(run({"--tokenizer", l3, "--decode", "128000,9906, 1917"}, {}), QByteArray("<|begin_of_text|>Hello world\n"));
        // Standard input takes any bytes; ill-formed UTF-8 reads as U+FFFD, with a note.
        QByteArray err;
        std::string expected;
        for (int32_t id : llama3_->encode("x\xEF\xBF\xBDy\n", false)) {
            if (!expected.empty()) expected += ' ';
            expected += std::to_string(id);
        }
        QCOMPARE(run({"--tokenizer", l3, "--file", "-"}, QByteArray("x\xFFy\n"), &err), QByteArray::fromStdString(expected + "\n"));
        QVERIFY2(err.contains("not valid UTF-8"), err.constData());
        QCOMPARE(run({"--tokenizer", l3, "--file", "-"}, QByteArray()), QByteArray("\n"));
        // Errors name the cause and exit with 1.
        QCOMPARE(run({"--tokenizer", l3, "--decode", "999999"}, {}, &err), QByteArray("exit 1"));
        QVERIFY2(err.contains("999999"), err.constData());
        QCOMPARE(run({"--tokenizer", QString::fromStdString(path("nope.json")), "x"}, {}, &err), QByteArray("exit 1"));
        QVERIFY2(err.contains("nope.json"), err.constData());
    }

    // --- refusals --------------------------------------------------------------------------------

    void refuses_unsupported_features() {
        const std::string bpe = R"({"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]})";
        struct Case {
            const char* name;
            std::string model, rest;
            std::vector<std::string> needles;
        };
        const std::vector<Case> cases = {
            {"wordpiece.json", R"({"type": "WordPiece", "vocab": {"a": 0}, "unk_token": "a"})", "", {"model", "WordPiece", "BPE"}},
            {"unigram.json", R"({"type": "Unigram", "vocab": [["a", 0.0]]})", "", {"Unigram"}},
            {"bert_norm.json", bpe, R"("normalizer": {"type": "BertNormalizer", "lowercase": true})", {"normalizer", "BertNormalizer"}},
            {"precompiled.json", bpe, R"("normalizer": {"type": "Sequence", "normalizers": [{"type": "Precompiled", "precompiled_charsmap": "AA"}]})",
             {"normalizer.normalizers[0]", "Precompiled"}},
            {"whitespace.json", bpe, R"("pre_tokenizer": {"type": "Whitespace"})", {"pre_tokenizer", "Whitespace"}},
            {"lookbehind.json", bpe,
             R"("pre_tokenizer": {"type": "Sequence", "pretokenizers": [{"type": "Split", "pattern": {"Regex": "(?<=a)b"}, "behavior": "Isolated", "invert": false}]})",
             {"pre_tokenizer.pretokenizers[0].pattern.Regex", "(?<=a)b", "not supported"}},
            {"script.json", bpe, R"("pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\p{Han}+"}, "behavior": "Isolated", "invert": false})",
             {"\\p{Han}"}},
            {"behavior.json", bpe, R"("pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways", "invert": false})",
             {"Sideways"}},
            {"wp_decoder.json", bpe, R"("decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true})", {"decoder", "WordPiece"}},
            {"ctc.json", bpe, R"("decoder": {"type": "CTC"})", {"CTC"}},
            {"processor.json", bpe, R"("post_processor": {"type": "Mystery"})", {"post_processor", "Mystery"}},
            {"dropout.json", R"({"type": "BPE", "dropout": 0.1, "vocab": {"a": 0}, "merges": []})", "", {"dropout"}},
            {"merge.json", R"({"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a c"]})", "", {"'c' is not in the vocabulary"}},
            {"truncation.json", bpe, R"("truncation": {"max_length": 8, "strategy": "LongestFirst", "stride": 0})", {"truncation"}},
        };
        for (const Case& c : cases) {
            const std::string p = write_tokenizer(c.name, c.model, c.rest);
            std::vector<std::string> needles = c.needles;
            needles.push_back(c.name);
            try {
                Tokenizer::load(p);
                QFAIL(qPrintable(QString("%1 was accepted").arg(c.name)));
            } catch (const Error& e) {
                const std::string msg = e.what();
                for (const std::string& n : needles)
                    QVERIFY2(msg.find(n) != std::string::npos, qPrintable(QString("message \"%1\" lacks \"%2\"").arg(msg.c_str(), n.c_str())));
            }
        }
        write_file(path("version.json"), R"({"version": "2.0", "model": )" + bpe + "}");
        expect_error([&] { Tokenizer::load(path("version.json")); }, {"version.json", "2.0"});
        write_file(path("broken.json"), R"({"version": "1.0", "model": )");
        expect_error([&] { Tokenizer::load(path("broken.json")); }, {"broken.json"});
        expect_error([&] { Tokenizer::load(path("absent.json")); }, {"absent.json"});
    }
};

QTEST_GUILESS_MAIN(TestTokenizer)
#include "test_tokenizer.moc"
