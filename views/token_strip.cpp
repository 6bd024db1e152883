#include "token_strip.h"

#include "plot_style.h"

#include <QFontMetricsF>
#include <QMouseEvent>
#include <QPainter>
#include <QPolygonF>
#include <QToolTip>
#include <QWheelEvent>
#include <algorithm>
#include <cmath>

namespace statescope::views {

namespace {
constexpr double kPad = 5, kGap = 2;
QFont token_font(double scale) {
    QFont f("Monospace");
    f.setStyleHint(QFont::TypeWriter);
    f.setPointSizeF(9.5 * scale);
    return f;
}
QFont token_font() { return token_font(style::font_scale()); }

// The boxes, the positions under them and the margins, for fonts at `scale`.
double boxes_height(double scale) {
    QFont small = style::label_font();
    small.setPointSizeF(small.pointSizeF() / style::font_scale() * scale);
    return 5 + QFontMetricsF(token_font(scale)).height() + 6 + 1 + QFontMetricsF(small).height() + 4;
}
} // namespace

int TokenStrip::strip_height() const {
    // 56 px at the desk as before zoom existed, growing with the fonts.
    return int(std::ceil(boxes_height(style::font_scale()) + std::max(0.0, 56 - boxes_height(1.0))));
}

void TokenStrip::restyle() {
    layout_boxes();
    follow_current();
    updateGeometry();
    update();
}

TokenStrip::TokenStrip(QWidget* parent) : QWidget(parent) {
    setCursor(Qt::PointingHandCursor);
    setAttribute(Qt::WA_OpaquePaintEvent);
    // Holds the keyboard focus by default, so that the window's transport keys work at once.
    setFocusPolicy(Qt::StrongFocus);
}

void TokenStrip::set_tokens(std::vector<QString> labels, std::vector<int32_t> ids) {
    labels_ = std::move(labels);
    ids_ = std::move(ids);
    predicted_.clear(); // the marks were of the previous sequence
    expected_.clear();
    scroll_ = 0;
    layout_boxes();
    if (centered_) center_current();
    else follow_current();
    update();
}

void TokenStrip::set_marks(std::vector<int32_t> predicted, std::vector<int32_t> expected) {
    predicted_ = std::move(predicted);
    expected_ = std::move(expected);
    update();
}

void TokenStrip::set_generated_from(int64_t index) {
    generated_from_ = index;
    update();
}

int TokenStrip::mark(int64_t i) const {
    if (i < 0 || i >= int64_t(expected_.size()) || i >= int64_t(predicted_.size()) || expected_[size_t(i)] < 0) return 0;
    return predicted_[size_t(i)] == expected_[size_t(i)] ? 1 : -1;
}

void TokenStrip::set_current(int64_t index) {
    if (index != current_) centered_ = false;
    current_ = index;
    if (centered_) center_current();
    else follow_current();
    update();
}

void TokenStrip::set_notes(std::map<int64_t, QString> notes) {
    notes_ = std::move(notes);
    update();
}

void TokenStrip::center_on(int64_t index) {
    current_ = index;
    centered_ = true;
    center_current();
    update();
}

void TokenStrip::center_current() {
    if (current_ < 0 || current_ >= count()) return;
    const double total = left_.back() + width_.back() + 8;
    const double mid = left_[size_t(current_)] + width_[size_t(current_)] / 2;
    scroll_ = std::clamp(mid - width() / 2.0, 0.0, std::max(0.0, total - width()));
}

void TokenStrip::layout_boxes() {
    const QFontMetricsF fm(token_font()), small(style::label_font());
    left_.resize(labels_.size());
    width_.resize(labels_.size());
    double x = 4;
    for (size_t i = 0; i < labels_.size(); ++i) {
        const double w = std::max({fm.horizontalAdvance(labels_[i]), small.horizontalAdvance(QString::number(ids_[i])), 10.0}) + 2 * kPad;
        left_[i] = x;
        width_[i] = w;
        x += w + kGap;
    }
}

void TokenStrip::follow_current() {
    if (current_ < 0 || current_ >= count()) return;
    const double l = left_[size_t(current_)], r = l + width_[size_t(current_)];
    const double margin = std::min(120.0, width() / 4.0);
    if (l - scroll_ < margin) scroll_ = std::max(0.0, l - margin);
    else if (r - scroll_ > width() - margin) scroll_ = r - width() + margin;
}

void TokenStrip::resizeEvent(QResizeEvent*) {
    if (centered_) center_current();
    else follow_current();
}

void TokenStrip::paintEvent(QPaintEvent*) {
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    p.fillRect(rect(), QColor(250, 250, 250));
    p.setPen(QColor(220, 220, 220));
    p.drawLine(rect().bottomLeft(), rect().bottomRight());
    if (labels_.empty()) {
        p.setPen(QColor(140, 140, 140));
        p.drawText(rect(), Qt::AlignCenter, "no tokens");
        return;
    }
    const QFontMetricsF fm(token_font()), small(style::label_font());
    const double top = 5, h = fm.height() + 6;
    for (size_t i = 0; i < labels_.size(); ++i) {
        const double x = left_[i] - scroll_;
        if (x + width_[i] < 0) continue;
        if (x > width()) break;
        const bool cur = int64_t(i) == current_, past = int64_t(i) < current_;
        const bool generated = generated_from_ >= 0 && int64_t(i) >= generated_from_;
        const QRectF box(x, top, width_[i], h);
        QPen outline = cur ? QPen(style::accent_color().darker(120), 1.5) : QPen(generated ? QColor(140, 110, 190) : QColor(205, 205, 205), 0.8);
        if (generated && !cur) outline.setStyle(Qt::DashLine);
        p.setPen(outline);
        p.setBrush(cur ? style::accent_color() : generated ? (past ? QColor(228, 218, 245) : QColor(243, 238, 251))
                                               : past ? QColor(226, 234, 244) : QColor(255, 255, 255));
        p.drawRoundedRect(box, 3, 3);
        if (int64_t(i) == marked_) {
            p.setPen(QPen(style::marker_color(), style::line_width(2.5)));
            p.setBrush(Qt::NoBrush);
            p.drawRoundedRect(box.adjusted(-1.5, -1.5, 1.5, 1.5), 4, 4);
        }
        p.setFont(token_font());
        if (const int m = mark(int64_t(i))) // the prediction after this token: right or wrong
            p.fillRect(QRectF(x + 1, top + h + 1, width_[i] - 2, 3), m > 0 ? QColor(26, 152, 80) : QColor(215, 48, 39));
        QFont font = token_font();
        font.setItalic(generated);
        p.setFont(font);
        p.setPen(cur ? Qt::white : past ? QColor(30, 40, 60) : QColor(150, 150, 150));
        p.drawText(box, Qt::AlignCenter, labels_[i]);
        if (notes_.count(int64_t(i))) {
            // An annotated token: an amber corner.
            const QPointF tr = box.topRight();
            p.setPen(Qt::NoPen);
            p.setBrush(QColor(230, 150, 20));
            p.drawPolygon(QPolygonF({tr + QPointF(-7, 0), tr, tr + QPointF(0, 7)}));
        }
        p.setFont(style::label_font());
        p.setPen(cur ? style::axis_color() : QColor(160, 160, 160));
        // Positions every ten tokens (and at the current one) for orientation; ids in the tooltip.
        if (i % 10 != 0 && !cur) continue;
        const QString below = QString::number(i);
        p.drawText(QRectF(x, top + h + 4, width_[i], small.height()), Qt::AlignCenter, below);
    }
}

int64_t TokenStrip::index_at(double x) const {
    const double sx = x + scroll_;
    for (size_t i = 0; i < left_.size(); ++i)
        if (sx >= left_[i] && sx < left_[i] + width_[i] + kGap) return int64_t(i);
    return -1;
}

bool TokenStrip::event(QEvent* e) {
    if (e->type() == QEvent::ToolTip) {
        auto* he = static_cast<QHelpEvent*>(e);
        const int64_t i = index_at(he->pos().x());
        if (i >= 0) {
            QString tip = QString("token %1: id %2  \"%3\"").arg(i).arg(ids_[size_t(i)]).arg(labels_[size_t(i)]);
            if (generated_from_ >= 0 && i >= generated_from_) tip += "  (generated by the model)";
            if (const int m = mark(i))
                tip += QString("\nnext: predicted id %1, expected id %2 (%3)").arg(predicted_[size_t(i)]).arg(expected_[size_t(i)])
                           .arg(m > 0 ? "right" : "wrong");
            if (const auto note = notes_.find(i); note != notes_.end()) tip += "\n" + note->second;
            QToolTip::showText(he->globalPos(), tip, this);
        }
        else if (!description_.isEmpty()) QToolTip::showText(he->globalPos(), description_, this);
        else QToolTip::hideText();
        return true;
    }
    return QWidget::event(e);
}

void TokenStrip::mousePressEvent(QMouseEvent* e) {
    const int64_t i = index_at(e->position().x());
    if (i >= 0) emit token_clicked(i);
}

void TokenStrip::wheelEvent(QWheelEvent* e) {
    if (left_.empty()) return;
    const double total = left_.back() + width_.back() + 8;
    const double delta = e->angleDelta().y() ? e->angleDelta().y() : e->angleDelta().x();
    scroll_ = std::clamp(scroll_ - delta, 0.0, std::max(0.0, total - width()));
    centered_ = false;
    update();
}

} // namespace statescope::views
