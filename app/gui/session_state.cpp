#include "session_state.h"

#include "statescope/error.h"
#include "views/heatmap_view.h"
#include "views/scale_control.h"

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QMainWindow>
#include <QSplitter>

namespace statescope::app {

session::SequencePart part_of(const frames::TokenInput& input, int64_t length) {
    if (!input.task_settings.empty()) return {0, length, "task", input.task_settings};
    if (input.text) return {0, length, "prompt", ""};
    return {0, length, "ids", ""};
}

std::string generation_settings(const SamplingOptions& sampling, int count) {
    QJsonObject o;
    o["temperature"] = double(sampling.temperature);
    o["top_k"] = sampling.top_k;
    o["top_p"] = double(sampling.top_p);
    o["seed"] = QString::number(sampling.seed); // 64 bits do not fit a JSON double
    o["count"] = count;
    return QJsonDocument(o).toJson(QJsonDocument::Compact).toStdString();
}

frames::TokenInput input_of(const session::Session& s, const std::string& file, const std::string& model) {
    if (s.tokens.empty()) throw Error(file + ": the session holds no tokens");
    const session::SequencePart* first = s.parts.empty() ? nullptr : &s.parts.front();
    frames::TokenInput in;
    int64_t made = 0; // tokens the first part's input gives
    if (first && first->first == 0 && first->source == "task") {
        const QJsonObject o = QJsonDocument::fromJson(QByteArray::fromStdString(first->settings)).object();
        if (!o.contains("seed")) throw Error(file + ": the task part's settings name no seed: '" + first->settings + "'");
        int64_t size = 0;
        for (auto it = o.begin(); it != o.end(); ++it)
            if (it.key() != "seed" && it.key() != "task" && it.value().isDouble()) size = int64_t(it.value().toDouble());
        const QJsonValue seed = o["seed"];
        in = frames::tokens_from_task(model, uint64_t(seed.isString() ? seed.toString().toULongLong() : seed.toDouble()), size);
        made = int64_t(in.ids.size());
        // A sample drawn again must be the one saved; a task.json that changed since is reported.
        for (int64_t i = 0; i < made; ++i)
            if (i >= int64_t(s.tokens.size()) || in.ids[size_t(i)] != s.tokens[size_t(i)])
                throw Error(file + ": the task sample " + first->settings + " drawn again differs from the saved tokens at " +
                            std::to_string(i) + " (has the model's task.json changed?)");
    } else if (first && first->first == 0 && first->source == "prompt" && !s.text.empty()) {
        in = frames::tokens_from_text(s.text); // tokenized by the model, as it was
        made = first->count;
    } else {
        std::string ids;
        for (int32_t id : s.tokens) ids += std::to_string(id) + ",";
        in = frames::tokens_from_ids(ids);
        made = int64_t(s.tokens.size());
    }
    if (made < int64_t(s.tokens.size())) in.generated.assign(s.tokens.begin() + made, s.tokens.end());
    return in;
}

std::string scale_name(const views::HeatmapView& view) {
    switch (view.scale_mode()) {
    case views::ScaleMode::PerFrame: return "per-frame";
    case views::ScaleMode::Fixed: return "fixed";
    case views::ScaleMode::SymLog: return "symlog";
    }
    return "per-frame";
}

bool apply_scale(views::ScaleControl& control, views::HeatmapView& view, const session::ViewSettings& v) {
    if (v.scale == "per-frame") control.set_mode(views::ScaleMode::PerFrame);
    else if (v.scale == "symlog") control.set_mode(views::ScaleMode::SymLog);
    else if (v.scale == "fixed" && v.fixed_limit > 0) {
        control.set_mode(views::ScaleMode::Fixed);
        control.set_fixed_limit(v.fixed_limit);
        view.set_fixed_limit(v.fixed_limit);
    } else return false;
    return true;
}

namespace {
// The window's splitters, in the order they were made (their object names say which is which).
QList<QSplitter*> splitters(const QMainWindow& w) { return w.findChildren<QSplitter*>(QString(), Qt::FindChildrenRecursively); }
} // namespace

std::string capture_layout(const QMainWindow& window, const QVariantMap& extra) {
    QJsonObject o = QJsonObject::fromVariantMap(extra);
    o["window_state"] = QString::fromLatin1(window.saveState().toBase64());
    QJsonObject split;
    for (QSplitter* s : splitters(window))
        if (!s->objectName().isEmpty()) split[s->objectName()] = QString::fromLatin1(s->saveState().toBase64());
    o["splitters"] = split;
    return QJsonDocument(o).toJson(QJsonDocument::Compact).toStdString();
}

bool restore_layout(QMainWindow& window, const std::string& layout) {
    const QJsonDocument doc = QJsonDocument::fromJson(QByteArray::fromStdString(layout));
    if (!doc.isObject()) return false;
    const QJsonObject o = doc.object();
    bool ok = window.restoreState(QByteArray::fromBase64(o["window_state"].toString().toLatin1()));
    const QJsonObject split = o["splitters"].toObject();
    for (QSplitter* s : splitters(window))
        if (split.contains(s->objectName()))
            ok = s->restoreState(QByteArray::fromBase64(split[s->objectName()].toString().toLatin1())) && ok;
    return ok;
}

QString layout_value(const std::string& layout, const QString& key) {
    const QJsonValue v = QJsonDocument::fromJson(QByteArray::fromStdString(layout)).object().value(key);
    return v.isDouble() ? QString::number(qint64(v.toDouble())) : v.toString();
}

} // namespace statescope::app
