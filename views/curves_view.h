// Per-token curves over the whole sequence for the focused layer: the state norm of every head
// (the focused one highlighted), the effective rank of the focused head and its attention
// entropy; for a softmax-attention layer (no state) the entropy of its real attention rows.
// Only the curves the data has are drawn. A click jumps there.
#pragma once
#include "figure.h"
#include "statescope/frames/view_data.h"

#include <QImage>
#include <QWidget>
#include <vector>

namespace statescope::views {

using frames::CurveData;

class CurvesView : public QWidget, public Figure {
    Q_OBJECT
public:
    explicit CurvesView(QWidget* parent = nullptr);
    void set_data(CurveData d);
    void set_message(const QString& text);
    void set_current(int64_t token);
    const CurveData& data() const { return d_; }

    QString figure_name() const override { return "curves"; }
    void render_figure(QPainter& p, const QRectF& area, bool for_export) override;
    analysis::Array figure_data(QString* header) const override;
    analysis::Array figure_table(QString* header) const override; // with a first column "token"
    QSize figure_size() const override { return size(); }
    QSize sizeHint() const override { return {600, 260}; }

signals:
    void token_clicked(int64_t token);

protected:
    void paintEvent(QPaintEvent*) override;
    void mousePressEvent(QMouseEvent* e) override;
    void mouseMoveEvent(QMouseEvent* e) override;
    void leaveEvent(QEvent*) override;

private:
    // The stacked plots, top to bottom, of the curves present: norm, effective rank, attention entropy.
    enum class Plot { Norm, Rank, Entropy };
    std::vector<Plot> plots() const;
    std::vector<QRectF> panels(const QRectF& area) const;
    // What render_figure draws, in two layers: the curves (title, axes, every curve), which
    // change with the data, and the marks (current token, hover), which change with every step.
    void draw_curves(QPainter& p, const QRectF& area, bool for_export) const;
    void draw_marks(QPainter& p, const QRectF& area, bool for_export) const;
    int tokens() const;
    int64_t token_at(double x, const QRectF& plot) const;

    CurveData d_;
    QImage curves_cache_; // draw_curves at the widget's size; null when the data changed
    QString message_ = "no sequence yet";
    int64_t current_ = -1;
    double hover_x_ = -1;
};

} // namespace statescope::views
