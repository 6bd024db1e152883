#include "overview_grid.h"

#include "colormap.h"
#include "plot_style.h"

#include <QFontMetricsF>
#include <QImage>
#include <QMouseEvent>
#include <QToolTip>
#include <cmath>

namespace statescope::views {

OverviewGrid::OverviewGrid(QWidget* parent) : QWidget(parent) {
    setMouseTracking(true);
    setCursor(Qt::PointingHandCursor);
}

void OverviewGrid::set_data(OverviewData d) {
    d_ = std::move(d);
    update();
}

void OverviewGrid::set_focus(int layer, int head) {
    focus_layer_ = layer;
    focus_head_ = head;
    update();
}

QSize OverviewGrid::sizeHint() const {
    int heads = 0;
    for (const auto& l : d_.cells) heads = std::max(heads, int(l.size()));
    return {std::clamp(40 + heads * 42, 160, 360), std::clamp(40 + int(d_.cells.size()) * 42, 120, 900)};
}

OverviewGrid::Geometry OverviewGrid::geometry(const QRectF& area) const {
    Geometry g;
    g.layers = int(d_.cells.size());
    for (const auto& l : d_.cells) g.heads = std::max(g.heads, int(l.size()));
    if (g.layers == 0 || g.heads == 0) return g;
    const QFontMetricsF fm(style::label_font());
    g.left = area.left() + fm.horizontalAdvance("L00 H000") + 8;
    g.top = area.top() + QFontMetricsF(style::title_font()).height() + fm.height() + 10;
    // The bottom line is kept for the colour note of small cells.
    const double w = area.right() - 6 - g.left, h = area.bottom() - 8 - fm.height() - g.top;
    // The column count that gives the largest square cells.
    for (int cols = g.heads; cols >= 1; --cols) {
        const int rows = (g.heads + cols - 1) / cols;
        const double cw = (w - g.gap * (cols - 1)) / cols;
        const double ch = (h - g.gap * (rows * g.layers - 1) - g.layer_gap * (g.layers - 1)) / (rows * g.layers);
        const double cell = std::min(cw, ch);
        if (cell > g.cell) {
            g.cell = cell;
            g.columns = cols;
            g.rows_per_layer = rows;
        }
    }
    g.cell = std::min(g.cell, 72.0);
    return g;
}

QRectF OverviewGrid::Geometry::cell_rect(int layer, int head) const {
    const int row = layer * rows_per_layer + head / columns;
    return QRectF(left + (head % columns) * (cell + gap), top + row * (cell + gap) + layer * layer_gap, cell, cell);
}

QStringList OverviewGrid::row_labels(const QRectF& area) const {
    const Geometry g = geometry(area);
    QStringList out;
    if (g.cell <= 0) return out;
    for (int l = 0; l < g.layers; ++l)
        for (int r = 0; r < g.rows_per_layer && r * g.columns < int(d_.cells[size_t(l)].size()); ++r) {
            const QString head = g.rows_per_layer > 1 ? QString("H%1").arg(r * g.columns) : QString();
            out << (r == 0 ? QString("L%1").arg(l) + (head.isEmpty() ? "" : " " + head) : head);
        }
    return out;
}

void OverviewGrid::paintEvent(QPaintEvent*) {
    QPainter p(this);
    render_figure(p, QRectF(rect()), false);
}

void OverviewGrid::render_figure(QPainter& p, const QRectF& area, bool) {
    p.fillRect(area, Qt::white);
    style::draw_title(p, area, "Layers × heads");
    const Geometry g = geometry(area);
    if (g.cell <= 0) return;
    p.setFont(style::label_font());
    const QFontMetricsF fm(p.font());
    // Head numbers over the columns, thinned out to what fits.
    const int every = std::max(1, int(std::ceil((fm.horizontalAdvance("H00") + 4) / (g.cell + g.gap))));
    for (int h = 0; h < g.columns; h += every) {
        const QString s = g.rows_per_layer == 1 ? QString("H%1").arg(h) : QString("+%1").arg(h);
        const QRectF c = g.cell_rect(0, h);
        p.setPen(h == focus_head_ ? style::axis_color() : QColor(130, 130, 130));
        p.drawText(QPointF(c.center().x() - fm.horizontalAdvance(s) / 2, g.top - 4), s);
    }
    // Cells too small for a picture show the state's norm instead (sequential map, per layer).
    const bool pictures = g.cell >= 14;
    const Colormap& div = Colormap::diverging();
    const Colormap& seq = Colormap::sequential();
    for (int l = 0; l < g.layers; ++l) {
        const auto& row = d_.cells[size_t(l)];
        p.setPen(l == focus_layer_ ? style::axis_color() : QColor(130, 130, 130));
        for (int r = 0; r < g.rows_per_layer && r * g.columns < int(row.size()); ++r) {
            const QRectF first = g.cell_rect(l, r * g.columns);
            QString label = r == 0 ? QString("L%1").arg(l) : QString();
            if (g.rows_per_layer > 1) label += (label.isEmpty() ? "" : " ") + QString("H%1").arg(r * g.columns);
            p.drawText(QPointF(area.left() + 4, first.center().y() + fm.ascent() / 2 - 1), label);
        }
        float layer_max = 0;
        for (const auto& c : row) layer_max = std::max(layer_max, c.norm);
        for (int h = 0; h < int(row.size()); ++h) {
            const QRectF cell = g.cell_rect(l, h);
            const frames::Matrix& m = row[size_t(h)].thumbnail;
            if (m.empty()) {
                p.fillRect(cell, QColor(240, 240, 240));
                p.setPen(QColor(150, 150, 150));
                if (g.cell > 20) p.drawText(cell, Qt::AlignCenter, "attn");
            } else if (!pictures) {
                p.fillRect(cell, seq.color(layer_max > 0 ? row[size_t(h)].norm / layer_max : 0.0));
            } else {
                float mx = 0;
                for (float v : m.values) mx = std::max(mx, std::abs(v));
                QImage img(m.cols, m.rows, QImage::Format_RGB32);
                for (int r = 0; r < m.rows; ++r)
                    for (int c = 0; c < m.cols; ++c) img.setPixel(c, r, div.rgb(mx > 0 ? m.at(r, c) / mx : 0.0));
                p.drawImage(cell, img);
            }
            const bool focused = l == focus_layer_ && h == focus_head_;
            if (focused || pictures) {
                p.setPen(focused ? QPen(style::accent_color(), 2.5) : QPen(QColor(200, 200, 200), 0.6));
                p.setBrush(Qt::NoBrush);
                p.drawRect(focused ? cell.adjusted(-1.5, -1.5, 1.5, 1.5) : cell);
            }
        }
    }
    if (!pictures) {
        p.setPen(QColor(110, 110, 110));
        p.drawText(QPointF(area.left() + 6, area.bottom() - 6), "colour: ‖S‖ relative to the layer's largest");
    }
}

bool OverviewGrid::cell_at(const QPointF& pos, int* layer, int* head) const {
    const Geometry g = geometry(QRectF(rect()));
    if (g.cell <= 0) return false;
    for (int l = 0; l < g.layers; ++l)
        for (int h = 0; h < int(d_.cells[size_t(l)].size()); ++h)
            if (g.cell_rect(l, h).adjusted(-g.gap / 2, -g.gap / 2, g.gap / 2, g.gap / 2).contains(pos)) {
                *layer = l;
                *head = h;
                return true;
            }
    return false;
}

void OverviewGrid::mousePressEvent(QMouseEvent* e) {
    int l, h;
    if (e->button() == Qt::LeftButton && cell_at(e->position(), &l, &h)) emit focus_requested(l, h);
}

void OverviewGrid::mouseMoveEvent(QMouseEvent* e) {
    int l, h;
    if (cell_at(e->position(), &l, &h)) {
        QString tip = QString("layer %1, head %2").arg(l).arg(h);
        if (l < int(d_.layer_notes.size())) tip += " — " + QString::fromStdString(d_.layer_notes[size_t(l)]);
        tip += QString("\n‖S‖_F = %1").arg(style::format_number(d_.cells[size_t(l)][size_t(h)].norm));
        QToolTip::showText(e->globalPosition().toPoint(), tip, this);
    } else {
        QToolTip::hideText();
    }
}

analysis::Array OverviewGrid::figure_data(QString* header) const {
    // [layers, heads] state norms; NaN where a layer has fewer heads.
    int heads = 0;
    for (const auto& l : d_.cells) heads = std::max(heads, int(l.size()));
    if (header) header->clear();
    analysis::Array a;
    a.shape = {int64_t(d_.cells.size()), heads};
    for (const auto& l : d_.cells)
        for (int h = 0; h < heads; ++h) a.values.push_back(h < int(l.size()) ? l[size_t(h)].norm : NAN);
    return a;
}

} // namespace statescope::views
