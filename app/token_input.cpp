#include "token_input.h"

#include "core/error.h"

#include <QRegularExpression>

namespace statescope::app {

QString default_prompt() {
    return "Statescope reads this sentence one byte at a time: watch what each layer keeps, "
           "and what it forgets, as the state moves from token to token.";
}

TokenInput tokens_from_text(const QString& text) {
    TokenInput t;
    t.description = "prompt, one token per UTF-8 byte";
    const QByteArray bytes = text.toUtf8();
    for (char ch : bytes) {
        const auto b = static_cast<unsigned char>(ch);
        t.ids.push_back(int32_t(b));
        if (b == ' ') t.labels.push_back("␣");
        else if (b == '\n') t.labels.push_back("⏎");
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

} // namespace statescope::app
