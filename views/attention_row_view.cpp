#include "attention_row_view.h"

#include "plot_style.h"

#include <QFontMetricsF>
#include <QMouseEvent>
#include <cmath>

namespace statescope::views {

AttentionRowView::AttentionRowView(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setAttribute(Qt::WA_OpaquePaintEvent);
}

void AttentionRowView::set_row(int64_t query, int64_t first_key, int substeps, std::vector<float> exact,
                               std::vector<float> softmax, bool recurrent) {
    query_ = query;
    first_key_ = first_key;
    substeps_ = std::max(1, substeps);
    exact_ = std::move(exact);
    softmax_ = std::move(softmax);
    recurrent_ = recurrent;
    message_.clear();
    update();
}

void AttentionRowView::set_token_labels(std::vector<QString> labels) {
    labels_ = std::move(labels);
    update();
}

void AttentionRowView::set_note(const QString& note) {
    note_ = note;
    update();
}

int AttentionRowView::note_lines(const QRectF& area) const {
    if (note_.isEmpty()) return 0;
    const QFontMetricsF fm(style::label_font());
    const QRectF r = fm.boundingRect(QRectF(0, 0, area.width() - 12, 1000), Qt::TextWordWrap, note_);
    return std::max(1, int(std::ceil(r.height() / fm.lineSpacing() - 0.01)));
}

void AttentionRowView::set_message(const QString& text) {
    exact_.clear();
    softmax_.clear();
    query_ = -1;
    message_ = text;
    update();
}

int64_t AttentionRowView::strongest_key() const {
    int best = -1;
    for (int c = 0; c < int(exact_.size()); ++c)
        if (best < 0 || std::abs(exact_[size_t(c)]) > std::abs(exact_[size_t(best)])) best = c;
    return best < 0 ? -1 : first_key_ + best / substeps_;
}

QString AttentionRowView::key_label(int column) const {
    const int64_t t = first_key_ + column / substeps_;
    return t >= 0 && t < int64_t(labels_.size()) ? labels_[size_t(t)] : QString::number(t);
}

std::vector<QRectF> AttentionRowView::plots(const QRectF& area) const {
    const QFontMetricsF fm(style::label_font());
    const double top = area.top() + QFontMetricsF(style::title_font()).height() + 8 + note_lines(area) * fm.lineSpacing();
    const double left = area.left() + fm.horizontalAdvance("-0.000") + 10, right = area.right() - 8;
    // Under the plots: the token labels, turned upright, and a caption.
    const double labels_h = label_length() + 2 * fm.height() + 6;
    const double bottom = area.bottom() - labels_h;
    const bool two = recurrent_ && !softmax_.empty();
    const double gap = fm.height() + 8; // the lower plot's label sits in the gap
    const double h = two ? (bottom - top - gap) / 2 : bottom - top;
    std::vector<QRectF> out{QRectF(left, top + fm.height() + 2, right - left, h - fm.height() - 2)};
    if (two) out.emplace_back(left, top + h + gap + fm.height() + 2, right - left, h - fm.height() - 2);
    return out;
}

void AttentionRowView::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    render_figure(p, QRectF(rect()), false);
}

void AttentionRowView::render_figure(QPainter& p, const QRectF& area, bool for_export) {
    p.fillRect(area, Qt::white);
    const QString title = query_ >= 0 ? QString("Row of query %1 \u201c%2\u201d over the keys").arg(query_).arg(
                                            query_ < int64_t(labels_.size()) ? labels_[size_t(query_)] : QString::number(query_))
                                      : QString("Attention row of the current query");
    style::draw_title(p, area, title);
    if (!note_.isEmpty()) {
        const QFontMetricsF fm(style::label_font());
        p.setFont(style::label_font());
        p.setPen(QColor(120, 75, 20));
        const double y = area.top() + QFontMetricsF(style::title_font()).height() + 6;
        p.drawText(QRectF(area.left() + 6, y, area.width() - 12, note_lines(area) * fm.lineSpacing() + 2), Qt::TextWordWrap, note_);
    }
    if (exact_.empty()) {
        p.setPen(QColor(120, 120, 120));
        p.setFont(style::label_font());
        p.drawText(area, Qt::AlignCenter | Qt::TextWordWrap, message_.isEmpty() ? "no data" : message_);
        return;
    }
    const std::vector<QRectF> pl = plots(area);
    draw_bars(p, pl[0], exact_, recurrent_,
              recurrent_ ? "exact (implied by the recurrence): signed weight of each key in o = S\u1d40q"
                         : "softmax attention (the layer's own row)");
    if (pl.size() > 1) draw_bars(p, pl[1], softmax_, false, "softmax of the same q\u00b7k over the window (sums to 1)");
    draw_key_labels(p, pl.back(), pl.back().bottom() + 2);

    if (!for_export && hover_x_ >= pl[0].left() && hover_x_ <= pl[0].right()) {
        const int c = column_at(hover_x_, pl[0]);
        const QFontMetricsF fm(style::label_font());
        QString s = QString("key %1 \u201c%2\u201d").arg(first_key_ + c / substeps_).arg(key_label(c));
        if (substeps_ > 1) s += QString(" step %1").arg(c % substeps_);
        s += QString(": exact %1").arg(QString::number(double(exact_[size_t(c)]), 'g', 4));
        if (c < int(softmax_.size()) && recurrent_) s += QString(", softmax %1").arg(QString::number(double(softmax_[size_t(c)]), 'g', 4));
        // At the top right of the first plot, inside it: never over the title line.
        const QRectF box(pl[0].right() - fm.horizontalAdvance(s) - 10, pl[0].top() + 1, fm.horizontalAdvance(s) + 8, fm.height() + 2);
        p.fillRect(box, QColor(255, 255, 255, 230));
        p.setPen(style::axis_color());
        p.drawText(QPointF(box.left() + 4, box.top() + fm.ascent() + 1), s);
        p.setPen(QPen(QColor(0, 0, 0, 90), 1.0, Qt::DotLine));
        const double w = pl[0].width() / double(exact_.size());
        const double x = pl[0].left() + (c + 0.5) * w;
        p.drawLine(QPointF(x, pl[0].top()), QPointF(x, pl.back().bottom()));
    }
}

void AttentionRowView::draw_bars(QPainter& p, const QRectF& r, const std::vector<float>& row, bool signed_values,
                                 const QString& label) const {
    const QFontMetricsF fm(style::label_font());
    p.setFont(style::label_font());
    p.setPen(style::axis_color());
    p.drawText(QPointF(r.left(), r.top() - 3 - fm.descent()), fm.elidedText(label, Qt::ElideRight, r.width()));
    double mx = 0;
    for (float v : row)
        if (std::isfinite(v)) mx = std::max(mx, double(std::abs(v)));
    if (mx <= 0) mx = 1;
    const double lo = signed_values ? -mx : 0, hi = mx;
    auto y_of = [&](double v) { return r.bottom() - (v - lo) / (hi - lo) * r.height(); };
    for (double t : {lo, signed_values ? 0.0 : hi / 2, hi}) {
        p.setPen(QPen(style::grid_color(), 0.8));
        p.drawLine(QPointF(r.left(), y_of(t)), QPointF(r.right(), y_of(t)));
        p.setPen(style::axis_color());
        const QString s = style::format_number(t);
        p.drawText(QPointF(r.left() - fm.horizontalAdvance(s) - 4, y_of(t) + fm.ascent() / 2 - 1), s);
    }
    const int n = int(row.size());
    const double w = r.width() / std::max(1, n);
    for (int c = 0; c < n; ++c) {
        const double v = std::isfinite(row[size_t(c)]) ? row[size_t(c)] : 0.0;
        const double y0 = y_of(0), y1 = y_of(v);
        const QColor colour = v >= 0 ? QColor(33, 102, 172) : QColor(178, 24, 43);
        p.fillRect(QRectF(r.left() + c * w + (w > 4 ? 0.5 : 0), std::min(y0, y1), std::max(0.8, w - (w > 4 ? 1 : 0)),
                          std::max(0.6, std::abs(y1 - y0))),
                   colour);
    }
    p.setPen(QPen(style::axis_color(), 0.8));
    p.setBrush(Qt::NoBrush);
    p.drawRect(r);
}

void AttentionRowView::draw_key_labels(QPainter& p, const QRectF& plot, double top) const {
    const QFontMetricsF fm(style::label_font());
    p.setFont(style::label_font());
    const int n = int(exact_.size());
    const int tokens = (n + substeps_ - 1) / substeps_;
    const double per_token = plot.width() / std::max(1, tokens);
    // Every token's text when it fits turned upright (one line height per token), else every k-th.
    const int every = std::max(1, int(std::ceil((fm.height() + 1) / per_token)));
    const double max_len = label_length();
    for (int t = 0; t < tokens; ++t) {
        const bool current = first_key_ + t == query_;
        if (t % every != 0 && !current) continue;
        const double x = plot.left() + (t + 0.5) * per_token;
        const QString text = fm.elidedText(key_label(t * substeps_), Qt::ElideRight, max_len);
        p.save();
        p.translate(x + fm.ascent() / 2 - 1, top + 3);
        p.rotate(-90);
        p.setPen(current ? style::accent_color().darker(130) : style::axis_color());
        p.drawText(QPointF(-fm.horizontalAdvance(text), 0), text);
        p.restore();
    }
    p.setPen(QColor(110, 110, 110));
    const QString caption = QString("key tokens %1\u2013%2 (text); query %3 in orange").arg(first_key_).arg(first_key_ + tokens - 1).arg(query_);
    p.drawText(QPointF(plot.left(), top + 3 + max_len + fm.height()), fm.elidedText(caption, Qt::ElideRight, plot.width()));
}

double AttentionRowView::label_length() const {
    const QFontMetricsF fm(style::label_font());
    double longest = fm.horizontalAdvance("00");
    const int tokens = (int(exact_.size()) + substeps_ - 1) / substeps_;
    for (int t = 0; t < tokens; ++t) longest = std::max(longest, fm.horizontalAdvance(key_label(t * substeps_)));
    return std::min(longest, fm.horizontalAdvance("WWWWWW")); // longer texts are cut short
}

int AttentionRowView::column_at(double x, const QRectF& plot) const {
    const int n = int(exact_.size());
    return std::clamp(int((x - plot.left()) / plot.width() * n), 0, std::max(0, n - 1));
}

void AttentionRowView::mouseMoveEvent(QMouseEvent* e) {
    hover_x_ = e->position().x();
    update();
}

void AttentionRowView::leaveEvent(QEvent*) {
    hover_x_ = -1;
    update();
}

analysis::Array AttentionRowView::figure_data(QString* header) const {
    if (header) *header = "query_token,key_token,substep,exact,softmax";
    analysis::Array a;
    for (size_t c = 0; c < exact_.size(); ++c)
        a.values.insert(a.values.end(), {float(query_), float(first_key_ + int64_t(c) / substeps_), float(int64_t(c) % substeps_),
                                         exact_[c], c < softmax_.size() ? softmax_[c] : NAN});
    a.shape = {int64_t(exact_.size()), 5};
    return a;
}

} // namespace statescope::views
