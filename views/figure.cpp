#include "figure.h"

#include "statescope/error.h"

#include <QFileInfo>
#include <QImage>
#include <QPdfWriter>
#include <QSvgGenerator>

namespace statescope::views {

QString FigureMetadata::describe(const QString& figure_name) const {
    QStringList parts{"Statescope " + figure_name};
    if (!model.isEmpty()) parts << "model=" + model;
    if (layer >= 0) parts << QString("layer=%1").arg(layer);
    if (head >= 0) parts << QString("head=%1").arg(head);
    if (token >= 0) parts << QString("token=%1").arg(token);
    if (window > 0) parts << QString("window=%1").arg(window);
    return parts.join("; ");
}

namespace {

QString title_of(const Figure& f) { return "Statescope: " + f.figure_name(); }

// XMP packet for the PDF: title and description in Dublin Core, readable by any PDF tool.
QByteArray xmp_packet(const QString& title, const QString& description) {
    auto esc = [](const QString& s) { return s.toHtmlEscaped().toUtf8(); };
    return "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
           "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n"
           " <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n"
           "  <rdf:Description rdf:about=\"\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"\n"
           "      xmlns:xmp=\"http://ns.adobe.com/xap/1.0/\">\n"
           "   <dc:title><rdf:Alt><rdf:li xml:lang=\"x-default\">" + esc(title) + "</rdf:li></rdf:Alt></dc:title>\n"
           "   <dc:description><rdf:Alt><rdf:li xml:lang=\"x-default\">" + esc(description) +
           "</rdf:li></rdf:Alt></dc:description>\n"
           "   <xmp:CreatorTool>Statescope</xmp:CreatorTool>\n"
           "  </rdf:Description>\n"
           " </rdf:RDF>\n"
           "</x:xmpmeta>\n"
           "<?xpacket end=\"w\"?>";
}

} // namespace

bool is_image_format(const QString& path) {
    const QString s = QFileInfo(path).suffix().toLower();
    return s == "png" || s == "svg" || s == "pdf";
}

bool is_data_format(const QString& path) {
    const QString s = QFileInfo(path).suffix().toLower();
    return s == "csv" || s == "npy";
}

bool export_figure_image(Figure& f, const QString& path, QString* error, const FigureMetadata& meta) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    const QSize size = f.figure_size().expandedTo(QSize(64, 64));
    const QRectF area(QPointF(0, 0), QSizeF(size));
    const QString description = meta.describe(f.figure_name());
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
        // PNG text chunks; Title, Description and Software are the format's own keywords.
        img.setText("Title", title_of(f));
        img.setText("Description", description);
        img.setText("Software", "Statescope");
        if (!meta.model.isEmpty()) img.setText("Model", meta.model);
        if (meta.layer >= 0) img.setText("Layer", QString::number(meta.layer));
        if (meta.head >= 0) img.setText("Head", QString::number(meta.head));
        if (meta.token >= 0) img.setText("Token", QString::number(meta.token));
        if (meta.window > 0) img.setText("Window", QString::number(meta.window));
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
        gen.setTitle(title_of(f));
        gen.setDescription(description);
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
        pdf.setTitle(title_of(f));
        pdf.setCreator("Statescope");
        pdf.setDocumentXmpMetadata(xmp_packet(title_of(f), description));
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

bool export_figure_data(const Figure& f, const QString& path, QString* error, const FigureMetadata& meta) {
    const QString suffix = QFileInfo(path).suffix().toLower();
    try {
        QString header;
        const analysis::Array a = suffix == "csv" ? f.figure_table(&header) : f.figure_data(&header);
        if (a.values.empty()) {
            *error = f.figure_name() + ": nothing to export yet";
            return false;
        }
        const std::string comment = meta.empty() ? std::string() : meta.describe(f.figure_name()).toStdString();
        if (suffix == "npy") analysis::write_npy(path.toStdString(), a, comment);
        else if (suffix == "csv") analysis::write_csv(path.toStdString(), a, header.toStdString(), comment);
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
