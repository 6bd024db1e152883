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

QString byte_label(int32_t id) {
    if (id == ' ' || id == '\n' || id == '\t') return visible(QString(QChar(id)));
    if (id >= 0x21 && id < 0x7f) return QString(QChar(id));
    if (id >= 0 && id < 256) return QString("\\x%1").arg(id, 2, 16, QChar('0'));
    return QString::number(id);
}
} // namespace

TokenInput tokens_from_text(const QString& text) {
    TokenInput t;
    t.text = text;
    t.description = "bytes (one token per UTF-8 byte)";
    for (char ch : text.toUtf8()) {
        const int32_t b = static_cast<unsigned char>(ch);
        t.ids.push_back(b);
        t.labels.push_back(byte_label(b));
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

TokenCodec::TokenCodec(const QString& model_path) {
    const QFileInfo fi(model_path);
    const QDir dir(fi.isDir() ? fi.absoluteFilePath() : fi.absolutePath());
    if (dir.exists("tokenizer.json") || !dir.entryList({"rwkv_vocab*.txt"}, QDir::Files).isEmpty())
        tokenizer_ = Tokenizer::load(dir.absolutePath().toStdString());
}

TokenCodec::~TokenCodec() = default;

TokenInput TokenCodec::encode(const TokenInput& input) {
    bytes_ = input.text && !tokenizer_;
    if (input.text && !tokenizer_) return tokens_from_text(*input.text);
    TokenInput t = input;
    if (!tokenizer_) return t;
    t.description = QString::fromStdString(tokenizer_->describe());
    if (input.text) {
        const QByteArray utf8 = input.text->toUtf8();
        t.ids = tokenizer_->encode(std::string_view(utf8.constData(), size_t(utf8.size())), /*add_special_tokens=*/true);
    } else {
        t.description = "token ids, labelled by " + t.description;
    }
    t.labels.clear();
    for (int32_t id : t.ids) t.labels.push_back(label(id));
    return t;
}

std::vector<int32_t> TokenCodec::stop_ids() const {
    if (tokenizer_)
        if (auto eos = tokenizer_->eos_id()) return {*eos};
    return {};
}

QString TokenCodec::label(int32_t id) const {
    if (!tokenizer_) return bytes_ ? byte_label(id) : QString::number(id);
    // A token's own text; pieces of a multi-byte character decode to U+FFFD, and ids outside
    // the tokenizer's vocabulary throw, so those show the vocabulary entry or the id.
    try {
        const int32_t one[1] = {id};
        const QString text = QString::fromStdString(tokenizer_->decode(one));
        if (!text.isEmpty() && !text.contains(QChar(0xFFFD))) return visible(text);
    } catch (const Error&) {
    }
    return visible(QString::fromStdString(tokenizer_->id_to_token(id).value_or(std::to_string(id))));
}

} // namespace statescope::app
