#include "curves_view.h"

#include "plot_style.h"

#include <QFontMetricsF>
#include <QMouseEvent>
#include <QPainterPath>
#include <cmath>

namespace statescope::views {

CurvesView::CurvesView(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setCursor(Qt::CrossCursor);
}

void CurvesView::set_data(CurveData d) {
    d_ = std::move(d);
    message_.clear();
    curves_cache_ = {};
    update();
}

void CurvesView::set_message(const QString& text) {
    d_ = {};
    message_ = text;
    curves_cache_ = {};
    update();
}

void CurvesView::set_current(int64_t token) {
    current_ = token;
    update();
}

int CurvesView::tokens() const {
    size_t n = 0;
    for (const auto* v : {&d_.effective_rank, &d_.exact_entropy, &d_.softmax_entropy, &d_.row_entropy}) n = std::max(n, v->size());
    for (const auto& h : d_.norms) n = std::max(n, h.size());
    return int(n);
}

std::vector<CurvesView::Plot> CurvesView::plots() const {
    std::vector<Plot> p;
    if (!d_.norms.empty()) p.push_back(Plot::Norm);
    if (!d_.effective_rank.empty()) p.push_back(Plot::Rank);
    if (!d_.exact_entropy.empty() || !d_.softmax_entropy.empty() || !d_.row_entropy.empty()) p.push_back(Plot::Entropy);
    return p;
}

std::vector<QRectF> CurvesView::panels(const QRectF& area) const {
    const QFontMetricsF fm(style::label_font());
    const int count = std::max<int>(1, int(plots().size()));
    const double top = area.top() + QFontMetricsF(style::title_font()).height() + 8;
    const double left = area.left() + fm.horizontalAdvance("0.000e+00") + 8, right = area.right() - 14;
    const double bottom = area.bottom() - 2 * fm.height() - 6;
    const double gap = 6, h = (bottom - top - gap * (count - 1)) / count;
    std::vector<QRectF> out;
    for (int i = 0; i < count; ++i) out.emplace_back(left, top + i * (h + gap), right - left, h);
    return out;
}

int64_t CurvesView::token_at(double x, const QRectF& plot) const {
    const int n = tokens();
    if (n <= 1) return 0;
    return std::clamp<int64_t>(std::llround((x - plot.left()) / plot.width() * (n - 1)), 0, n - 1);
}

void CurvesView::paintEvent(QPaintEvent*) {
    // The curves change with the data, the marks with every step: the curves are drawn once into
    // an image (a few hundred antialiased points per curve cost milliseconds) and only the marks
    // are drawn on it each time the position moves.
    const qreal dpr = devicePixelRatioF();
    if (curves_cache_.isNull() || curves_cache_.size() != size() * dpr) {
        curves_cache_ = QImage(size() * dpr, QImage::Format_ARGB32_Premultiplied);
        curves_cache_.setDevicePixelRatio(dpr);
        QPainter c(&curves_cache_);
        c.setRenderHint(QPainter::Antialiasing);
        draw_curves(c, QRectF(rect()), false);
    }
    QPainter p(this);
    p.drawImage(QPointF(0, 0), curves_cache_);
    p.setRenderHint(QPainter::Antialiasing);
    draw_marks(p, QRectF(rect()), false);
}

namespace {
// One panel: axes, y ticks, grid, the x ticks when asked; returns the y range used.
void draw_axes(QPainter& p, const QRectF& r, double lo, double hi, int n, bool x_labels) {
    const QFontMetricsF fm(style::label_font());
    p.setFont(style::label_font());
    for (double t : style::nice_ticks(lo, hi, 3)) {
        const double y = r.bottom() - (t - lo) / (hi - lo) * r.height();
        p.setPen(QPen(style::grid_color(), 0.8));
        p.drawLine(QPointF(r.left(), y), QPointF(r.right(), y));
        p.setPen(style::axis_color());
        const QString s = style::format_number(t);
        p.drawText(QPointF(r.left() - fm.horizontalAdvance(s) - 4, y + fm.ascent() / 2 - 1), s);
    }
    if (n > 1)
        for (double t : style::nice_ticks(0, n - 1, std::max(2, int(r.width() / 70)))) {
            if (t != std::floor(t)) continue;
            const double x = r.left() + t / (n - 1) * r.width();
            p.setPen(QPen(style::grid_color(), 0.8));
            p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()));
            if (x_labels) {
                p.setPen(style::axis_color());
                const QString s = QString::number(qint64(t));
                p.drawText(QPointF(x - fm.horizontalAdvance(s) / 2, r.bottom() + fm.ascent() + 3), s);
            }
        }
    p.setPen(QPen(style::axis_color(), 0.8));
    p.setBrush(Qt::NoBrush);
    p.drawRect(r);
}

// A panel's label, drawn after its curves on a white box: the data never strikes it through.
void draw_panel_label(QPainter& p, const QRectF& r, const QString& label) {
    const QFontMetricsF fm(style::label_font());
    p.setFont(style::label_font());
    const QRectF box(r.left() + 1, r.top() + 1, fm.horizontalAdvance(label) + 8, fm.height() + 2);
    p.fillRect(box, QColor(255, 255, 255, 235));
    p.setPen(style::axis_color());
    p.drawText(QPointF(r.left() + 4, r.top() + fm.ascent() + 2), label);
}

void draw_curve(QPainter& p, const QRectF& r, const std::vector<float>& ys, double lo, double hi, const QPen& pen) {
    const int n = int(ys.size());
    if (n == 0) return;
    QPainterPath path;
    for (int i = 0; i < n; ++i) {
        const double x = n > 1 ? r.left() + double(i) / (n - 1) * r.width() : r.center().x();
        const double y = r.bottom() - (double(ys[size_t(i)]) - lo) / (hi - lo) * r.height();
        if (i == 0) path.moveTo(x, y);
        else path.lineTo(x, y);
    }
    QPen scaled = pen;
    scaled.setWidthF(style::line_width(pen.widthF()));
    p.setPen(scaled);
    p.setBrush(Qt::NoBrush);
    p.drawPath(path);
}
} // namespace

void CurvesView::render_figure(QPainter& p, const QRectF& area, bool for_export) {
    draw_curves(p, area, for_export);
    draw_marks(p, area, for_export);
}

void CurvesView::draw_curves(QPainter& p, const QRectF& area, bool for_export) const {
    p.fillRect(area, Qt::white);
    const QString subtitle = QString("layer %1, head %2 highlighted").arg(d_.layer).arg(d_.focused_head);
    style::draw_title(p, area, "Over the sequence", !tokens() ? QString() : for_export ? subtitle : subtitle + "; click to jump");
    const int n = tokens();
    if (!message_.isEmpty() || n == 0) {
        p.setPen(QColor(120, 120, 120));
        p.setFont(style::label_font());
        p.drawText(area, Qt::AlignCenter | Qt::TextWordWrap, message_.isEmpty() ? "no data" : message_);
        return;
    }
    const std::vector<QRectF> pn = panels(area);
    const std::vector<Plot> kinds = plots();
    const QRectF& last = pn.back();
    for (size_t k = 0; k < kinds.size(); ++k) {
        const QRectF& r = pn[k];
        const bool x_labels = k + 1 == kinds.size();
        QString label;
        p.save();
        if (kinds[k] == Plot::Norm) {
            double hi = 0;
            for (const auto& h : d_.norms)
                for (float v : h) hi = std::max(hi, double(v));
            if (hi <= 0) hi = 1;
            hi *= 1.05;
            label = "state norm ‖S‖_F (all heads)";
            draw_axes(p, r, 0, hi, n, x_labels);
            p.setClipRect(r);
            for (size_t h = 0; h < d_.norms.size(); ++h)
                if (int(h) != d_.focused_head) draw_curve(p, r, d_.norms[h], 0, hi, QPen(QColor(150, 160, 175, 150), 1.0));
            if (d_.focused_head >= 0 && d_.focused_head < int(d_.norms.size()))
                draw_curve(p, r, d_.norms[size_t(d_.focused_head)], 0, hi, QPen(QColor(33, 102, 172), 1.8));
        } else if (kinds[k] == Plot::Rank) {
            const double rank_hi = std::max(1.0, double(d_.max_rank)) * 1.05;
            label = QString("effective rank (head %1, of %2)").arg(d_.focused_head).arg(d_.max_rank);
            draw_axes(p, r, 0, rank_hi, n, x_labels);
            p.setClipRect(r);
            draw_curve(p, r, d_.effective_rank, 0, rank_hi, QPen(QColor(178, 24, 43), 1.8));
        } else {
            // Entropy is at most log(tokens seen); the axis goes to the largest value seen.
            double ehi = 0;
            for (const auto* v : {&d_.exact_entropy, &d_.softmax_entropy, &d_.row_entropy})
                for (float x : *v) ehi = std::max(ehi, double(x));
            ehi = std::max(ehi, 0.1) * 1.08;
            label = d_.softmax_layer
                ? QString("softmax attention entropy, head %1 (nats): whole row, last %2 tokens").arg(d_.focused_head).arg(d_.window)
                : QString("attention entropy over %1 tokens (nats): exact, softmax").arg(d_.window);
            draw_axes(p, r, 0, ehi, n, x_labels);
            p.setClipRect(r);
            draw_curve(p, r, d_.softmax_entropy, 0, ehi, QPen(QColor(120, 120, 120), 1.2, Qt::DashLine));
            draw_curve(p, r, d_.exact_entropy, 0, ehi, QPen(QColor(118, 42, 131), 1.8));
            draw_curve(p, r, d_.row_entropy, 0, ehi, QPen(QColor(118, 42, 131), 1.8));
        }
        p.restore();
        draw_panel_label(p, r, label);
    }

    const QFontMetricsF fm(style::label_font());
    p.setPen(style::axis_color());
    const QString xl = "token";
    p.drawText(QPointF(last.center().x() - fm.horizontalAdvance(xl) / 2, area.bottom() - 4), xl);
}

void CurvesView::draw_marks(QPainter& p, const QRectF& area, bool for_export) const {
    const int n = tokens();
    if (!message_.isEmpty() || n == 0) return;
    const std::vector<QRectF> pn = panels(area);
    const QRectF& last = pn.back();
    const QFontMetricsF fm(style::label_font());
    p.setFont(style::label_font());
    // Current position.
    if (current_ >= 0 && current_ < n) {
        const double x = n > 1 ? last.left() + double(current_) / (n - 1) * last.width() : last.center().x();
        p.setPen(QPen(style::accent_color(), 1.6));
        for (const QRectF& r : pn) p.drawLine(QPointF(x, r.top()), QPointF(x, r.bottom()));
    }
    if (!for_export && hover_x_ >= last.left() && hover_x_ <= last.right()) {
        const int64_t t = token_at(hover_x_, last);
        QString s = QString("token %1").arg(t);
        if (d_.focused_head < int(d_.norms.size())) s += QString("   ‖S‖ %1").arg(style::format_number(d_.norms[size_t(d_.focused_head)][size_t(t)]));
        if (t < int64_t(d_.effective_rank.size())) s += QString("   rank %1").arg(style::format_number(d_.effective_rank[size_t(t)]));
        if (t < int64_t(d_.exact_entropy.size())) s += QString("   H %1").arg(style::format_number(d_.exact_entropy[size_t(t)]));
        if (t < int64_t(d_.row_entropy.size())) s += QString("   H %1").arg(style::format_number(d_.row_entropy[size_t(t)]));
        // Inside the top plot's right corner, on white: never over the title line.
        const QRectF& first = pn.front();
        const QRectF box(first.right() - fm.horizontalAdvance(s) - 10, first.top() + 1, fm.horizontalAdvance(s) + 8, fm.height() + 2);
        p.fillRect(box, QColor(255, 255, 255, 235));
        p.setPen(style::axis_color());
        p.drawText(QPointF(box.left() + 4, box.top() + fm.ascent() + 1), s);
        p.setPen(QPen(QColor(0, 0, 0, 80), 1.0, Qt::DotLine));
        p.drawLine(QPointF(hover_x_, pn.front().top()), QPointF(hover_x_, last.bottom()));
    }
}

void CurvesView::mousePressEvent(QMouseEvent* e) {
    const QRectF r = panels(QRectF(rect())).front();
    if (e->button() == Qt::LeftButton && tokens() > 0 && e->position().x() >= r.left() - 4 && e->position().x() <= r.right() + 4)
        emit token_clicked(token_at(e->position().x(), r));
}

void CurvesView::mouseMoveEvent(QMouseEvent* e) {
    hover_x_ = e->position().x();
    if (e->buttons() & Qt::LeftButton) mousePressEvent(e); // drag to scrub
    update();
}

void CurvesView::leaveEvent(QEvent*) {
    hover_x_ = -1;
    update();
}

analysis::Array CurvesView::figure_data(QString* header) const {
    // One row per token, a column per curve the data has: the norm of every head, the focused
    // head's effective rank and attention entropies (NaN where a curve is shorter).
    const int n = tokens();
    std::vector<std::pair<QString, const std::vector<float>*>> columns;
    for (size_t i = 0; i < d_.norms.size(); ++i) columns.emplace_back(QString("norm_head%1").arg(i), &d_.norms[i]);
    const QString f = QString::number(d_.focused_head);
    if (!d_.effective_rank.empty()) columns.emplace_back("effective_rank_head" + f, &d_.effective_rank);
    if (!d_.exact_entropy.empty()) columns.emplace_back("exact_entropy", &d_.exact_entropy);
    if (!d_.row_entropy.empty()) columns.emplace_back("row_entropy", &d_.row_entropy);
    if (!d_.softmax_entropy.empty()) columns.emplace_back(d_.softmax_layer ? "window_entropy" : "softmax_entropy", &d_.softmax_entropy);
    QStringList names;
    for (const auto& c : columns) names << c.first;
    if (header) *header = names.join(',');
    analysis::Array a;
    a.shape = {n, int64_t(columns.size())};
    a.values.reserve(size_t(n) * columns.size());
    for (int t = 0; t < n; ++t)
        for (const auto& c : columns) a.values.push_back(t < int(c.second->size()) ? (*c.second)[size_t(t)] : NAN);
    return a;
}

analysis::Array CurvesView::figure_table(QString* header) const {
    const analysis::Array a = figure_data(header);
    if (a.shape.size() != 2) return a;
    if (header) *header = header->isEmpty() ? "token" : "token," + *header;
    analysis::Array t;
    const int64_t rows = a.shape[0], cols = a.shape[1];
    t.shape = {rows, cols + 1};
    for (int64_t r = 0; r < rows; ++r) {
        t.values.push_back(float(r));
        t.values.insert(t.values.end(), a.values.begin() + r * cols, a.values.begin() + (r + 1) * cols);
    }
    return t;
}

} // namespace statescope::views
