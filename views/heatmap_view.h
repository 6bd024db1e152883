// A matrix as a heatmap: square cells, axes with tick labels, a colour bar, a hover read-out and
// an optional highlighted row. Used for states (diverging map centred on zero) and attention
// maps (diverging for the signed exact map, sequential for softmax).
#pragma once
#include "colormap.h"
#include "figure.h"
#include "statescope/frames/matrix.h"

#include <QWidget>
#include <vector>

namespace statescope::views {

using frames::Matrix;

class HeatmapView : public QWidget, public Figure {
    Q_OBJECT
public:
    explicit HeatmapView(QString name, QWidget* parent = nullptr);

    // Row r is labelled row_offset + r (token positions for attention maps).
    void set_matrix(Matrix m, int row_offset = 0, int col_offset = 0);
    const Matrix& matrix() const { return m_; }
    void set_title(const QString& title, const QString& subtitle = {});
    void set_axis_labels(const QString& rows, const QString& cols);
    void set_colormap(const Colormap& cmap) { cmap_ = &cmap; update(); }
    void set_scale_mode(ScaleMode mode);
    ScaleMode scale_mode() const { return scale_.mode; }
    void set_fixed_limit(double limit);
    // The limit the colours use now: the frame's max |value| unless the mode is Fixed.
    double limit() const { return scale_.limit; }
    double frame_limit() const { return frame_limit_; }
    // Rows and columns are tokens (attention maps): their texts label the ticks and the hover
    // read-out, and the CSV names each row's and column's token. Empty: plain indices.
    void set_token_labels(std::vector<QString> labels);
    void set_highlight_row(int row) { highlight_row_ = row; update(); }
    // A cell a lesson points at (matrix row and column; row -1 marks the whole column, -1, -1
    // nothing), outlined in the accent colour.
    void set_marked_cell(int row, int col) { marked_row_ = row; marked_col_ = col; update(); }
    int marked_row() const { return marked_row_; }
    int marked_col() const { return marked_col_; }
    void set_message(const QString& text) { message_ = text; update(); } // shown when there is no matrix
    void set_column_groups(int substeps) { substeps_ = std::max(1, substeps); update(); }
    // What the values are, stated under the plot before the colour scale ("softmax rows: each
    // sums to 1"); empty: only the scale.
    void set_value_note(const QString& note) { value_note_ = note; update(); }
    // The line under the plot that states the normalization: the colour scale (mode and limit)
    // and the value note, e.g. "colour: symmetric log, ±0.53, linear below 0.0053 · ...".
    QString scale_caption() const;

    // Figure
    QString figure_name() const override { return name_; }
    void render_figure(QPainter& p, const QRectF& area, bool for_export) override;
    analysis::Array figure_data(QString* header) const override;
    // Token maps (set_token_labels) add a first column of query token indices, and name the key
    // token of every column in the header.
    analysis::Array figure_table(QString* header) const override;
    QSize figure_size() const override { return size(); }

    QSize sizeHint() const override { return {420, 380}; }
    QSize minimumSizeHint() const override { return {160, 140}; }

signals:
    void hovered(int row, int col, float value);
    void clicked(int row, int col);

protected:
    void paintEvent(QPaintEvent*) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void mousePressEvent(QMouseEvent* e) override;
    void leaveEvent(QEvent*) override;

private:
    struct Layout {
        QRectF cells, colorbar;
        double cell = 0;
    };
    Layout layout_for(const QRectF& area) const;
    int caption_lines(const QRectF& area) const;
    QString row_tick(int64_t index) const; // "k50 12" for token maps, else the index
    bool cell_at(const QPointF& pos, int* row, int* col) const;
    void update_limit();

    QString name_, title_, subtitle_, row_label_ = "row", col_label_ = "column", message_, value_note_;
    Matrix m_;
    std::vector<QString> token_labels_;
    QString token_label(int64_t index) const; // "" when there is none
    int row_offset_ = 0, col_offset_ = 0, highlight_row_ = -1, substeps_ = 1;
    int marked_row_ = -1, marked_col_ = -1;
    const Colormap* cmap_ = &Colormap::diverging();
    ColorScale scale_;
    double fixed_limit_ = 1.0, frame_limit_ = 0.0;
    int hover_row_ = -1, hover_col_ = -1;
};

} // namespace statescope::views
