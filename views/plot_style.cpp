#include "plot_style.h"

#include <QFontMetricsF>
#include <algorithm>
#include <cmath>

namespace statescope::views::style {

namespace {
double g_font_scale = 1.0, g_line_scale = 1.0;
bool g_high_contrast = false;
} // namespace

void set_font_scale(double scale) { g_font_scale = std::clamp(scale, 0.5, 4.0); }
double font_scale() { return g_font_scale; }
void set_line_scale(double scale) { g_line_scale = std::clamp(scale, 0.5, 4.0); }
double line_width(double width) { return width * g_line_scale; }
void set_high_contrast(bool on) { g_high_contrast = on; }
bool high_contrast() { return g_high_contrast; }

QFont label_font() {
    QFont f;
    f.setPointSizeF(8.0 * g_font_scale);
    return f;
}

QFont title_font() {
    QFont f;
    f.setPointSizeF(9.0 * g_font_scale);
    f.setBold(true);
    return f;
}

QColor axis_color() { return g_high_contrast ? QColor(0, 0, 0) : QColor(60, 60, 60); }
QColor grid_color() { return g_high_contrast ? QColor(190, 190, 190) : QColor(225, 225, 225); }
QColor accent_color() { return QColor(255, 140, 0); }
QColor marker_color() { return QColor(0, 170, 60); }

std::vector<double> nice_ticks(double lo, double hi, int count) {
    std::vector<double> out;
    if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) {
        if (std::isfinite(lo)) out.push_back(lo);
        return out;
    }
    const double raw = (hi - lo) / std::max(1, count);
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
        if (m * mag >= raw) {
            step = m * mag;
            break;
        }
    for (double t = std::ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
        out.push_back(std::abs(t) < step * 1e-9 ? 0.0 : t);
    return out;
}

QString format_number(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "∞" : "-∞";
    if (x == 0) return "0";
    const double a = std::abs(x);
    if (a >= 1e4 || a < 1e-3) return QString::number(x, 'e', 2);
    return QString::number(x, 'g', 3);
}

void draw_colorbar(QPainter& p, const QRectF& bar, const Colormap& cmap, const ColorScale& scale, const QString& label) {
    const bool div = cmap.kind() == Colormap::Diverging;
    const int steps = std::max(2, int(bar.height()));
    for (int i = 0; i < steps; ++i) {
        const double u = 1.0 - (i + 0.5) / steps; // top = high
        const double y = div ? u * 2 - 1 : u;
        p.fillRect(QRectF(bar.left(), bar.top() + bar.height() * i / steps, bar.width(), bar.height() / steps + 0.6),
                   cmap.color(y));
    }
    p.setPen(QPen(axis_color(), 0.8));
    p.setBrush(Qt::NoBrush);
    p.drawRect(bar);
    p.setFont(label_font());
    const QFontMetricsF fm(p.font());
    // Ticks: evenly spaced in the colour domain, labelled with the values they stand for.
    const std::vector<double> ys = div ? std::vector<double>{-1, -0.5, 0, 0.5, 1} : std::vector<double>{0, 0.25, 0.5, 0.75, 1};
    for (double y : ys) {
        const double u = div ? (y + 1) / 2 : y;
        const double py = bar.bottom() - u * bar.height();
        p.drawLine(QPointF(bar.right(), py), QPointF(bar.right() + 3, py));
        p.drawText(QPointF(bar.right() + 5, py + fm.ascent() / 2 - 1), format_number(scale.value_at(y, div)));
    }
    if (!label.isEmpty()) {
        p.save();
        p.translate(bar.right() + 5 + fm.horizontalAdvance("-0.000e+00") , bar.center().y());
        p.rotate(90);
        p.drawText(QPointF(-fm.horizontalAdvance(label) / 2, 0), label);
        p.restore();
    }
}

double draw_title(QPainter& p, const QRectF& area, const QString& title, const QString& subtitle) {
    p.setPen(axis_color());
    p.setFont(title_font());
    const QFontMetricsF fm(p.font());
    // Long titles are cut to the area (side-by-side maps at presenter sizes would overlap).
    const QString shown = fm.elidedText(title, Qt::ElideRight, std::max(0.0, area.width() - 12));
    p.drawText(QPointF(area.left() + 6, area.top() + fm.ascent() + 4), shown);
    double used = fm.height() + 6;
    if (!subtitle.isEmpty() && shown == title) {
        const double x = area.left() + 6 + fm.horizontalAdvance(title) + 10;
        p.setFont(label_font());
        p.setPen(high_contrast() ? QColor(40, 40, 40) : QColor(110, 110, 110));
        const QFontMetricsF small(p.font());
        p.drawText(QPointF(x, area.top() + fm.ascent() + 4), small.elidedText(subtitle, Qt::ElideRight, std::max(0.0, area.right() - x - 6)));
    }
    return used;
}

} // namespace statescope::views::style
