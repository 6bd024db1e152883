#include "prediction_view.h"

#include "plot_style.h"

#include <QFontMetricsF>
#include <QMouseEvent>
#include <QPainterPath>
#include <cmath>

namespace statescope::views {

namespace {
QColor bar_color() { return QColor(33, 102, 172); }
} // namespace

QColor PredictionView::match_color() { return QColor(26, 152, 80); }
QColor PredictionView::miss_color() { return QColor(215, 48, 39); }

PredictionView::PredictionView(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setAttribute(Qt::WA_OpaquePaintEvent);
}

void PredictionView::set_prediction(Prediction p) {
    p_ = std::move(p);
    message_.clear();
    update();
}

void PredictionView::set_curve(PredictionCurve c) {
    c_ = std::move(c);
    update();
}

void PredictionView::set_token_labels(std::vector<QString> labels) {
    labels_ = std::move(labels);
    update();
}

void PredictionView::set_current(int64_t token) {
    current_ = token;
    update();
}

void PredictionView::set_message(const QString& text) {
    p_ = {};
    c_ = {};
    message_ = text;
    update();
}

QString PredictionView::label_of(int64_t token) const {
    if (token >= 0 && token < int64_t(labels_.size())) return labels_[size_t(token)];
    return QString::number(token);
}

// Wide views put the list and the curve side by side, narrow ones one above the other.
QRectF PredictionView::bars_rect(const QRectF& area) const {
    const double top = area.top() + QFontMetricsF(style::title_font()).height() + 8;
    if (area.width() >= 1.4 * area.height())
        return QRectF(area.left() + 6, top, area.width() * 0.42 - 6, area.bottom() - top - 4);
    return QRectF(area.left() + 6, top, area.width() - 12, (area.bottom() - top) * 0.55);
}

QRectF PredictionView::curve_rect(const QRectF& area) const {
    const QFontMetricsF fm(style::label_font());
    const QRectF b = bars_rect(area);
    const double left_pad = fm.horizontalAdvance("0.00") + 10;
    const double label_h = fm.height() + 4; // the curve's own label above it
    if (area.width() >= 1.4 * area.height())
        return QRectF(b.right() + 10 + left_pad, b.top() + label_h, area.right() - b.right() - 20 - left_pad,
                      b.height() - label_h - 2 * fm.height() - 4);
    const double top = b.bottom() + 6 + label_h;
    return QRectF(area.left() + left_pad + 6, top, area.width() - left_pad - 20, area.bottom() - top - 2 * fm.height() - 4);
}

void PredictionView::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    render_figure(p, QRectF(rect()), false);
}

void PredictionView::render_figure(QPainter& p, const QRectF& area, bool for_export) {
    p.fillRect(area, Qt::white);
    const QString title = p_.token_index >= 0
        ? QString("Next token after token %1 \u201c%2\u201d").arg(p_.token_index).arg(label_of(p_.token_index))
        : QString("Next-token prediction");
    style::draw_title(p, area, title, p_.vocab > 0 ? QString("softmax of the logits over %1 tokens").arg(p_.vocab) : QString());
    if (!message_.isEmpty() || p_.top_ids.empty()) {
        p.setPen(QColor(120, 120, 120));
        p.setFont(style::label_font());
        p.drawText(area, Qt::AlignCenter | Qt::TextWordWrap, message_.isEmpty() ? "no data" : message_);
        return;
    }
    draw_bars(p, bars_rect(area));
    draw_curve(p, curve_rect(area), for_export);
}

void PredictionView::draw_bars(QPainter& p, const QRectF& r) const {
    const QFontMetricsF fm(style::label_font());
    p.setFont(style::label_font());
    // The expected token's line first: it is what a student looks for.
    double y = r.top();
    if (p_.target >= 0) {
        const bool hit = p_.target_rank == 1;
        const QString who = p_.task_target ? "task target" : "next token";
        // Two lines, so that neither is cut in a narrow panel.
        const QString line = QString("%1 \u201c%2\u201d: rank %3 of %4")
                                 .arg(who, QString::fromStdString(p_.target_label.empty() ? std::to_string(p_.target) : p_.target_label))
                                 .arg(p_.target_rank).arg(p_.vocab);
        const QString numbers = QString("p %1 \u00b7 logit %2").arg(style::format_number(p_.target_prob)).arg(style::format_number(p_.target_logit));
        p.setPen(hit ? match_color().darker(130) : miss_color());
        p.drawText(QPointF(r.left(), y + fm.ascent()), fm.elidedText(line, Qt::ElideRight, r.width()));
        p.drawText(QPointF(r.left(), y + fm.height() + fm.ascent()), fm.elidedText(numbers, Qt::ElideRight, r.width()));
    } else {
        p.setPen(QColor(110, 110, 110));
        p.drawText(QPointF(r.left(), y + fm.ascent()), p_.task_target ? "the task expects nothing here" : "the last token: nothing follows");
    }
    y += fm.height();
    y += fm.height() + 4;
    const int n = int(p_.top_ids.size());
    const double row = std::clamp((r.bottom() - y) / std::max(1, n), 8.0, fm.height() + 6);
    double label_w = fm.horizontalAdvance("0000");
    std::vector<QString> names;
    for (int i = 0; i < n; ++i) {
        const std::string& l = i < int(p_.top_labels.size()) ? p_.top_labels[size_t(i)] : std::string();
        names.push_back(l.empty() ? QString::number(p_.top_ids[size_t(i)]) : QString::fromStdString(l));
        label_w = std::max(label_w, fm.horizontalAdvance(names.back()));
    }
    label_w = std::min(label_w + 6, r.width() * 0.35);
    const double value_w = fm.horizontalAdvance("0.000e+00") + 4;
    const double bar_left = r.left() + label_w, bar_w = std::max(10.0, r.width() - label_w - value_w);
    for (int i = 0; i < n; ++i) {
        const double top = y + i * row;
        if (top + row > r.bottom() + 1) break;
        const bool is_target = p_.top_ids[size_t(i)] == p_.target;
        const double prob = p_.top_probs[size_t(i)];
        p.setPen(is_target ? match_color().darker(130) : style::axis_color());
        p.drawText(QRectF(r.left(), top, label_w - 6, row), Qt::AlignRight | Qt::AlignVCenter,
                   fm.elidedText(names[size_t(i)], Qt::ElideMiddle, label_w - 6));
        const QRectF bar(bar_left, top + 1.5, std::max(1.0, bar_w * prob), row - 3);
        p.fillRect(QRectF(bar_left, top + 1.5, bar_w, row - 3), QColor(240, 242, 245));
        p.fillRect(bar, is_target ? match_color() : bar_color());
        p.setPen(style::axis_color());
        p.drawText(QPointF(bar_left + bar_w + 4, top + row / 2 + fm.ascent() / 2 - 1), style::format_number(prob));
    }
}

int64_t PredictionView::token_at(double x, const QRectF& r) const {
    const int64_t n = int64_t(c_.target_prob.size());
    if (n <= 1) return 0;
    return std::clamp<int64_t>(std::llround((x - r.left()) / r.width() * double(n - 1)), 0, n - 1);
}

void PredictionView::draw_curve(QPainter& p, const QRectF& r, bool for_export) const {
    const int64_t n = int64_t(c_.target_prob.size());
    if (n == 0 || r.width() < 20 || r.height() < 20) return;
    const QFontMetricsF fm(style::label_font());
    p.setFont(style::label_font());
    p.setPen(style::axis_color());
    const QString what = c_.task_targets ? "p(task target) after each token" : "p(next token) after each token";
    p.drawText(QPointF(r.left(), r.top() - 4 - fm.descent()), fm.elidedText(what, Qt::ElideRight, r.width()));
    auto x_of = [&](int64_t t) { return n > 1 ? r.left() + double(t) / double(n - 1) * r.width() : r.center().x(); };
    auto y_of = [&](double v) { return r.bottom() - v * r.height(); };
    for (double v : {0.0, 0.5, 1.0}) {
        p.setPen(QPen(style::grid_color(), 0.8));
        p.drawLine(QPointF(r.left(), y_of(v)), QPointF(r.right(), y_of(v)));
        p.setPen(style::axis_color());
        const QString s = style::format_number(v);
        p.drawText(QPointF(r.left() - fm.horizontalAdvance(s) - 4, y_of(v) + fm.ascent() / 2 - 1), s);
    }
    for (double t : style::nice_ticks(0, double(n - 1), std::max(2, int(r.width() / 70)))) {
        if (t != std::floor(t)) continue;
        const QString s = QString::number(qint64(t));
        p.drawText(QPointF(x_of(int64_t(t)) - fm.horizontalAdvance(s) / 2, r.bottom() + fm.ascent() + 3), s);
    }
    const QString x_label = "token (green: predicted, red: missed)";
    p.drawText(QPointF(r.center().x() - fm.horizontalAdvance(x_label) / 2, r.bottom() + fm.height() + fm.ascent() + 3), x_label);
    p.setPen(QPen(style::axis_color(), 0.8));
    p.setBrush(Qt::NoBrush);
    p.drawRect(r);
    // Dense targets (the next token) as a line; a task's sparse targets as dots only.
    if (!c_.task_targets) {
        QPainterPath path;
        bool open = false;
        for (int64_t t = 0; t < n; ++t) {
            const float v = c_.target_prob[size_t(t)];
            if (std::isnan(v)) {
                open = false;
                continue;
            }
            if (!open) path.moveTo(x_of(t), y_of(v));
            else path.lineTo(x_of(t), y_of(v));
            open = true;
        }
        p.setPen(QPen(QColor(120, 130, 145), 1.0));
        p.drawPath(path);
    }
    const double dot = n > 200 ? 1.5 : 3.0;
    p.setPen(Qt::NoPen);
    for (int64_t t = 0; t < n; ++t) {
        const float v = c_.target_prob[size_t(t)];
        if (std::isnan(v)) continue;
        const bool hit = t < int64_t(c_.predicted.size()) && c_.predicted[size_t(t)] == c_.targets[size_t(t)];
        p.setBrush(hit ? match_color() : miss_color());
        p.drawEllipse(QPointF(x_of(t), y_of(v)), dot, dot);
    }
    if (current_ >= 0 && current_ < n) {
        p.setPen(QPen(style::accent_color(), 1.6));
        p.drawLine(QPointF(x_of(current_), r.top()), QPointF(x_of(current_), r.bottom()));
    }
    if (!for_export && hover_x_ >= r.left() && hover_x_ <= r.right()) {
        const int64_t t = token_at(hover_x_, r);
        const float v = c_.target_prob[size_t(t)];
        QString s = QString("after token %1 \u201c%2\u201d").arg(t).arg(label_of(t));
        s += std::isnan(v) ? QString(": no target") : QString(": p %1").arg(style::format_number(v));
        p.setPen(style::axis_color());
        // Inside the plot's top edge, never over the panel's title line.
        p.fillRect(QRectF(r.left() + 1, r.top() + 1, fm.horizontalAdvance(s) + 8, fm.height() + 2), QColor(255, 255, 255, 225));
        p.drawText(QPointF(r.left() + 4, r.top() + fm.ascent() + 2), s);
    }
}

void PredictionView::mousePressEvent(QMouseEvent* e) {
    const QRectF r = curve_rect(QRectF(rect()));
    if (e->button() == Qt::LeftButton && !c_.target_prob.empty() && r.adjusted(-4, 0, 4, 0).contains(e->position()))
        emit token_clicked(token_at(e->position().x(), r));
}

void PredictionView::mouseMoveEvent(QMouseEvent* e) {
    hover_x_ = e->position().x();
    if (e->buttons() & Qt::LeftButton) mousePressEvent(e);
    update();
}

void PredictionView::leaveEvent(QEvent*) {
    hover_x_ = -1;
    update();
}

analysis::Array PredictionView::figure_data(QString* header) const {
    if (header) *header = "after_token,rank,id,probability,logit";
    analysis::Array a;
    const float after = float(p_.token_index);
    for (size_t i = 0; i < p_.top_ids.size(); ++i)
        a.values.insert(a.values.end(), {after, float(i + 1), float(p_.top_ids[i]), p_.top_probs[i], p_.top_logits[i]});
    const bool listed = std::find(p_.top_ids.begin(), p_.top_ids.end(), p_.target) != p_.top_ids.end();
    if (p_.target >= 0 && !listed)
        a.values.insert(a.values.end(), {after, float(p_.target_rank), float(p_.target), p_.target_prob, p_.target_logit});
    a.shape = {int64_t(a.values.size() / 5), 5};
    return a;
}

analysis::Array PredictionCurveFigure::figure_data(QString* header) const {
    if (header) *header = "token,predicted,predicted_probability,expected,expected_probability";
    const PredictionCurve& c = view_.curve();
    analysis::Array a;
    const size_t n = c.target_prob.size();
    for (size_t t = 0; t < n; ++t) {
        const int32_t expected = t < c.targets.size() ? c.targets[t] : -1;
        a.values.insert(a.values.end(), {float(t), t < c.predicted.size() ? float(c.predicted[t]) : NAN,
                                         t < c.predicted_prob.size() ? c.predicted_prob[t] : NAN, expected >= 0 ? float(expected) : NAN,
                                         c.target_prob[t]});
    }
    a.shape = {int64_t(n), 5};
    return a;
}

} // namespace statescope::views
