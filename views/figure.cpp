#include "figure.h"

#include "core/error.h"

#include <QFileInfo>
#include <QImage>
#include <QPdfWriter>
#include <QSvgGenerator>

namespace statescope::views {

bool export_figure_image(Figure& f, const QString& path, QString* error) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    const QSize size = f.figure_size().expandedTo(QSize(64, 64));
    const QRectF area(QPointF(0, 0), QSizeF(size));
    if (suffix == "png") {
        // Twice the screen size: sharp in documents and slides.
        QImage img(size * 2, QImage::Format_ARGB32_Premultiplied);
        img.setDevicePixelRatio(2.0);
        img.fill(Qt::white);
        {
            QPainter p(&img);
            p.setRenderHint(QPainter::Antialiasing);
            f.render_figure(p, area, true);
        }
        if (!img.save(path, "PNG")) {
            *error = path + ": could not write the PNG file";
            return false;
        }
        return true;
    }
    if (suffix == "svg") {
        QSvgGenerator gen;
        gen.setFileName(path);
        gen.setSize(size);
        gen.setViewBox(area);
        gen.setTitle("Statescope: " + f.figure_name());
        QPainter p;
        if (!p.begin(&gen)) {
            *error = path + ": could not write the SVG file";
            return false;
        }
        p.setRenderHint(QPainter::Antialiasing);
        f.render_figure(p, area, true);
        p.end();
        return true;
    }
    if (suffix == "pdf") {
        QPdfWriter pdf(path);
        pdf.setTitle("Statescope: " + f.figure_name());
        pdf.setResolution(96);
        pdf.setPageMargins(QMarginsF(0, 0, 0, 0));
        // A page exactly the size of the figure (in points at 96 dpi -> 72 points per inch).
        pdf.setPageSize(QPageSize(QSizeF(size.width() * 72.0 / 96, size.height() * 72.0 / 96), QPageSize::Point));
        QPainter p;
        if (!p.begin(&pdf)) {
            *error = path + ": could not write the PDF file";
            return false;
        }
        p.setRenderHint(QPainter::Antialiasing);
        f.render_figure(p, area, true);
        p.end();
        return true;
    }
    *error = path + ": unknown image format '" + suffix + "' (use .png, .svg or .pdf)";
    return false;
}

bool export_figure_data(const Figure& f, const QString& path, QString* error) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    try {
        QString header;
        const analysis::Array a = f.figure_data(&header);
        if (a.values.empty()) {
            *error = f.figure_name() + ": nothing to export yet";
            return false;
        }
        if (suffix == "npy") analysis::write_npy(path.toStdString(), a);
        else if (suffix == "csv") analysis::write_csv(path.toStdString(), a, header.toStdString());
        else {
            *error = path + ": unknown data format '" + suffix + "' (use .csv or .npy)";
            return false;
        }
    } catch (const Error& e) {
        *error = QString::fromStdString(e.what());
        return false;
    }
    return true;
}

} // namespace statescope::views
