#include "token_input.h"

#include "core/error.h"
#include "tokenizer/tokenizer.h"

#include <QDir>
#include <QFileInfo>
#include <QRegularExpression>

namespace statescope::app {

QString default_prompt() {
    return "Statescope reads this sentence one byte at a time: watch what each layer keeps, "
           "and what it forgets, as the state moves from token to token.";
}

namespace {
// What the strip shows for a piece of text: spaces and line breaks made visible.
QString visible(QString s) {
    s.replace(' ', QChar(0x2423)).replace('\n', QChar(0x23CE)).replace('\t', QChar(0x21E5));
    return s;
}
} // namespace

TokenInput tokens_from_text(const QString& text) {
    TokenInput t;
    t.text = text;
    t.description = "bytes (one token per UTF-8 byte)";
    const QByteArray bytes = text.toUtf8();
    for (char ch : bytes) {
        const auto b = static_cast<unsigned char>(ch);
        t.ids.push_back(int32_t(b));
        if (b == ' ' || b == '\n' || b == '\t') t.labels.push_back(visible(QString(QChar(b))));
        else if (b >= 0x21 && b < 0x7f) t.labels.push_back(QString(QChar(b)));
        else t.labels.push_back(QString("\\x%1").arg(int(b), 2, 16, QChar('0')));
    }
    return t;
}

TokenInput tokens_from_ids(const QString& list) {
    TokenInput t;
    t.description = "token ids";
    for (const QString& item : list.split(QRegularExpression("[,\\s]+"), Qt::SkipEmptyParts)) {
        bool ok = false;
        const qlonglong v = item.toLongLong(&ok);
        if (!ok || v < 0 || v > INT32_MAX) throw Error("--tokens: '" + item.toStdString() + "' is not a token id");
        t.ids.push_back(int32_t(v));
        t.labels.push_back(item);
    }
    if (t.ids.empty()) throw Error("--tokens: no token ids given");
    return t;
}

TokenInput tokenize_for_model(const TokenInput& input, const QString& model_path) {
    if (!input.text) return input;
    const QFileInfo fi(model_path);
    const QDir dir(fi.isDir() ? fi.absoluteFilePath() : fi.absolutePath());
    const bool has_tokenizer = dir.exists("tokenizer.json") || !dir.entryList({"rwkv_vocab*.txt"}, QDir::Files).isEmpty();
    if (!has_tokenizer) return tokens_from_text(*input.text);
    const auto tok = Tokenizer::load(dir.absolutePath().toStdString());
    TokenInput t;
    t.text = input.text;
    t.description = QString::fromStdString(tok->describe());
    const QByteArray utf8 = input.text->toUtf8();
    t.ids = tok->encode(std::string_view(utf8.constData(), size_t(utf8.size())), /*add_special_tokens=*/true);
    for (int32_t id : t.ids) {
        // A token's own text; pieces of a multi-byte character decode to U+FFFD, so those show
        // the vocabulary entry instead.
        const int32_t one[1] = {id};
        QString label = QString::fromStdString(tok->decode(one));
        if (label.isEmpty() || label.contains(QChar(0xFFFD)))
            label = QString::fromStdString(tok->id_to_token(id).value_or(std::to_string(id)));
        t.labels.push_back(visible(label));
    }
    return t;
}

} // namespace statescope::app
