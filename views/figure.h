// What every view can be exported as: a picture (PNG, SVG, PDF) and the numbers behind it
// (CSV, NPY). Views draw through one render() for the screen and for every export format, so an
// exported figure is exactly what the window shows (vector output where the view is vector).
#pragma once
#include "analysis/array_io.h"

#include <QPainter>
#include <QRectF>
#include <QSize>
#include <QString>

namespace statescope::views {

class Figure {
public:
    virtual ~Figure() = default;
    // Short name used for default file names ("state", "attention-exact", ...).
    virtual QString figure_name() const = 0;
    // Draws the whole figure (background included) into `area`. `for_export` leaves out
    // interactive decorations (hover read-outs).
    virtual void render_figure(QPainter& p, const QRectF& area, bool for_export) = 0;
    // The numbers shown; `header` receives a CSV header line (may stay empty).
    virtual analysis::Array figure_data(QString* header) const = 0;
    // Natural size of the figure on screen, used for raster and vector exports.
    virtual QSize figure_size() const = 0;
};

// Writes the figure to `path`; the format follows the suffix: .png, .svg or .pdf. Returns false
// with a message in *error for other suffixes or write failures.
bool export_figure_image(Figure& f, const QString& path, QString* error);
// Writes the figure's numbers to `path`: .csv or .npy.
bool export_figure_data(const Figure& f, const QString& path, QString* error);

} // namespace statescope::views
