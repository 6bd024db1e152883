// Shared drawing helpers so that every view has the same axes, fonts and colour bars.
#pragma once
#include "colormap.h"

#include <QFont>
#include <QPainter>
#include <QRectF>
#include <QString>
#include <vector>

namespace statescope::views::style {

QFont label_font();      // axis labels and ticks
QFont title_font();      // figure titles
QColor axis_color();
QColor grid_color();
QColor accent_color();   // highlights: current token, focused head

// About `count` round tick values covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int count = 6);
// Compact number formatting for ticks and read-outs (3 significant digits, exponent when needed).
QString format_number(double x);

// A vertical colour bar in `bar` with ticks on its right side.
void draw_colorbar(QPainter& p, const QRectF& bar, const Colormap& cmap, const ColorScale& scale, const QString& label);

// Title at the top left of `area`; returns the height used.
double draw_title(QPainter& p, const QRectF& area, const QString& title, const QString& subtitle = {});

} // namespace statescope::views::style
