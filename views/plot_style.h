// Shared drawing helpers so that every view has the same axes, fonts and colour bars.
#pragma once
#include "colormap.h"

#include <QFont>
#include <QPainter>
#include <QRectF>
#include <QString>
#include <vector>

namespace statescope::views::style {

// Zoom (View > Zoom, Ctrl+= / Ctrl+- / Ctrl+0) and presenter mode scale every view's fonts and
// line widths from here; views read these at every paint, so a change shows at the next update.
void set_font_scale(double scale);   // 1: the desk; presenter mode uses about 2
double font_scale();
void set_line_scale(double scale);
double line_width(double width);     // `width` at the current line scale
// High contrast (presenter mode): black axes and text, darker grid.
void set_high_contrast(bool on);
bool high_contrast();

QFont label_font();      // axis labels and ticks
QFont title_font();      // figure titles
QColor axis_color();
QColor grid_color();
QColor accent_color();   // highlights: current token, focused head
QColor marker_color();   // what a lesson points at (a token, a cell, an eigenvalue)

// About `count` round tick values covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int count = 6);
// Compact number formatting for ticks and read-outs (3 significant digits, exponent when needed).
QString format_number(double x);

// A vertical colour bar in `bar` with ticks on its right side.
void draw_colorbar(QPainter& p, const QRectF& bar, const Colormap& cmap, const ColorScale& scale, const QString& label);

// Title at the top left of `area`; returns the height used.
double draw_title(QPainter& p, const QRectF& area, const QString& title, const QString& subtitle = {});

} // namespace statescope::views::style
