#include "heatmap_view.h"

#include "plot_style.h"

#include <QFontMetricsF>
#include <QImage>
#include <QMouseEvent>
#include <cmath>

namespace statescope::views {

HeatmapView::HeatmapView(QString name, QWidget* parent) : QWidget(parent), name_(std::move(name)) {
    setMouseTracking(true);
    setAttribute(Qt::WA_OpaquePaintEvent);
}

void HeatmapView::set_matrix(Matrix m, int row_offset, int col_offset) {
    m_ = std::move(m);
    row_offset_ = row_offset;
    col_offset_ = col_offset;
    if (hover_row_ >= m_.rows || hover_col_ >= m_.cols) hover_row_ = hover_col_ = -1;
    update_limit();
    update();
}

void HeatmapView::set_title(const QString& title, const QString& subtitle) {
    title_ = title;
    subtitle_ = subtitle;
    update();
}

void HeatmapView::set_axis_labels(const QString& rows, const QString& cols) {
    row_label_ = rows;
    col_label_ = cols;
    update();
}

void HeatmapView::set_scale_mode(ScaleMode mode) {
    // Entering Fixed keeps the colours the user is looking at now.
    if (mode == ScaleMode::Fixed && scale_.mode != ScaleMode::Fixed && frame_limit_ > 0) fixed_limit_ = frame_limit_;
    scale_.mode = mode;
    update_limit();
    update();
}

void HeatmapView::set_fixed_limit(double limit) {
    if (limit > 0) fixed_limit_ = limit;
    update_limit();
    update();
}

void HeatmapView::update_limit() {
    double mx = 0;
    for (float v : m_.values)
        if (std::isfinite(v)) mx = std::max(mx, double(std::abs(v)));
    frame_limit_ = mx;
    scale_.limit = scale_.mode == ScaleMode::Fixed ? fixed_limit_ : (mx > 0 ? mx : 1.0);
}

int HeatmapView::caption_lines(const QRectF& area) const {
    // As many lines as the caption needs at this width: it is never cut short, in exports least of all.
    const QFontMetricsF fm(style::label_font());
    const QRectF r = fm.boundingRect(QRectF(0, 0, std::max(40.0, area.width() - 12), 1e4), Qt::TextWordWrap, scale_caption());
    return std::clamp(int(std::ceil(r.height() / fm.height() - 0.01)), 1, 4);
}

QString HeatmapView::row_tick(int64_t index) const {
    const QString text = token_label(index);
    if (text.isEmpty()) return QString::number(index);
    const QFontMetricsF fm(style::label_font());
    return fm.elidedText(text, Qt::ElideRight, fm.horizontalAdvance("WWWW")) + " " + QString::number(index);
}

HeatmapView::Layout HeatmapView::layout_for(const QRectF& area) const {
    const QFontMetricsF fm(style::label_font());
    const double top = area.top() + QFontMetricsF(style::title_font()).height() + 8;
    double tick_w = fm.horizontalAdvance("00000");
    if (!token_labels_.empty())
        for (int r = 0; r < m_.rows; ++r) tick_w = std::max(tick_w, fm.horizontalAdvance(row_tick(row_offset_ + r)) + 4);
    const double left = area.left() + tick_w + fm.height() + 8;
    // Ticks (and the tokens' text under them), axis label, scale caption.
    const int lines = 2 + (token_labels_.empty() ? 0 : 1) + caption_lines(area);
    const double bottom = area.bottom() - lines * fm.height() - 10;
    const double bar_w = 12, bar_gap = 10, bar_labels = fm.horizontalAdvance("-0.00e+00") + fm.height() + 10;
    const double right = area.right() - bar_w - bar_gap - bar_labels;
    Layout l;
    if (m_.empty() || right <= left || bottom <= top) return l;
    l.cell = std::min((right - left) / m_.cols, (bottom - top) / m_.rows);
    const double w = l.cell * m_.cols, h = l.cell * m_.rows;
    l.cells = QRectF(left, top, w, h);
    l.colorbar = QRectF(left + w + bar_gap, top, bar_w, h);
    return l;
}

void HeatmapView::paintEvent(QPaintEvent*) {
    QPainter p(this);
    render_figure(p, QRectF(rect()), false);
}

void HeatmapView::render_figure(QPainter& p, const QRectF& area, bool for_export) {
    p.fillRect(area, Qt::white);
    style::draw_title(p, area, title_, subtitle_);
    const Layout l = layout_for(area);
    if (m_.empty() || l.cell <= 0) {
        p.setPen(QColor(120, 120, 120));
        p.setFont(style::label_font());
        p.drawText(area, Qt::AlignCenter | Qt::TextWordWrap, message_.isEmpty() ? "no data" : message_);
        return;
    }
    const bool div = cmap_->kind() == Colormap::Diverging;
    QImage img(m_.cols, m_.rows, QImage::Format_RGB32);
    for (int r = 0; r < m_.rows; ++r) {
        QRgb* line = reinterpret_cast<QRgb*>(img.scanLine(r));
        for (int c = 0; c < m_.cols; ++c) line[c] = cmap_->rgb(scale_.normalize(m_.at(r, c), div));
    }
    // Nearest-neighbour scaling: every cell is one flat square, as in the data.
    p.save();
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);
    p.drawImage(l.cells, img);
    p.restore();

    p.setPen(QPen(style::axis_color(), style::line_width(0.8)));
    p.setBrush(Qt::NoBrush);
    p.drawRect(l.cells);
    // Micro-step groups (DeltaProduct): thin separators between tokens' columns.
    if (substeps_ > 1 && l.cell * substeps_ >= 6) {
        p.setPen(QPen(QColor(255, 255, 255, 140), 0.5));
        for (int c = substeps_; c < m_.cols; c += substeps_)
            p.drawLine(QPointF(l.cells.left() + c * l.cell, l.cells.top()), QPointF(l.cells.left() + c * l.cell, l.cells.bottom()));
    }
    if (highlight_row_ >= 0 && highlight_row_ < m_.rows) {
        p.setPen(QPen(style::accent_color(), style::line_width(2.0)));
        p.drawRect(QRectF(l.cells.left() - 1, l.cells.top() + highlight_row_ * l.cell, l.cells.width() + 2, l.cell));
    }
    if (marked_col_ >= 0 && marked_col_ < m_.cols && marked_row_ < m_.rows) {
        const double w = style::line_width(2.5);
        p.setPen(QPen(style::marker_color(), w));
        const QRectF cell = marked_row_ >= 0 ? QRectF(l.cells.left() + marked_col_ * l.cell, l.cells.top() + marked_row_ * l.cell, l.cell, l.cell)
                                             : QRectF(l.cells.left() + marked_col_ * l.cell, l.cells.top(), l.cell, l.cells.height());
        p.drawRect(cell.adjusted(-w / 2, -w / 2, w / 2, w / 2));
    }

    // Ticks: integer positions at round steps.
    p.setFont(style::label_font());
    const QFontMetricsF fm(p.font());
    p.setPen(style::axis_color());
    for (double t : style::nice_ticks(row_offset_, row_offset_ + m_.rows - 1, std::max(2, int(l.cells.height() / 40)))) {
        if (t != std::floor(t)) continue;
        const double y = l.cells.top() + (t - row_offset_ + 0.5) * l.cell;
        const QString s = row_tick(int64_t(t));
        p.drawLine(QPointF(l.cells.left() - 3, y), QPointF(l.cells.left(), y));
        p.drawText(QPointF(l.cells.left() - 5 - fm.horizontalAdvance(s), y + fm.ascent() / 2 - 1), s);
    }
    const int tokens = m_.cols / substeps_;
    for (double t : style::nice_ticks(col_offset_, col_offset_ + tokens - 1, std::max(2, int(l.cells.width() / 50)))) {
        if (t != std::floor(t)) continue;
        const double x = l.cells.left() + ((t - col_offset_) * substeps_ + substeps_ * 0.5) * l.cell;
        const QString s = QString::number(qint64(t));
        p.drawLine(QPointF(x, l.cells.bottom()), QPointF(x, l.cells.bottom() + 3));
        p.drawText(QPointF(x - fm.horizontalAdvance(s) / 2, l.cells.bottom() + 4 + fm.ascent()), s);
        const QString text = fm.elidedText(token_label(int64_t(t)), Qt::ElideRight, fm.horizontalAdvance("WWWW"));
        if (!text.isEmpty()) p.drawText(QPointF(x - fm.horizontalAdvance(text) / 2, l.cells.bottom() + 4 + fm.height() + fm.ascent()), text);
    }
    const double axis_y = l.cells.bottom() + 6 + (token_labels_.empty() ? 1 : 2) * fm.height() + fm.ascent();
    p.drawText(QPointF(l.cells.center().x() - fm.horizontalAdvance(col_label_) / 2, axis_y), col_label_);
    p.save();
    p.translate(area.left() + fm.ascent() + 2, l.cells.center().y());
    p.rotate(-90);
    p.drawText(QPointF(-fm.horizontalAdvance(row_label_) / 2, 0), row_label_);
    p.restore();

    style::draw_colorbar(p, l.colorbar, *cmap_, scale_, {});
    // The line(s) under the plot: the scale and what the numbers are; while the mouse is over a
    // cell, its read-out takes that place, so that nothing is ever drawn over the titles.
    const int lines = caption_lines(area);
    const QRectF caption_box(area.left() + 6, area.bottom() - lines * fm.height() - 4, area.width() - 12, lines * fm.height());
    if (!for_export && hover_row_ >= 0 && hover_col_ >= 0) {
        const float v = m_.at(hover_row_, hover_col_);
        const int64_t row = row_offset_ + hover_row_, col_token = col_offset_ + hover_col_ / substeps_;
        QString col = QString::number(col_token);
        if (substeps_ > 1) col += QString(".%1").arg(hover_col_ % substeps_);
        auto quoted = [this](int64_t i) { const QString t = token_label(i); return t.isEmpty() ? QString() : " \u201c" + t + "\u201d"; };
        const QString text = QString("%1 %2%3, %4 %5%6:  %7")
                                 .arg(row_label_).arg(row).arg(token_labels_.empty() ? QString() : quoted(row))
                                 .arg(col_label_).arg(col).arg(token_labels_.empty() ? QString() : quoted(col_token))
                                 .arg(QString::number(double(v), 'g', 5));
        p.setPen(style::axis_color());
        p.drawText(caption_box, Qt::AlignLeft | Qt::AlignBottom | Qt::TextWordWrap, text);
        p.setPen(QPen(Qt::black, 1.0));
        p.drawRect(QRectF(l.cells.left() + hover_col_ * l.cell, l.cells.top() + hover_row_ * l.cell, l.cell, l.cell));
    } else {
        p.setPen(QColor(95, 95, 95));
        p.drawText(caption_box, Qt::AlignLeft | Qt::AlignBottom | Qt::TextWordWrap, scale_caption());
    }
}

QString HeatmapView::scale_caption() const {
    const bool div = cmap_->kind() == Colormap::Diverging;
    const QString L = style::format_number(scale_.limit);
    const QString range = div ? "±" + L : "0 to " + L;
    QString scale;
    switch (scale_.mode) {
    case ScaleMode::PerFrame: scale = "colour: per frame, " + range + (div ? " (max |value|)" : " (max)"); break;
    case ScaleMode::Fixed: scale = "colour: fixed, " + range; break;
    case ScaleMode::SymLog:
        scale = "colour: symmetric log, " + range + ", linear below " + style::format_number(scale_.limit / 100);
        break;
    }
    // The scale first: where the line is cut short, the note goes, not the numbers.
    return value_note_.isEmpty() ? scale : scale + " · " + value_note_;
}

bool HeatmapView::cell_at(const QPointF& pos, int* row, int* col) const {
    const Layout l = layout_for(QRectF(rect()));
    if (m_.empty() || l.cell <= 0 || !l.cells.contains(pos)) return false;
    *row = std::min(m_.rows - 1, int((pos.y() - l.cells.top()) / l.cell));
    *col = std::min(m_.cols - 1, int((pos.x() - l.cells.left()) / l.cell));
    return true;
}

void HeatmapView::mouseMoveEvent(QMouseEvent* e) {
    int r, c;
    if (cell_at(e->position(), &r, &c)) {
        if (r != hover_row_ || c != hover_col_) {
            hover_row_ = r;
            hover_col_ = c;
            emit hovered(row_offset_ + r, col_offset_ + c, m_.at(r, c));
            update();
        }
    } else if (hover_row_ >= 0) {
        hover_row_ = hover_col_ = -1;
        update();
    }
}

void HeatmapView::mousePressEvent(QMouseEvent* e) {
    int r, c;
    if (e->button() == Qt::LeftButton && cell_at(e->position(), &r, &c)) emit clicked(row_offset_ + r, col_offset_ + c / substeps_);
}

void HeatmapView::leaveEvent(QEvent*) {
    hover_row_ = hover_col_ = -1;
    update();
}

void HeatmapView::set_token_labels(std::vector<QString> labels) {
    token_labels_ = std::move(labels);
    update();
}

QString HeatmapView::token_label(int64_t index) const {
    return index >= 0 && index < int64_t(token_labels_.size()) ? token_labels_[size_t(index)] : QString();
}

analysis::Array HeatmapView::figure_table(QString* header) const {
    if (token_labels_.empty()) return figure_data(header);
    QStringList names{row_label_.contains("query") ? "query_token" : "token"};
    for (int c = 0; c < m_.cols; ++c)
        names << (substeps_ > 1 ? QString("key_%1.%2").arg(col_offset_ + c / substeps_).arg(c % substeps_)
                                : QString("key_%1").arg(col_offset_ + c));
    if (header) *header = names.join(',');
    analysis::Array a;
    a.shape = {m_.rows, m_.cols + 1};
    for (int r = 0; r < m_.rows; ++r) {
        a.values.push_back(float(row_offset_ + r));
        a.values.insert(a.values.end(), m_.values.begin() + size_t(r) * m_.cols, m_.values.begin() + size_t(r + 1) * m_.cols);
    }
    return a;
}

analysis::Array HeatmapView::figure_data(QString* header) const {
    if (header) header->clear(); // CSV rows are matrix rows; the shape says the rest
    return analysis::Array{{m_.rows, m_.cols}, m_.values};
}

} // namespace statescope::views
