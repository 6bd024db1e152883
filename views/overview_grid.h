// Every layer and head at a glance: one small state thumbnail per (layer, head), each coloured
// on its own symmetric scale; the focused one framed. Clicking a thumbnail focuses it.
#pragma once
#include "figure.h"
#include "statescope/frames/view_data.h"

#include <QStringList>
#include <QWidget>
#include <vector>

namespace statescope::views {

using frames::OverviewCell;
using frames::OverviewData;

class OverviewGrid : public QWidget, public Figure {
    Q_OBJECT
public:
    explicit OverviewGrid(QWidget* parent = nullptr);
    void set_data(OverviewData d);
    void set_focus(int layer, int head);
    const OverviewData& data() const { return d_; }

    QString figure_name() const override { return "overview"; }
    void render_figure(QPainter& p, const QRectF& area, bool for_export) override;
    analysis::Array figure_data(QString* header) const override;
    QSize figure_size() const override { return size(); }
    QSize sizeHint() const override;
    QSize minimumSizeHint() const override { return {120, 100}; }

    // The label left of every row of cells when the view renders into `area`: "L1" before a
    // layer's first row; where a layer's heads wrap into several rows each row also names its
    // first head ("L1 H0", "H4"), so no row is left unlabelled.
    QStringList row_labels(const QRectF& area) const;

signals:
    void focus_requested(int layer, int head);

protected:
    void paintEvent(QPaintEvent*) override;
    void mousePressEvent(QMouseEvent* e) override;
    void mouseMoveEvent(QMouseEvent* e) override;

private:
    // Heads wrap onto several rows per layer when that gives bigger cells (Mamba-1 has one
    // head per channel: hundreds).
    struct Geometry {
        double left = 0, top = 0, cell = 0, gap = 2, layer_gap = 6;
        int layers = 0, heads = 0, columns = 1, rows_per_layer = 1;
        QRectF cell_rect(int layer, int head) const;
    };
    Geometry geometry(const QRectF& area) const;
    bool cell_at(const QPointF& pos, int* layer, int* head) const;

    OverviewData d_;
    int focus_layer_ = 0, focus_head_ = 0;
};

} // namespace statescope::views
