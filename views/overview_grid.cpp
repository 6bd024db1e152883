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
    g.left = area.left() + fm.horizontalAdvance("L00") + 8;
    g.top = area.top() + QFontMetricsF(style::title_font()).height() + fm.height() + 10;
    const double w = area.right() - 6 - g.left, h = area.bottom() - 6 - g.top;
    g.cell = std::max(4.0, std::min((w - g.gap * (g.heads - 1)) / g.heads, (h - g.gap * (g.layers - 1)) / g.layers));
    g.cell = std::min(g.cell, 72.0);
    return g;
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
    const Colormap& cmap = Colormap::diverging();
    for (int h = 0; h < g.heads; ++h) {
        const QString s = QString("H%1").arg(h);
        p.setPen(h == focus_head_ ? style::axis_color() : QColor(130, 130, 130));
        p.drawText(QPointF(g.left + h * (g.cell + g.gap) + g.cell / 2 - fm.horizontalAdvance(s) / 2, g.top - 4), s);
    }
    for (int l = 0; l < g.layers; ++l) {
        const double y = g.top + l * (g.cell + g.gap);
        const QString s = QString("L%1").arg(l);
        p.setPen(l == focus_layer_ ? style::axis_color() : QColor(130, 130, 130));
        p.drawText(QPointF(area.left() + 4, y + g.cell / 2 + fm.ascent() / 2 - 1), s);
        for (int h = 0; h < int(d_.cells[size_t(l)].size()); ++h) {
            const QRectF cell(g.left + h * (g.cell + g.gap), y, g.cell, g.cell);
            const Matrix& m = d_.cells[size_t(l)][size_t(h)].thumbnail;
            if (m.empty()) {
                p.fillRect(cell, QColor(240, 240, 240));
                p.setPen(QColor(150, 150, 150));
                if (g.cell > 20) p.drawText(cell, Qt::AlignCenter, "attn");
            } else {
                float mx = 0;
                for (float v : m.values) mx = std::max(mx, std::abs(v));
                QImage img(m.cols, m.rows, QImage::Format_RGB32);
                for (int r = 0; r < m.rows; ++r)
                    for (int c = 0; c < m.cols; ++c) img.setPixel(c, r, cmap.rgb(mx > 0 ? m.at(r, c) / mx : 0.0));
                p.drawImage(cell, img);
            }
            const bool focused = l == focus_layer_ && h == focus_head_;
            p.setPen(focused ? QPen(style::accent_color(), 2.5) : QPen(QColor(200, 200, 200), 0.6));
            p.setBrush(Qt::NoBrush);
            p.drawRect(focused ? cell.adjusted(-1.5, -1.5, 1.5, 1.5) : cell);
        }
    }
}

bool OverviewGrid::cell_at(const QPointF& pos, int* layer, int* head) const {
    const Geometry g = geometry(QRectF(rect()));
    if (g.cell <= 0) return false;
    const int l = int(std::floor((pos.y() - g.top) / (g.cell + g.gap)));
    const int h = int(std::floor((pos.x() - g.left) / (g.cell + g.gap)));
    if (l < 0 || l >= g.layers || h < 0 || h >= int(d_.cells[size_t(l)].size())) return false;
    *layer = l;
    *head = h;
    return true;
}

void OverviewGrid::mousePressEvent(QMouseEvent* e) {
    int l, h;
    if (e->button() == Qt::LeftButton && cell_at(e->position(), &l, &h)) emit focus_requested(l, h);
}

void OverviewGrid::mouseMoveEvent(QMouseEvent* e) {
    int l, h;
    if (cell_at(e->position(), &l, &h)) {
        QString tip = QString("layer %1, head %2").arg(l).arg(h);
        if (l < int(d_.layer_notes.size())) tip += " — " + d_.layer_notes[size_t(l)];
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
