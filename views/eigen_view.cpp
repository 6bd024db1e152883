#include "eigen_view.h"

#include "plot_style.h"

#include <QFontMetricsF>
#include <QMouseEvent>
#include <cmath>

namespace statescope::views {

namespace {
QString half_life_text(double h) {
    if (std::isinf(h)) return "∞";
    return style::format_number(h) + " tok";
}
const QColor kTokenColor(33, 102, 172);
const QColor kWindowColor(214, 96, 77);
} // namespace

EigenView::EigenView(QWidget* parent) : QWidget(parent) { setMouseTracking(true); }

void EigenView::set_data(EigenData d) {
    d_ = std::move(d);
    message_.clear();
    update();
}

void EigenView::set_message(const QString& text) {
    d_ = {};
    message_ = text;
    update();
}

double EigenView::extent() const {
    double r = 1.0;
    for (auto e : d_.token) r = std::max(r, std::abs(e));
    for (auto e : d_.window) r = std::max(r, std::abs(e));
    return r * 1.12;
}

QRectF EigenView::plot_rect(const QRectF& area) const {
    const QFontMetricsF fm(style::label_font());
    const double top = area.top() + QFontMetricsF(style::title_font()).height() + 8;
    const double bottom = area.bottom() - 3 * fm.height() - 16; // room for tick labels and the legend below
    const double left = area.left() + fm.horizontalAdvance("-0.00") + 10;
    // Wide areas put the moduli chart beside the plane; the plane keeps at most 60% of the width.
    const double right = area.width() > 1.6 * (bottom - top) ? area.left() + area.width() * 0.55 : area.right() - 10;
    const double side = std::max(10.0, std::min(right - left, bottom - top));
    return QRectF(left, top, side, side);
}

QRectF EigenView::moduli_rect(const QRectF& area) const {
    const QRectF plane = plot_rect(area);
    const QFontMetricsF fm(style::label_font());
    const double left = plane.right() + fm.horizontalAdvance("0.000") + 28, right = area.right() - 12;
    if (right - left < 80) return {};
    return QRectF(left, plane.top() + fm.height() + 4, right - left, plane.height() - fm.height() - 4 - fm.height() - 6);
}

QPointF EigenView::position_of(std::complex<double> z, const QRectF& area) const {
    const QRectF r = plot_rect(area);
    const double ext = extent();
    return QPointF(r.center().x() + z.real() / ext * r.width() / 2, r.center().y() - z.imag() / ext * r.height() / 2);
}

void EigenView::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    render_figure(p, QRectF(rect()), false);
}

void EigenView::render_figure(QPainter& p, const QRectF& area, bool for_export) {
    p.fillRect(area, Qt::white);
    style::draw_title(p, area, "Eigenvalues of the transition",
                      d_.token_index >= 0 ? QString("token %1, %2").arg(d_.token_index).arg(QString::fromStdString(d_.transition)) : QString());
    if (!message_.isEmpty()) {
        p.setPen(QColor(120, 120, 120));
        p.setFont(style::label_font());
        p.drawText(area, Qt::AlignCenter | Qt::TextWordWrap, message_);
        return;
    }
    const QRectF r = plot_rect(area);
    const double ext = extent();
    auto to_screen = [&](std::complex<double> z) { return position_of(z, area); };
    const double unit = r.width() / 2 / ext;
    p.setFont(style::label_font());
    const QFontMetricsF fm(p.font());
    // Grid and axes.
    p.setPen(QPen(style::grid_color(), 0.8));
    for (double t : style::nice_ticks(-ext, ext, 4)) {
        p.drawLine(to_screen({t, -ext}), to_screen({t, ext}));
        p.drawLine(to_screen({-ext, t}), to_screen({ext, t}));
    }
    p.setPen(QPen(style::axis_color(), 0.8));
    p.drawRect(r);
    p.drawLine(to_screen({-ext, 0}), to_screen({ext, 0}));
    p.drawLine(to_screen({0, -ext}), to_screen({0, ext}));
    for (double t : style::nice_ticks(-ext, ext, 4)) {
        const QString s = style::format_number(t);
        const QPointF bx = to_screen({t, -ext});
        p.drawText(QPointF(bx.x() - fm.horizontalAdvance(s) / 2, r.bottom() + fm.ascent() + 3), s);
        const QPointF ly = to_screen({-ext, t});
        p.drawText(QPointF(r.left() - fm.horizontalAdvance(s) - 4, ly.y() + fm.ascent() / 2 - 1), s);
    }
    // Unit circle: eigenvalues on it never decay.
    p.setPen(QPen(QColor(90, 90, 90), style::line_width(1.2)));
    p.setBrush(Qt::NoBrush);
    p.drawEllipse(r.center(), unit, unit);
    // Spectral radius of A_t.
    if (d_.token_radius > 0) {
        p.setPen(QPen(kTokenColor, 1.0, Qt::DashLine));
        p.drawEllipse(r.center(), unit * d_.token_radius, unit * d_.token_radius);
    }
    // Points: the window's product hollow, this token's filled on top.
    const double dot = std::clamp(r.width() / 90, 2.5, 4.5) * style::line_width(1.0);
    p.setPen(QPen(kWindowColor, style::line_width(1.3)));
    p.setBrush(Qt::NoBrush);
    for (auto e : d_.window) p.drawEllipse(to_screen(e), dot + 1, dot + 1);
    p.setPen(QPen(Qt::white, 0.6));
    p.setBrush(kTokenColor);
    for (auto e : d_.token) p.drawEllipse(to_screen(e), dot, dot);
    if (marker_) { // what a lesson points at: a ring around the point
        p.setPen(QPen(style::marker_color(), style::line_width(2.5)));
        p.setBrush(Qt::NoBrush);
        p.drawEllipse(to_screen(*marker_), dot * 3, dot * 3);
    }

    draw_moduli(p, area);

    // Legend and numbers below the plot.
    double y = area.bottom() - fm.height() - 8;
    p.setPen(Qt::NoPen);
    p.setBrush(kTokenColor);
    p.drawEllipse(QPointF(area.left() + 12, y - fm.ascent() / 2 + 1), 3.5, 3.5);
    p.setPen(style::axis_color());
    p.drawText(QPointF(area.left() + 20, y),
               QString("A_t (this token)   ρ = %1   half-life %2").arg(style::format_number(d_.token_radius)).arg(half_life_text(d_.token_half_life)));
    y += fm.height() + 2;
    p.setPen(QPen(kWindowColor, 1.3));
    p.setBrush(Qt::NoBrush);
    p.drawEllipse(QPointF(area.left() + 12, y - fm.ascent() / 2 + 1), 3.5, 3.5);
    p.setPen(style::axis_color());
    p.drawText(QPointF(area.left() + 20, y),
               QString("A_t ⋯ A_s (product over %1 tokens)   ρ = %2   %3 per token   half-life %4")
                   .arg(d_.window_tokens).arg(style::format_number(d_.window_radius))
                   .arg(style::format_number(d_.window_rate)).arg(half_life_text(d_.window_half_life)));

    if (!for_export && hover_.x() >= 0 && r.contains(hover_)) {
        const double re = (hover_.x() - r.center().x()) / (r.width() / 2) * ext;
        const double im = -(hover_.y() - r.center().y()) / (r.height() / 2) * ext;
        const QString s = QString("%1 %2 %3i   |z| = %4").arg(style::format_number(re)).arg(im < 0 ? "−" : "+")
                              .arg(style::format_number(std::abs(im))).arg(style::format_number(std::hypot(re, im)));
        // Inside the plane's top left corner, on white: never over the title line.
        const QRectF box(r.left() + 1, r.top() + 1, fm.horizontalAdvance(s) + 8, fm.height() + 2);
        p.fillRect(box, QColor(255, 255, 255, 230));
        p.drawText(QPointF(box.left() + 4, box.top() + fm.ascent() + 1), s);
    }
}

void EigenView::draw_moduli(QPainter& p, const QRectF& area) const {
    // Every eigen-direction's memory at a glance: |λ| of A_t sorted (bars; red when the eigenvalue
    // is negative real, i.e. the direction flips sign each token, purple when complex, i.e. it
    // rotates), and the window product's per-token rate |μ|^(1/n) of the same rank (ticks).
    const QRectF r = moduli_rect(area);
    if (r.isEmpty() || d_.token.empty()) return;
    const QFontMetricsF fm(style::label_font());
    p.setFont(style::label_font());
    p.setPen(style::axis_color());
    p.drawText(QPointF(r.left(), r.top() - 6), "moduli |λ|, sorted");
    double hi = 1.0;
    for (auto e : d_.token) hi = std::max(hi, std::abs(e));
    hi *= 1.05;
    auto ypos = [&](double v) { return r.bottom() - v / hi * r.height(); };
    for (double t : style::nice_ticks(0, hi, 4)) {
        p.setPen(QPen(style::grid_color(), 0.8));
        p.drawLine(QPointF(r.left(), ypos(t)), QPointF(r.right(), ypos(t)));
        p.setPen(style::axis_color());
        const QString s = style::format_number(t);
        p.drawText(QPointF(r.left() - fm.horizontalAdvance(s) - 4, ypos(t) + fm.ascent() / 2 - 1), s);
    }
    const int n = int(d_.token.size());
    const double w = r.width() / n;
    for (int i = 0; i < n; ++i) {
        const auto e = d_.token[size_t(i)];
        const bool complex = std::abs(e.imag()) > 1e-9 * std::max(1.0, std::abs(e));
        const QColor c = complex ? QColor(118, 42, 131) : e.real() < 0 ? QColor(178, 24, 43) : kTokenColor;
        const double x = r.left() + i * w;
        p.fillRect(QRectF(x + w * 0.12, ypos(std::abs(e)), std::max(1.0, w * 0.76), r.bottom() - ypos(std::abs(e))), c);
        if (i < int(d_.window_rates.size())) {
            const double rate = d_.window_rates[size_t(i)];
            p.setPen(QPen(kWindowColor, 2.0));
            p.drawLine(QPointF(x, ypos(rate)), QPointF(x + w, ypos(rate)));
        }
    }
    p.setPen(QPen(QColor(90, 90, 90), 1.0, Qt::DashLine));
    p.drawLine(QPointF(r.left(), ypos(1.0)), QPointF(r.right(), ypos(1.0)));
    p.setPen(QPen(style::axis_color(), 0.8));
    p.setBrush(Qt::NoBrush);
    p.drawRect(r);
    const QString xl = QString("eigen-direction (%1)").arg(n);
    p.drawText(QPointF(r.center().x() - fm.horizontalAdvance(xl) / 2, r.bottom() + fm.ascent() + 3), xl);
}

void EigenView::mouseMoveEvent(QMouseEvent* e) {
    hover_ = e->position();
    update();
}

void EigenView::leaveEvent(QEvent*) {
    hover_ = {-1, -1};
    update();
}

analysis::Array EigenView::figure_data(QString* header) const {
    // One row per eigenvalue: series (0 = A_t, 1 = window product), real, imaginary, modulus.
    if (header) *header = "series,real,imag,modulus";
    analysis::Array a;
    auto add = [&](const std::vector<std::complex<double>>& eig, float series) {
        for (auto e : eig) a.values.insert(a.values.end(), {series, float(e.real()), float(e.imag()), float(std::abs(e))});
    };
    add(d_.token, 0);
    add(d_.window, 1);
    a.shape = {int64_t(a.values.size() / 4), 4};
    return a;
}

} // namespace statescope::views
