// What every view can be exported as: a picture (PNG, SVG, PDF) and the numbers behind it
// (CSV, NPY). Views draw through one render() for the screen and for every export format, so an
// exported figure is exactly what the window shows (vector output where the view is vector).
#pragma once
#include "statescope/analysis/array_io.h"

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
    // What the CSV holds: the numbers with, where rows stand for tokens, a first column of token
    // indices that NPY leaves out (its array keeps the figure's shape). Default: figure_data.
    virtual analysis::Array figure_table(QString* header) const { return figure_data(header); }
    // Natural size of the figure on screen, used for raster and vector exports.
    virtual QSize figure_size() const = 0;
};

// What an exported file says about itself: which model, layer, head and token it shows. The
// window and `statescope-cli export` fill it; every format carries it (see export_figure_*).
struct FigureMetadata {
    QString model;        // the checkpoint folder
    int layer = -1, head = -1;
    int64_t token = -1;   // the state after this token (0-based); -1: not tied to one token
    int window = 0;       // tokens of the attention maps and the transition product; 0: none
    bool empty() const { return model.isEmpty() && layer < 0 && head < 0 && token < 0; }
    // "Statescope state; model=DIR; layer=1; head=2; token=40; window=32" (fields that are set).
    QString describe(const QString& figure_name) const;
};

// Formats, by suffix, and where the metadata goes:
//   .png  text chunks Title, Description, Model, Layer, Head, Token, Window, Software
//   .svg  <title> and <desc>
//   .pdf  document title and XMP metadata (dc:title, dc:description)
//   .csv  a first line "# <describe()>"
//   .npy  a Python comment after the header dictionary (numpy.load reads the file as usual)
// Writes the figure to `path`: .png, .svg or .pdf. Returns false with a message in *error for
// other suffixes or write failures.
bool export_figure_image(Figure& f, const QString& path, QString* error, const FigureMetadata& meta = {});
// Writes the figure's numbers to `path`: .csv or .npy.
bool export_figure_data(const Figure& f, const QString& path, QString* error, const FigureMetadata& meta = {});
// Whether `path`'s suffix is one export_figure_image (or _data) writes.
bool is_image_format(const QString& path);
bool is_data_format(const QString& path);

} // namespace statescope::views
